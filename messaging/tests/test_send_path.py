"""The single send path against the Twilio fake: results, error classes, retries, consent at send time."""

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign
from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in, consent_opt_out, number_suppress
from contacts.tests.factories import make_contact, make_program
from messaging.backends import reset_backends
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import outbox_claim, outbox_recover, outbox_send_claimed, retry_delay
from messaging.tests.factories import confirmation

pytestmark = pytest.mark.django_db

SPEC = Path(settings.BASE_DIR).parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"


def subscriber(programs=1):
    contact = make_contact()
    made = [make_program() for _ in range(programs)]
    for program in made:
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    return contact, made


def campaign_message(contact, program, body="Acme Deals: 20% off this weekend. Reply STOP to opt out"):
    campaign = Campaign.objects.create(name="Weekend", program=program, body=body)
    return OutboundMessage.objects.create(
        kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact, program=program, to=str(contact.phone), body=body
    )


def send(message):
    # Tests don't wait out the backoff: make a retry due now.
    OutboundMessage.objects.filter(pk=message.pk).update(send_after=None)
    claimed = outbox_claim(message_id=message.pk)
    assert claimed is not None, "message was not claimable"
    return outbox_send_claimed([claimed])[0]


def test_a_send_stores_the_providers_sid_status_and_segments(fake_twilio):
    contact, [program] = subscriber()
    outcome = send(campaign_message(contact, program))
    assert outcome.sent
    [accepted] = fake_twilio.messages()
    message = outcome.message
    assert message.sid == accepted["sid"]
    assert message.status == MessageStatus.QUEUED
    assert message.segments == 1
    assert message.sent_at is not None
    [request] = fake_twilio.create_requests()
    assert request.form["StatusCallback"] == settings.PUBLIC_BASE_URL + "/sms/status/"
    assert request.form["To"] == str(contact.phone)


def test_21610_from_a_send_opts_the_number_out_of_every_program(fake_twilio):
    contact, programs = subscriber(programs=2)
    fake_twilio.fail_next(code=21610)
    outcome = send(campaign_message(contact, programs[0]))
    assert not outcome.sent
    assert outcome.message.status == MessageStatus.FAILED
    assert outcome.message.error_code == "21610"
    assert outcome.retry_at is None
    for program in programs:
        assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    event = ConsentEvent.objects.get(kind=ConsentKind.OPT_OUT)
    assert event.method == ConsentMethod.CARRIER and event.evidence["error_code"] == "21610"


@pytest.mark.parametrize("code", [21211, 21614, 21635, 30006])
def test_an_undeliverable_number_is_marked_and_never_retried(fake_twilio, code):
    contact, [program] = subscriber()
    fake_twilio.fail_next(code=code)
    outcome = send(campaign_message(contact, program))
    assert outcome.message.status == MessageStatus.FAILED
    assert outcome.retry_at is None
    assert Contact.objects.get(pk=contact.pk).undeliverable_at is not None
    assert outbox_claim(message_id=outcome.message.pk) is None


def test_a_permanent_error_fails_the_message_keeps_the_code_and_is_never_retried(fake_twilio):
    contact, [program] = subscriber()
    fake_twilio.fail_next(code=21408)
    outcome = send(campaign_message(contact, program))
    assert outcome.message.status == MessageStatus.FAILED
    assert outcome.message.error_code == "21408"
    assert outbox_claim(message_id=outcome.message.pk) is None
    assert len(fake_twilio.create_requests()) == 1
    assert Contact.objects.get(pk=contact.pk).undeliverable_at is None


def test_transient_errors_are_retried_with_growing_backoff_up_to_a_bound(fake_twilio, settings):
    settings.SMS_SEND_MAX_ATTEMPTS = 3
    settings.SMS_RETRY_BASE_SECONDS = 10
    contact, [program] = subscriber()
    fake_twilio.fail_next(None, status=429)  # every attempt
    message = campaign_message(contact, program)
    delays = []
    for _ in range(2):
        before = timezone.now()
        outcome = send(message)
        assert outcome.message.status == MessageStatus.RETRY
        assert outcome.retry_at == outcome.message.send_after
        delays.append((outcome.retry_at - before).total_seconds())
    assert 5 <= delays[0] <= 10.5 and 10 <= delays[1] <= 20.5
    last = send(message)
    assert last.message.status == MessageStatus.FAILED and last.retry_at is None
    assert outbox_claim(message_id=message.pk) is None
    assert len(fake_twilio.create_requests()) == 3


@pytest.mark.smoke
def test_backoff_is_capped(settings):
    settings.SMS_RETRY_BASE_SECONDS = 5
    settings.SMS_RETRY_MAX_SECONDS = 60
    assert all(retry_delay(n) <= timedelta(seconds=60) for n in range(1, 30))


def test_a_server_error_then_success_sends_exactly_once(fake_twilio):
    contact, [program] = subscriber()
    fake_twilio.fail_next(status=500)
    message = campaign_message(contact, program)
    assert send(message).message.status == MessageStatus.RETRY
    assert send(message).sent
    assert len(fake_twilio.messages()) == 1


@pytest.mark.smoke
def test_a_retry_after_a_lost_answer_asks_the_provider_and_does_not_send_twice(fake_twilio):
    contact, [program] = subscriber()
    fake_twilio.drop_next()
    message = campaign_message(contact, program)
    first = send(message)
    assert first.message.status == MessageStatus.RETRY
    second = send(message)
    assert second.sent
    [accepted] = fake_twilio.messages()
    assert second.message.sid == accepted["sid"]
    assert len(fake_twilio.create_requests()) == 1  # the retry only asked, it did not create


def test_a_stale_claim_from_a_dead_worker_is_reconciled_not_resent(fake_twilio):
    contact, [program] = subscriber()
    message = campaign_message(contact, program)
    claimed = outbox_claim(message_id=message.pk)
    # The worker handed it to the provider, then died before storing the SID.
    from messaging.backends import OutgoingSMS, get_backend

    get_backend().send(OutgoingSMS(to=claimed.to, body=claimed.body))
    OutboundMessage.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(minutes=30))
    assert outbox_recover() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.reason == "sent; confirmed after a restart"
    assert len(fake_twilio.create_requests()) == 1
    assert message.sid == fake_twilio.messages()[0]["sid"]


def test_a_campaign_message_is_skipped_when_consent_was_revoked_after_it_was_queued(fake_twilio):
    contact, [program] = subscriber()
    message = campaign_message(contact, program)
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    outcome = send(message)
    assert not outcome.sent
    assert outcome.message.status == MessageStatus.SKIPPED
    assert fake_twilio.create_requests() == []


def test_a_suppressed_number_gets_no_confirmation_or_test_text(fake_twilio):
    contact = make_contact()
    number_suppress(phone=str(contact.phone), reason="erased on request")
    message = OutboundMessage.objects.create(kind=MessageKind.TEST, to=str(contact.phone), body="Preview")
    assert send(message).message.status == MessageStatus.SKIPPED
    assert fake_twilio.create_requests() == []


def test_stop_reply_blocks_the_next_campaign_message(fake_twilio, client):
    contact, [program] = subscriber()
    first, second = campaign_message(contact, program), None
    assert send(first).sent
    campaign = Campaign.objects.create(name="Next", program=program, body="More deals")
    second = OutboundMessage.objects.create(
        kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact, program=program, to=str(contact.phone),
        body="More deals",
    )  # fmt: skip
    response = fake_twilio.post_inbound(settings.PUBLIC_BASE_URL + "/sms/inbound/", str(contact.phone), "STOP",
                                        client=client)  # fmt: skip
    assert response.status_code == 200
    assert send(second).message.status == MessageStatus.SKIPPED
    assert len(fake_twilio.create_requests()) == 1


# -- what we send, checked against Twilio's own OpenAPI spec ------------------------------------------


def _create_message_schema() -> dict:
    if not SPEC.exists():
        pytest.fail(f"Twilio's OpenAPI spec is missing at {SPEC}: the shared/ folder must sit beside the checkout")
    spec = json.loads(SPEC.read_text())
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == "CreateMessage":
                return operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    pytest.fail("CreateMessage is not in the spec")


_formats = jsonschema.FormatChecker()


@_formats.checks("phone-number")
def _is_e164(value):
    return isinstance(value, str) and value.startswith("+") and value[1:].isdigit() and 8 <= len(value) <= 16


@_formats.checks("uri")
def _is_uri(value):
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and "_" not in parts.netloc


def test_every_create_request_we_send_is_valid_against_twilios_createmessage_schema(fake_twilio, settings):
    schema = _create_message_schema()
    contact, [program] = subscriber()
    send(campaign_message(contact, program, body="Acme: 20% off 🎉 this weekend. Reply STOP to opt out"))
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0123456789abcdef" * 2
    reset_backends()
    send(confirmation(contact, make_program(), body="Acme Deals: You're subscribed."))
    requests = fake_twilio.create_requests()
    assert len(requests) == 2
    for request in requests:
        assert set(request.form) <= set(schema["properties"]), "a field Twilio does not know"
        assert all(len(values) == 1 for values in request.form_lists.values())
        jsonschema.validate(request.form, schema, format_checker=_formats)
        assert ("From" in request.form) != ("MessagingServiceSid" in request.form)
        assert 0 < len(request.form["Body"]) <= 1600


def test_the_schema_check_catches_a_bad_request():
    schema = _create_message_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"Body": "no recipient"}, schema, format_checker=_formats)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"To": "4155550100", "Body": "x"}, schema, format_checker=_formats)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"To": "+14155550100", "MessagingServiceSid": "MGnope"}, schema, format_checker=_formats)
