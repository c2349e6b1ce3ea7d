"""Faults a production system meets, survived with everyone texted exactly once.

Real Celery worker processes, PostgreSQL, Redis and the HTTP fake of Twilio. Each
test asserts at the fake: every consented recipient got exactly one campaign text,
nobody got a second, and nobody without consent got any.
"""

import itertools
from collections import Counter

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign, opted_out, subscriber
from campaigns.tests.test_workers import FAST, per_number, wait_completed
from contacts.tests.factories import make_program
from messaging.models import MessageStatus, OutboundMessage
from testing.db import backends_named, backends_terminate, database_url_named
from testing.redis_server import PrivateRedis
from testing.worker import database_url, wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="worker tests run against PostgreSQL"),
]


def audience(program, size: int):
    """`size` subscribers, and a few numbers that must get nothing (opted out)."""
    return [subscriber(program) for _ in range(size)], [opted_out(program) for _ in range(3)]


def assert_exactly_once(fake, consented, excluded) -> None:
    received = per_number(fake)
    assert received == Counter({str(c.phone): 1 for c in consented})
    assert not set(received) & {str(c.phone) for c in excluded}


@pytest.fixture
def private_redis():
    with PrivateRedis() as server:
        yield server


def test_redis_restarted_mid_campaign_the_campaign_finishes_with_everyone_texted_once(
    celery_processes, fake_twilio, private_redis
):
    program = make_program()
    consented, excluded = audience(program, 60)
    # Broker, cache, leases, rate bucket and spool all live in this Redis of the test's own.
    env = {**FAST, "REDIS_URL": private_redis.url}
    hold = fake_twilio.hold_next(None, after=15)  # a group is certainly in flight when Redis goes away
    worker = celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **env)
    campaign = make_campaign(program)
    # Started as Send does, without this test process's broker (the shared Redis): the tick finds it.
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING, started_at=timezone.now())
    hold.wait_held(1)

    private_redis.stop()  # its queue, leases and buckets are gone with it
    fake_twilio.clear_failures()
    wait_until(lambda: "Error 111" in worker.log() or "Connection refused" in worker.log(), timeout=60,
               message="the worker to find Redis gone", on_timeout=celery_processes.logs)  # fmt: skip
    sent_while_down = len(fake_twilio.create_requests())
    assert sent_while_down < 60
    private_redis.start()

    wait_completed(campaign, celery_processes, timeout=120)
    assert_exactly_once(fake_twilio, consented, excluded)
    stored = set(OutboundMessage.objects.filter(campaign=campaign).values_list("sid", flat=True))
    assert stored == {m["sid"] for m in fake_twilio.messages()}


def test_a_workers_database_connection_terminated_mid_batch_is_recovered_by_the_same_worker(
    celery_processes, fake_twilio
):
    program = make_program()
    consented, excluded = audience(program, 40)
    # The worker keeps its connection between tasks, as in production; its name lets the test find it.
    env = {**FAST, "DATABASE_URL": database_url_named(database_url(), "fault-w1"), "CONN_MAX_AGE": "60"}
    hold = fake_twilio.hold_next(None, after=15)
    worker = celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    held = hold.wait_held(1)
    # The worker waits for the provider inside the transaction that will record the SIDs.
    in_transaction = wait_until(lambda: backends_named("fault-w1", in_transaction=True), timeout=60,
                                message="the worker's open transaction")  # fmt: skip
    assert backends_terminate(in_transaction)
    fake_twilio.clear_failures()

    wait_completed(campaign, celery_processes, timeout=120)
    assert "terminat" in worker.log()  # it saw its connection die…
    assert worker.process.poll() is None  # …and the same process went on to finish the campaign
    assert_exactly_once(fake_twilio, consented, excluded)
    messages = OutboundMessage.objects.filter(campaign=campaign)
    # The texts whose SIDs died with the transaction were adopted from the provider, not sent again.
    assert set(held) <= set(messages.values_list("sid", flat=True))
    assert len(fake_twilio.create_requests()) == 40


def test_provider_errors_are_retried_with_backoff_a_bounded_number_of_times_and_a_lost_answer_never_sends_twice(
    celery_processes, fake_twilio
):
    program = make_program()
    consented, excluded = audience(program, 12)
    rate_limited, server_error, unavailable, hung, dropped, broken, sent_anyway = (str(c.phone) for c in consented[:7])
    fake_twilio.fail_next(2, status=429, to=rate_limited)
    fake_twilio.fail_next(2, status=500, to=server_error)
    fake_twilio.fail_next(1, status=500, to=sent_anyway, accept=True)  # Twilio created it, yet answered 500
    fake_twilio.fail_next(1, status=503, to=unavailable)
    hang = fake_twilio.hold_next(1, to=hung)  # accepted; the answer comes only after the client gave up
    fake_twilio.drop_next(1, to=dropped)  # accepted; the connection closes before the answer
    fake_twilio.fail_next(None, status=500, to=broken)  # never accepted
    env = {**FAST, "TWILIO_TIMEOUT_SECONDS": "1", "SMS_RETRY_BASE_SECONDS": "1", "SMS_RETRY_MAX_SECONDS": "4",
           "SMS_SEND_MAX_ATTEMPTS": "4"}  # fmt: skip
    celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **env)
    try:
        campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
        wait_completed(campaign, celery_processes, timeout=120)
    finally:
        hang.release()

    received = per_number(fake_twilio)
    assert received == Counter({str(c.phone): 1 for c in consented if str(c.phone) != broken})
    assert not set(received) & {str(c.phone) for c in excluded}
    tries = Counter(r.form["To"] for r in fake_twilio.create_requests())
    # Refused answers are tried again; an accepted text whose answer was lost is found, not sent again.
    assert (tries[rate_limited], tries[server_error], tries[unavailable]) == (3, 3, 2)
    assert (tries[hung], tries[dropped], tries[sent_anyway]) == (1, 1, 1)
    # Bounded: the number Twilio never accepts is tried SMS_SEND_MAX_ATTEMPTS times, then failed.
    assert tries[broken] == 4
    failed = OutboundMessage.objects.get(campaign=campaign, to=broken)
    assert (failed.status, failed.attempts, failed.error_code) == (MessageStatus.FAILED, 4, "20500")
    # With backoff: each wait at least half the doubling ceiling (jitter), 1 s, 2 s, 4 s. Lower bounds
    # only: the product waits at least this long; a busy machine can only make it longer.
    times = [r.at for r in fake_twilio.create_requests() if r.form["To"] == broken]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.5 * ceiling - 0.01 for gap, ceiling in zip(gaps, (1, 2, 4), strict=True)), gaps
    assert OutboundMessage.objects.filter(campaign=campaign, attempts__gt=4).count() == 0
    stored = set(OutboundMessage.objects.filter(campaign=campaign, sid__isnull=False).values_list("sid", flat=True))
    assert stored == {m["sid"] for m in fake_twilio.messages()}
