"""A campaign body, whatever marketing staff type, reaches nothing but the recipient's own fields.

Bodies are built from every template construct Django knows (variables with any path,
every built-in filter and tag, loads and includes) around secrets planted where a
template could look: settings, another contact, the contact's own phone number and
internals, and nested attributes the contact fields leave out.
"""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.rendering import campaign_render
from contacts.models import Contact, Program
from contacts.tests.factories import make_contact

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(
    max_examples=400, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip

OWN_PHONE = "+14155550188"
SECRETS = ("SENTINEL-SETTING", "SENTINEL-OTHER", "SENTINEL-NESTED", "5550188", "5550177")
# What leaks look like when a template reaches Python objects, the URL map or the process.
LEAK_MARKS = (
    "object at 0x", "module", "<class", "&lt;class", "<bound", "&lt;bound", "<function", "&lt;function", "django",
    "site-packages", "smsconsent", "/admin", "/join/", "/sms/", "Contact", "Program",
)  # fmt: skip

VARIABLES = [
    "first_name", "last_name", "email", "attributes", "attributes.city", "attributes.tier",
    "attributes.profile", "attributes.profile.secret", "attributes.items", "attributes.keys", "attributes.values",
    "first_name.upper", "first_name.encode", "first_name.__class__", "attributes.__class__.__mro__",
    "phone", "contact", "contact.phone", "request", "request.user", "user", "settings", "settings.SECRET_KEY",
    "campaign", "program", "program.brand", "block.super", "forloop", "csrf_token", "True", "None",
    "attributes.city.__len__", "first_name.0", "view", "perms", "messages", "LANGUAGE_CODE",
]  # fmt: skip
FILTERS = [
    "", "|upper", "|lower", "|title", "|default:'there'", "|default:settings", "|pprint", "|length",
    "|first", "|last", "|join:','", "|dictsort:'city'", "|slice:':3'", "|truncatechars:5", "|urlize",
    "|safe", "|escape", "|force_escape", "|stringformat:'r'", "|stringformat:'s'", "|add:first_name",
    "|make_list", "|json_script:'x'", "|date:'Y'", "|yesno", "|unordered_list", "|linebreaks", "|random",
    "|floatformat", "|phone2numeric", "|filesizeformat", "|center:9", "|cut:' '", "|wordwrap:3",
]  # fmt: skip
TAGS = [
    "{% load static %}", "{% load i18n %}", "{% load admin_urls %}", '{% include "admin/base.html" %}',
    '{% extends "admin/base.html" %}', "{% debug %}", "{% url 'admin:index' %}", "{% url 'signup:join' 'deals' %}",
    "{% csrf_token %}", "{% querystring %}", "{% now 'Y' %}", "{% lorem 3 w %}", "{% templatetag openblock %}",
    "{% firstof settings.SECRET_KEY contact.phone first_name %}", "{% firstof attributes.profile 'x' %}",
    "{% with s=settings %}{{ s }}{% endwith %}", "{% with c=contact %}{{ c.phone }}{% endwith %}",
    "{% for k, v in attributes.items %}{{ k }}={{ v }};{% endfor %}", "{% for x in request %}{{ x }}{% endfor %}",
    "{% if settings.SECRET_KEY %}secret-set{% endif %}", "{% if attributes.profile %}nested{% endif %}",
    "{% cycle 'a' 'b' as c %}{{ c }}", "{% regroup attributes by city as g %}", "{% widthratio 1 2 100 %}",
    "{% spaceless %} <b> </b> {% endspaceless %}", "{% verbatim %}{{ settings }}{% endverbatim %}",
    "{% filter upper %}{{ first_name }}{% endfilter %}", "{% block x %}{{ block.super }}{% endblock %}",
    "{% ssi '/etc/passwd' %}", "{% get_current_language as l %}{{ l }}", "{% autoescape off %}x{% endautoescape %}",
    "{% comment %}{{ settings }}{% endcomment %}", "{% ifchanged %}{{ first_name }}{% endifchanged %}",
]  # fmt: skip


def _variable(name, flt):
    return "{{ " + name + flt + " }}"


fragment = st.one_of(
    st.builds(_variable, st.sampled_from(VARIABLES), st.sampled_from(FILTERS)),
    st.sampled_from(TAGS),
    st.sampled_from(["Hi ", " ", "! ", "Sale today. ", "\n"]),
)
body_strategy = st.lists(fragment, min_size=1, max_size=6).map("".join)


class _Campaign:
    def __init__(self, body, program):
        self.body, self.program = body, program


@pytest.fixture
def recipients(settings):
    settings.SECRET_KEY = "SENTINEL-SETTING-" + "k" * 40
    settings.DEBUG = True  # `{% debug %}` prints the process's modules only in DEBUG, as under `make run`
    settings.CAMPAIGN_OPT_OUT_FOOTER = ""
    settings.CAMPAIGN_BRAND_PREFIX = False
    make_contact("+14155550177", first_name="SENTINEL-OTHER", email="other@example.com")
    own = make_contact(OWN_PHONE, first_name="Ana", last_name="Diaz", email="ana@example.com")
    own.attributes = {"city": "Austin", "tier": 3, "profile": {"secret": "SENTINEL-NESTED"}}
    own.save(update_fields=["attributes"])
    program = Program.objects.create(slug="p", brand="Acme", name="Offers", description="d", frequency_text="f",
                                     help_contact="h", terms_url="https://t", privacy_url="https://p")  # fmt: skip
    return Contact.objects.get(pk=own.pk), program


@PROPERTY
@given(body=body_strategy)
@example(body="{% debug %}")
@example(body="{% url 'admin:index' %}")
@example(body="{% for k, v in attributes.items %}{{ k }}={{ v }};{% endfor %}")
def test_any_body_renders_only_the_contacts_own_fields_or_is_refused(recipients, body):
    contact, program = recipients
    try:
        text = campaign_render(_Campaign(body, program), contact)
    except ValidationError as error:
        assert error.message_dict["body"][0].strip()  # a sentence staff can act on
        return
    for secret in SECRETS:
        assert secret not in text, (body, text)
    for mark in LEAK_MARKS:
        assert mark not in text, (body, text)


def test_the_contacts_own_fields_are_what_a_body_can_show(recipients):
    contact, program = recipients
    body = "{{ first_name }} {{ last_name }} {{ email }} {{ attributes.city }} {{ attributes.tier }}"
    assert campaign_render(_Campaign(body, program), contact) == "Ana Diaz ana@example.com Austin 3"


@pytest.mark.parametrize(
    "body", ["{% debug %}", "{% url 'admin:index' %}", "{% now 'Y' %}", "{% csrf_token %}", "{% load static %}"]
)
def test_tags_that_reach_outside_the_body_are_refused_with_a_clear_error(recipients, body):
    contact, program = recipients
    with pytest.raises(ValidationError) as error:
        campaign_render(_Campaign(body, program), contact)
    assert "can't be used in a message" in error.value.message_dict["body"][0]
