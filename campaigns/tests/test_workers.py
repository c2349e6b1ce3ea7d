"""Integration: real Celery worker processes, PostgreSQL, Redis and the HTTP fake of Twilio."""

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign, opted_out, subscriber
from contacts.tests.factories import make_contact, make_program
from messaging.models import MessageStatus, OutboundMessage
from testing.worker import wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="worker tests run against PostgreSQL"),
]

# Fast ticks and short timeouts, so recovery paths run within seconds.
FAST = {
    "SEND_RATE_PER_SECOND": "0",
    "QUIET_HOURS_ENABLED": "0",
    "CAMPAIGNS_TICK_SECONDS": "1",
    "CAMPAIGN_CHAIN_LEASE_SECONDS": "3",
    "SEND_CLAIM_TIMEOUT_SECONDS": "3",
    "SEND_THROTTLE_PAUSE_SECONDS": "1",
    "SMS_RETRY_BASE_SECONDS": "1",
    "SEND_BATCH_SIZE": "10",
    "CAMPAIGN_SEND_CHAINS": "4",
    "OUTBOX_RECOVER_SECONDS": "1",
}


def status_of(campaign) -> str:
    return Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).get()


CAMPAIGN_TEXT = "20% off today"  # the factory campaign's body; opt-out confirmations don't contain it


def per_number(fake) -> Counter:
    """Campaign texts the provider accepted, per number."""
    return Counter(m["to"] for m in fake.messages() if CAMPAIGN_TEXT in m["body"])


def wait_completed(campaign, processes, timeout=60):
    wait_until(
        lambda: status_of(campaign) == CampaignStatus.COMPLETED,
        timeout=timeout,
        message=f"campaign {campaign.pk} to complete",
        on_timeout=lambda: (
            f"{Counter(OutboundMessage.objects.filter(campaign=campaign).values_list('status', flat=True))}\n"
            + processes.logs()
        ),
    )


def test_only_consented_contacts_receive_the_text(celery_processes, fake_twilio):
    program = make_program()
    consented = [subscriber(program) for _ in range(25)]
    unsubscribed = [opted_out(program) for _ in range(5)]
    strangers = [make_contact() for _ in range(3)]
    celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    wait_completed(campaign, celery_processes)
    received = per_number(fake_twilio)
    assert received == Counter({str(c.phone): 1 for c in consented})
    assert not set(received) & {str(c.phone) for c in unsubscribed + strangers}
    sids = set(OutboundMessage.objects.filter(campaign=campaign).values_list("sid", flat=True))
    assert sids == {m["sid"] for m in fake_twilio.messages()}
    campaign.refresh_from_db()
    assert campaign.excluded_counts["opted_out"] == 5 and campaign.audience_size == 25


def test_two_workers_send_each_message_exactly_once(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(150)]
    # Every answer waits until both workers have a group of ten in flight: certainly both take part.
    hold = fake_twilio.hold_next(None)
    first = celery_processes.worker("w1", fake=fake_twilio, **FAST)
    second = celery_processes.worker("w2", fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    hold.wait_held(20)
    fake_twilio.clear_failures()
    wait_completed(campaign, celery_processes)
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    assert len(fake_twilio.create_requests()) == 150
    # Both processes took part.
    assert f"campaign {campaign.pk} batch" in first.log()
    assert f"campaign {campaign.pk} batch" in second.log()


def test_worker_killed_mid_campaign_and_restarted_leaves_everyone_exactly_one_text(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(60)]
    # The first 15 creates are answered; from then on the provider accepts each text and holds its answer,
    # so the kill below lands while the worker waits for an answer: the provider has a text whose SID we
    # never stored.
    hold = fake_twilio.hold_next(None, after=15)
    worker = celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    held = hold.wait_held(1)
    worker.kill()
    hold.release()
    in_flight = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.CLAIMED, sid__isnull=True)
    assert in_flight.exists()
    assert not OutboundMessage.objects.filter(sid__in=hold.held).exists()
    killed_at = len(fake_twilio.create_requests())
    assert killed_at < 60
    celery_processes.worker("w2", fake=fake_twilio, **FAST)
    wait_completed(campaign, celery_processes)
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    messages = OutboundMessage.objects.filter(campaign=campaign)
    assert {m.sid for m in messages} == {m["sid"] for m in fake_twilio.messages()}
    # The held texts were adopted from the provider, not sent again.
    assert set(held) <= {m.sid for m in messages}


def test_stop_through_the_signed_webhook_mid_campaign_stops_that_contacts_message(
    celery_processes, fake_twilio, client, settings
):
    program = make_program()
    contacts = [subscriber(program) for _ in range(40)]
    env = {**FAST, "SEND_BATCH_SIZE": "5"}
    # Two batches of five go out; the provider holds its answers to the third, so the campaign is certainly
    # mid-way, with one whole group in flight, while the STOPs arrive.
    hold = fake_twilio.hold_next(None, after=10)
    celery_processes.worker("w1", fake=fake_twilio, **env)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    hold.wait_held(5)
    reached = {r.form["To"] for r in fake_twilio.create_requests()}  # sent, or in flight right now
    leaving = [c for c in contacts if str(c.phone) not in reached][:10]
    for contact in leaving:
        response = fake_twilio.post_inbound(
            settings.PUBLIC_BASE_URL + "/sms/inbound/", str(contact.phone), "Stop please", client=client
        )
        assert response.status_code == 200  # the opt-out has committed
    hold.release()
    fake_twilio.clear_failures()
    wait_completed(campaign, celery_processes)
    created = {r.form["To"] for r in fake_twilio.create_requests() if CAMPAIGN_TEXT in r.form.get("Body", "")}
    assert not created & {str(c.phone) for c in leaving}
    skipped = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.SKIPPED, reason="opted out")
    assert set(skipped.values_list("to", flat=True)) == {str(c.phone) for c in leaving}
    assert set(per_number(fake_twilio).values()) == {1}
    assert sum(per_number(fake_twilio).values()) == 30


TICK = "campaigns.tasks.campaigns_tick"
UNSENT = [MessageStatus.PENDING, MessageStatus.DEFERRED, MessageStatus.RETRY, MessageStatus.CLAIMED]


def creates(fake) -> int:
    return len(fake.create_requests())


def wait_ticks(worker, count: int = 2) -> None:
    """Let the periodic tick run `count` more times: what it would restart, it has restarted by then."""
    done = worker.tasks_succeeded(TICK)
    wait_until(lambda: worker.tasks_succeeded(TICK) >= done + count, timeout=60, message=f"{count} more ticks",
               on_timeout=worker.log)  # fmt: skip


def test_pause_resume_and_cancel_take_effect_mid_campaign(celery_processes, fake_twilio):
    program = make_program()
    total = 50
    for _ in range(total):
        subscriber(program)
    # Groups of ten; the provider answers five texts and holds the answers to the next five, so staff
    # press Pause (and later Cancel) while a group is certainly in flight.
    hold = fake_twilio.hold_next(None, after=5)
    worker = celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    messages = OutboundMessage.objects.filter(campaign=campaign)
    hold.wait_held(5)

    services.campaign_pause(campaign=campaign, actor=None)
    fake_twilio.clear_failures()
    # The group in flight is recorded; nothing else was claimed, and nothing is left claimed.
    wait_until(lambda: not messages.filter(status=MessageStatus.CLAIMED).exists() and messages.filter(
        sid__isnull=False).count() == 10, timeout=60, message="the group in flight to be recorded",
        on_timeout=celery_processes.logs)  # fmt: skip
    assert creates(fake_twilio) == 10
    wait_ticks(worker)  # the tick doesn't restart a paused campaign
    assert creates(fake_twilio) == 10, celery_processes.logs()

    hold = fake_twilio.hold_next(None, after=5)
    services.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    hold.wait_held(5)
    services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    fake_twilio.clear_failures()
    wait_until(lambda: not messages.filter(status__in=UNSENT).exists(), timeout=60,
               message="unsent messages to be cancelled", on_timeout=celery_processes.logs)  # fmt: skip
    wait_ticks(worker)
    assert creates(fake_twilio) == 20
    statuses = Counter(messages.values_list("status", flat=True))
    assert statuses[MessageStatus.CANCELED] == total - 20, (statuses, celery_processes.logs())
    assert status_of(campaign) == CampaignStatus.CANCELLED
    assert set(per_number(fake_twilio).values()) == {1}
    assert messages.filter(sid__isnull=False).count() == 20


def test_scheduled_campaign_waits_for_its_time_and_then_starts(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(5)]
    worker = celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    send_at = timezone.now() + timedelta(hours=1)
    campaign = services.campaign_schedule(campaign=make_campaign(program), send_at=send_at, actor=None)
    wait_ticks(worker)  # ticks that find it not yet due leave it alone
    assert status_of(campaign) == CampaignStatus.SCHEDULED and fake_twilio.create_requests() == []
    due = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(send_at=due)  # its time has come
    wait_completed(campaign, celery_processes, timeout=60)
    assert min(r.at for r in fake_twilio.create_requests()) >= due.timestamp()
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})


def test_rate_limit_429s_slow_the_worker_without_losing_messages(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(20)]
    fake_twilio.fail_next(3, status=429)
    # One request at a time, so the pause shows between one request and the next.
    celery_processes.worker("w1", fake=fake_twilio, **FAST, SMS_SEND_CONCURRENCY="1")
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    wait_completed(campaign, celery_processes, timeout=60)
    requests = fake_twilio.create_requests()
    refused = [r for r in requests if r.answered == 429]
    assert len(refused) == 3
    # After each 429 every sender pauses (SEND_THROTTLE_PAUSE_SECONDS=1) before the next request. A lower
    # bound only: the pause starts after the 429 arrived, so a busy machine can make the gap longer, never shorter.
    for refusal in refused:
        following = [r.at for r in requests if r.at > refusal.at]
        assert following and following[0] - refusal.at >= 0.99
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    retried = OutboundMessage.objects.filter(campaign=campaign, attempts__gt=1)
    assert retried.count() >= 1


def test_quiet_hours_defer_in_the_worker_and_release_when_the_window_opens(celery_processes, fake_twilio):
    program = make_program()
    new_yorkers = [subscriber(program, area="212") for _ in range(10)]
    ny = ZoneInfo("America/New_York")
    now = timezone.now()
    opening = datetime.combine(now.astimezone(ny).date() + timedelta(days=1), datetime.min.time(), ny).replace(hour=8)

    def clock_at(moment) -> dict:  # the workers' sending clock reads `moment` now
        return {**FAST, "QUIET_HOURS_ENABLED": "1", "SENDING_CLOCK_OFFSET_SECONDS": str((moment - now).total_seconds())}

    # An hour before the window opens in New York: every text is deferred to the opening.
    night = celery_processes.worker("night", fake=fake_twilio, **clock_at(opening - timedelta(hours=1)))
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    deferred = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.DEFERRED)
    wait_until(lambda: deferred.count() == 10, timeout=60, message="messages to be deferred",
               on_timeout=celery_processes.logs)  # fmt: skip
    assert set(deferred.values_list("send_after", flat=True)) == {opening}
    assert set(deferred.values_list("reason", flat=True)) == {"quiet hours"}
    night.stop()
    assert fake_twilio.create_requests() == []
    # The workers' clock passes the opening: the deferred texts go out, once each.
    celery_processes.worker("morning", fake=fake_twilio, **clock_at(opening + timedelta(minutes=1)))
    celery_processes.beat(fake=fake_twilio, **FAST)
    wait_completed(campaign, celery_processes, timeout=60)
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in new_yorkers})


def test_frequency_cap_holds_across_two_campaigns_sent_at_once(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(20)]
    env = {**FAST, "FREQUENCY_CAP_COUNT": "1", "FREQUENCY_CAP_WINDOW_HOURS": "24", "FREQUENCY_CAP_ACTION": "skip"}
    celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.worker("w2", fake=fake_twilio, **env)
    first = services.campaign_start(campaign=make_campaign(program, name="a"), actor=None)
    second = services.campaign_start(campaign=make_campaign(program, name="b"), actor=None)
    wait_completed(first, celery_processes)
    wait_completed(second, celery_processes)
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    capped = OutboundMessage.objects.filter(status=MessageStatus.SKIPPED, reason="frequency cap 1 per 24 h")
    assert capped.count() == 20
