"""Phone parsing against any input: E.164 or a clear error, never a crash, whatever is typed or posted."""

import re

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.phones import phone_e164, phone_facts, phone_normalize, phone_parse, phone_search_variants

pytestmark = pytest.mark.smoke

PROPERTY = hypothesis_settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
E164 = re.compile(r"\+[1-9]\d{6,14}")
CLEAR_ERRORS = {"required", "invalid", "region", "not_mobile"}

# What people and machines actually type: digits and phone punctuation, plus anything at all.
phone_like = st.text(alphabet="0123456789+-(). x#*/\t", max_size=40)
hostile = st.text(max_size=200)  # any Unicode, control characters and NUL bytes included
ten_digits = st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True)


def _parse_or_error(raw):
    try:
        return phone_e164(raw), None
    except ValidationError as error:
        return None, error


@PROPERTY
@given(raw=st.one_of(phone_like, hostile, ten_digits.map(lambda d: "+1" + d)))
@example(raw="\x00+14155550101")
@example(raw="+1415555\x000101")
@example(raw="+" + "9" * 5000)
@example(raw="٤١٥٥٥٥٠١٠١")  # Arabic-Indic digits
@example(raw="４１５５５５０１０１")  # full-width digits
@example(raw="tel:+1-415-555-0101")
def test_parsing_gives_e164_or_a_clear_error(raw):
    e164, error = _parse_or_error(raw)
    if error is not None:
        assert error.code in CLEAR_ERRORS
        assert error.messages and all(m.strip() for m in error.messages)
        assert all(len(m) < 200 for m in error.messages)  # the input is echoed, but only its start
        return
    assert E164.fullmatch(e164), e164
    number = phonenumbers.parse(e164)
    assert phonenumbers.is_valid_number(number)
    assert phone_e164(e164) == e164  # parsing what we store changes nothing


@PROPERTY
@given(digits=ten_digits, style=st.integers(min_value=0, max_value=7))
def test_every_common_format_of_a_number_is_the_same_number(digits, style):
    e164, _ = _parse_or_error("+1" + digits)
    assume(e164 is not None)
    a, b, c = digits[:3], digits[3:6], digits[6:]
    written = [
        f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"1{digits}", f"+1 {a} {b} {c}",
        f"  {digits}  ", f"1 ({a}) {b} {c}", f"+1-{a}-{b}-{c}",
    ][style]  # fmt: skip
    assert phone_e164(written) == e164
    facts = phone_facts(written)
    assert facts.e164 == e164
    assert all(zone.count("/") >= 1 for zone in filter(None, facts.time_zones.split("|")))


@PROPERTY
@given(raw=st.one_of(phone_like, hostile))
def test_matching_and_searching_never_crash(raw):
    normalized = phone_normalize(raw)
    assert normalized is None or E164.fullmatch(normalized)
    assert all(E164.fullmatch(v) or v.startswith("+") for v in phone_search_variants(raw))


@PROPERTY
@given(raw=st.one_of(st.none(), st.integers(), st.binary(max_size=20)))
def test_values_that_are_not_text_get_a_clear_error_too(raw):
    e164, error = _parse_or_error(raw)
    assert e164 is not None or error.code in CLEAR_ERRORS


def test_a_number_outside_the_allowed_regions_names_them(settings):
    settings.SMS_ALLOWED_REGIONS = ["US"]
    with pytest.raises(ValidationError) as error:
        phone_parse("+1 604 555 0123")  # Vancouver, Canada
    assert error.value.code == "region"
    assert "United States" in error.value.messages[0] and "Canada" not in error.value.messages[0]
