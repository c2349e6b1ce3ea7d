"""Delivery receipts through a real web process: twice, out of order, before the SID is stored, during an outage.

A gunicorn web process whose PostgreSQL (and, for one case, Redis) connection goes
through TCP proxies the test cuts, a real Celery worker sending a campaign, and the
HTTP fake of Twilio posting signed callbacks. The final status is right every time.
"""

import pytest
from django.conf import settings

from campaigns import services
from campaigns.tests.factories import make_campaign, subscriber
from contacts.tests.factories import make_program
from messaging.models import EarlyStatus, MessageStatus, OutboundMessage
from messaging.spool import status_spool_waiting
from messaging.tests.test_inbound_outage import FAST
from testing.tcp_proxy import TcpProxy
from testing.worker import wait_until

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="outage tests run against PostgreSQL"),
]


def status_of(sid: str) -> str:
    return OutboundMessage.objects.values_list("status", flat=True).get(sid=sid)


@pytest.fixture
def redis_proxy():
    host, port = settings.REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy((host, int(port))).start()
    yield proxy
    proxy.stop()


def test_receipts_twice_out_of_order_before_the_sid_and_while_the_database_is_away_end_in_the_right_status(
    celery_processes, fake_twilio, db_proxy, redis_proxy, web
):
    program = make_program()
    for _ in range(3):
        subscriber(program)
    web_redis = settings.REDIS_URL.replace(settings.REDIS_URL.split("//", 1)[1].split("/", 1)[0],
                                           f"127.0.0.1:{redis_proxy.port}")  # fmt: skip
    url = web(REDIS_URL=web_redis)
    receipts = url + "/sms/status/"

    def receipt(sid, status, error_code=None, expect=200):
        response = fake_twilio.post_status_callback(receipts, sid, status, error_code)
        assert response.status_code == expect, response.text
        return response

    hold = fake_twilio.hold_next(None)
    celery_processes.worker("w1", fake=fake_twilio, **FAST)
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    early, repeated, late = hold.wait_held(3)

    # Before the SID is stored (the provider's answer to the create is still held): parked, then applied.
    for status in ("sent", "delivered", "sent"):
        receipt(early, status)
    assert EarlyStatus.objects.filter(sid=early).count() == 3
    fake_twilio.clear_failures()
    messages = OutboundMessage.objects.filter(campaign=campaign)
    wait_until(lambda: messages.filter(sid__isnull=False).count() == 3, timeout=60, message="the SIDs to be stored",
               on_timeout=celery_processes.logs)  # fmt: skip
    wait_until(lambda: status_of(early) == MessageStatus.DELIVERED, timeout=60, message="the parked receipts")
    assert not EarlyStatus.objects.filter(sid=early).exists()

    # Twice and out of order: delivered stays delivered.
    for status in ("delivered", "delivered", "sent", "queued"):
        receipt(repeated, status)
    assert status_of(repeated) == MessageStatus.DELIVERED

    # PostgreSQL unreachable for the web process: answered 200, kept, applied once it is back.
    receipt(late, "sent")
    db_proxy.cut()
    receipt(late, "delivered")
    assert status_spool_waiting() == 1
    assert status_of(late) == MessageStatus.SENT
    db_proxy.restore()
    wait_until(lambda: status_of(late) == MessageStatus.DELIVERED, timeout=60, message="the kept receipt",
               on_timeout=celery_processes.logs)  # fmt: skip
    assert status_spool_waiting() == 0
    receipt(late, "delivered")  # Twilio's retry of the same receipt: answered 200, changes nothing
    assert status_of(late) == MessageStatus.DELIVERED

    # PostgreSQL and Redis both away: nowhere to keep it, so 503, and Twilio's retry (where the callback
    # URL asks for retries) is applied once the web process can reach the database again.
    db_proxy.cut()
    redis_proxy.cut()
    receipt(late, "read", expect=503)
    db_proxy.restore()
    redis_proxy.restore()
    receipt(late, "read")
    assert status_of(late) == MessageStatus.READ
