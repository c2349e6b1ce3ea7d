"""Compiling the vocabulary and reading one reply with it. Pure functions, no database.

A reply is read in this order; the first step that decides, decides:

1. Twilio's `OptOutType` (STOP/START/HELP), when present.
2. A tapback ("Liked “…”") quotes our own text: the quote is never read as the person's words.
3. Opt-out, confidently: the whole reply is an opt-out word; a sentence of it is one; it starts
   with one; it ends with one after "please", "ok", "thanks but"…; it contains an opt-out
   phrase or a plain-language pattern. Not when negated ("don't stop the deals") or when the
   word has another sense ("I'll stop by", "the sale ends Sunday").
4. The whole reply is an opt-in or help word.
5. Might be an opt-out, so a person reads it (review): it quotes our opt-out instruction, it
   mentions an opt-out word elsewhere, a word is one letter away from an opt-out keyword
   ("stpo"), or it matches a review word, phrase or pattern ("who is this", "wrong number").
6. The whole reply is a program keyword.
7. Plainly not an opt-out (confident): thanks, questions about the shop, "don't stop".
8. Anything else is unclear: not confident. `messaging/inbound.py` sends those from numbers
   with a live subscription to review, so nothing that might be a revocation is dropped.

Opting out wins over everything but `OptOutType`: a false opt-out costs one subscriber, a
missed one breaks the law. Misspellings never opt out by themselves ("stopped by", "ended").
"""

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from . import patterns as p
from .normalize import is_symbol, normalize, normalize_with_clauses
from .vocabulary import (
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

PROGRAM = "program"
OTHER = "other"
# Twilio caps a body at 1,600 characters; reading more than twice that only costs CPU.
MAX_BODY = 3200

MEANING_LABELS = {
    OPT_OUT: "opt-out",
    OPT_IN: "opt-in",
    HELP: "help",
    PROGRAM: "program keyword",
    REVIEW: "possible opt-out",
    NO_ACTION: "not an opt-out",
    OTHER: "nothing to act on",
}


@dataclass(frozen=True)
class Classification:
    meaning: str  # OPT_OUT, OPT_IN, HELP, PROGRAM, REVIEW or OTHER
    keyword: str = ""  # the keyword, phrase or words that decided (normalised)
    how: str = ""  # the step that decided: see WHY
    confident: bool = True  # False: unclear; a reply from a subscribed number then goes to review
    guess: str = ""  # for review: what the reply most likely means (OPT_OUT, or "" when unclear)
    rule: str = ""  # the rule or pattern that decided, as staff see it
    source: str = ""  # where that rule comes from

    def why(self) -> str:
        """One sentence a person can read: why the reply was or wasn't treated as a revocation."""
        template = WHY.get(self.how, "")
        text = template.format(kw=self.keyword, rule=self.rule, label=MEANING_LABELS.get(self.meaning, ""))
        # Where a keyword comes from matters for the keywords that act; review hints explain themselves.
        acts = self.meaning in (OPT_OUT, OPT_IN, HELP, PROGRAM)
        return f"{text} ({self.source})" if self.source and text and acts else text


WHY = {
    "opt_out_type": "Twilio's OptOutType parameter said {rule}; it decides over the text.",
    "code": "The reply is YES with the code the sign-up page showed: it confirms that one sign-up.",
    "exact": "The whole reply is the {label} keyword “{kw}”.",
    "alone": "“{kw}” is a sentence of its own in the reply: an opt-out keyword.",
    "starts_with": "The reply starts with the opt-out keyword “{kw}”.",
    "ends_with": "The reply ends with the opt-out keyword “{kw}” after other words.",
    "phrase": "The reply contains the opt-out phrase “{kw}”.",
    "pattern": "The reply asks to stop in plain language: {rule} matched “{kw}”.",
    "instruction": "The reply quotes our opt-out instruction (“{kw}”) instead of giving it: a person decides.",
    "contains": "The reply mentions “{kw}” inside a sentence, where it may not be a request to stop: a person decides.",
    "near_miss": "“{kw}” is one letter away from the opt-out keyword {rule}; a misspelling never opts out"
    " by itself: a person decides.",
    "review_word": "The whole reply is “{kw}”, often sent by people who don't want the texts: a person decides.",
    "review_phrase": "The reply contains “{kw}”, often sent by people who don't want the texts: a person decides.",
    "review_pattern": "The reply matches {rule} (“{kw}”), often sent by people who don't want the texts:"
    " a person decides.",
    "negated": "The opt-out word is negated (“{kw}”): the person asks us to go on.",
    "other_sense": "“{kw}” uses the keyword in another sense, not as a request to stop.",
    "no_action": "The reply contains “{kw}”, plainly not an opt-out.",
    "no_action_word": "The whole reply is “{kw}”, plainly not an opt-out.",
    "reaction": "A reaction (“{kw}”) to our own text, which it quotes; the quote is not the person's words.",
    "reaction_unclear": "A reaction (“{kw}”) to our own text: unclear.",
    "empty": "No text (perhaps only a picture): unclear.",
    "emoji_only": "Only emoji: unclear.",
    "question": "A question nothing in the vocabulary recognises: unclear.",
    "foreign": "Written in a script the vocabulary doesn't cover: unclear.",
    "unmatched": "Nothing in the vocabulary matched: unclear.",
}


@dataclass(frozen=True)
class KeywordSet:
    """The vocabulary, normalised and compiled once. Build it with `keyword_set`."""

    terms: dict[str, dict[str, Term]]  # (meaning + match) -> normalised text -> term
    opt_out_squashed: dict[str, Term]  # opt-out words without spaces: "optout", "stopall"
    opt_out_first_words: frozenset[str]  # the first word of each opt-out word: where to look for one
    symbols: frozenset[str]  # emoji that are words of the vocabulary
    ignored: tuple[tuple[Term, str], ...] = ()  # rules dropped: (rule, the opt-out word it would shadow)
    _phrases: dict[str, re.Pattern | None] = field(default_factory=dict)  # meaning -> spaced phrases
    _dense: dict[str, tuple[tuple[str, Term], ...]] = field(default_factory=dict)  # meaning -> CJK phrases
    _fuzzy: dict[str, tuple[str, ...]] = field(default_factory=dict)  # variant -> opt-out words near it

    def words(self, meaning: str) -> dict[str, Term]:
        return self.terms.get(meaning + WORD, {})

    def opt_out_word(self, text: str, *, anywhere: bool = False) -> Term | None:
        """The opt-out word `text` is; with `anywhere`, only those that also count inside a reply."""
        term = self.terms[OPT_OUT + WORD].get(text)
        if term or anywhere:
            return term
        return self.terms[OPT_OUT + EXACT].get(text)

    @property
    def opt_out_words(self) -> frozenset[str]:
        return frozenset(self.terms[OPT_OUT + WORD]) | frozenset(self.terms[OPT_OUT + EXACT])




def _alternatives(prefix: str, patterns) -> re.Pattern:
    # One regular expression for all, tried only where a word starts: three times faster than letting
    # every alternative try every character.
    alternatives = "|".join(f"(?P<{prefix}{i}>{rx})" for i, (_, rx, _) in enumerate(patterns))
    return re.compile(rf"(?<![^ ])(?:{alternatives})")


_OPT_OUT_PATTERN_RE = _alternatives("o", p.OPT_OUT_PATTERNS)
_REVIEW_PATTERN_RE = _alternatives("r", p.REVIEW_PATTERNS)


def _is_dense(text: str) -> bool:
    """Written without spaces between words (Chinese, Japanese, Thai): match it as a substring."""
    return any(ord(ch) >= 0x2E80 and unicodedata.category(ch)[0] == "L" for ch in text)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


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


def _compile(opt_out: list[Term], others: list[Term], ignored: tuple = ()) -> KeywordSet:
    meanings, matches = (OPT_OUT, OPT_IN, HELP, REVIEW, NO_ACTION), (WORD, EXACT, PHRASE)
    terms: dict[str, dict[str, Term]] = {meaning + match: {} for meaning in meanings for match in matches}
    for term in [*opt_out, *others]:
        norm = normalize(term.text)
        if norm:
            terms[term.meaning + term.match].setdefault(norm, term)
    # Exact-only matching makes sense for opt-out words alone; other meanings match the whole reply anyway.
    for meaning in (OPT_IN, HELP, REVIEW, NO_ACTION):
        for norm, term in terms.pop(meaning + EXACT).items():
            terms[meaning + WORD].setdefault(norm, term)
    out_words = {**terms[OPT_OUT + EXACT], **terms[OPT_OUT + WORD]}
    phrases, dense = {}, {}
    for meaning in (OPT_OUT, REVIEW, NO_ACTION):
        spaced = sorted((t for t in terms[meaning + PHRASE] if not _is_dense(t)), key=len, reverse=True)
        alternatives = "|".join(map(re.escape, spaced))
        phrases[meaning] = re.compile(rf"(?<![^ ])(?:{alternatives})(?![^ ])") if spaced else None
        # Only phrases: a Chinese word rule ("取消", cancel) is the whole reply, not any reply containing it.
        phrases_of = terms[meaning + PHRASE].items()
        dense[meaning] = tuple((t.replace(" ", ""), term) for t, term in phrases_of if _is_dense(t))
    fuzzy: dict[str, set[str]] = {}
    for norm in out_words:
        squashed = norm.replace(" ", "")
        if len(squashed) >= 4 and squashed.isalpha() and not _is_dense(squashed):
            for variant in {squashed} | _deletions(squashed):
                fuzzy.setdefault(variant, set()).add(squashed)
    symbols = frozenset(t for group in terms.values() for t in group if is_symbol(t))
    return KeywordSet(
        terms=terms,
        opt_out_squashed={t.replace(" ", ""): term for t, term in out_words.items()},
        opt_out_first_words=frozenset(t.split()[0] for t in out_words),
        symbols=symbols,
        ignored=tuple(ignored),
        _phrases=phrases,
        _dense=dense,
        _fuzzy={k: tuple(sorted(v)) for k, v in fuzzy.items()},
    )


def keyword_set(terms: Iterable[Term] = DEFAULT_TERMS) -> KeywordSet:
    """Compile a vocabulary. The FCC's words always opt out; a rule that would shadow an opt-out is dropped."""
    terms = list(terms)
    opt_out = [*FCC_TERMS, *(t for t in terms if t.meaning == OPT_OUT)]
    base = _compile(opt_out, [])
    kept, ignored = [], []
    for term in terms:
        if term.meaning == OPT_OUT:
            continue
        shadowed = opt_out_shadowed(term.text, meaning=term.meaning, keywords=base)
        if shadowed:
            ignored.append((term, shadowed))
        else:
            kept.append(term)
    return _compile(opt_out, kept, tuple(ignored))


def opt_out_shadowed(text: str, *, meaning: str, keywords: KeywordSet) -> str:
    """The opt-out keyword, phrase or pattern a rule with this text and meaning would shadow; "" if none.

    A rule of another meaning may not be, start with or contain an opt-out keyword or phrase,
    nor read as an opt-out by itself ("stop please" as opt-in, "stop texting me" as help). An
    opt-in, help or no-action rule may not be a misspelling of one either: it would turn a
    possible opt-out into something else.
    """
    if meaning == OPT_OUT:
        return ""
    result = classify(text, keywords=keywords)
    if result.meaning == OPT_OUT:
        return result.keyword
    words = _words(normalize(text), keywords)
    core = " ".join(words)
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            gram = " ".join(words[i : i + size])
            if keywords.opt_out_word(gram):
                return gram  # a rule is checked once, when saved: no need to be quick here
    if keywords.opt_out_squashed.get(core.replace(" ", "")):
        return core
    found = _phrase(core, OPT_OUT, keywords)
    if found:
        return found[0]
    if meaning != REVIEW:
        for token in words:
            near = _near_miss(token, keywords)
            if near:
                return f"{near} (misspelt as {token})"
    return ""


def _words(text: str, keywords: KeywordSet) -> list[str]:
    """The words of a normalised text: emoji that aren't vocabulary are decoration and dropped."""
    return [t for t in text.split() if not is_symbol(t) or t in keywords.symbols]


def _phrase(text: str, meaning: str, keywords: KeywordSet) -> tuple[str, Term] | None:
    regex = keywords._phrases.get(meaning)
    match = regex.search(text) if regex else None
    if match:
        return match.group(), keywords.terms[meaning + PHRASE][match.group()]
    if keywords._dense.get(meaning):
        squashed = text.replace(" ", "")
        for needle, term in keywords._dense[meaning]:
            if needle in squashed:
                return needle, term
    return None


def _negation(before: list[str]) -> str:
    """The negation right before a keyword ("dont", "never", "n'…"), through filler words; "" if none."""
    for distance, token in enumerate(reversed(before)):
        if token in p.NEGATORS:
            return token
        if token not in p.FILLERS or distance >= 4:
            return ""
    return ""


def _near_miss(token: str, keywords: KeywordSet) -> str:
    if len(token) < 3 or not token.isalnum() or token.isdigit() or token in p.REAL_WORDS:
        return ""
    # A three-letter word is a misspelling only of a keyword with the same first letter ("stp", not "are").
    if keywords.opt_out_squashed.get(token) or _is_dense(token):
        return ""
    for variant in {token} | _deletions(token):
        for word in keywords._fuzzy.get(variant, ()):
            if (len(token) > 3 or token[0] == word[0]) and _one_edit_apart(token, word):
                return word
    return ""


def _rule(term: Term) -> str:
    kind = {WORD: "word", EXACT: "word", PHRASE: "phrase"}[term.match]
    number = f" #{term.rule_id}" if term.rule_id else ""
    return f"{kind}{number} “{term.text}”"


_OPT_OUT_TYPES = {"STOP": OPT_OUT, "START": OPT_IN, "HELP": HELP}
_LAST_WORD = re.compile(r"[^\W\d_]+")


def classify(
    body: str,
    *,
    keywords: KeywordSet | None = None,
    program_keywords: Collection[str] = (),
    opt_out_type: str = "",
) -> Classification:
    """What an inbound text means. `program_keywords` are the programs' keywords (any case)."""
    keywords = keywords or DEFAULT_KEYWORDS
    body = (body or "")[:MAX_BODY]
    kind = (opt_out_type or "").strip().upper()
    if kind in _OPT_OUT_TYPES:
        text = normalize(body)[:60] or kind.lower()
        return Classification(_OPT_OUT_TYPES[kind], text, "opt_out_type", rule=f"OptOutType={kind}")
    tapback = p.TAPBACK.match(body)
    if tapback:
        verb = " ".join(tapback.group(1).lower().split())
        if verb in p.TAPBACK_POSITIVE:
            return Classification(OTHER, verb, "reaction", rule="reaction to our text")
        return Classification(OTHER, verb, "reaction_unclear", confident=False, rule="reaction to our text")
    return _Reading(body, keywords, program_keywords).classify()


class _Reading:
    def __init__(self, body: str, keywords: KeywordSet, program_keywords: Collection[str]):
        self.body = body
        self.k = keywords
        self.program_keywords = program_keywords
        self.text, clauses = normalize_with_clauses(body)
        self.words = _words(self.text, keywords)
        self.core = " ".join(self.words)
        self.clauses = [" ".join(w) for w in (_words(c, keywords) for c in clauses) if w]

    def classify(self) -> Classification:
        if not self.words:
            return Classification(OTHER, "", "emoji_only" if self.text else "empty", confident=False)
        for step in (self._opt_out, self._opt_in_or_help, self._review, self._program, self._no_action):
            found = step()
            if found:
                return found
        return self._unclear()

    # -- 3. opt-out -------------------------------------------------------------------------------

    def _opt_out(self) -> Classification | None:
        k, words = self.k, self.words
        # The stop sign beside a keyword is decoration too: "ALTO 🛑".
        plain = " ".join(w for w in words if not (is_symbol(w) and k.opt_out_word(w))) or self.core
        term = k.opt_out_word(plain) or k.opt_out_squashed.get(plain.replace(" ", ""))
        if term:
            return self._out(plain, "exact", term)
        for clause in self.clauses:
            term = k.opt_out_word(clause)
            if term and clause != self.core:
                return self._out(clause, "alone", term)
        for size in (3, 2, 1):
            if len(words) > size:
                head = " ".join(words[:size])
                term = k.opt_out_word(head, anywhere=True)
                if term and not self._other_sense(head, 0, size) and not self._other_object(head, size):
                    return self._out(head, "starts_with", term)
                tail = " ".join(words[-size:])
                term = k.opt_out_word(tail, anywhere=True)
                if term and self._ends_with(tail, size):
                    return self._out(tail, "ends_with", term)
        for clause in self.clauses:
            found = self._opt_out_in(clause)
            if found:
                return found
        return None

    def _opt_out_in(self, clause: str) -> Classification | None:
        regex = self.k._phrases.get(OPT_OUT)
        for match in regex.finditer(clause) if regex else ():
            if not _negation(clause[: match.start()].split()):
                return self._out(match.group(), "phrase", self.k.terms[OPT_OUT + PHRASE][match.group()])
        found = _phrase(clause, OPT_OUT, self.k)
        if found and _is_dense(found[0]):
            return self._out(found[0], "phrase", found[1])
        for match in _OPT_OUT_PATTERN_RE.finditer(clause):
            if not _negation(clause[: match.start()].split()):
                name = p.OPT_OUT_PATTERNS[int(match.lastgroup[1:])][0]
                return Classification(OPT_OUT, match.group().strip(), "pattern", rule=f"pattern “{name}”")
        return None

    def _out(self, keyword: str, how: str, term: Term) -> Classification:
        return Classification(OPT_OUT, keyword, how, rule=_rule(term), source=term.source)

    def _ends_with(self, tail: str, size: int) -> bool:
        before = self.words[:-size]
        if _negation(before) or self._other_sense(tail, len(before), size):
            return False
        if before[-1] in p.LEAD_WORDS:
            return True
        # "i told u STOP": the keyword in capitals after words in lower case.
        raw = _LAST_WORD.findall(self.body)
        last = raw[-1] if raw else ""  # "1 🛑": no letters at all
        return (
            size == 1
            and len(last) > 1
            and last.isupper()
            and normalize(last) == tail
            and any(ch.islower() for ch in self.body)
        )

    def _other_sense(self, keyword: str, start: int, size: int) -> bool:
        before = self.words[start - 1] if start else ""
        after = self.words[start + size] if start + size < len(self.words) else ""
        return before in p.BENIGN_BEFORE.get(keyword, ()) or after in p.BENIGN_AFTER.get(keyword, ())

    def _other_object(self, keyword: str, size: int) -> bool:
        objects = p.OTHER_OBJECTS.get(keyword)
        return bool(objects) and any(w in objects for w in self.words[size : size + 3])

    # -- 4. opt-in, help --------------------------------------------------------------------------

    def _opt_in_or_help(self) -> Classification | None:
        for meaning in (OPT_IN, HELP):
            term = self.k.words(meaning).get(self.core)
            if term:
                return Classification(meaning, self.core, "exact", rule=_rule(term), source=term.source)
        return None

    # -- 5. might be an opt-out -------------------------------------------------------------------

    def _review(self) -> Classification | None:
        k, words = self.k, self.words
        instruction = p.INSTRUCTION.search(self.core)
        if instruction:
            return self._maybe(instruction.group(), "instruction", rule="our opt-out instruction")
        self.harmless: Classification | None = None
        starts = [i for i, word in enumerate(words) if word in k.opt_out_first_words]
        for size in (3, 2, 1):
            for i in starts:
                gram = " ".join(words[i : i + size])
                term = k.opt_out_word(gram, anywhere=True) if i + size <= len(words) else None
                if not term:
                    continue
                negation = _negation(words[:i])
                if negation:
                    negated = Classification(OTHER, f"{negation} {gram}", "negated", rule=_rule(term))
                    self.harmless = self.harmless or negated
                elif self._other_sense(gram, i, size):
                    phrase = " ".join(words[max(i - 1, 0) : i + size + 1])
                    self.harmless = self.harmless or Classification(OTHER, phrase, "other_sense", rule=_rule(term))
                else:
                    return self._maybe(gram, "contains", rule=_rule(term), source=term.source)
        for token in dict.fromkeys([*words, self.core.replace(" ", "")] if len(words) <= 3 else words):
            near = _near_miss(token, k)
            if near:
                return self._maybe(token, "near_miss", rule=f"“{near}”")
        term = k.words(REVIEW).get(self.core)
        if term:
            return self._maybe(self.core, "review_word", rule=_rule(term), source=term.source)
        found = _phrase(self.core, REVIEW, k)
        if found:
            return self._maybe(found[0], "review_phrase", rule=_rule(found[1]), source=found[1].source)
        match = _REVIEW_PATTERN_RE.search(self.core)
        if match:
            name = p.REVIEW_PATTERNS[int(match.lastgroup[1:])][0]
            return self._maybe(match.group(), "review_pattern", rule=f"pattern “{name}”")
        return None

    def _maybe(self, keyword: str, how: str, *, rule: str, source: str = "") -> Classification:
        return Classification(REVIEW, keyword, how, confident=False, guess=OPT_OUT, rule=rule, source=source)

    # -- 6. program keywords, 7. plainly not an opt-out, 8. unclear ------------------------------------

    def _program(self) -> Classification | None:
        if self.program_keywords and self.core in {normalize(k) for k in self.program_keywords}:
            return Classification(PROGRAM, self.core, "exact", rule=f"program keyword “{self.core.upper()}”")
        return None

    def _no_action(self) -> Classification | None:
        if self.harmless:
            return self.harmless
        term = self.k.words(NO_ACTION).get(self.core)
        if term:
            return Classification(OTHER, self.core, "no_action_word", rule=_rule(term), source=term.source)
        found = _phrase(self.core, NO_ACTION, self.k)
        if found:
            return Classification(OTHER, found[0], "no_action", rule=_rule(found[1]), source=found[1].source)
        return None

    def _unclear(self) -> Classification:
        if "?" in self.body or "¿" in self.body:
            how = "question"
        elif any(ch.isalpha() and not ch.isascii() and ord(ch) >= 0x370 for ch in self.core):
            how = "foreign"
        else:
            how = "unmatched"
        return Classification(OTHER, self.core[:60], how, confident=False)


DEFAULT_KEYWORDS = keyword_set()
