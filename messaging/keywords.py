"""The inbound keyword engine: what a text means. Pure functions, no database.

A reply is compared after normalising it (case, accents, punctuation and
spacing don't matter), in this order:

1. Twilio's `OptOutType` (STOP/START/HELP), when present, decides.
2. The whole message is an opt-out, opt-in, help or program keyword.
3. It *starts* with an opt-out keyword ("Stop please").
4. It contains a plain-language opt-out phrase ("please remove me").
5. It might be an opt-out but we can't be sure ("wrong number", "please stop?"
   inside a sentence, "stpo"): review by a person.
6. Anything else: nothing to do.

Opting out wins over everything but `OptOutType`: a false opt-out costs one
subscriber, a missed one breaks the law.
"""

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
PROGRAM = "program"
REVIEW = "review"
OTHER = "other"

# The words the FCC says always revoke consent in reply to a text (FCC 24-24).
# They apply whatever the editable lists say.
FCC_OPT_OUT_WORDS = ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe")

DEFAULT_OPT_OUT_WORDS = (
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
    "PARAR", "CANCELAR", "DETENER", "BAJA",  # Spanish
    "ARRET", "ARRÊT", "ARRETE",  # French
)  # fmt: skip
DEFAULT_OPT_IN_WORDS = ("START", "UNSTOP", "YES")
DEFAULT_HELP_WORDS = ("HELP", "INFO")
DEFAULT_OPT_OUT_PHRASES = (
    "remove me", "please remove", "take me off", "no more texts", "no more text", "no more messages",
    "stop texting", "stop messaging", "stop sending", "stop contacting", "please stop", "pls stop", "plz stop",
    "unsubscribe",
    "opt me out", "dont text", "do not text", "dont message", "do not message", "dont contact", "do not contact",
    "leave me alone", "no mas", "no me envien", "ne plus recevoir",
)  # fmt: skip
DEFAULT_REVIEW_PHRASES = (
    "not interested", "who is this", "who dis", "wrong number", "wrong person", "how did you get my number",
    "why are you texting", "i didnt sign up", "never signed up", "spam", "no thanks", "no thank you",
)  # fmt: skip
DEFAULT_REVIEW_WORDS = ("NO", "NOPE")


def normalize(text: str) -> str:
    """Lower case, no accents, apostrophes dropped, other punctuation as spaces, single spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[\W_]+", " ", text)
    return text.strip()


@dataclass(frozen=True)
class KeywordSet:
    """The keyword lists, normalised. Build it with `keyword_set`."""

    opt_out_words: frozenset[str]
    opt_in_words: frozenset[str]
    help_words: frozenset[str]
    review_words: frozenset[str]
    opt_out_phrases: tuple[str, ...]
    review_phrases: tuple[str, ...]


def _norm_all(texts: Iterable[str]) -> list[str]:
    return [n for n in (normalize(t) for t in texts) if n]


def keyword_set(
    *,
    opt_out_words: Iterable[str] = DEFAULT_OPT_OUT_WORDS,
    opt_in_words: Iterable[str] = DEFAULT_OPT_IN_WORDS,
    help_words: Iterable[str] = DEFAULT_HELP_WORDS,
    review_words: Iterable[str] = DEFAULT_REVIEW_WORDS,
    opt_out_phrases: Iterable[str] = DEFAULT_OPT_OUT_PHRASES,
    review_phrases: Iterable[str] = DEFAULT_REVIEW_PHRASES,
) -> KeywordSet:
    out_words = frozenset(_norm_all(opt_out_words)) | frozenset(FCC_OPT_OUT_WORDS)
    return KeywordSet(
        opt_out_words=out_words,
        # An opt-out word can never mean anything else.
        opt_in_words=frozenset(_norm_all(opt_in_words)) - out_words,
        help_words=frozenset(_norm_all(help_words)) - out_words,
        review_words=frozenset(_norm_all(review_words)) - out_words,
        opt_out_phrases=tuple(sorted(set(_norm_all(opt_out_phrases)), key=len, reverse=True)),
        review_phrases=tuple(sorted(set(_norm_all(review_phrases)), key=len, reverse=True)),
    )


DEFAULT_KEYWORDS = keyword_set()


@dataclass(frozen=True)
class Classification:
    meaning: str  # OPT_OUT, OPT_IN, HELP, PROGRAM, REVIEW or OTHER
    keyword: str = ""  # the keyword or phrase that decided (normalised)
    how: str = ""  # "opt_out_type", "exact", "starts_with", "phrase", "contains", "near_miss"


_OPT_OUT_TYPES = {"STOP": OPT_OUT, "START": OPT_IN, "HELP": HELP}


def _contains(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {text} "


def _one_edit_apart(a: str, b: str) -> bool:
    """True when `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def classify(
    body: str,
    *,
    keywords: KeywordSet = DEFAULT_KEYWORDS,
    program_keywords: Collection[str] = (),
    opt_out_type: str = "",
) -> Classification:
    """What an inbound text means. `program_keywords` are the programs' keywords (any case)."""
    text = normalize(body)
    decided_by_twilio = _OPT_OUT_TYPES.get((opt_out_type or "").strip().upper())
    if decided_by_twilio:
        return Classification(decided_by_twilio, text or opt_out_type.strip().lower(), "opt_out_type")
    if not text:
        return Classification(OTHER)

    if text in keywords.opt_out_words:
        return Classification(OPT_OUT, text, "exact")
    if text in keywords.opt_in_words:
        return Classification(OPT_IN, text, "exact")
    if text in keywords.help_words:
        return Classification(HELP, text, "exact")
    if text in {normalize(k) for k in program_keywords}:
        return Classification(PROGRAM, text, "exact")

    for word in sorted(keywords.opt_out_words, key=len, reverse=True):
        if text.startswith(word + " "):
            return Classification(OPT_OUT, word, "starts_with")
    for phrase in keywords.opt_out_phrases:
        if _contains(text, phrase):
            return Classification(OPT_OUT, phrase, "phrase")

    if text in keywords.review_words:
        return Classification(REVIEW, text, "exact")
    for phrase in keywords.review_phrases:
        if _contains(text, phrase):
            return Classification(REVIEW, phrase, "phrase")
    for word in keywords.opt_out_words:
        if _contains(text, word):
            return Classification(REVIEW, word, "contains")
    first = text.split(" ", 1)[0]
    for word in keywords.opt_out_words:
        if len(word) >= 4 and " " not in word and _one_edit_apart(first, word):
            return Classification(REVIEW, word, "near_miss")
    return Classification(OTHER)
