"""Only the person can give consent back, and only for what they revoked or were asked about.

A YES confirms only the "reply YES" request it answers; START restores only
what the latest opt-out removed; one STOP confirmation per opt-out; a HELP reply
answers the person's own text, even after a STOP.
"""

import pytest
from django.conf import settings

from contacts.models import ConsentKind, ConsentMethod, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in, consent_opt_out
from contacts.tests.factories import make_contact, make_program
from messaging.models import InboundMessage, MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import outbox_queue
from messaging.tests.factories import yes_requested

pytestmark = pytest.mark.django_db

PHONE = "+14155550142"


@pytest.fixture
def text(fake_twilio, client):
    def send(body, from_=PHONE):
        return fake_twilio.post_inbound(settings.PUBLIC_BASE_URL + "/sms/inbound/", from_, body, client=client)

    return send


def status(contact, program):
    return subscription_status(contact=contact, program=program)


def test_a_yes_confirms_only_the_request_it_answers_not_sign_ups_a_stranger_opened(text):
    contact = make_contact(PHONE)
    asked, strangers = make_program(double_opt_in=True), make_program(double_opt_in=True)
    # A stranger typed this number into another program's form; no request reached the phone for it.
    consent_opt_in(
        contact=contact, program=strangers, method=ConsentMethod.WEB_FORM, evidence={"ip": "203.0.113.9"}, pending=True
    )
    yes_requested(contact, asked)

    text("YES")

    assert status(contact, asked) == SubscriptionStatus.ACTIVE
    assert status(contact, strangers) == SubscriptionStatus.PENDING


def test_with_two_requests_a_yes_confirms_the_latest_one_only(text):
    contact = make_contact(PHONE)
    first, second = make_program(double_opt_in=True), make_program(double_opt_in=True)
    yes_requested(contact, first)
    yes_requested(contact, second)
    text("yes")
    assert (status(contact, first), status(contact, second)) == (SubscriptionStatus.PENDING, SubscriptionStatus.ACTIVE)


def test_a_first_yes_is_logged_as_a_confirmation_not_as_subscribed_again(text):
    contact, program = make_contact(PHONE), make_program(double_opt_in=True)
    yes_requested(contact, program)
    text("YES")
    assert InboundMessage.objects.get().effect == f"confirmed {program.slug} (double opt-in)"


def test_start_restores_only_what_the_latest_opt_out_removed(text, settings):
    settings.CONSENT_OPT_OUT_SCOPE = "program"
    contact = make_contact(PHONE)
    news, deals = make_program(), make_program()
    for program in (news, deals):
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    consent_opt_out(contact=contact, program=news, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    consent_opt_out(contact=contact, program=deals, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})

    text("START")

    assert status(contact, deals) == SubscriptionStatus.ACTIVE
    assert status(contact, news) == SubscriptionStatus.OPTED_OUT  # stopped earlier, separately: stays stopped


def test_start_after_a_revoke_all_restores_every_program_it_removed_and_nothing_stopped_before(text):
    contact = make_contact(PHONE)
    old, a, b = make_program(), make_program(), make_program()
    consent_opt_in(contact=contact, program=old, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    for program in (a, b):
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})

    text("START")

    assert [status(contact, p) for p in (old, a, b)] == [
        SubscriptionStatus.OPTED_OUT, SubscriptionStatus.ACTIVE, SubscriptionStatus.ACTIVE
    ]  # fmt: skip
    restored = contact.consent_events.filter(kind=ConsentKind.OPT_IN).order_by("-id")[:2]
    assert all(e.evidence["body"] == "START" and "restores_after_event" in e.evidence for e in restored)


def test_each_opt_out_is_confirmed_once_however_often_the_confirmation_is_asked_for(text):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    text("STOP")
    confirmation = OutboundMessage.objects.get(kind=MessageKind.STOP_CONFIRMATION)
    assert confirmation.status == MessageStatus.REPLIED
    again = outbox_queue(
        kind=MessageKind.STOP_CONFIRMATION, body="again", contact=contact, consent_event=confirmation.consent_event
    )
    assert again == confirmation
    assert OutboundMessage.objects.filter(kind=MessageKind.STOP_CONFIRMATION).count() == 1


def test_after_a_stop_a_help_reply_still_answers_but_nothing_else_does(text):
    contact, program = make_contact(PHONE), make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    text("STOP")
    help_answer = text("HELP")
    assert b"<Message>" in help_answer.content
    inbound = InboundMessage.objects.order_by("-id").first()
    staff_reply = outbox_queue(kind=MessageKind.AGENT_REPLY, body="Hi! Any questions?", contact=contact,
                               in_reply_to=inbound)  # fmt: skip
    assert staff_reply.status == MessageStatus.SKIPPED


def test_a_help_reply_answers_only_a_recent_text(settings):
    contact = make_contact(PHONE)
    old_text = InboundMessage.objects.create(
        sid="SM" + "1" * 32, from_number=PHONE, contact=contact, classification="help", params={},
        received_at="2020-01-01T00:00:00Z",
    )  # fmt: skip
    reply = outbox_queue(kind=MessageKind.HELP_REPLY, body="Help at …", contact=contact, in_reply_to=old_text)
    assert (reply.status, reply.reason) == (MessageStatus.SKIPPED, "not an answer to a recent text")
