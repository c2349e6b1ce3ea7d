"""Writes for outbound messages: queue one, send one a worker has claimed, apply status callbacks.

Every text leaves through `message_send_claimed`, so consent is re-checked at
the moment of sending, the provider's answer is recorded, and its errors are
acted on in one place for campaigns and confirmations alike.
"""

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from contacts.models import ConsentMethod, Contact, Subscription, SubscriptionStatus, SuppressedNumber
from contacts.phones import phone_digest
from contacts.selectors import consent_sendable_q
from contacts.services import consent_opt_out, contact_get_or_create, contact_mark_undeliverable

from .backends import OutgoingSMS, SendError, SendResult, get_backend
from .backends.base import ErrorClass
from .backends.twilio import twilio_error_class
from .models import (
    SENDABLE_STATUSES,
    EarlyStatus,
    InboundMessage,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    ReviewDecision,
)

log = logging.getLogger(__name__)

# Kept for callers that read it; the bound itself is the SMS_SEND_MAX_ATTEMPTS setting.
MAX_ATTEMPTS = settings.SMS_SEND_MAX_ATTEMPTS

# How far along the provider's lifecycle a status is. A callback may only move a message to a
# higher rank; callbacks arrive out of order and more than once.
STATUS_RANK = {
    MessageStatus.QUEUED: 1,
    MessageStatus.ACCEPTED: 1,
    MessageStatus.SCHEDULED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.PARTIALLY_DELIVERED: 4,
    MessageStatus.CANCELED: 4,
    MessageStatus.READ: 5,
}
# Final: nothing the provider says later changes them (delivered may still become read).
TERMINAL_STATUSES = (MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.CANCELED, MessageStatus.READ)
# Clock difference we tolerate between us and the provider when asking what it already has.
_RECONCILE_SKEW = timedelta(minutes=2)


def status_callback_base_url() -> str:
    """The origin Twilio posts delivery receipts to, and the one their signatures cover."""
    return (settings.STATUS_CALLBACK_BASE_URL or settings.PUBLIC_BASE_URL).rstrip("/")


def status_callback_url() -> str:
    return status_callback_base_url() + "/sms/status/"


def message_queue(*, kind: str, to: str, body: str, contact=None, program=None) -> OutboundMessage:
    """Create a non-campaign message and have a worker send it once the transaction commits."""
    from .tasks import message_deliver_task

    message = OutboundMessage.objects.create(kind=kind, to=to, body=body, contact=contact, program=program)
    transaction.on_commit(lambda: message_deliver_task.delay(message.pk))
    return message


def message_claim(*, message_id: int) -> OutboundMessage | None:
    """Take ownership of one due message; None when another worker has it, it is not sendable, or not yet due."""
    now = timezone.now()
    due = Q(send_after__isnull=True) | Q(send_after__lte=now)
    claimed = OutboundMessage.objects.filter(due, pk=message_id, status__in=SENDABLE_STATUSES).update(
        status=MessageStatus.CLAIMED, claimed_at=now, attempts=F("attempts") + 1
    )
    return OutboundMessage.objects.get(pk=message_id) if claimed else None


def message_release_stale(*, older_than: timedelta) -> int:
    """Put back messages whose worker died mid-send (CLAIMED for too long), to be claimed again.

    Their next attempt asks the provider first (`find_sent`), so a message the
    provider did accept is recorded, not sent a second time.
    """
    cutoff = timezone.now() - older_than
    return OutboundMessage.objects.filter(status=MessageStatus.CLAIMED, claimed_at__lt=cutoff).update(
        status=MessageStatus.RETRY, send_after=timezone.now(), error_code="", reason="worker lost during send"
    )


@dataclass(frozen=True)
class SendOutcome:
    message: OutboundMessage
    sent: bool
    retry_at: datetime | None = None  # when a transient error asks for another try


def message_send_claimed(message: OutboundMessage) -> SendOutcome:
    """Hand one CLAIMED message to the provider and record what happened (see `messages_send_claimed`)."""
    return messages_send_claimed([message])[0]


def messages_send_claimed(messages: list[OutboundMessage]) -> list[SendOutcome]:
    """Hand CLAIMED messages to the provider, concurrently, and record what happened to each.

    Consent is re-checked while the contacts' rows are locked, and they stay
    locked until the provider has answered; every consent change takes the same
    lock first, so it either lands before this check or after these sends are
    recorded. A retry of a send whose answer was lost asks the provider first,
    so it never sends twice. Errors are acted on by class: 21610 records a
    carrier opt-out, undeliverable numbers are marked, transient errors
    schedule a retry with bounded backoff, others fail the message.
    """
    backend = get_backend()
    answers: dict[int, SendResult | SendError] = {}
    outcomes: dict[int, SendOutcome] = {}
    with transaction.atomic():
        contact_ids = sorted({m.contact_id for m in messages if m.contact_id})
        if contact_ids:  # in id order, so two senders sharing contacts can't deadlock
            list(
                Contact.objects.select_for_update(no_key=True)
                .filter(pk__in=contact_ids)
                .order_by("pk")
                .values_list("pk")
            )
        refusals = _send_refusals(messages)
        for message in messages:
            if message.pk in refusals:
                outcomes[message.pk] = _record_skip(message, refusals[message.pk])
        ready = [m for m in messages if m.pk not in refusals]
        # A retry whose earlier answer may be lost is settled with the provider first, one by one (rare).
        for message in [m for m in ready if _answer_may_be_lost(m)]:
            try:
                found = _already_accepted(backend, message)
            except SendError as error:
                answers[message.pk] = error
                continue
            if found is not None:
                answers[message.pk] = found
        answers.update(_provider_send([m for m in ready if m.pk not in answers], backend))
        _records_sent([(m, answers[m.pk]) for m in ready if isinstance(answers[m.pk], SendResult)])
        for message in ready:
            if isinstance(answers[message.pk], SendError):
                outcomes[message.pk] = _record_failure(message, answers[message.pk])
    sent = OutboundMessage.objects.in_bulk([pk for pk in answers if pk not in outcomes])
    outcomes.update({pk: SendOutcome(message=message, sent=True) for pk, message in sent.items()})
    return [outcomes[m.pk] for m in messages]


def _provider_send(messages: list[OutboundMessage], backend) -> dict[int, SendResult | SendError]:
    """The provider's answer for each message; the HTTP calls overlap, the database is not touched."""

    def send(message: OutboundMessage) -> SendResult | SendError:
        try:
            return backend.send(OutgoingSMS(to=message.to, body=message.body, status_callback=status_callback_url()))
        except SendError as error:
            return error

    if len(messages) <= 1:
        return {m.pk: send(m) for m in messages}
    return dict(zip([m.pk for m in messages], _send_pool().map(send, messages), strict=True))


@cache
def _send_pool() -> ThreadPoolExecutor:
    # One per process, made on first use: a pool made before Celery's prefork would not survive the fork.
    return ThreadPoolExecutor(max_workers=settings.SMS_SEND_CONCURRENCY, thread_name_prefix="sms-send")


def _send_refusals(messages: list[OutboundMessage]) -> dict[int, str]:
    """Why each message must not go out now (absent when it may), checked set-based."""
    refusals = {}
    campaign = [m for m in messages if m.kind == MessageKind.CAMPAIGN]
    for message in campaign:
        if not (message.contact_id and message.program_id):
            refusals[message.pk] = "campaign message without a contact and program"
    for program_id in {m.program_id for m in campaign if m.pk not in refusals}:
        of_program = [m for m in campaign if m.program_id == program_id and m.pk not in refusals]
        may = set(
            Contact.objects.filter(pk__in=[m.contact_id for m in of_program])
            .filter(consent_sendable_q(program=program_id))
            .values_list("pk", flat=True)
        )
        for message in of_program:
            if message.contact_id not in may:
                refusals[message.pk] = "no consent at the moment of sending"
    others = [m for m in messages if m.kind != MessageKind.CAMPAIGN]
    if not others:
        return refusals
    digests = {m.pk: phone_digest(m.to) for m in others}
    suppressed = set(SuppressedNumber.objects.filter(digest__in=digests.values()).values_list("digest", flat=True))
    confirmations = [m for m in others if m.kind == MessageKind.CONFIRMATION and m.contact_id and m.program_id]
    # Confirmations and "reply YES" requests follow a sign-up; an opt-out since then cancels them.
    live = set(
        Subscription.objects.filter(
            contact_id__in=[m.contact_id for m in confirmations],
            status__in=(SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING),
        ).values_list("contact_id", "program_id")
    )
    for message in others:
        if digests[message.pk] in suppressed:
            refusals[message.pk] = "number suppressed"
        elif message in confirmations and (message.contact_id, message.program_id) not in live:
            refusals[message.pk] = "opted out before the confirmation went out"
    return refusals


def _answer_may_be_lost(message: OutboundMessage) -> bool:
    # A numeric code is a provider's clean refusal: that attempt certainly sent nothing.
    return message.attempts > 1 and not message.error_code.isdigit()


def _already_accepted(backend, message: OutboundMessage) -> SendResult | None:
    """The provider's record of this very message, when an earlier attempt reached it."""
    candidates = [f for f in backend.find_sent(message.to, since=message.created_at - _RECONCILE_SKEW)
                  if f.body == message.body]  # fmt: skip
    # A text with the same body that another of our messages owns is not this one.
    known = set(OutboundMessage.objects.filter(sid__in=[f.sid for f in candidates]).values_list("sid", flat=True))
    for found in candidates:
        if found.sid not in known:
            log.info("message %s was already accepted as %s; not sending again", message.pk, found.sid)
            return found
    return None


def _records_sent(sent: list[tuple[OutboundMessage, SendResult]]) -> None:
    """Store the provider's SID and first status of each sent message, in one statement on PostgreSQL."""
    if not sent:
        return
    now = timezone.now()
    rows = [(m.pk, r.sid, r.status if r.status in STATUS_RANK else MessageStatus.QUEUED, r.segments) for m, r in sent]
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s, %s, %s, %s::smallint)"] * len(rows))
        with connection.cursor() as cursor:
            # The SID is stored whatever happened meanwhile (e.g. a cancel): the text did go out.
            cursor.execute(
                f"UPDATE {OutboundMessage._meta.db_table} AS m SET "  # noqa: S608 — only placeholders are interpolated
                "status = CASE WHEN m.status = %s THEN v.status ELSE m.status END, "
                "sid = v.sid, segments = v.segments, sent_at = %s, status_updated_at = %s, "
                "error_code = '', reason = '' "
                f"FROM (VALUES {values}) AS v(id, sid, status, segments) WHERE m.id = v.id",
                [MessageStatus.CLAIMED.value, now, now, *[field for row in rows for field in row]],
            )
    else:
        for pk, sid, status, segments in rows:
            OutboundMessage.objects.filter(pk=pk).update(
                status=Case(When(status=MessageStatus.CLAIMED, then=Value(status)), default=F("status")),
                sid=sid, segments=segments, sent_at=now, status_updated_at=now, error_code="", reason="",
            )  # fmt: skip
    sids = [sid for _, sid, _, _ in rows]
    transaction.on_commit(lambda: early_statuses_settle(sids=sids))


def early_statuses_settle(*, sids: list[str]) -> int:
    """Apply, in rank order, the parked callbacks of these SIDs that are now stored. Returns how many.

    Both sides call it after their own commit: the worker once its SIDs are stored, the
    webhook once it has parked a callback. Whichever commits last sees the other's row,
    so no receipt is left parked; applying one twice changes nothing.
    """
    with transaction.atomic():
        early = list(
            EarlyStatus.objects.select_for_update(skip_locked=True)
            .filter(sid__in=OutboundMessage.objects.filter(sid__in=sids).values("sid"))
            .values_list("pk", "sid", "status", "error_code")
        )
        for _, sid, status, error_code in sorted(early, key=lambda row: STATUS_RANK.get(row[2], 0)):
            message_status_apply(sid=sid, status=status, error_code=error_code)
        EarlyStatus.objects.filter(pk__in=[pk for pk, *_ in early]).delete()
    return len(early)


def early_statuses_purge(*, older_than: timedelta) -> int:
    """Forget early callbacks whose SID never showed up (another system's messages, say)."""
    deleted, _ = EarlyStatus.objects.filter(received_at__lt=timezone.now() - older_than).delete()
    return deleted


def _record_skip(message: OutboundMessage, reason: str) -> SendOutcome:
    OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.CLAIMED).update(
        status=MessageStatus.SKIPPED, reason=reason, status_updated_at=timezone.now()
    )
    message.refresh_from_db()
    return SendOutcome(message=message, sent=False)


def retry_delay(attempts: int) -> timedelta:
    """Doubling backoff, capped, with jitter so a burst of 429s doesn't come back as one burst."""
    ceiling = min(settings.SMS_RETRY_MAX_SECONDS, settings.SMS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def _record_failure(message: OutboundMessage, error: SendError) -> SendOutcome:
    now = timezone.now()
    fields = {"error_code": error.code[:10], "reason": str(error)[:200], "status_updated_at": now}
    retry_at = None
    if error.transient and message.attempts < settings.SMS_SEND_MAX_ATTEMPTS:
        retry_at = now + retry_delay(message.attempts)
        fields.update(status=MessageStatus.RETRY, send_after=retry_at)
    else:
        fields.update(status=MessageStatus.FAILED)
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.CLAIMED).update(**fields)
        _act_on_error_class(
            message, error.error_class, error.code, str(error), evidence={"message_id": message.pk, "source": "send"}
        )
    log.info("send of message %s failed (%s %s): %s", message.pk, error.error_class, error.code, error)
    message.refresh_from_db()
    return SendOutcome(message=message, sent=False, retry_at=retry_at)


def _act_on_error_class(message: OutboundMessage, error_class: ErrorClass, code: str, text: str, evidence: dict):
    """A carrier opt-out revokes consent for every program; an undeliverable number is marked."""
    if error_class not in (ErrorClass.OPTED_OUT, ErrorClass.UNDELIVERABLE):
        return
    contact = message.contact
    if contact is None:
        contact, _ = contact_get_or_create(phone=message.to)
    if error_class is ErrorClass.OPTED_OUT:
        Contact.objects.select_for_update().filter(pk=contact.pk).exists()
        consent_opt_out(
            contact=contact,
            method=ConsentMethod.CARRIER,
            evidence={**evidence, "error_code": code, "message_sid": message.sid, "reason": "carrier reports opt-out"},
        )
    else:
        contact_mark_undeliverable(contact=contact, reason=f"{code}: {text}")


def message_status_apply(*, sid: str, status: str, error_code: str = "") -> bool:
    """Apply one provider status callback. False when it is unknown, stale or a repeat.

    A conditional UPDATE decides, so two callbacks racing can't move a
    message backwards: only a higher rank, and never out of a final state.
    """
    status = (status or "").strip().lower()
    rank = STATUS_RANK.get(status)
    if rank is None or not sid:
        return False
    behind = [s for s, r in STATUS_RANK.items() if r < rank]
    advanceable = OutboundMessage.objects.filter(sid=sid, status__in=[*behind, MessageStatus.CLAIMED]).exclude(
        status__in=TERMINAL_STATUSES
    )
    values = {"status": status, "error_code": error_code[:10] or F("error_code")}
    with transaction.atomic():
        changed = advanceable.update(**values, status_updated_at=timezone.now())
        stored = changed or OutboundMessage.objects.filter(sid=sid).exists()
        if not changed and stored:
            # The worker may have committed the SID after that UPDATE took its snapshot and before this
            # query took its own: a second UPDATE sees it (a stale or repeated status still changes nothing).
            changed = advanceable.update(**values, status_updated_at=timezone.now())
        if changed and error_code:
            message = OutboundMessage.objects.select_related("contact").get(sid=sid)
            _act_on_error_class(
                message,
                twilio_error_class(error_code),
                error_code,
                f"status {status}",
                evidence={"message_id": message.pk, "source": "status callback", "status": status},
            )
        elif not stored:
            # Not stored yet (the worker is about to commit it) or not ours: park it, and look again
            # once parked, in case the worker committed in between.
            EarlyStatus.objects.create(sid=sid[:40], status=status, error_code=error_code[:10])
            transaction.on_commit(lambda: early_statuses_settle(sids=[sid[:40]]))
    return bool(changed)


def inbound_review_opt_out(*, message_id: int, actor, note: str = "") -> bool:
    """A support agent reads a queued reply as an opt-out. False when it was already decided."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message_id)
        if message.review_decision != ReviewDecision.PENDING:
            return False
        contact = message.contact
        if contact is None:
            contact, _ = contact_get_or_create(phone=message.from_number)
        Contact.objects.select_for_update().filter(pk=contact.pk).exists()
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


__all__ = [
    "MessageKind",
    "inbound_review_dismiss",
    "inbound_review_opt_out",
    "message_claim",
    "message_queue",
    "message_release_stale",
    "message_send_claimed",
    "message_status_apply",
    "messages_send_claimed",
]
