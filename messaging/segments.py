"""How many SMS segments a body takes (what the carrier bills), GSM-7 or UCS-2.

The one segment counter in the product: the campaign preview, the cost on the
send confirmation, the program preview and the Twilio fake all ask here.
"""

from dataclasses import dataclass, field

# The GSM 03.38 basic character set; each costs one septet. The escape code (0x1B) is left out on
# purpose: on the air it announces an extension character, so a literal one in a body can't be sent
# as GSM-7 and counts as a character that forces UCS-2.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension characters: an escape plus the character, so each costs two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# (characters in a single segment, characters per part of a longer message). A part loses room to the
# header that joins the parts again (6 bytes: 7 septets, or 3 UTF-16 units).
GSM7_LIMITS = (160, 153)
UCS2_LIMITS = (70, 67)


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # as the carrier counts them: septets for GSM-7, UTF-16 code units for UCS-2
    segments: int  # 0 for an empty body: there is nothing to send (Twilio refuses an empty one)
    non_gsm: list[str] = field(default_factory=list)  # the characters that forced UCS-2, in order of appearance


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)


def segment_info(body: str) -> SegmentInfo:
    """Encoding, length and segment count of `body` as carriers bill it (one non-GSM character makes it all UCS-2)."""
    non_gsm = list(dict.fromkeys(ch for ch in body if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
    if non_gsm:
        # Characters outside the Basic Multilingual Plane (most emoji) take two UTF-16 code units.
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
        return SegmentInfo("UCS-2", sum(costs), _segments(costs, UCS2_LIMITS), non_gsm)
    costs = [2 if ch in GSM7_EXTENSION else 1 for ch in body]
    return SegmentInfo("GSM-7", sum(costs), _segments(costs, GSM7_LIMITS), [])


def segment_count(body: str) -> int:
    return segment_info(body).segments


def _segments(costs: list[int], limits: tuple[int, int]) -> int:
    single, part = limits
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # Phones split long messages between characters, never inside one: an escape and its extension
    # character, or the two halves of an emoji, stay in one part. So parts fill greedily and a
    # two-unit character that doesn't fit starts the next part (the plain ceil(total / part) can be one short).
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments
