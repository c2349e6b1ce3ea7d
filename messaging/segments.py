"""How many SMS segments a body takes (what the carrier bills), GSM-7 or UCS-2."""

# The GSM 03.38 basic character set; each costs one septet.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension characters: an escape plus the character, so each costs two.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)


def segment_count(body: str) -> int:
    """Segments for `body`: 160/153 septets in GSM-7, 70/67 UTF-16 units in UCS-2."""
    if not body:
        return 1
    if is_gsm7(body):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in body)
        single, part = 160, 153
    else:
        # Characters outside the Basic Multilingual Plane (most emoji) take two UTF-16 units.
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)
