"""A STOP that reaches the webhook while PostgreSQL is unreachable is answered, kept, and applied first.

Real parts: a gunicorn web process whose database connection goes through a
TCP proxy the test cuts (the shared PostgreSQL server is never touched), a real
Celery worker sending a campaign, Redis, and the HTTP fake of Twilio.
"""

import threading
from collections import Counter

import pytest
import requests
from django.conf import settings

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.factories import make_campaign, subscriber
from contacts.selectors import consent_may_send
from contacts.tests.factories import make_program
from messaging.models import InboundMessage, MessageKind, MessageStatus, OutboundMessage
from messaging.spool import inbound_spool_apply, inbound_spool_waiting
from testing.db import backend_waiting_on_a_lock, backends_terminate
from testing.locks import contact_lock_held
from testing.worker import wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="outage tests run against PostgreSQL"),
]
FAST = {"SEND_RATE_PER_SECOND": "0", "QUIET_HOURS_ENABLED": "0", "CAMPAIGNS_TICK_SECONDS": "1",
        "OUTBOX_RECOVER_SECONDS": "1", "INBOUND_SPOOL_SECONDS": "1", "SEND_THROTTLE_PAUSE_SECONDS": "1"}  # fmt: skip


def campaign_texts(fake, phone) -> list[dict]:
    return [m for m in fake.messages(to=phone) if "20% off" in m["body"]]


def test_a_stop_while_postgres_refuses_connections_is_applied_before_the_next_text_and_confirmed_once(
    celery_processes, fake_twilio, db_proxy, web
):
    program = make_program()
    leaving, staying = subscriber(program), subscriber(program)
    url = web()
    db_proxy.cut()  # PostgreSQL is unreachable for the web process

    answer = fake_twilio.post_inbound(url + "/sms/inbound/", str(leaving.phone), "STOP")

    assert answer.status_code == 200 and "<Message>" not in answer.text  # answered in time, not a 500
    assert inbound_spool_waiting() == 1
    assert not InboundMessage.objects.exists()
    db_proxy.restore()
    # The campaign starts right away; the worker's gate applies the kept STOP before any text goes out.
    celery_processes.worker("w1", fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED,
        timeout=60, message="the campaign to complete", on_timeout=celery_processes.logs,
    )  # fmt: skip
    assert campaign_texts(fake_twilio, str(leaving.phone)) == []
    assert len(campaign_texts(fake_twilio, str(staying.phone))) == 1
    assert not consent_may_send(contact=leaving, program=program)
    wait_until(
        lambda: OutboundMessage.objects.filter(kind=MessageKind.STOP_CONFIRMATION, sid__isnull=False).exists(),
        timeout=60, message="the opt-out confirmation", on_timeout=celery_processes.logs,
    )  # fmt: skip
    bodies = Counter(m["body"] for m in fake_twilio.messages(to=str(leaving.phone)))
    assert sum(n for body, n in bodies.items() if "unsubscribed" in body) == 1


def test_a_stop_whose_database_connection_is_terminated_mid_request_is_kept_and_applied(
    celery_processes, fake_twilio, db_proxy, web
):
    program = make_program()
    contact = subscriber(program)
    url = web(INBOUND_LOCK_TIMEOUT_MS="60000")
    answers = {}
    poster = threading.Thread(
        target=lambda: answers.update(r=fake_twilio.post_inbound(url + "/sms/inbound/", str(contact.phone), "STOP"))
    )
    # The contact's lock is held elsewhere, so the webhook's transaction is certainly mid-way when its
    # connection dies.
    with contact_lock_held(contact):
        poster.start()
        waiting = wait_until(backend_waiting_on_a_lock, timeout=60, message="the webhook to wait on the lock")
        backends_terminate([waiting])
        poster.join(30)

    assert answers["r"].status_code == 200
    assert inbound_spool_waiting() == 1 and not InboundMessage.objects.exists()
    assert inbound_spool_apply() is True
    assert not consent_may_send(contact=contact, program=program)
    confirmation = OutboundMessage.objects.get(kind=MessageKind.STOP_CONFIRMATION)
    assert confirmation.status in (MessageStatus.PENDING, MessageStatus.QUEUED, MessageStatus.CLAIMED)




def test_the_web_process_answers_a_signed_stop_normally_through_the_proxy(celery_processes, fake_twilio, web):
    """The harness itself: with the proxy open, the same webhook stores and answers as usual."""
    program = make_program()
    contact = subscriber(program)
    url = web()
    answer = fake_twilio.post_inbound(url + "/sms/inbound/", str(contact.phone), "STOP")
    assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert InboundMessage.objects.get().classification == "opt_out"
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
