"""Writes for messaging that are not the gate itself: the text a consent event asks for, staff replies, reviews.

Every text is recorded and sent through `messaging.outbox`, the one owner of message status.
"""

import logging

from django.db import transaction
from django.utils import timezone

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod
from contacts.services import consent_opt_out, contact_get_or_create, contacts_lock

from .models import InboundMessage, MessageKind, MessageStatus, OutboundMessage, ReviewDecision
from .outbox import TextRefused, outbox_queue
from .texts import text_double_opt_in_request, text_opt_in_confirmation

log = logging.getLogger(__name__)


def consent_text_queue(*, event: ConsentEvent) -> OutboundMessage | None:
    """Queue the one text a new consent event asks for: the opt-in confirmation, or the "reply YES" request.

    Call it in the caller's language (`translation.override`); other kinds of event ask for no text.
    """
    if event.kind == ConsentKind.OPT_IN:
        kind, body = MessageKind.CONFIRMATION, text_opt_in_confirmation(event.program)
    elif event.kind == ConsentKind.PENDING:
        kind, body = MessageKind.OPT_IN_REQUEST, text_double_opt_in_request(event.program)
    else:
        return None
    return outbox_queue(kind=kind, body=body, contact=event.contact, program=event.program, consent_event=event)


def inbound_reply_by_staff(*, message_id: int, body: str, actor) -> OutboundMessage:
    """A support agent answers a text the person sent. TextRefused when the gate won't let it go (opted out…)."""
    body = body.strip()
    if not body:
        raise TextRefused("Write the reply first.")
    with transaction.atomic():
        inbound = InboundMessage.objects.select_related("contact").get(pk=message_id)
        contact = inbound.contact
        if contact is None:
            contact, _ = contact_get_or_create(phone=inbound.from_number)
        reply = outbox_queue(
            kind=MessageKind.AGENT_REPLY, body=body, contact=contact, in_reply_to=inbound, requested_by=actor
        )
        if reply.status == MessageStatus.SKIPPED:
            raise TextRefused(f"Not sent: {reply.reason}.")
    log.info("reply to inbound %s queued as message %s by %s", message_id, reply.pk, actor)
    return reply


def inbound_review_opt_out(*, message_id: int, actor, note: str = "") -> bool:
    """A support agent reads a queued reply as an opt-out. False when it was already decided."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message_id)
        if message.review_decision != ReviewDecision.PENDING:
            return False
        contact = message.contact
        if contact is None:
            contact, _ = contact_get_or_create(phone=message.from_number)
        contacts_lock([contact.pk])
        consent_opt_out(
            contact=contact,
            method=ConsentMethod.ADMIN,
            actor=actor,
            evidence={
                "reason": note.strip() or "A support agent read this reply as an opt-out.",
                "message_sid": message.sid,
                "body": message.body,
            },
        )
        _record_decision(message, ReviewDecision.OPTED_OUT, actor, note, contact=contact, effect="opted out by staff")
    return True


def inbound_review_dismiss(*, message_id: int, actor, note: str = "") -> bool:
    """A support agent reads a queued reply as not an opt-out. False when it was already decided."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message_id)
        if message.review_decision != ReviewDecision.PENDING:
            return False
        _record_decision(message, ReviewDecision.DISMISSED, actor, note, contact=message.contact, effect="dismissed")
    return True


def _record_decision(message, decision, actor, note, *, contact, effect) -> None:
    message.review_decision = decision
    message.reviewed_by = actor
    message.reviewed_at = timezone.now()
    message.review_note = note.strip()[:200]
    message.contact = contact
    message.effect = effect
    message.save(update_fields=["review_decision", "reviewed_by", "reviewed_at", "review_note", "contact", "effect"])


