"""The Twilio backend against the local fake: routing, fields, and error classification."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from messaging.backends import OutgoingSMS, get_backend, reset_backends
from messaging.backends.base import ErrorClass, SendError
from messaging.backends.twilio import TwilioBackend, twilio_error_class
from testing import network_guard

TO = "+14155550123"
CALLBACK = "https://sms.example.test/sms/status/"


def _send(body="Hello", to=TO):
    return get_backend().send(OutgoingSMS(to=to, body=body, status_callback=CALLBACK))


def test_send_reaches_the_fake_with_to_from_body_and_status_callback(fake_twilio):
    result = _send("Your code is ready")
    [request] = fake_twilio.create_requests()
    assert request.authorized
    assert request.form == {"To": TO, "From": fake_twilio.from_number, "Body": "Your code is ready",
                            "StatusCallback": CALLBACK}  # fmt: skip
    assert result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "queued"
    assert result.segments == 1
    assert fake_twilio.message(result.sid)["to"] == TO


def test_messaging_service_sid_replaces_from(fake_twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "a" * 32
    reset_backends()
    result = _send()
    [request] = fake_twilio.create_requests()
    assert "From" not in request.form
    assert request.form["MessagingServiceSid"] == "MG" + "a" * 32
    assert result.status == "accepted"


def test_wrong_credentials_get_a_twilio_shaped_401(fake_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    reset_backends()
    with pytest.raises(SendError) as raised:
        _send()
    assert raised.value.http_status == 401
    assert raised.value.code == "20003"
    assert raised.value.error_class is ErrorClass.PERMANENT
    assert fake_twilio.messages() == []


def test_fake_error_bodies_have_twilios_shape(fake_twilio):
    fake_twilio.fail_next(code=21211)
    answer = requests.post(
        f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json",
        data={"To": TO, "From": fake_twilio.from_number, "Body": "x"},
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 21211,
        "message": "The 'To' number is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (21610, ErrorClass.OPTED_OUT),
        (21211, ErrorClass.UNDELIVERABLE),
        (21614, ErrorClass.UNDELIVERABLE),
        (21635, ErrorClass.UNDELIVERABLE),
        (30006, ErrorClass.UNDELIVERABLE),
        (20429, ErrorClass.TRANSIENT),
        (30003, ErrorClass.TRANSIENT),
        (30008, ErrorClass.TRANSIENT),
        (21408, ErrorClass.PERMANENT),
        (21617, ErrorClass.PERMANENT),
    ],
)
def test_each_twilio_error_code_is_classified_once_in_the_backend(fake_twilio, code, expected):
    fake_twilio.fail_next(code=code)
    with pytest.raises(SendError) as raised:
        _send()
    assert raised.value.error_class is expected
    assert raised.value.code == str(code)
    assert not raised.value.maybe_accepted
    assert fake_twilio.messages() == []


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_http_429_and_5xx_are_transient(fake_twilio, status):
    fake_twilio.fail_next(status=status)
    with pytest.raises(SendError) as raised:
        _send()
    assert raised.value.transient
    assert raised.value.http_status == status
    # Twilio may have created a message it answered with a 5xx; a 429 certainly created none.
    assert raised.value.maybe_accepted is (status >= 500)


def test_failures_can_target_one_number_and_a_count(fake_twilio):
    fake_twilio.fail_next(2, code=21610, to="+14155550199")
    assert _send(to=TO).sid
    for _ in range(2):
        with pytest.raises(SendError):
            _send(to="+14155550199")
    assert _send(to="+14155550199").sid  # the rule is used up


def test_an_answer_that_never_comes_times_out_as_transient_and_maybe_accepted(fake_twilio, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.3
    reset_backends()
    hold = fake_twilio.hold_next(1)  # accepted, and answered only after the client has given up
    try:
        with pytest.raises(SendError) as raised:
            _send()
    finally:
        hold.release()
    assert raised.value.transient
    assert raised.value.code == "timeout"
    assert raised.value.maybe_accepted
    assert len(fake_twilio.messages(TO)) == 1  # the provider has it although we never heard back


def test_dropped_connection_after_acceptance_is_found_by_find_sent(fake_twilio):
    before = timezone.now() - timedelta(seconds=1)
    fake_twilio.drop_next()
    with pytest.raises(SendError) as raised:
        _send("Only once please")
    assert raised.value.transient and raised.value.maybe_accepted
    [found] = get_backend().find_sent(TO, since=before)
    assert found.body == "Only once please"
    assert found.sid == fake_twilio.messages(TO)[0]["sid"]


def test_connection_refused_is_transient_and_certainly_not_accepted(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    reset_backends()
    with pytest.raises(SendError) as raised:
        _send()
    assert raised.value.transient
    assert not raised.value.maybe_accepted


def test_find_sent_pages_through_the_list_and_keeps_only_messages_since(fake_twilio):
    for n in range(55):
        _send(f"message {n}")
    _send("to someone else", to="+14155550188")
    since = timezone.now() - timedelta(minutes=5)
    found = get_backend().find_sent(TO, since=since)
    assert len(found) == 55
    assert found[0].body == "message 54"  # newest first
    pages = [r for r in fake_twilio.requests if r.method == "GET"]
    assert len(pages) == 2 and pages[0].query["To"] == TO
    assert get_backend().find_sent(TO, since=timezone.now() + timedelta(minutes=1)) == []


def test_every_twilio_host_is_routed_to_the_base_url_and_never_the_real_api(fake_twilio):
    backend = TwilioBackend()
    client = backend.client.http_client
    assert client.route("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B1") == (
        fake_twilio.base_url + "/2010-04-01/Accounts/AC1/Messages.json?To=%2B1"
    )
    assert client.route("https://messaging.twilio.com/v1/Services").startswith(fake_twilio.base_url)
    _send()
    backend.messages.list(to=TO)
    assert network_guard.attempts() == []


@pytest.mark.smoke
def test_classification_without_a_code_falls_back_to_the_http_status():
    assert twilio_error_class(None, 503) is ErrorClass.TRANSIENT
    assert twilio_error_class(None, 400) is ErrorClass.PERMANENT
    assert twilio_error_class("21610", 400) is ErrorClass.OPTED_OUT


@pytest.mark.parametrize("no_proxy", ["", "127.0.0.1"])
def test_a_proxy_in_the_environment_is_honoured_as_requests_would(fake_twilio, monkeypatch, no_proxy):
    # Read once when the backend is built (not on every call), with NO_PROXY applied to Twilio's host.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: going through it fails
    monkeypatch.setenv("NO_PROXY", no_proxy)
    reset_backends()
    if no_proxy:
        assert _send().sid.startswith("SM")
    else:
        with pytest.raises(SendError) as raised:
            _send()
        assert raised.value.transient
        assert fake_twilio.create_requests() == []
