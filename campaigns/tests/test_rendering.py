import tracemalloc

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from hypothesis import given
from hypothesis import settings as settings_profile
from hypothesis import strategies as st

from campaigns.rendering import body_compile, campaign_render, message_compose
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


# --- the opt-out footer ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["Don't STOP shopping!", "Nonstop deals: we never STOP", "STOP by our store today"])
def test_footer_added_when_stop_is_only_a_word_in_the_body(settings, body):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    assert compose(body).endswith("\nReply STOP to opt out")


@pytest.mark.parametrize(
    "body",
    [
        "Sale today. Reply STOP to opt out",
        "Sale today. Text STOP to end",
        "Sale today, STOP to cancel",
        "Sale today. Reply HELP for help, STOP to unsubscribe",
        "Oferta hoy. Responde BAJA para cancelar",
        "Oferta hoy. Envía PARAR para darte de baja",
        "Promo du jour. Répondez STOP pour vous désabonner",
        "Promo du jour. STOP au 36105",
    ],
)
def test_footer_left_out_when_the_body_says_how_to_opt_out(settings, body):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    assert compose(body) == f"Acme Deals: {body}"


def test_a_contacts_own_field_never_stands_in_for_the_opt_out_instruction(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    text = compose("Hi {{ first_name }}, 20% off today", first_name="Text STOP to end")
    assert text.endswith("\nReply STOP to opt out")


def test_an_instruction_only_some_contacts_see_still_gets_the_footer_for_the_others(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    body = "Sale today.{% if not first_name %} Reply STOP to opt out{% endif %}"
    assert compose(body, first_name="Ana").endswith("\nReply STOP to opt out")


_ORDINARY = st.sampled_from(
    ["Don't", "never", "shopping", "by", "our", "store", "today", "we", "won't", "20%", "off", "deals", "at",
     "and", "the", "sale", "ends", "Sunday", "plans", "to", "for", "you", "!", ",", "."]
)  # fmt: skip
_INSTRUCTIONS = st.sampled_from(
    ["Reply STOP to opt out", "Text STOP to end", "STOP to cancel", "Reply STOP to unsubscribe",
     "Responde BAJA para cancelar", "Répondez STOP pour vous désabonner"]
)  # fmt: skip


@settings_profile(max_examples=80, deadline=None)
@given(before=st.lists(_ORDINARY, max_size=8), after=st.lists(_ORDINARY, max_size=8), instruction=_INSTRUCTIONS)
def test_stop_among_ordinary_words_gets_the_footer_and_an_instruction_never_gets_two(before, after, instruction):
    with override_settings(CAMPAIGN_OPT_OUT_FOOTER="Reply STOP to opt out", CAMPAIGN_BRAND_PREFIX=False):
        word_only = compose(" ".join([*before, "STOP", *after]))
        instructed = compose(" ".join([*before, instruction, *after]))
    assert word_only.endswith("\nReply STOP to opt out")
    assert "\nReply STOP to opt out" not in instructed


# --- what a body may use, checked before rendering -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{{ first_name|center:"300000000" }}',
        '{{ first_name|ljust:"300000000" }}',
        '{{ first_name|stringformat:"300000000s" }}',
        '{{ attributes.price|floatformat:"300000000" }}',
        "{% lorem 300000000 w %}",
        '{% filter center:"300000000" %}x{% endfilter %}',
        "{% for a in first_name %}{% for b in first_name %}{% for c in first_name %}x"
        "{% endfor %}{% endfor %}{% endfor %}",
    ],
)
def test_tags_and_filters_that_can_blow_up_are_refused_without_rendering(body):
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match="can't be used in a message"):
            compose(body, first_name="A" * 60, attributes={"price": 1.5})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_rendered_text_longer_than_the_cap_is_refused(settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARACTERS = 100
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    assert len(compose("Hi {{ attributes.note }}", attributes={"note": "x" * 40})) <= 100
    with pytest.raises(ValidationError, match="carries at most 100"):
        compose("Hi {{ attributes.note }}", attributes={"note": "x" * 90})


def test_body_whose_own_text_exceeds_the_cap_is_refused_when_compiled(settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARACTERS = 1600
    body_compile("a" * 1600)
    with pytest.raises(ValidationError, match="1,601 characters before personalisation"):
        body_compile("a" * 1601)
    with pytest.raises(ValidationError, match="before personalisation"):
        body_compile(
            '{% if first_name %}{{ first_name|default:"' + "b" * 1000 + '" }}{% else %}' + "c" * 700 + "{% endif %}"
        )


def test_message_cap_defaults_to_twilios_1600_characters():
    from smsconsent import settings as project_settings

    assert project_settings.CAMPAIGN_MESSAGE_MAX_CHARACTERS == 1600


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi {{ coupon }}", "{{ coupon }}"),
        ("{% if vip %}Hi{% endif %}", "{{ vip }}"),
        ("Hi {{ first_name|default:nickname }}", "{{ nickname }}"),
        ("{% firstof nickname first_name %}", "{{ nickname }}"),
        ("Hi {{ first_name.upper }}", "{{ first_name.upper }}"),
    ],
)
def test_unknown_variable_is_refused_naming_it_and_the_allowed_fields(body, named):
    with pytest.raises(ValidationError) as refused:
        body_compile(body)
    message = refused.value.message_dict["body"][0]
    assert f"“{named}” is not a contact field" in message
    assert "first_name, last_name, email or attributes.<name>" in message
