"""Every number entering through the services is checked by the same rules, and a bad one stores nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from contacts.models import Contact, SuppressedNumber
from contacts.phones import phone_facts, phone_parse, phone_search_variants
from contacts.services import contact_get_or_create, number_suppress

pytestmark = pytest.mark.django_db

BAD_NUMBERS = [
    ("hello", "invalid"),  # malformed
    ("415555", "invalid"),  # too short
    ("+1 415 555 01011", "invalid"),  # too long
    ("(800) 555-0199", "not_mobile"),  # toll-free
    ("+49 151 23456789", "region"),  # a mobile outside the allowed regions
    ("", "required"),
]


@pytest.mark.smoke
@pytest.mark.parametrize(("raw", "code"), BAD_NUMBERS)
def test_contact_service_rejects_bad_numbers_and_stores_nothing(raw, code):
    with pytest.raises(ValidationError) as error:
        contact_get_or_create(phone=raw, first_name="X")
    assert error.value.code == code
    assert error.value.messages[0]  # a sentence a person can act on
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("raw", "code"), BAD_NUMBERS)
def test_suppression_service_rejects_bad_numbers(raw, code):
    with pytest.raises(ValidationError):
        number_suppress(phone=raw, reason="x")
    assert not SuppressedNumber.objects.exists()


@pytest.mark.smoke
def test_allowed_regions_are_a_setting(settings):
    settings.SMS_ALLOWED_REGIONS = ["US", "CA", "DE"]
    contact, created = contact_get_or_create(phone="+49 151 23456789")
    assert created and str(contact.phone) == "+4915123456789"
    assert contact.region == ""


@pytest.mark.smoke
def test_the_same_number_in_different_formats_is_one_contact():
    first, created = contact_get_or_create(phone="(415) 555-0101")
    again, created_again = contact_get_or_create(phone="+1 415-555-0101")
    assert created and not created_again and first.pk == again.pk


@pytest.mark.smoke
def test_phone_facts_give_state_and_time_zone_from_the_area_code():
    facts = phone_facts("(305) 555-0102")
    assert (facts.e164, facts.region, facts.time_zones) == ("+13055550102", "FL", "America/New_York")
    assert phone_search_variants("not a number") == []


@pytest.mark.smoke
@pytest.mark.parametrize("raw", ["07911 123456", "+44 7911 123456", "00 44 7911 123456", "011 44 7911 123456",
                                 "447911123456", "030 12345678"])  # fmt: skip
def test_a_number_from_another_country_is_told_which_countries_we_text(raw):
    with pytest.raises(ValidationError) as refused:
        phone_parse(raw)
    assert refused.value.code == "region"
    assert refused.value.messages == ["We can only text numbers in: United States, Canada."]


@pytest.mark.parametrize("raw", ["555-01", "0123", "(415) 555-01", "12345678901234"])
def test_a_mistyped_number_is_still_called_not_valid(raw):
    with pytest.raises(ValidationError) as refused:
        phone_parse(raw)
    assert refused.value.code == "invalid"


def test_the_region_message_names_the_countries_of_the_setting_in_the_readers_language(settings):
    settings.SMS_ALLOWED_REGIONS = ["US"]
    with pytest.raises(ValidationError) as refused:
        phone_parse("07911 123456")
    assert refused.value.messages == ["We can only text numbers in: United States."]
    settings.SMS_ALLOWED_REGIONS = ["US", "CA", "MX"]
    with translation.override("es"):
        with pytest.raises(ValidationError) as refused:
            phone_parse("+44 7911 123456")
        assert refused.value.messages == ["Solo enviamos mensajes a números de: Estados Unidos, Canadá, México."]
