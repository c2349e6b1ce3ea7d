"""The strict guarantee: nothing reaches the provider after an opt-out is recorded, even mid-send."""

import threading

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
from testing.db import backend_waiting_on_a_lock
from testing.worker import wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="row locks are PostgreSQL's")


def start(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    campaign_audience_build(campaign_id=campaign.pk)


def in_thread(target, results, key, done=None):
    def run():
        try:
            results[key] = target()
        finally:
            connections.close_all()
            if done is not None:
                done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_stop_during_a_send_in_flight_waits_for_it_and_blocks_the_next_campaign_message(fake_twilio):
    program = make_program()
    contact = subscriber(program)
    first, second = make_campaign(program, name="first"), make_campaign(program, name="second")
    start(first)
    start(second)
    hold = fake_twilio.hold_next(1, to=str(contact.phone))  # the provider has the text; its answer waits for us
    results, sent, stopped = {}, threading.Event(), threading.Event()
    sender = in_thread(lambda: campaign_send_batch(campaign_id=first.pk), results, "send", sent)
    hold.wait_held(1)
    opt_out = in_thread(
        lambda: consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"}),
        results,
        "stop",
        stopped,
    )
    # The opt-out waits for the send in flight: it is seen waiting on the contact's row lock, unfinished.
    wait_until(backend_waiting_on_a_lock, timeout=60, message="the opt-out to wait on the send's lock")
    assert not stopped.is_set()
    hold.release()
    sender.join(30)
    opt_out.join(30)
    assert sent.is_set() and stopped.is_set()
    sent_message = OutboundMessage.objects.get(campaign=first)
    assert sent_message.sid and sent_message.status == MessageStatus.QUEUED
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
            release.wait(60)  # the opt-out transaction is still open

    stopper = in_thread(slow_opt_out, results, "stop")
    assert recorded.wait(30)
    sender = in_thread(lambda: campaign_send_batch(campaign_id=campaign.pk), results, "send")
    try:
        wait_until(backend_waiting_on_a_lock, timeout=60, message="the send to wait on the opt-out's lock")
        assert fake_twilio.create_requests() == []  # the send is waiting for the opt-out's row lock
    finally:
        release.set()
        stopper.join(30)
        sender.join(30)
    message = OutboundMessage.objects.get(campaign=campaign)
    assert (message.status, message.reason) == (MessageStatus.SKIPPED, "opted out")
    assert fake_twilio.create_requests() == []
