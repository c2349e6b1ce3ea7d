"""The inbound keyword engine: what a reply means, and why. Pure functions, no database.

`normalize` reduces a reply to plain words, `keyword_set` compiles a vocabulary
(the editable `KeywordRule` rows, read by `messaging.selectors.keywords_current`),
and `classify` reads one reply with it. See engine.py for the order of the steps.
"""

from .engine import (
    DEFAULT_KEYWORDS,
    MEANING_LABELS,
    OTHER,
    PROGRAM,
    Classification,
    KeywordSet,
    classify,
    keyword_set,
    opt_out_shadowed,
)
from .normalize import clauses, is_symbol, normalize
from .vocabulary import (
    DEFAULT_OPT_OUT_WORDS,
    DEFAULT_TERMS,
    EXACT,
    FCC_TERMS,
    HELP,
    NO_ACTION,
    OPT_IN,
    OPT_OUT,
    PHRASE,
    REVIEW,
    WORD,
    Term,
)

__all__ = [
    "DEFAULT_KEYWORDS", "DEFAULT_OPT_OUT_WORDS", "DEFAULT_TERMS", "EXACT", "FCC_TERMS", "HELP", "MEANING_LABELS",
    "NO_ACTION", "OPT_IN", "OPT_OUT", "OTHER", "PHRASE", "PROGRAM", "REVIEW", "WORD", "Classification",
    "KeywordSet", "Term", "classify", "clauses", "is_symbol", "keyword_set", "normalize", "opt_out_shadowed",
]  # fmt: skip
