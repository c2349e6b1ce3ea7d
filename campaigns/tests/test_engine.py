"""The sending engine in one process (locmem backend): build, claim, consent re-check, quiet hours, caps, states."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from campaigns import services
from campaigns.dispatch import campaign_complete_if_done, campaign_send_batch, messages_claim
from campaigns.materialize import campaign_audience_build, campaign_exclusions_record
from campaigns.models import Campaign, CampaignStatus, StateRule
from campaigns.tasks import campaigns_start_due
from campaigns.tests.factories import make_campaign, opted_out, subscriber
from contacts.models import ConsentMethod
from contacts.services import consent_opt_out, contact_mark_undeliverable, number_suppress
from contacts.tests.factories import make_contact, make_program
from messaging.backends import locmem
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.tasks import message_deliver_task
from testing.users import MARKETING, staff_user_make

NY = ZoneInfo("America/New_York")


def started(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    assert campaign_audience_build(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def send_all(campaign, rounds=20):
    for _ in range(rounds):
        if not campaign_send_batch(campaign_id=campaign.pk).claimed:
            break
    campaign_complete_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()


def statuses(campaign):
    return dict(OutboundMessage.objects.filter(campaign=campaign).values_list("contact__phone", "status"))


@pytest.mark.django_db
@pytest.mark.smoke
def test_only_consented_contacts_get_a_row_and_excluded_counts_are_recorded():
    program = make_program()
    ok = [subscriber(program) for _ in range(3)]
    opted_out(program)
    suppressed = subscriber(program)
    number_suppress(phone=suppressed.phone, reason="erased")
    dead = subscriber(program)
    contact_mark_undeliverable(contact=dead, reason="30006")
    subscriber(make_program())  # another program's subscriber is not in the audience at all
    campaign = started(make_campaign(program))
    rows = OutboundMessage.objects.filter(campaign=campaign)
    assert sorted(rows.values_list("contact_id", flat=True)) == sorted(c.pk for c in ok)
    assert set(rows.values_list("kind", "status")) == {(MessageKind.CAMPAIGN, MessageStatus.PENDING)}
    campaign_exclusions_record(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.excluded_counts == {
        "suppressed": 1, "undeliverable": 1, "opted_out": 1, "no_consent": 0, "frequency_cap": 0,
    }  # fmt: skip
    assert campaign.audience_size == 3


@pytest.mark.django_db
def test_build_in_small_batches_resumes_after_a_crash_without_duplicates(settings):
    settings.AUDIENCE_BATCH_SIZE = 2
    program = make_program()
    contacts = [subscriber(program) for _ in range(7)]
    campaign = make_campaign(program)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    # A crash after a batch committed rows but before the cursor moved: the next run redoes that range.
    from campaigns.materialize import _insert_range

    _insert_range(campaign, lower=0, upper=contacts[3].pk)
    assert campaign_audience_build(campaign_id=campaign.pk)
    assert OutboundMessage.objects.filter(campaign=campaign).count() == 7
    assert campaign_audience_build(campaign_id=campaign.pk)
    assert OutboundMessage.objects.filter(campaign=campaign).count() == 7


@pytest.mark.django_db
def test_build_is_one_insert_per_batch_not_a_query_per_contact(settings, django_assert_max_num_queries):
    settings.AUDIENCE_BATCH_SIZE = 100_000
    program = make_program()
    for _ in range(40):
        subscriber(program)
    campaign = make_campaign(program)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    with django_assert_max_num_queries(15):
        campaign_audience_build(campaign_id=campaign.pk)
    assert OutboundMessage.objects.filter(campaign=campaign).count() == 40


@pytest.mark.django_db
@pytest.mark.smoke
def test_sends_each_recipient_the_rendered_text_once_and_completes(settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    program = make_program(brand="Acme Deals")
    ana = subscriber(program, first_name="Ana")
    anon = subscriber(program)
    campaign = started(make_campaign(program, body="Hi {{ first_name|default:'there' }}, 20% off."))
    send_all(campaign)
    sent = {sms.to: sms.body for sms in locmem.outbox}
    assert sent == {
        str(ana.phone): "Acme Deals: Hi Ana, 20% off.\nReply STOP to opt out",
        str(anon.phone): "Acme Deals: Hi there, 20% off.\nReply STOP to opt out",
    }
    assert set(statuses(campaign).values()) == {MessageStatus.QUEUED}
    assert all(OutboundMessage.objects.filter(campaign=campaign).values_list("sid", flat=True))
    assert campaign.status == CampaignStatus.COMPLETED
    send_all(campaign)
    assert len(locmem.outbox) == 2


@pytest.mark.django_db
def test_stop_reply_after_the_build_skips_that_contacts_message_with_a_reason():
    program = make_program()
    stays, leaves, erased = subscriber(program), subscriber(program), subscriber(program)
    campaign = started(make_campaign(program))
    consent_opt_out(contact=leaves, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    number_suppress(phone=erased.phone, reason="erasure request")
    send_all(campaign)
    assert [sms.to for sms in locmem.outbox] == [str(stays.phone)]
    reasons = dict(OutboundMessage.objects.filter(campaign=campaign).values_list("contact_id", "reason"))
    assert reasons[leaves.pk] == "opted out"
    assert reasons[erased.pk] == "number suppressed"
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_claims_never_overlap_and_respect_the_batch_size(settings):
    settings.SEND_BATCH_SIZE = 3
    program = make_program()
    for _ in range(7):
        subscriber(program)
    campaign = started(make_campaign(program))
    batches = [messages_claim(campaign=campaign, size=3) for _ in range(4)]
    assert [len(b) for b in batches] == [3, 3, 1, 0]
    claimed = [i for b in batches for i in b]
    assert len(set(claimed)) == 7


@pytest.mark.django_db
def test_quiet_hours_defer_a_whole_group_to_the_window_and_release_it_when_it_opens(settings):
    settings.QUIET_HOURS_ENABLED = True
    settings.SEND_BATCH_SIZE = 1  # one claimed message must defer its whole group
    program = make_program()
    new_yorkers = [subscriber(program, area="212") for _ in range(3)]
    honolulu = subscriber(program, area="808")
    campaign = started(make_campaign(program))
    with time_machine.travel(datetime(2026, 11, 23, 22, 30, tzinfo=NY), tick=False):  # 17:30 in Honolulu
        send_all(campaign)
    assert [sms.to for sms in locmem.outbox] == [str(honolulu.phone)]
    deferred = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.DEFERRED)
    assert sorted(deferred.values_list("contact_id", flat=True)) == sorted(c.pk for c in new_yorkers)
    assert set(deferred.values_list("send_after", flat=True)) == {datetime(2026, 11, 24, 8, 0, tzinfo=NY)}
    assert campaign.status == CampaignStatus.SENDING  # deferred is not done
    with time_machine.travel(datetime(2026, 11, 24, 7, 59, tzinfo=NY), tick=False):
        send_all(campaign)
    assert len(locmem.outbox) == 1
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, 5, tzinfo=NY), tick=False):
        send_all(campaign)
    assert sorted(sms.to for sms in locmem.outbox[1:]) == sorted(str(c.phone) for c in new_yorkers)
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_window_closing_in_the_middle_of_a_batch_defers_the_rest(settings, monkeypatch):
    settings.QUIET_HOURS_ENABLED = True
    settings.SMS_SEND_CONCURRENCY = 1  # the window is checked before each group of concurrent sends
    program = make_program()
    for _ in range(3):
        subscriber(program, area="212")
    campaign = started(make_campaign(program))
    before, after = datetime(2026, 11, 23, 20, 59, 59, tzinfo=NY), datetime(2026, 11, 23, 21, 0, 1, tzinfo=NY)
    # The clock passes 21:00 as soon as the first text has gone out.
    monkeypatch.setattr("campaigns.dispatch.sending_now", lambda: after if locmem.outbox else before)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert (result.claimed, result.sent, result.deferred) == (3, 1, 2)
    deferred = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.DEFERRED)
    assert set(deferred.values_list("send_after", flat=True)) == {datetime(2026, 11, 24, 8, tzinfo=NY)}


@pytest.mark.django_db
def test_state_rule_edits_take_effect_without_a_deploy(settings):
    settings.QUIET_HOURS_ENABLED = True
    program = make_program()
    floridian = subscriber(program, area="305")
    campaign = started(make_campaign(program))
    StateRule.objects.filter(region="FL").update(start="08:00", end="19:00")
    with time_machine.travel(datetime(2026, 11, 23, 19, 30, tzinfo=NY), tick=False):
        send_all(campaign)
    assert locmem.outbox == []
    message = OutboundMessage.objects.get(campaign=campaign, contact=floridian)
    assert (message.status, message.send_after) == (MessageStatus.DEFERRED, datetime(2026, 11, 24, 8, tzinfo=NY))


def _sent_before(contact, program, hours_ago: float, n: int = 1):
    for _ in range(n):
        old = make_campaign(program, name="old", status=CampaignStatus.COMPLETED)
        OutboundMessage.objects.create(
            kind=MessageKind.CAMPAIGN, campaign=old, contact=contact, program=program, to=str(contact.phone),
            status=MessageStatus.DELIVERED, sent_at=datetime.now(UTC) - timedelta(hours=hours_ago),
        )  # fmt: skip


@pytest.mark.django_db
def test_state_frequency_cap_defers_until_the_oldest_send_leaves_the_window():
    program = make_program()
    floridian, californian = subscriber(program, area="305"), subscriber(program, area="415")
    for contact in (floridian, californian):
        _sent_before(contact, program, hours_ago=20, n=3)
    campaign = started(make_campaign(program))
    send_all(campaign)
    assert [sms.to for sms in locmem.outbox] == [str(californian.phone)]  # California has no state cap
    held = OutboundMessage.objects.get(campaign=campaign, contact=floridian)
    assert held.status == MessageStatus.DEFERRED
    assert held.reason == "frequency FL cap 3 per 24 h"
    oldest = OutboundMessage.objects.filter(contact=floridian, sent_at__isnull=False).order_by("sent_at").first()
    assert held.send_after == oldest.sent_at + timedelta(hours=24)


@pytest.mark.django_db
def test_global_frequency_cap_can_skip_instead_of_defer(settings):
    settings.FREQUENCY_CAP_COUNT = 1
    settings.FREQUENCY_CAP_ACTION = "skip"
    program = make_program()
    recent, fresh = subscriber(program), subscriber(program)
    _sent_before(recent, program, hours_ago=2)
    campaign = started(make_campaign(program))
    send_all(campaign)
    assert [sms.to for sms in locmem.outbox] == [str(fresh.phone)]
    held = OutboundMessage.objects.get(campaign=campaign, contact=recent)
    assert (held.status, held.reason) == (MessageStatus.SKIPPED, "frequency cap 1 per 24 h")
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_pause_stops_claiming_and_resume_finishes(django_capture_on_commit_callbacks):
    program = make_program()
    for _ in range(3):
        subscriber(program)
    campaign = started(make_campaign(program))
    services.campaign_pause(campaign=campaign, actor=None)
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    assert locmem.outbox == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.campaign_resume(campaign=campaign, actor=None)
    assert len(callbacks) == 1  # the send chains start once the resume commits
    send_all(campaign)
    assert len(locmem.outbox) == 3 and campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_cancel_cancels_what_was_not_sent():
    from campaigns.dispatch import campaigns_cancel_pending

    program = make_program()
    for _ in range(4):
        subscriber(program)
    campaign = started(make_campaign(program))
    services.campaign_cancel(campaign=campaign, actor=None)
    assert campaigns_cancel_pending(campaign_id=campaign.pk) == 4
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    assert set(statuses(campaign).values()) == {MessageStatus.CANCELED}
    assert locmem.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "action"),
    [("draft", "pause"), ("draft", "resume"), ("completed", "cancel"), ("sending", "start"), ("cancelled", "schedule")],
)
def test_invalid_transitions_say_why(status, action):
    campaign = make_campaign(status=status)
    kwargs = {"send_at": datetime.now(UTC)} if action == "schedule" else {}
    with pytest.raises(ValidationError, match="can't be"):
        getattr(services, f"campaign_{action}")(campaign=campaign, actor=None, **kwargs)


@pytest.mark.django_db
def test_users_without_the_send_permission_cannot_send(django_user_model):
    agent = django_user_model.objects.create_user("agent", password="x")
    campaign = make_campaign()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.campaign_start(campaign=campaign, actor=agent)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


@pytest.mark.django_db
def test_bad_template_cannot_be_started():
    campaign = make_campaign(body="Hi {{ phone }}")
    with pytest.raises(ValidationError, match="not a contact field"):
        services.campaign_start(campaign=campaign, actor=None)


@pytest.mark.django_db
def test_scheduled_campaign_starts_only_once_its_time_has_come(django_capture_on_commit_callbacks):
    program = make_program()
    subscriber(program)
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    campaign = services.campaign_schedule(campaign=make_campaign(program), send_at=at, actor=None)
    assert campaign.status == CampaignStatus.SCHEDULED
    with time_machine.travel(at - timedelta(seconds=1), tick=False):
        campaigns_start_due()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    with time_machine.travel(at + timedelta(seconds=1), tick=False), django_capture_on_commit_callbacks() as cbs:
        campaigns_start_due()
        campaigns_start_due()  # a second beat finds nothing to start
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert len(cbs) == 1


@pytest.mark.django_db
def test_send_test_queues_a_test_message_to_the_staff_number(django_capture_on_commit_callbacks, settings):
    settings.CAMPAIGN_OPT_OUT_FOOTER = "Reply STOP to opt out"
    campaign = make_campaign(make_program(brand="Acme Deals"))
    subscriber(campaign.program, phone="+14155550199")
    with django_capture_on_commit_callbacks() as callbacks:
        message = services.campaign_send_test(campaign=campaign, to="(415) 555-0199", actor=staff_user_make(MARKETING))
    assert len(callbacks) == 1  # delivery is enqueued after commit
    message_deliver_task(message.pk)
    assert (message.kind, message.to) == (MessageKind.TEST, "+14155550199")
    assert [sms.body for sms in locmem.outbox] == ["Acme Deals: Hi there, 20% off today.\nReply STOP to opt out"]
    with pytest.raises(ValidationError):
        services.campaign_send_test(campaign=campaign, to="12", actor=staff_user_make(MARKETING))


@pytest.mark.django_db
def test_transient_error_retries_later_without_losing_the_message(settings, fake_twilio):
    program = make_program()
    contact = subscriber(program)
    campaign = started(make_campaign(program))
    fake_twilio.fail_next(status=429)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert result.sent == 0
    message = OutboundMessage.objects.get(campaign=campaign)
    assert message.status == MessageStatus.RETRY and message.send_after
    with time_machine.travel(message.send_after + timedelta(seconds=1), tick=False):
        send_all(campaign)
    assert len(fake_twilio.messages(to=str(contact.phone))) == 1
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_stale_claim_adopts_the_sid_the_provider_has(settings, fake_twilio):
    from messaging.backends import OutgoingSMS, get_backend
    from messaging.outbox import outbox_recover

    program = make_program()
    got_it, never = subscriber(program), subscriber(program)
    campaign = started(make_campaign(program))
    messages_claim(campaign=campaign, size=10)
    OutboundMessage.objects.filter(campaign=campaign).update(body="hello")
    # The worker died after the provider accepted the first text but before our commit.
    accepted = get_backend().send(OutgoingSMS(to=str(got_it.phone), body="hello"))
    OutboundMessage.objects.filter(campaign=campaign).update(claimed_at=datetime.now(UTC) - timedelta(seconds=3))
    settings.SEND_CLAIM_TIMEOUT_SECONDS = 1
    assert outbox_recover() == 2
    adopted = OutboundMessage.objects.get(campaign=campaign, contact=got_it)
    requeued = OutboundMessage.objects.get(campaign=campaign, contact=never)
    assert (adopted.sid, adopted.status) == (accepted.sid, MessageStatus.QUEUED)
    assert requeued.status == MessageStatus.PENDING and requeued.sid is None
    send_all(campaign)
    assert len(fake_twilio.messages(to=str(got_it.phone))) == 1
    assert len(fake_twilio.messages(to=str(never.phone))) == 1


@pytest.mark.django_db
def test_unknown_contact_number_is_never_texted_by_a_campaign():
    program = make_program()
    make_contact()  # no consent at all
    campaign = started(make_campaign(program))
    assert campaign.audience_size == 0
    send_all(campaign)
    assert campaign.status == CampaignStatus.COMPLETED and locmem.outbox == []
    assert connection.vendor in ("postgresql", "sqlite")
