"""The webhooks over real HTTP: the fake posts signed requests to a running server, as Twilio would."""

import pytest

from contacts.models import SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.tests.factories import make_contact, make_program
from messaging.models import InboundMessage, MessageStatus, OutboundMessage
from messaging.outbox import outbox_claim, outbox_send_claimed
from messaging.tests.factories import confirmation


@pytest.fixture
def public_app(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stop_over_http_opts_out_and_the_status_callback_lands(fake_twilio, public_app):
    contact, program = make_contact("+14155550181"), make_program()
    message = confirmation(contact, program, body="Welcome")
    sent = outbox_send_claimed([outbox_claim(message_id=message.pk)])[0].message
    # The callback URL the backend gave Twilio is the one the fake now calls back, signed.
    [create] = fake_twilio.create_requests()
    answer = fake_twilio.post_status_callback(create.form["StatusCallback"], sent.sid, "delivered")
    assert answer.status_code == 200
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.DELIVERED

    answer = fake_twilio.post_inbound(public_app + "/sms/inbound/", str(contact.phone), "Stop please")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert "<Message>" in answer.text
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert InboundMessage.objects.get().body == "Stop please"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_forged_request_over_http_is_refused(fake_twilio, public_app):
    import requests

    answer = requests.post(
        public_app + "/sms/inbound/",
        data={"MessageSid": "SM" + "1" * 32, "From": "+14155550182", "Body": "STOP"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        timeout=30,
    )
    assert answer.status_code == 403
    assert InboundMessage.objects.count() == 0
