"""The development phone: what it shows, what it posts, and that production never serves it."""

import re
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from contacts.models import ConsentMethod, SubscriptionStatus
from contacts.roles import SUPPORT_AGENTS
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from devphone.services import inbound_params
from devphone.tests.conftest import ACCOUNT_SID, FROM_NUMBER
from messaging.models import InboundClassification, InboundMessage, MessageKind, MessageStatus, OutboundMessage
from messaging.segments import segment_count
from smsconsent.tests.test_settings import PRODUCTION_ENV, _manage
from testing.users import staff_user_make

PHONE = "+14155550163"
PAGE, THREAD, REPLY = "/admin/phone/", "/admin/phone/thread/", "/admin/phone/reply/"
JSON = {"HTTP_ACCEPT": "application/json"}


def _reply(client, body, number=PHONE, **extra):
    return client.post(REPLY, {"number": number, "body": body, **extra}, **JSON)


# -- never in production ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_and_its_endpoints_are_refused_when_the_phone_is_off(client, login_as, phone_settings):
    phone_settings.DEV_PHONE_ENABLED = False
    login_as(superuser=True)
    assert client.get(PAGE).status_code == 404
    assert client.get(THREAD, {"number": PHONE}).status_code == 404
    assert _reply(client, "STOP").status_code == 404
    assert client.post(REPLY, {"number": PHONE, "quick": "YES"}).status_code == 404
    assert not InboundMessage.objects.exists()
    assert b"Phone (development)" not in client.get("/admin/").content


@pytest.mark.smoke
def test_production_settings_leave_the_phone_off_and_refuse_its_urls():
    """DEBUG=0 and no DEV_PHONE_ENABLED: the setting is off and every phone URL answers 404, before any login."""
    probe = (
        "from django.conf import settings; from django.test import Client; c = Client();"
        "print(settings.DEV_PHONE_ENABLED,"
        " c.get('/admin/phone/', secure=True).status_code,"
        " c.get('/admin/phone/thread/?number=%2B14155550163', secure=True).status_code,"
        " c.post('/admin/phone/reply/', {'number': '+14155550163', 'body': 'YES'}, secure=True).status_code)"
    )
    done = _manage("shell", "-c", probe, env=_production_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-4:] == ["False", "404", "404", "404"]


def test_an_empty_dev_phone_setting_means_as_debug():
    probe = "from django.conf import settings; print(settings.DEV_PHONE_ENABLED)"
    for debug, expected in (("1", "True"), ("0", "False")):
        done = _manage("shell", "-c", probe, env={**_production_env(), "DEBUG": debug, "DEV_PHONE_ENABLED": ""})
        assert done.stdout.split()[-1] == expected, done.stderr


def test_the_phone_is_on_in_production_only_when_set_explicitly_and_the_deploy_check_says_so():
    done = _manage("check", "--deploy", env={**_production_env(), "DEV_PHONE_ENABLED": "1"})
    assert "devphone.W001" in done.stdout + done.stderr
    done = _manage("check", "--deploy", env=_production_env())
    assert "devphone.W001" not in done.stdout + done.stderr


def _production_env() -> dict:
    # An in-memory database: these requests are refused before any would be opened.
    return {**PRODUCTION_ENV, "ALLOWED_HOSTS": "testserver", "DATABASE_URL": "sqlite:///:memory:"}


@pytest.mark.django_db
def test_a_reply_without_the_csrf_token_is_refused(phone_settings):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user_make(superuser=True))
    assert client.post(REPLY, {"number": PHONE, "body": "YES"}, **JSON).status_code == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_only_signed_in_staff_reach_the_phone(client, phone_settings, django_user_model):
    assert client.get(PAGE)["Location"].startswith("/admin/login/")
    assert client.post(REPLY, {"number": PHONE, "body": "STOP"})["Location"].startswith("/admin/login/")
    client.force_login(django_user_model.objects.create_user("visitor", password="pw-for-tests-only"))
    assert client.get(THREAD, {"number": PHONE})["Location"].startswith("/admin/login/")
    assert not InboundMessage.objects.exists()


# -- what it posts -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reply_goes_through_the_signed_webhook_and_stops_the_texts(client, login_as, live_phone):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    login_as()  # any staff member

    answer = _reply(client, "STOP")

    assert answer.status_code == 200, answer.content
    assert answer.json() == {"ok": True, "error": "", "sent": "STOP"}
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    stored = InboundMessage.objects.get()
    assert stored.classification == InboundClassification.OPT_OUT
    params = stored.params
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"])
    assert params["SmsSid"] == params["SmsMessageSid"] == params["MessageSid"] == stored.sid
    assert (params["AccountSid"], params["From"], params["To"]) == (ACCOUNT_SID, PHONE, FROM_NUMBER)
    assert (params["NumMedia"], params["NumSegments"], params["SmsStatus"]) == ("0", "1", "received")
    # The webhook's answer shows in the thread, after the STOP.
    stop, answer = client.get(THREAD, {"number": PHONE}).json()["messages"]
    assert (stop["direction"], stop["body"]) == ("in", "STOP")
    assert answer["direction"] == "out" and "unsubscribed" in answer["body"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_quick_reply_without_javascript_posts_its_word_and_comes_back_to_the_thread(client, login_as, live_phone):
    login_as(superuser=True)
    answer = client.post(REPLY, {"number": "(415) 555-0163", "body": "", "quick": "HELP"})
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/phone/?number=%2B14155550163"
    assert InboundMessage.objects.get().classification == InboundClassification.HELP
    page = client.get(answer["Location"])
    assert page.status_code == 200
    assert b"HELP" in page.content


@given(body=st.text(min_size=1, max_size=400).filter(lambda s: "\x00" not in s))
@hypothesis_settings(max_examples=50, deadline=None)
def test_inbound_params_carry_twilios_fields_and_a_signature_that_verifies(body):
    with override_settings(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM_NUMBER=FROM_NUMBER):
        params = inbound_params(from_number=PHONE, body=body)
    sid = params["MessageSid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid) and params["SmsSid"] == params["SmsMessageSid"] == sid
    assert params["NumSegments"] == str(segment_count(body)) and params["Body"] == body
    assert (params["FromCountry"], params["FromState"], params["ToCountry"]) == ("US", "CA", "US")
    url = "http://127.0.0.1:8000/sms/inbound/"
    signature = RequestValidator("t" * 32).compute_signature(url, params)
    assert RequestValidator("t" * 32).validate(url, params, signature)


def test_each_reply_gets_a_new_message_sid():
    with override_settings(TWILIO_FROM_NUMBER=FROM_NUMBER):
        sids = {inbound_params(from_number=PHONE, body="YES")["MessageSid"] for _ in range(50)}
    assert len(sids) == 50


# -- what it shows ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_thread_shows_texts_both_ways_oldest_first_with_status_and_kind(client, login_as, phone_settings):
    contact, program = make_contact(PHONE), make_program()
    now = timezone.now()
    confirm = OutboundMessage.objects.create(
        kind=MessageKind.CONFIRMATION, contact=contact, program=program, to=PHONE, body="Reply YES to join",
        status=MessageStatus.SENT,
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=confirm.pk).update(created_at=now - timedelta(minutes=3))
    InboundMessage.objects.create(
        sid="SM" + "1" * 32, from_number=PHONE, to_number=FROM_NUMBER, body="yes", contact=contact,
        classification=InboundClassification.OPT_IN, effect="confirmed deals", received_at=now - timedelta(minutes=2),
    )  # fmt: skip
    # To the number, though to no contact (a test send to a staff phone, a HELP reply to a stranger).
    OutboundMessage.objects.create(
        kind=MessageKind.TEST, to=PHONE, body="Test: spring sale", status=MessageStatus.PENDING
    )
    OutboundMessage.objects.create(kind=MessageKind.CONFIRMATION, to="+14155550199", body="someone else")
    login_as(SUPPORT_AGENTS)

    messages = client.get(THREAD, {"number": "(415) 555-0163"}).json()["messages"]

    assert [(m["direction"], m["kind"], m["status"], m["body"]) for m in messages] == [
        ("out", "confirm", "sent", "Reply YES to join"),
        ("in", "inbound", "opt_in", "yes"),
        ("out", "test", "pending", "Test: spring sale"),
    ]
    assert messages[0]["label"] == "Opt-in confirmation · Sent"
    assert messages[1]["label"] == "Opt-in again / confirm · confirmed deals"
    page = client.get(PAGE, {"number": PHONE}).content.decode()
    assert page.index("Reply YES to join") < page.index("yes") < page.index("Test: spring sale")
    assert f"/admin/contacts/contact/{contact.pk}/change/" in page


@pytest.mark.django_db
def test_each_reply_in_the_webhooks_answer_shows_once_right_after_the_text_it_answers(client, login_as, phone_settings):
    contact = make_contact(PHONE)
    inbound = InboundMessage.objects.create(
        sid="SM" + "2" * 32, from_number=PHONE, to_number=FROM_NUMBER, body="HELP", contact=contact,
        classification=InboundClassification.HELP, effect="help", reply="Acme: help at acme.test",
        received_at=timezone.now(),
    )  # fmt: skip
    OutboundMessage.objects.create(  # the webhook's answer is an outbound message of its own
        kind=MessageKind.HELP_REPLY, contact=contact, to=PHONE, body="Acme: help at acme.test",
        status=MessageStatus.REPLIED, in_reply_to=inbound,
    )  # fmt: skip
    login_as()
    messages = client.get(THREAD, {"number": PHONE}).json()["messages"]
    assert [(m["direction"], m["body"]) for m in messages] == [("in", "HELP"), ("out", "Acme: help at acme.test")]


@pytest.mark.django_db
def test_bad_numbers_and_empty_replies_get_clear_errors_and_post_nothing(client, login_as, phone_settings):
    login_as()
    page = client.get(PAGE, {"number": "not a number"})
    assert page.status_code == 200
    assert "is not a phone number" in page.content.decode()
    assert client.get(THREAD, {"number": "12"}).status_code == 400
    assert "is not a phone number" in client.get(THREAD).json()["error"]
    for number, body in ((PHONE, ""), (PHONE, "   "), ("nope", "YES"), (PHONE, "STOP\x00"), (PHONE, "x" * 1601)):
        answer = _reply(client, body, number=number)
        assert answer.status_code == 400, (number, body)
        if "\x00" in body:  # refused before the view, by the middleware every page has
            continue
        assert answer.json()["ok"] is False and answer.json()["error"]
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("backend", "api"),
    [("twilio", "https://api.twilio.com"), ("messaging.backends.twilio.TwilioBackend", "https://edge.us1.twilio.com"),
     ("thirdparty.sms.Backend", "")],  # a backend nobody here knows may reach real phones too
)  # fmt: skip
def test_the_phone_refuses_to_forge_replies_when_texts_go_to_real_phones(
    client, login_as, phone_settings, backend, api
):
    phone_settings.SMS_BACKEND = backend
    phone_settings.TWILIO_API_BASE_URL = api
    login_as(superuser=True)
    assert "Texts go to real phones" in client.get(PAGE, {"number": PHONE}).content.decode()
    answer = _reply(client, "YES")
    assert answer.status_code == 502
    assert "would record consent that no person gave" in answer.json()["error"]
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_a_webhook_that_does_not_answer_is_reported_not_a_500(client, login_as, phone_settings):
    phone_settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    login_as()
    answer = _reply(client, "YES")
    assert answer.status_code == 502
    assert "Nothing answered at http://127.0.0.1:9/sms/inbound/" in answer.json()["error"]
