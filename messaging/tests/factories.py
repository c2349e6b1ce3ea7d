"""Builders for messaging tests: texts the gate lets through."""

from contacts.models import ConsentMethod
from contacts.services import consent_opt_in
from messaging.models import MessageKind, OutboundMessage
from messaging.outbox import outbox_claim, outbox_send_claimed
from messaging.services import consent_text_queue


def confirmation(contact, program, body: str = "Welcome!") -> OutboundMessage:
    """A fresh opt-in of `contact` to `program` and its confirmation text, waiting to be sent."""
    event = consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    return OutboundMessage.objects.create(
        kind=MessageKind.CONFIRMATION, contact=contact, program=program, to=str(contact.phone), body=body,
        consent_event=event,
    )  # fmt: skip


def yes_requested(contact, program) -> OutboundMessage:
    """A pending sign-up of `contact` to `program`, and its "reply YES" text, sent through the gate."""
    event = consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"}, pending=True
    )
    request = consent_text_queue(event=event)
    [outcome] = outbox_send_claimed([outbox_claim(message_id=request.pk)])
    assert outcome.sent, outcome.message.reason
    return outcome.message
