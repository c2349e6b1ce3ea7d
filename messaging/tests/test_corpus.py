"""The labelled corpus (data/replies.tsv): every reply read as if a subscribed number sent it.

Targets (issue: recognise every way people say stop): 100% of must-opt-out replies opt out, no
must-not-opt-out reply opts out, and every review reply is reviewed or opted out. The scores are
printed at the end of the test run (see conftest.py).
"""

import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from messaging import keywords as kw

pytestmark = pytest.mark.smoke

CORPUS = Path(__file__).parent / "data" / "replies.tsv"
LANGUAGES = {"en", "es", "fr", "pt", "de", "it", "zh"}
SCORES: list[str] = []  # printed by conftest.py's terminal summary

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|n|t)")


def _decode(text: str) -> str:
    return _ESCAPE.sub(lambda m: {"n": "\n", "t": "\t"}.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text)


def corpus() -> list[tuple[str, str, str]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "expected\tlang\treply"
    return [(expected, lang, _decode(reply)) for expected, lang, reply in (line.split("\t") for line in lines[1:])]


def outcome(reply: str) -> str:
    """What happens to the reply from a number with a live subscription (messaging/inbound.py's routing)."""
    result = kw.classify(reply)
    if result.meaning == kw.OPT_OUT:
        return "opt_out"
    if result.meaning == kw.REVIEW or (result.meaning == kw.OTHER and not result.confident):
        return "review"
    return "left alone"


def test_the_corpus_has_300_replies_on_both_sides_of_the_line_in_every_language():
    rows = corpus()
    assert len(rows) >= 300
    assert len({reply for _, _, reply in rows}) == len(rows), "a reply is listed twice"
    by_language = defaultdict(set)
    for expected, lang, _ in rows:
        assert expected in {"opt_out", "not_opt_out", "review"}
        by_language[lang].add(expected)
    for lang in LANGUAGES:
        assert by_language[lang] == {"opt_out", "not_opt_out", "review"}, lang


def test_the_corpus_meets_its_targets():
    totals, hits, wrong = Counter(), Counter(), []
    left_alone = Counter()
    for expected, lang, reply in corpus():
        got = outcome(reply)
        totals[expected] += 1
        ok = {"opt_out": got == "opt_out", "not_opt_out": got != "opt_out", "review": got != "left alone"}[expected]
        hits[expected] += ok
        left_alone[expected] += got == "left alone"
        if not ok:
            wrong.append(f"{expected:12} {lang:5} {reply!r} -> {got}: {kw.classify(reply).why()}")
    rate = {name: hits[name] / totals[name] for name in totals}
    out, keep, review = "opt_out", "not_opt_out", "review"
    SCORES[:] = [
        f"replies: {sum(totals.values())} ({', '.join(f'{k} {v}' for k, v in sorted(totals.items()))})",
        f"must opt out, opted out: {hits[out]}/{totals[out]} ({rate[out]:.1%}; target 100%)",
        f"must not opt out, opted out anyway: {totals[keep] - hits[keep]} (target 0)",
        f"review, reviewed or opted out: {hits[review]}/{totals[review]} ({rate[review]:.1%}; target 100%)",
        f"must not opt out, left alone without review: {left_alone[keep]}/{totals[keep]}",
        *wrong,
    ]
    assert not wrong, "\n".join(wrong)
