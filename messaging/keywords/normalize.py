"""Normalising a reply before matching: what a person typed, reduced to plain lower-case words.

Only used for matching: the stored message keeps every character as sent.
"""

import re
import unicodedata

# An apostrophe inside an English contraction is dropped ("don't" -> "dont", so "dont text" is one
# form); anywhere else it separates words, as French and Italian elisions do ("m'envoyer" -> "m envoyer").
_CONTRACTION = re.compile(r"(?<=\w)['’ʼ`´′](?=(?:t|s|ll|re|ve|d|m)\b)")
_APOSTROPHE = re.compile(r"['’ʼ`´′]")
# Three or more of the same letter are one: "STOPPPP", "stoooop", "nooo".
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
# Sentence breaks for `clauses`: a period only before a space or the end, so "S.T.O.P" and
# "acme.com" stay whole; a dash only with spaces around it, so "opt-out" stays whole.
_CLAUSE_BREAK = re.compile(r"[.:](?=\s|$)|[,;!?¡¿…。！？；，、\n\r]|\s[-–—]+\s")


def _map_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category[0] in "LN":
        return ch
    if category in ("Mn", "Me", "Cf"):  # accents (after NFD), zero-width and other format characters
        return ""
    if category == "So":  # emoji and other pictographs: a word of their own
        return f" {ch} "
    return " "  # punctuation, spaces of every kind, controls, modifiers such as skin tones


class _CharMap(dict):
    """`str.translate` table filled on first sight of each character (bounded: random input can't grow it)."""

    def __missing__(self, code: int) -> str:
        value = _map_char(chr(code))
        if len(self) < 20_000:
            self[code] = value
        return value


_CHARS = _CharMap()


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = _CONTRACTION.sub("", text)
    text = _APOSTROPHE.sub(" ", text)
    text = unicodedata.normalize("NFD", text).translate(_CHARS)
    return unicodedata.normalize("NFC", text)


def _join_spelled(tokens: list[str]) -> list[str]:
    """Runs of three or more single letters are one word: "s t o p" -> "stop"."""
    joined: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        joined.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if token:
            joined.append(token)
    return joined


def _finish(folded: str) -> str:
    tokens = _REPEATS.sub(r"\1", folded).split()
    return _REPEATS.sub(r"\1", " ".join(_join_spelled(tokens)))


def normalize(text: str) -> str:
    """Lower case, accents folded, punctuation and invisible characters gone, single spaces.

    NFKC first (full-width and styled letters become plain ones), then case folding, zero-width
    and non-breaking spaces, accents, punctuation; emoji stay as words of their own; letters
    spelled out one by one are joined. Idempotent: normalize(normalize(x)) == normalize(x).
    """
    return _finish(_fold(text or ""))


def clauses(text: str) -> list[str]:
    """The reply's sentences and clauses, each normalised (empty ones dropped)."""
    return normalize_with_clauses(text)[1]


def normalize_with_clauses(text: str) -> tuple[str, list[str]]:
    """`normalize(text)` and `clauses(text)` at the cost of one: each clause is folded once."""
    parts = [_fold(p) for p in _CLAUSE_BREAK.split(unicodedata.normalize("NFKC", text or ""))]
    return _finish(" ".join(parts)), [c for c in (_finish(p) for p in parts) if c]


def is_symbol(token: str) -> bool:
    """An emoji or other pictograph, as `normalize` leaves them: one character, a word of its own."""
    return len(token) == 1 and unicodedata.category(token) == "So"
