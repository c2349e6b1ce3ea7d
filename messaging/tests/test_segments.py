"""The one segment counter: known GSM-7 and UCS-2 cases, and properties over any text."""

import math
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.segments import GSM7_BASIC, GSM7_EXTENSION, segment_count, segment_info

pytestmark = pytest.mark.smoke

# Bounded and repeatable: the same examples on every run.
PROPERTY = hypothesis_settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

EXTENSION = "€[]{}\\^~|"
BASIC = "".join(sorted(GSM7_BASIC))
ASTRAL = "🎉😀👍🏽𝒜"  # outside the Basic Multilingual Plane: two UTF-16 units each


# --- known cases ----------------------------------------------------------------------------------


def test_an_empty_body_is_no_segment_at_all():
    info = segment_info("")
    assert (info.encoding, info.characters, info.segments, info.non_gsm) == ("GSM-7", 0, 0, [])
    assert segment_count("") == 0


@pytest.mark.parametrize("char", list(EXTENSION))
def test_each_escape_character_counts_two(char):
    assert segment_info("x" * 158 + char) == segment_info("x" * 160)  # 160 septets: one segment
    info = segment_info("x" * 159 + char)
    assert (info.encoding, info.characters, info.segments) == ("GSM-7", 161, 2)


@pytest.mark.parametrize(
    ("body", "encoding", "characters", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),  # two full parts of 153
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),  # 76 euro signs (152 septets) fit in a part
        ("a" * 152 + "€" + "a" * 151, "GSM-7", 305, 2),
        # 306 septets, but the escape and its € may not be split: 152 | € + 152 | … is three parts.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("\f" * 3, "GSM-7", 6, 1),  # form feed is in the extension table too
        ("é ü Ñ £ ¥ Δ", "GSM-7", 11, 1),  # in the basic set
        ("ç" * 70, "UCS-2", 70, 1),  # lower-case ç is not GSM-7 (only Ç is)
        ("ç" * 71, "UCS-2", 71, 2),
        ("ç" * 134, "UCS-2", 134, 2),  # two full parts of 67
        ("ç" * 135, "UCS-2", 135, 3),
        ("🎉" * 35, "UCS-2", 70, 1),
        ("🎉" * 36, "UCS-2", 72, 2),  # 33 emoji (66 units) per part
        # 134 units, but an emoji's two halves may not be split: 66 | 🎉 + 65 | 1 is three parts.
        ("ç" * 66 + "🎉" + "ç" * 66, "UCS-2", 134, 3),
        ("Don’t miss it", "UCS-2", 13, 1),  # a curly quote
        ("a\u00a0b", "UCS-2", 3, 1),  # a non-breaking space
        ("a\x1bb", "UCS-2", 3, 1),  # a literal escape code can't be sent as GSM-7
        ("a" * 159 + "…", "UCS-2", 160, 3),  # one ellipsis makes the whole text UCS-2
    ],
)
def test_known_cases(body, encoding, characters, segments):
    info = segment_info(body)
    assert (info.encoding, info.characters, info.segments) == (encoding, characters, segments)
    assert segment_count(body) == segments


def test_the_characters_that_force_ucs2_are_named_once_in_order():
    assert segment_info("It’s 🎉 it’s 🎉 ç").non_gsm == ["’", "🎉", "ç"]


# --- properties -----------------------------------------------------------------------------------


def _oracle(body: str) -> int:
    """Segments by splitting the encoded units themselves, never after an escape or a high surrogate."""
    if not body:
        return 0
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        units = [u for c in body for u in (("ESC", c) if c in GSM7_EXTENSION else (c,))]
        single, part, cut_after = 160, 153, lambda unit: unit == "ESC"
    else:
        raw = body.encode("utf-16-be")
        units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        single, part, cut_after = 70, 67, lambda unit: 0xD800 <= unit <= 0xDBFF
    if len(units) <= single:
        return 1
    parts, start = 0, 0
    while start < len(units):
        end = min(start + part, len(units))
        if end < len(units) and cut_after(units[end - 1]):
            end -= 1
        parts, start = parts + 1, end
    return parts


any_text = st.text(max_size=700)
gsm_text = st.text(alphabet=BASIC + EXTENSION, max_size=700)
mixed_text = st.text(alphabet=st.sampled_from(list(BASIC + EXTENSION + ASTRAL + "’çЖ中")), max_size=400)


@PROPERTY
@given(body=st.one_of(any_text, gsm_text, mixed_text))
def test_segments_agree_with_splitting_the_encoded_units(body):
    assert segment_info(body).segments == _oracle(body)


@PROPERTY
@given(body=st.one_of(any_text, gsm_text, mixed_text))
def test_encoding_and_length_follow_from_the_characters(body):
    info = segment_info(body)
    outside = [c for c in body if c not in GSM7_BASIC and c not in GSM7_EXTENSION]
    assert info.non_gsm == list(dict.fromkeys(outside))
    if outside:
        assert info.encoding == "UCS-2"
        assert info.characters == len(body.encode("utf-16-le")) // 2
    else:
        assert info.encoding == "GSM-7"
        assert info.characters == len(body) + sum(c in GSM7_EXTENSION for c in body)
    assert (info.segments == 0) == (body == "")


@PROPERTY
@given(body=st.text(alphabet=BASIC, max_size=1000))
def test_plain_gsm_text_follows_the_160_and_153_rule(body):
    expected = 0 if not body else 1 if len(body) <= 160 else math.ceil(len(body) / 153)
    assert segment_count(body) == expected


@PROPERTY
@given(body=st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), min_size=1, max_size=400))
def test_ucs2_text_without_emoji_follows_the_70_and_67_rule(body):
    if segment_info(body).encoding != "UCS-2":
        return
    expected = 1 if len(body) <= 70 else math.ceil(len(body) / 67)
    assert segment_count(body) == expected


@PROPERTY
@given(body=st.one_of(any_text, mixed_text), extra=st.characters())
def test_adding_a_character_never_makes_a_text_cheaper(body, extra):
    assert segment_count(body + extra) >= segment_count(body)
    assert segment_count(extra + body) >= segment_count(body)


def test_no_other_module_counts_segments():
    """One counter: a second copy of the GSM alphabet is how the two counters came to disagree."""
    base = Path(django_settings.BASE_DIR)
    ours = base / "messaging" / "segments.py"
    alphabet_start = re.compile(r"@£\$¥èéùìòÇ")
    copies = []
    for folder, dirs, files in os.walk(base):  # doesn't follow the .venv link
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "var", "node_modules")]
        for name in files:
            path = Path(folder) / name
            if name.endswith(".py") and path != ours and alphabet_start.search(path.read_text(encoding="utf-8")):
                copies.append(str(path.relative_to(base)))
    assert copies == []
