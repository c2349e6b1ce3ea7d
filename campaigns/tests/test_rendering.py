import pytest
from django.core.exceptions import ValidationError

from campaigns.rendering import campaign_render, message_compose
from contacts.tests.factories import make_contact, make_program
from messaging.segments import segment_info

pytestmark = pytest.mark.smoke


class Program:
    brand = "Acme Deals"


def compose(body, **fields):
    return message_compose(body=body, program=Program(), contact_fields=fields)


def test_fallback_used_for_an_empty_first_name(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = ""
    assert compose("Hi {{ first_name|default:'there' }}!", first_name="") == "Acme Deals: Hi there!"
    assert compose("Hi {{ first_name|default:'there' }}!", first_name="Ana") == "Acme Deals: Hi Ana!"


def test_attributes_are_reachable_by_name(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = ""
    text = compose("Acme Deals: see you in {{ attributes.city|default:'town' }}", attributes={"city": "Austin"})
    assert text == "Acme Deals: see you in Austin"


def test_brand_prefix_and_stop_footer_added_only_when_missing(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    assert compose("Sale today") == "Acme Deals: Sale today\nReply STOP to opt out"
    assert compose("ACME DEALS: Sale today. Text STOP to end") == "ACME DEALS: Sale today. Text STOP to end"
    settings.CAMPAIGN_BRAND_PREFIX = False
    assert compose("Sale today. STOP to end") == "Sale today. STOP to end"


@pytest.mark.parametrize(
    "body", ["{{ phone }}", "{{ contact.phone }}", "{{ request.user }}", "{{ settings.SECRET_KEY }}"]
)
def test_body_can_only_name_the_contacts_own_fields(body):
    with pytest.raises(ValidationError, match="not a contact field"):
        compose(body)


@pytest.mark.parametrize(
    "body",
    ['{% include "admin/base.html" %}', "{% load static %}{% static 'x' %}", "{{ first_name|bogus }}", "{% if %}"],
)
def test_template_tricks_and_errors_become_a_clear_validation_error(body):
    with pytest.raises(ValidationError):
        compose(body)


@pytest.mark.django_db
def test_campaign_render_uses_a_plain_dict_of_the_contact(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    program = make_program(brand="Acme Deals")
    contact = make_contact(first_name="Bea")
    contact.attributes = {"tier": "gold", "secret": {"nested": 1}}

    class C:
        body = "Hi {{ first_name }} ({{ attributes.tier }}{{ attributes.secret }})"

    C.program = program
    assert campaign_render(C, contact) == "Acme Deals: Hi Bea (gold)\nReply STOP to opt out"


def test_gsm7_single_and_multipart_lengths():
    assert segment_info("a" * 160) == segment_info("a" * 160)
    info = segment_info("a" * 160)
    assert (info.encoding, info.characters, info.segments) == ("GSM-7", 160, 1)
    assert segment_info("a" * 161).segments == 2
    assert segment_info("a" * 306).segments == 2
    assert segment_info("a" * 307).segments == 3


def test_gsm7_extension_characters_count_twice():
    info = segment_info("€" * 80)
    assert (info.encoding, info.characters, info.segments) == ("GSM-7", 160, 1)
    assert segment_info("[" + "a" * 159).segments == 2


def test_one_non_gsm_character_switches_everything_to_ucs2_and_is_named():
    info = segment_info("Don’t miss it 🎉 " + "a" * 40)
    assert info.encoding == "UCS-2"
    assert info.non_gsm == ["’", "🎉"]
    assert info.characters == len("Don’t miss it  " + "a" * 40) + 2  # the emoji is two UTF-16 units
    assert segment_info("é" * 70).encoding == "GSM-7"  # é is in the GSM basic set
    assert segment_info("ç" * 70).segments == 1
    assert segment_info("ç" * 71).segments == 2
    assert segment_info("ç" * 134).segments == 2
    assert segment_info("ç" * 135).segments == 3
