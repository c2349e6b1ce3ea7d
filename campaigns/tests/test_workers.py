"""Integration: real Celery worker processes, PostgreSQL, Redis and the HTTP fake of Twilio."""

import time
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
    fake_twilio.slow_next(None, seconds=0.01)  # each answer takes a moment, so both workers get batches
    first = celery_processes.worker("w1", fake=fake_twilio, **FAST)
    second = celery_processes.worker("w2", fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
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


def settled_count(fake, *, quiet: float = 2.0, timeout: float = 15.0) -> int:
    """The number of create requests once it has stopped growing for `quiet` seconds (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    count, since = len(fake.create_requests()), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "sending did not stop"
        time.sleep(0.1)
        if len(fake.create_requests()) != count:
            count, since = len(fake.create_requests()), time.monotonic()
    return count


def test_pause_resume_and_cancel_take_effect_within_seconds(celery_processes, fake_twilio):
    program = make_program()
    total = 50
    for _ in range(total):
        subscriber(program)
    # Slow enough that a loaded machine still pauses and cancels well before the end.
    env = {**FAST, "SEND_RATE_PER_SECOND": "5", "SEND_BATCH_SIZE": "10"}
    celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **env)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    wait_until(lambda: len(fake_twilio.create_requests()) >= 5, timeout=30, message="sending to begin")

    services.campaign_pause(campaign=campaign, actor=None)
    at_pause = settled_count(fake_twilio)  # stops within seconds (status is checked every second)
    assert at_pause < total
    claimed = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.CLAIMED)
    wait_until(lambda: not claimed.exists(), timeout=10, message="claimed messages to go back to the queue")
    time.sleep(2)
    # The tick doesn't restart a paused campaign.
    assert len(fake_twilio.create_requests()) == at_pause, celery_processes.logs()

    services.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    wait_until(lambda: len(fake_twilio.create_requests()) >= at_pause + 5, timeout=20, message="sending to resume")

    services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    at_cancel = settled_count(fake_twilio)
    unsent = OutboundMessage.objects.filter(
        campaign=campaign, status__in=[MessageStatus.PENDING, MessageStatus.DEFERRED, MessageStatus.RETRY,
                                       MessageStatus.CLAIMED]
    )  # fmt: skip
    wait_until(lambda: not unsent.exists(), timeout=15, message="unsent messages to be cancelled")
    assert at_cancel < total
    statuses = Counter(OutboundMessage.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses[MessageStatus.CANCELED] == total - at_cancel, (statuses, at_cancel, celery_processes.logs())
    assert status_of(campaign) == CampaignStatus.CANCELLED
    assert set(per_number(fake_twilio).values()) == {1}


def test_scheduled_campaign_starts_on_time(celery_processes, fake_twilio):
    program = make_program()
    contacts = [subscriber(program) for _ in range(5)]
    celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    send_at = timezone.now() + timedelta(seconds=3)
    campaign = services.campaign_schedule(campaign=make_campaign(program), send_at=send_at, actor=None)
    time.sleep(1.5)
    assert status_of(campaign) == CampaignStatus.SCHEDULED and fake_twilio.create_requests() == []
    wait_completed(campaign, celery_processes, timeout=40)
    first_sent = min(r.at for r in fake_twilio.create_requests())
    assert send_at.timestamp() <= first_sent < send_at.timestamp() + 8  # the tick runs every second here
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
    # After each 429 every sender pauses (SEND_THROTTLE_PAUSE_SECONDS=1) before the next request.
    after_first = [r.at for r in requests if r.at > refused[0].at]
    assert after_first and after_first[0] - refused[0].at >= 0.9
    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    retried = OutboundMessage.objects.filter(campaign=campaign, attempts__gt=1)
    assert retried.count() >= 1


def test_quiet_hours_defer_in_the_worker_and_release_when_the_window_opens(celery_processes, fake_twilio):
    program = make_program()
    new_yorkers = [subscriber(program, area="212") for _ in range(10)]
    ny = ZoneInfo("America/New_York")
    now = timezone.now()
    opening = datetime.combine(now.astimezone(ny).date() + timedelta(days=1), datetime.min.time(), ny).replace(hour=8)
    # The workers' sending clock reads 07:59:48 in New York now; the window opens 12 real seconds later.
    opens_in = 12
    offset = (opening - timedelta(seconds=opens_in) - now).total_seconds()
    opens_at = now.timestamp() + opens_in
    env = {**FAST, "QUIET_HOURS_ENABLED": "1", "SENDING_CLOCK_OFFSET_SECONDS": str(offset)}
    celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **env)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    deferred = OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.DEFERRED)
    wait_until(lambda: deferred.count() == 10, timeout=20, message="messages to be deferred")
    assert time.time() < opens_at, "the workers took too long to start for this test's clock"
    assert set(deferred.values_list("send_after", flat=True)) == {opening}
    assert set(deferred.values_list("reason", flat=True)) == {"quiet hours"}
    assert fake_twilio.create_requests() == []
    wait_completed(campaign, celery_processes, timeout=40)
    assert min(r.at for r in fake_twilio.create_requests()) >= opens_at - 0.5
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
