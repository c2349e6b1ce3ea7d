"""Writes for outbound messages: queue one, and send one that a worker has claimed.

Every text leaves through `message_send_claimed`, so the provider's answer is
recorded, and its errors acted on, in one place for campaigns and
confirmations alike.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import ConsentMethod
from contacts.services import consent_opt_out, contact_mark_undeliverable

from .backends import OutgoingSMS, SendError, get_backend
from .backends.base import ErrorClass
from .models import SENDABLE_STATUSES, MessageKind, MessageStatus, OutboundMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def status_callback_url() -> str:
    return settings.PUBLIC_BASE_URL + "/sms/status/"


def message_queue(*, kind: str, to: str, body: str, contact=None, program=None) -> OutboundMessage:
    """Create a non-campaign message and have a worker send it once the transaction commits."""
    from .tasks import message_deliver_task

    message = OutboundMessage.objects.create(kind=kind, to=to, body=body, contact=contact, program=program)
    transaction.on_commit(lambda: message_deliver_task.delay(message.pk))
    return message


def message_claim(*, message_id: int) -> OutboundMessage | None:
    """Take ownership of one due message; None when another worker has it or it is not sendable."""
    now = timezone.now()
    claimed = OutboundMessage.objects.filter(pk=message_id, status__in=SENDABLE_STATUSES).update(
        status=MessageStatus.CLAIMED, claimed_at=now, attempts=F("attempts") + 1
    )
    return OutboundMessage.objects.get(pk=message_id) if claimed else None


@dataclass(frozen=True)
class SendOutcome:
    message: OutboundMessage
    sent: bool
    retry_at: object = None  # a datetime when a transient error asks for another try


def message_send_claimed(message: OutboundMessage) -> SendOutcome:
    """Hand a CLAIMED message to the provider and record what happened.

    The SID is stored the moment the create call returns. Errors are acted on
    by class: 21610 records a carrier opt-out, undeliverable numbers are marked,
    transient errors schedule a retry with backoff (bounded), others fail.
    """
    sms = OutgoingSMS(to=message.to, body=message.body, status_callback=status_callback_url())
    try:
        result = get_backend().send(sms)
    except SendError as error:
        return _record_failure(message, error)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.CLAIMED).update(
        status=result.status if result.status in MessageStatus.values else MessageStatus.QUEUED,
        sid=result.sid,
        segments=result.segments,
        sent_at=now,
        status_updated_at=now,
    )
    message.refresh_from_db()
    return SendOutcome(message=message, sent=True)


def _record_failure(message: OutboundMessage, error: SendError) -> SendOutcome:
    now = timezone.now()
    fields = {"error_code": error.code[:10], "reason": str(error)[:200], "status_updated_at": now}
    retry_at = None
    if error.transient and message.attempts < MAX_ATTEMPTS:
        retry_at = now + timedelta(seconds=min(300, 2**message.attempts * 5))
        fields.update(status=MessageStatus.RETRY, send_after=retry_at)
    else:
        fields.update(status=MessageStatus.FAILED)
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk).update(**fields)
        if message.contact_id and error.error_class is ErrorClass.OPTED_OUT:
            consent_opt_out(
                contact=message.contact,
                method=ConsentMethod.CARRIER,
                evidence={"error_code": error.code, "message_id": message.pk, "reason": "carrier reports opt-out"},
            )
        elif message.contact_id and error.error_class is ErrorClass.UNDELIVERABLE:
            contact_mark_undeliverable(contact=message.contact, reason=f"{error.code}: {error}")
    log.info("send of message %s failed (%s %s): %s", message.pk, error.error_class, error.code, error)
    message.refresh_from_db()
    return SendOutcome(message=message, sent=False, retry_at=retry_at)


__all__ = ["MessageKind", "message_claim", "message_queue", "message_send_claimed"]
