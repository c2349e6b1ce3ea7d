"""Inbound webhooks at a steady rate while a campaign sends: nothing lost, nothing twice, no text after a STOP.

A gunicorn web process, a real Celery worker and beat, PostgreSQL, Redis and the
HTTP fake of Twilio. `make test` runs a short form (a few seconds); a longer one:

    make test-postgres PYTEST_ARGS="-m load -s" LOAD_TEST_SECONDS=60 LOAD_TEST_RATE=50

The rate and the webhook's latencies are printed at the end of the run.
"""

import os
import random
from collections import Counter

import pytest
from django.conf import settings

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign, next_phone, subscriber
from contacts.selectors import consent_may_send
from contacts.tests.factories import make_program
from messaging.models import InboundMessage
from messaging.spool import inbound_spool_waiting
from messaging.tests.test_inbound_outage import FAST
from testing.fake_twilio import new_sid
from testing.load import InboundText, inbound_load, latency_summary
from testing.redis_server import free_port
from testing.worker import wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.load,
    pytest.mark.skipif(not ON_POSTGRES, reason="load tests run against PostgreSQL"),
]
SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "4"))
RATE = float(os.environ.get("LOAD_TEST_RATE", "20"))
CAMPAIGN_RATE = 40  # texts a second: the campaign is still sending when the last webhook arrives
CAMPAIGN_TEXT = "20% off today"
REPORT: list[str] = []

STOPS = ["STOP", "Stop please", "unsubscribe", "STOP texting me", "stop."]
HELPS = ["HELP", "help?"]
CHATTER = ["hello", "What time do you open?", "thanks!", "is this the store on 5th?"]


def texts_for(subscribers, count: int, rng: random.Random) -> list[InboundText]:
    """STOPs (each from a different subscriber), HELPs, chatter from strangers, and a few repeated deliveries."""
    leaving = iter(rng.sample(subscribers, len(subscribers)))
    texts = []
    for n in range(count):
        roll = n % 10
        if roll < 4:
            texts.append(InboundText(str(next(leaving).phone), rng.choice(STOPS), new_sid(), "stop"))
        elif roll < 6:
            texts.append(InboundText(str(rng.choice(subscribers).phone), rng.choice(HELPS), new_sid(), "help"))
        elif roll < 9 or not texts:
            texts.append(InboundText(next_phone("646"), rng.choice(CHATTER), new_sid(), "chatter"))
        else:
            texts.append(rng.choice(texts))  # Twilio delivers the same webhook again
    return texts


def test_inbound_webhooks_at_a_steady_rate_during_a_campaign_lose_nothing_and_no_text_follows_an_answered_stop(
    celery_processes, fake_twilio, settings
):
    count = max(20, int(RATE * SECONDS))
    program = make_program()
    subscribers = [subscriber(program) for _ in range(max(count, int(CAMPAIGN_RATE * SECONDS * 1.5)))]
    port = free_port()
    url = settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{port}"
    env = {**FAST, "SEND_RATE_PER_SECOND": str(CAMPAIGN_RATE), "INBOUND_BACKSTOP_SECONDS": "3600"}
    celery_processes.web(port=port, fake=fake_twilio, PUBLIC_BASE_URL=url, **env)
    celery_processes.worker("w1", fake=fake_twilio, **env)
    celery_processes.beat(fake=fake_twilio, **env)
    texts = texts_for(subscribers, count, random.Random(12))
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    wait_until(lambda: fake_twilio.create_requests(), timeout=60, message="the campaign to start sending",
               on_timeout=celery_processes.logs)  # fmt: skip

    results = inbound_load(fake_twilio, url + "/sms/inbound/", texts, rate=RATE)
    wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED, timeout=300,
               message="the campaign to complete", on_timeout=celery_processes.logs)  # fmt: skip
    wait_until(lambda: inbound_spool_waiting() == 0, timeout=60, message="texts kept in the spool to be applied")

    summary = latency_summary(results)
    REPORT.append(
        f"{summary['sent']} signed webhooks in {SECONDS:g} s at {summary['rate']}/s while a campaign sent "
        f"{CAMPAIGN_RATE}/s: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms"
    )
    # The campaign sent while the webhooks came in (paced, it can't have finished before they started).
    window = (min(r.sent for r in results), max(r.answered for r in results))
    assert any(window[0] <= r.at <= window[1] for r in fake_twilio.create_requests())
    assert [r for r in results if r.status != 200] == []
    # Nothing lost, nothing twice: each MessageSid stored exactly once, repeats included.
    stored = Counter(InboundMessage.objects.values_list("sid", flat=True))
    assert stored == Counter({t.sid: 1 for t in texts})
    # No opt-out missed, and no campaign text reached the provider after a STOP was answered.
    answered_stop = {}  # number -> when its first STOP was answered (a repeated delivery counts from the first)
    for r in sorted(results, key=lambda r: -r.answered):
        if r.text.kind == "stop":
            answered_stop[r.text.from_] = r.answered
    by_phone = {str(c.phone): c for c in subscribers}
    assert [p for p in answered_stop if consent_may_send(contact=by_phone[p], program=program)] == []
    late = [
        (r.form["To"], round(r.at - answered_stop[r.form["To"]], 3))
        for r in fake_twilio.create_requests()
        if CAMPAIGN_TEXT in r.form.get("Body", "") and r.at > answered_stop.get(r.form["To"], float("inf"))
    ]
    assert late == []
    campaign_texts = Counter(r.form["To"] for r in fake_twilio.create_requests() if CAMPAIGN_TEXT in r.form["Body"])
    assert set(campaign_texts.values()) == {1}
