"""NUL bytes and control characters in public forms and admin input: a clear 400 or form error, never a 500."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import make_program
from signup.tests.conftest import form_data
from smsconsent.control_characters import CONTROL_CHARACTERS
from testing.users import staff_user_make

pytestmark = pytest.mark.django_db

NUL = "\x00"


@pytest.fixture
def program(db):
    cache.clear()  # sign-up rate limits count in Redis
    yield make_program(slug="deals")
    cache.clear()


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(staff_user_make(superuser=True))
    return client


# Every one of these was a 500: PostgreSQL refuses NUL in text and jsonb.
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/admin/contacts/contact/", {"consent": NUL}),
        ("/admin/contacts/contact/", {"region": "F" + NUL}),
        ("/admin/contacts/contact/", {"program": NUL, "consent": "active"}),
        ("/admin/campaigns/campaign/", {"status": NUL}),
        ("/admin/messaging/inboundmessage/", {"classification": NUL}),
        ("/admin/contacts/contact/", {"q": "ana" + NUL + "@example.com"}),
    ],
)
def test_nul_in_admin_filters_and_searches_is_a_400(staff_client, path, params):
    response = staff_client.get(path, params)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_nul_in_the_user_agent_is_a_400_for_sign_ups_and_logins_and_stores_nothing(program):
    client = Client()
    signup = client.post("/join/deals/", form_data(program), HTTP_USER_AGENT="Mozilla/5.0" + NUL)
    login = client.post("/admin/login/", {"username": "a", "password": "b"}, HTTP_USER_AGENT="x" + NUL)
    assert (signup.status_code, login.status_code) == (400, 400)
    assert not Contact.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_nul_in_a_public_form_field_is_a_400_and_stores_nothing(program):
    response = Client().post("/join/deals/", form_data(program, first_name="Ana" + NUL))
    assert response.status_code == 400
    assert not Contact.objects.exists()


def test_json_that_spells_nul_is_a_form_error_in_the_contact_and_campaign_admins(staff_client, program):
    contact = {"phone": "+14155550178", "first_name": "A", "attributes": '{"city": "Aus\\u0000tin"}'}
    add = staff_client.post("/admin/contacts/contact/add/", contact)
    assert add.status_code == 200
    assert "Remove the NUL character" in add.content.decode()
    assert not Contact.objects.exists()

    campaign = Campaign.objects.create(name="Spring sale", program=program, body="Hi")
    data = {"name": "x", "program": program.pk, "body": "Hi", "attribute_filters": '{"city": "\\u0000"}'}
    change = staff_client.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", data)
    assert change.status_code == 200
    assert "Remove the NUL character" in change.content.decode()
    preview = staff_client.post("/admin/campaigns/campaign/preview/", data).json()
    assert preview["ok"] is False
    assert "Remove the NUL character" in str(preview["errors"]["attribute_filters"])


def test_other_control_characters_are_removed_from_what_staff_and_the_public_type(staff_client, program):
    Client().post("/join/deals/", form_data(program, first_name="A\x07n\x1ba\x0b"))
    assert Contact.objects.get().first_name == "Ana"
    contact = {"phone": "+14155550179", "first_name": "Bea\x01", "last_name": "Line\tone", "attributes": "{}"}
    staff_client.post("/admin/contacts/contact/add/", contact)
    added = Contact.objects.get(phone="+14155550179")
    assert (added.first_name, added.last_name) == ("Bea", "Line\tone")  # tab, newline and return stay


def test_a_pasted_control_character_does_not_lock_staff_out(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_user("mia", password="pass-word", is_staff=True)
    response = Client().post("/admin/login/", {"username": "mia\x0b", "password": "pass-\x08word"})
    assert response.status_code == 302


def test_the_twilio_webhooks_get_every_byte_they_were_sent(client):
    # Refusing a STOP because it carried a NUL would lose it: those views check their own input.
    assert client.post("/sms/inbound/", {"Body": "STOP" + NUL}).status_code == 403  # unsigned: refused there


PROPERTY = hypothesis_settings(
    max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
names = st.text(alphabet=st.characters(max_codepoint=0x7F) | st.sampled_from("é’🎉\u200b"), max_size=30)
phones = st.text(alphabet="0123456789 ()-+\x00\x01\x1b", min_size=1, max_size=20)


@PROPERTY
@given(first_name=names, phone=phones)
def test_any_public_sign_up_input_is_answered_without_a_500_and_stored_clean(program, first_name, phone):
    cache.clear()  # the rate limit would count every example
    response = Client().post("/join/deals/", form_data(program, phone=phone, first_name=first_name))
    assert response.status_code in (200, 302, 400)
    for stored in Contact.objects.values_list("first_name", flat=True):
        assert not CONTROL_CHARACTERS.search(stored) and NUL not in stored
