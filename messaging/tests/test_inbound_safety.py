"""No STOP is lost, and no replayed request re-subscribes anyone.

Covers: webhook input checks (a signed START re-split or replayed after a STOP,
another account, another number), control characters, a STOP kept waiting by a
bulk job's lock (answered at once, applied from the spool before any later text),
and the backstop poll for webhooks that never reached us.
"""

from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from twilio.request_validator import RequestValidator

from campaigns.dispatch import campaign_send_batch
from campaigns.materialize import campaign_audience_build
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign
from contacts.models import ConsentKind, ConsentMethod
from contacts.selectors import consent_may_send
from contacts.services import consent_opt_in, consent_opt_out
from contacts.tests.factories import make_contact, make_program
from messaging.backstop import inbound_backstop_poll
from messaging.models import InboundMessage, MessageKind, MessageStatus, OutboundMessage
from messaging.spool import inbound_spool_apply, inbound_spool_waiting
from testing.fake_twilio import new_sid
from testing.locks import contact_lock_held

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
PHONE = "+14155550142"


def inbound_url() -> str:
    return settings.PUBLIC_BASE_URL + "/sms/inbound/"


def post_signed(client, fake, params: dict):
    """POST exactly these fields, signed with our token over the public URL, as Twilio would."""
    signature = RequestValidator(fake.auth_token).compute_signature(inbound_url(), params)
    return client.post(
        "/sms/inbound/", data=urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )  # fmt: skip


def twilio_params(fake, body: str, from_: str = PHONE, **extra) -> dict:
    sid = new_sid()
    return {
        "AccountSid": fake.account_sid, "ApiVersion": "2010-04-01", "Body": body, "From": from_,
        "FromCountry": "US", "MessageSid": sid, "NumMedia": "0", "NumSegments": "1", "SmsMessageSid": sid,
        "SmsSid": sid, "SmsStatus": "received", "To": fake.from_number, "ToCountry": "US", **extra,
    }  # fmt: skip


def campaign_queued_for(contact, program):
    """A campaign of `program` sending, its texts (one to `contact`) queued."""
    campaign = make_campaign(program)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    campaign_audience_build(campaign_id=campaign.pk)
    return campaign


def stopped_subscriber(program=None):
    contact, program = make_contact(PHONE), program or make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    return contact, program


# -- replayed and forged requests -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_captured_start_re_split_after_a_stop_keeps_its_signature_but_is_refused(fake_twilio, client):
    contact, program = stopped_subscriber()
    start = twilio_params(fake_twilio, "START")
    # Move the text of two later fields into MessageSid: the signed string (names and values run together)
    # is unchanged, so the signature still holds, and the SID is new, so deduplication would miss it.
    resplit = {k: v for k, v in start.items() if k not in ("NumMedia", "NumSegments")}
    resplit["MessageSid"] = start["MessageSid"] + "NumMedia0NumSegments1"
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(inbound_url(), resplit, validator.compute_signature(inbound_url(), start))

    signature = validator.compute_signature(inbound_url(), start)
    response = client.post(
        "/sms/inbound/", data=urlencode(resplit), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )  # fmt: skip

    assert response.status_code == 400
    assert not InboundMessage.objects.exists()
    assert not consent_may_send(contact=contact, program=program)


@pytest.mark.django_db
def test_a_start_replayed_unchanged_after_a_stop_changes_nothing(fake_twilio, client):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    start = twilio_params(fake_twilio, "STOP")
    assert post_signed(client, fake_twilio, start).status_code == 200
    captured_start = twilio_params(fake_twilio, "START")
    assert post_signed(client, fake_twilio, captured_start).status_code == 200
    assert consent_may_send(contact=contact, program=program)
    assert post_signed(client, fake_twilio, twilio_params(fake_twilio, "STOP")).status_code == 200

    replay = post_signed(client, fake_twilio, captured_start)

    assert replay.status_code == 200 and b"<Message>" not in replay.content
    assert not consent_may_send(contact=contact, program=program)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("AccountSid", "AC" + "0" * 32),  # another account's traffic, signed with a key that also fits ours
        ("To", "+15005550199"),  # a number that isn't ours
        ("SmsSid", new_sid()),  # the copies of the SID disagree
        ("MessageSid", "SM123"),  # not a Twilio SID
    ],
)
def test_signed_inbound_fields_twilio_would_never_send_are_refused(fake_twilio, client, field, value):
    contact, program = stopped_subscriber()
    params = twilio_params(fake_twilio, "START", **{field: value})
    response = post_signed(client, fake_twilio, params)
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()
    assert not consent_may_send(contact=contact, program=program)


@pytest.mark.django_db
def test_nul_bytes_and_control_characters_are_stripped_never_a_500(fake_twilio, client):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    params = twilio_params(fake_twilio, "ST\x00OP\x07", FromCity="SAN\x00 FRANCISCO", **{"Odd\x00Name": "x\x1b"})
    response = post_signed(client, fake_twilio, params)
    assert response.status_code == 200
    stored = InboundMessage.objects.get()
    assert stored.body == "STOP" and stored.params["FromCity"] == "SAN FRANCISCO" and stored.params["OddName"] == "x"
    assert not consent_may_send(contact=contact, program=program)


# -- a STOP kept waiting by someone else's lock -------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stop_kept_waiting_by_a_bulk_jobs_lock_is_answered_at_once_and_applied_before_the_next_text(
    fake_twilio, client, settings, eager_celery
):
    settings.INBOUND_LOCK_TIMEOUT_MS = 300
    program = make_program()
    contact = make_contact(PHONE)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    campaign = campaign_queued_for(contact, program)  # the campaign text is queued before the STOP
    with contact_lock_held(contact):
        response = fake_twilio.post_inbound(inbound_url(), PHONE, "STOP", client=client)

    assert response.status_code == 200 and b"<Message>" not in response.content  # answered, not lost
    assert inbound_spool_waiting() == 1 and not InboundMessage.objects.exists()
    # The next send applies the kept STOP first: the campaign text is skipped, the STOP confirmed once.
    campaign_send_batch(campaign_id=campaign.pk)
    assert inbound_spool_waiting() == 0
    assert InboundMessage.objects.get().classification == "opt_out"
    message = OutboundMessage.objects.get(campaign=campaign)
    assert (message.status, message.reason) == (MessageStatus.SKIPPED, "opted out")
    [sent] = fake_twilio.messages(to=PHONE)
    assert "unsubscribed" in sent["body"]
    assert OutboundMessage.objects.get(kind=MessageKind.STOP_CONFIRMATION).status == MessageStatus.QUEUED


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_while_a_kept_stop_cannot_be_applied_nothing_is_sent_to_anyone(fake_twilio, client, settings):
    settings.INBOUND_LOCK_TIMEOUT_MS = 300
    program = make_program()
    contact = make_contact(PHONE)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    campaign = campaign_queued_for(contact, program)
    with contact_lock_held(contact):
        assert fake_twilio.post_inbound(inbound_url(), PHONE, "STOP", client=client).status_code == 200
        # The lock still holds: the STOP can't be applied yet, so the gate sends nothing at all.
        assert inbound_spool_apply() is False
        result = campaign_send_batch(campaign_id=campaign.pk)
        assert result.sent == 0 and fake_twilio.create_requests() == []
        waiting = OutboundMessage.objects.get(campaign=campaign)
        assert waiting.status == MessageStatus.DEFERRED and "outage" in waiting.reason
    assert inbound_spool_apply() is True
    assert not consent_may_send(contact=contact, program=program)


# -- webhooks that never reached us -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_stop_whose_webhook_never_arrived_is_applied_by_the_backstop_poll_and_confirmed_once(
    fake_twilio, eager_celery, django_capture_on_commit_callbacks
):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    sid = fake_twilio.receive(PHONE, "stop texting me")  # Twilio has it; our webhook never saw it

    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_backstop_poll() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_backstop_poll() == 0  # already stored: nothing replayed twice

    assert InboundMessage.objects.get().sid == sid
    assert not consent_may_send(contact=contact, program=program)
    assert contact.consent_events.filter(kind=ConsentKind.OPT_OUT).count() == 1
    confirmations = [m for m in fake_twilio.messages(to=PHONE) if "unsubscribed" in m["body"]]
    assert len(confirmations) == 1


@pytest.mark.django_db
def test_the_backstop_replays_nothing_the_webhook_already_stored(fake_twilio, client):
    make_contact(PHONE)
    fake_twilio.post_inbound(inbound_url(), PHONE, "HELP", client=client)
    assert InboundMessage.objects.count() == 1
    assert inbound_backstop_poll() == 0
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_late_stop_from_the_backstop_is_not_confirmed_past_the_window(fake_twilio, settings):
    settings.OPT_OUT_CONFIRMATION_WINDOW_SECONDS = 0
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    fake_twilio.receive(PHONE, "STOP")
    assert inbound_backstop_poll() == 1
    assert not consent_may_send(contact=contact, program=program)
    confirmation = OutboundMessage.objects.get(kind=MessageKind.STOP_CONFIRMATION)
    assert (confirmation.status, confirmation.reason) == (MessageStatus.SKIPPED, "past the opt-out confirmation window")


@pytest.mark.django_db
def test_a_stop_during_an_outage_is_kept_even_from_a_browser_with_a_staff_session(fake_twilio, client):
    """Nothing before the view may need the database: a session cookie (the phone page, a tester) included."""
    from testing.users import staff_user_make

    client.force_login(staff_user_make())

    def unreachable(execute, sql, params, many, context):
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            return execute(sql, params, many, context)
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(unreachable):
        response = fake_twilio.post_inbound(inbound_url(), PHONE, "STOP", client=client)
    assert response.status_code == 200
    assert inbound_spool_waiting() == 1


@pytest.mark.django_db
def test_texts_kept_on_a_web_hosts_disk_are_applied_by_the_command(fake_twilio, settings):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from messaging.spool import inbound_spool_keep

    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    params = twilio_params(fake_twilio, "STOP")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # Redis away too: the text goes to this host's disk
    from smsconsent.redis import redis_client

    redis_client.cache_clear()
    try:
        assert inbound_spool_keep(params=params, received_at=timezone.now()) == "disk"
    finally:
        settings.REDIS_URL = settings.CACHES["default"]["LOCATION"]
        redis_client.cache_clear()
    out = StringIO()
    call_command("inbound_spool_apply", stdout=out)
    assert "1 from this host's files" in out.getvalue()
    assert not consent_may_send(contact=contact, program=program)
