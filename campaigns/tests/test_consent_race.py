"""The strict guarantee: nothing reaches the provider after an opt-out is recorded, even mid-send."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, connections

from campaigns.dispatch import campaign_send_batch
from campaigns.materialize import campaign_audience_build
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign, subscriber
from contacts.models import ConsentMethod
from contacts.services import consent_opt_out
from contacts.tests.factories import make_program
from messaging.models import MessageStatus, OutboundMessage

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="row locks are PostgreSQL's")


def start(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    campaign_audience_build(campaign_id=campaign.pk)


def in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        finally:
            results[key + "_at"] = time.monotonic()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_stop_during_a_slow_send_waits_for_it_and_blocks_the_next_campaign_message(fake_twilio):
    program = make_program()
    contact = subscriber(program)
    first, second = make_campaign(program, name="first"), make_campaign(program, name="second")
    start(first)
    start(second)
    fake_twilio.slow_next(seconds=1.5, to=str(contact.phone))
    results = {}
    sender = in_thread(lambda: campaign_send_batch(campaign_id=first.pk), results, "send")
    wait_for(lambda: len(fake_twilio.create_requests()) == 1)  # the provider has it; the answer is slow
    opt_out = in_thread(
        lambda: consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"}),
        results,
        "stop",
    )
    sender.join(10)
    opt_out.join(10)
    # The opt-out waited for the send in flight to commit (its subscription row was held FOR SHARE)…
    assert results["stop_at"] >= results["send_at"]
    sent = OutboundMessage.objects.get(campaign=first)
    assert sent.sid and sent.status == MessageStatus.QUEUED
    # …and every send after it sees it.
    campaign_send_batch(campaign_id=second.pk)
    skipped = OutboundMessage.objects.get(campaign=second)
    assert (skipped.status, skipped.reason) == (MessageStatus.SKIPPED, "opted out")
    assert len(fake_twilio.messages(to=str(contact.phone))) == 1
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_that_starts_while_a_stop_is_being_recorded_waits_and_then_skips(fake_twilio):
    from django.db import transaction

    program = make_program()
    contact = subscriber(program)
    campaign = make_campaign(program)
    start(campaign)
    results = {}
    recorded = threading.Event()
    release = threading.Event()

    def slow_opt_out():
        with transaction.atomic():
            consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
            recorded.set()
            release.wait(5)  # the opt-out transaction is still open

    stopper = in_thread(slow_opt_out, results, "stop")
    recorded.wait(5)
    sender = in_thread(lambda: campaign_send_batch(campaign_id=campaign.pk), results, "send")
    time.sleep(0.5)
    assert fake_twilio.create_requests() == []  # the send is waiting for the opt-out's row lock
    release.set()
    stopper.join(10)
    sender.join(10)
    message = OutboundMessage.objects.get(campaign=campaign)
    assert (message.status, message.reason) == (MessageStatus.SKIPPED, "opted out")
    assert fake_twilio.create_requests() == []
