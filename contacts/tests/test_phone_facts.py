import pytest
from django.core.exceptions import ValidationError

from contacts.phones import phone_e164, phone_facts, phone_parse, phone_search_variants

pytestmark = pytest.mark.smoke


@pytest.mark.parametrize("raw", ["(415) 555-0101", "415-555-0101", "4155550101", "+1 415 555 0101", "+14155550101"])
def test_national_and_e164_formats_give_the_same_number(raw):
    assert phone_e164(raw) == "+14155550101"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "required"), ("hello", "invalid"), ("12345", "invalid"), ("+1 800 555 0101", "not_mobile"),
     ("+44 20 7946 0958", "region")],
)  # fmt: skip
def test_bad_numbers_are_rejected_with_a_reason(raw, code):
    with pytest.raises(ValidationError) as caught:
        phone_parse(raw)
    assert caught.value.code == code


def test_facts_give_time_zone_and_state_from_the_area_code():
    florida = phone_facts("+1 305 555 0101")  # Miami
    assert florida.time_zones == "America/New_York"
    assert florida.region == "FL"
    assert phone_facts("+1 415 555 0101").region == "CA"


def test_non_geographic_numbers_have_unknown_time_zones_not_every_zone():
    facts = phone_facts("+1 500 234 5678")
    assert facts.time_zones == ""


def test_search_variants_normalise_what_staff_type():
    assert phone_search_variants("(415) 555-0101") == ["+14155550101"]
    assert phone_search_variants("not a number") == []
