"""The gate every outgoing text passes, and the one owner of `OutboundMessage.status`.

Campaign texts, test sends, opt-in confirmations, "reply YES" requests,
opt-out confirmations, HELP replies and staff replies are all rows of
`OutboundMessage`, and every change of their status is made here. A text
reaches the provider only through `outbox_send_claimed`, which, in one short
transaction:

1. locks the messages (still ours?) and then their contacts, through
   `contacts.services.contacts_lock`, the helper every consent change uses,
   so an opt-out either lands before the check or waits until the send is
   recorded;
2. applies the inbound spool first, so a STOP that arrived while PostgreSQL
   was unreachable is recorded before anything else goes out;
3. asks the one consent question (`contacts.selectors.send_blockers`) with
   the rule of the message's kind, plus the rules that belong to the message
   itself (the number it names is still the contact's, the reply window, the
   daily bound on "reply YES" requests, a test that went stale);
4. hands what passed to the provider, the calls overlapping, and records the
   answers before the locks are released.

Webhook replies (TwiML) pass the same rules through `outbox_reply`, inside the
webhook's transaction. Anything stuck (a lost task, a worker killed mid-send)
is recovered by `outbox_recover`, whatever its kind.
"""

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from contacts.models import ConsentMethod, Contact
from contacts.selectors import BLOCK_LABELS, SEND_RULES, send_blockers
from contacts.services import consent_opt_out, contact_get_or_create, contact_mark_undeliverable, contacts_lock
from smsconsent.db import rows_update

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
)

log = logging.getLogger(__name__)

assert set(MessageKind.values) == set(SEND_RULES), "every kind of text needs its sending rule"

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
# Statuses meaning "the provider has it, or it went back in a webhook answer": counted as sent.
HANDED_OVER_STATUSES = (*STATUS_RANK, MessageStatus.REPLIED)
# Clock difference we tolerate between us and the provider when asking what it already has.
_RECONCILE_SKEW = timedelta(minutes=2)


class TextRefused(ValidationError):
    """The gate would not let this text go out; the message says why, for staff."""


# --- Creating texts ------------------------------------------------------------------------------


def status_callback_base_url() -> str:
    """The origin Twilio posts delivery receipts to, and the one their signatures cover."""
    return (settings.STATUS_CALLBACK_BASE_URL or settings.PUBLIC_BASE_URL).rstrip("/")


def status_callback_url() -> str:
    return status_callback_base_url() + "/sms/status/"


def outbox_queue(
    *,
    kind: str,
    body: str,
    contact: Contact | None = None,
    to: str | None = None,
    program=None,
    consent_event=None,
    in_reply_to: InboundMessage | None = None,
    requested_by=None,
    deliver: bool = True,
) -> OutboundMessage:
    """Record one text and have a worker send it once the transaction commits.

    When the gate already refuses it, the row is recorded SKIPPED with the
    reason and nothing is enqueued (the record shows we decided not to text).
    A second text for the same consent event is never created: the existing
    one is returned. `deliver=False` leaves the enqueueing to the caller
    (`outbox_deliver`), who has something to finish first.
    """
    message = _message_create(
        kind=kind, body=body, contact=contact, to=to, program=program, consent_event=consent_event,
        in_reply_to=in_reply_to, requested_by=requested_by,
    )  # fmt: skip
    if deliver and message.status == MessageStatus.PENDING:
        _deliver_after_commit([message.pk])
    return message


def outbox_deliver(ids: list[int]) -> None:
    """Enqueue the sending of texts queued with `deliver=False` (recovery enqueues them anyway, later)."""
    from .tasks import message_deliver_task

    for message_id in ids:
        message_deliver_task.delay(message_id)


def outbox_reply(
    *, kind: str, body: str, in_reply_to: InboundMessage, contact: Contact | None = None, to: str | None = None,
    program=None, consent_event=None,
) -> OutboundMessage:  # fmt: skip
    """Decide now, inside the webhook's transaction, whether a reply may go back in the webhook's answer.

    The row is REPLIED (the caller puts the text in the TwiML) or SKIPPED with the reason.
    """
    return _message_create(
        kind=kind, body=body, contact=contact, to=to, program=program, consent_event=consent_event,
        in_reply_to=in_reply_to, requested_by=None, answered_now=True,
    )  # fmt: skip


def _message_create(
    *, kind, body, contact, to, program, consent_event, in_reply_to, requested_by, answered_now=False
) -> OutboundMessage:
    if kind not in MessageKind.values or kind == MessageKind.CAMPAIGN:
        raise ValueError(f"outbox_queue takes single texts, not {kind!r}")
    to = str(contact.phone) if contact is not None else to
    if not to:
        raise ValueError("a text needs a contact or a number")
    if consent_event is not None:
        earlier = OutboundMessage.objects.filter(kind=kind, consent_event=consent_event).first()
        if earlier is not None:
            return earlier
    message = OutboundMessage(
        kind=kind, to=to, body=body, contact=contact, program=program, consent_event=consent_event,
        in_reply_to=in_reply_to, requested_by=requested_by, status=MessageStatus.PENDING,
    )  # fmt: skip
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            if contact is not None:
                contacts_lock([contact.pk])
            reason = _refusals([message]).get(message.pk)
            now = timezone.now()
            if reason:
                _set(OutboundMessage.objects.filter(pk=message.pk), MessageStatus.SKIPPED, reason=reason)
            elif answered_now:
                _set(OutboundMessage.objects.filter(pk=message.pk), MessageStatus.REPLIED, sent_at=now)
    except IntegrityError:  # a concurrent request recorded the text for this event first
        return OutboundMessage.objects.get(kind=kind, consent_event=consent_event)
    message.refresh_from_db()
    return message


def outbox_campaign_insert(*, campaign, recipients: QuerySet) -> int:
    """Add one PENDING campaign text per recipient row (`recipient_id`, `recipient_phone`) in one statement.

    `ON CONFLICT DO NOTHING` on the unique (campaign, contact) makes a resumed build add no duplicates.
    """
    select_sql, params = recipients.query.sql_with_params()
    table = OutboundMessage._meta.db_table
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
    sql = (
        f'INSERT INTO {table} (kind, contact_id, program_id, campaign_id, "to", body, status, attempts, '  # noqa: S608
        "error_code, reason, created_at) "
        f"SELECT %s, a.recipient_id, %s, %s, a.recipient_phone, '', %s, 0, '', '', %s FROM ({select_sql}) a WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    head = [MessageKind.CAMPAIGN.value, campaign.program_id, campaign.pk, MessageStatus.PENDING.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*head, timezone.now(), *params])
        return cursor.rowcount


# --- Claiming --------------------------------------------------------------------------------------


def _set(queryset: QuerySet, status: str, **fields) -> int:
    """The one place a status is written (besides the SID statement and the callbacks' conditional UPDATE)."""
    return queryset.update(status=status, status_updated_at=timezone.now(), **fields)


def outbox_due(*, campaign_id: int, now) -> QuerySet:
    """A campaign's messages that may be claimed now."""
    return OutboundMessage.objects.filter(campaign_id=campaign_id, status__in=SENDABLE_STATUSES).filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now)
    )


def outbox_claim(*, message_id: int) -> OutboundMessage | None:
    """Take ownership of one due message; None when another worker has it, it is not sendable, or not yet due."""
    now = timezone.now()
    due = Q(send_after__isnull=True) | Q(send_after__lte=now)
    claimed = _set(
        OutboundMessage.objects.filter(due, pk=message_id, status__in=SENDABLE_STATUSES),
        MessageStatus.CLAIMED, claimed_at=now, attempts=F("attempts") + 1,
    )  # fmt: skip
    return OutboundMessage.objects.get(pk=message_id) if claimed else None


def outbox_claim_campaign(*, campaign_id: int, now, size: int) -> list[int]:
    """Claim up to `size` due messages of a campaign (any worker, any machine: SKIP LOCKED keeps them apart)."""
    with transaction.atomic():
        # No ORDER BY: the index on (campaign, status, send_after) hands out any due rows and
        # stops at the LIMIT, instead of sorting a million pending rows each batch.
        ids = list(
            outbox_due(campaign_id=campaign_id, now=now)
            .order_by()
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:size]
        )
        if ids:
            _set(
                OutboundMessage.objects.filter(pk__in=ids),
                MessageStatus.CLAIMED, claimed_at=timezone.now(), attempts=F("attempts") + 1,
            )  # fmt: skip
    return ids


# --- Holding back ---------------------------------------------------------------------------------


def outbox_skip_blocked(*, ids: list[int]) -> set[int]:
    """Mark SKIPPED, with the reason, the claimed messages the gate refuses now; the ids skipped."""
    messages = list(OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED))
    refusals = _refusals(messages)
    for reason in set(refusals.values()):
        skipped = [pk for pk, r in refusals.items() if r == reason]
        outbox_skip(ids=skipped, reason=reason)
    return set(refusals)


def outbox_skip(*, ids, reason: str) -> int:
    """Never send these claimed messages, on purpose, for `reason`."""
    claimed = OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED)
    return _set(claimed, MessageStatus.SKIPPED, reason=reason[:200])


def outbox_defer(*, ids, until: datetime, reason: str) -> int:
    """Give claimed messages back until `until` (quiet hours, a cap); the claim doesn't count as an attempt."""
    claimed = OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED)
    return _set(claimed, MessageStatus.DEFERRED, send_after=until, reason=reason[:200], attempts=F("attempts") - 1)


def outbox_defer_due(*, campaign_id: int, now, contacts: QuerySet, until: datetime, reason: str) -> int:
    """Defer a campaign's due messages to these contacts, so later batches don't claim them again."""
    due = outbox_due(campaign_id=campaign_id, now=now).filter(contact_id__in=contacts)
    return _set(due, MessageStatus.DEFERRED, send_after=until, reason=reason[:200])


def outbox_fail(*, ids, reason: str) -> int:
    """A claimed message that can never be sent (a body that doesn't render): failed, with the reason."""
    claimed = OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED)
    return _set(claimed, MessageStatus.FAILED, reason=reason[:200])


def outbox_release(*, ids, cancelled: bool) -> int:
    """Give back claimed-but-unsent messages (a pause: to the queue; a cancel: cancelled)."""
    claimed = OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED, sid__isnull=True)
    if cancelled:
        return _set(claimed, MessageStatus.CANCELED, reason="campaign cancelled")
    return _set(claimed, MessageStatus.PENDING, attempts=F("attempts") - 1)


def outbox_cancel_campaign(*, campaign_id: int, batch_size: int = 10_000) -> int:
    """Cancel a cancelled campaign's unsent messages, in batches so no statement holds a million rows."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                OutboundMessage.objects.filter(campaign_id=campaign_id, status__in=SENDABLE_STATUSES)
                .order_by()
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            _set(OutboundMessage.objects.filter(pk__in=ids), MessageStatus.CANCELED, reason="campaign cancelled")
        total += len(ids)
        if len(ids) < batch_size:
            return total


def outbox_store_bodies(*, bodies: list[tuple[int, str]]) -> None:
    """Store rendered texts before sending: a reconcile after a crash compares bodies with the provider's."""
    rows_update(OutboundMessage, ["body"], bodies)


# --- The gate --------------------------------------------------------------------------------------


def _refusals(messages: list[OutboundMessage]) -> dict[int, str]:
    """Why each message must not go out now (absent when it may): one query per kind present."""
    refusals: dict[int, str] = {}
    ids_by_kind: dict[str, list[int]] = {}
    for message in messages:
        ids_by_kind.setdefault(message.kind, []).append(message.pk)
    for kind, ids in ids_by_kind.items():
        blockers = {**_message_blockers(kind), **send_blockers(kind=kind)}
        labels = {label: f"b_{n}" for n, label in enumerate(blockers)}
        flags = {labels[label]: ExpressionWrapper(condition, output_field=BooleanField())
                 for label, condition in blockers.items()}  # fmt: skip
        rows = OutboundMessage.objects.filter(pk__in=ids).annotate(**flags).values("pk", *flags)
        for row in rows:
            for label, column in labels.items():
                if row[column]:
                    refusals[row["pk"]] = BLOCK_LABELS.get(label, label)
                    break
    return refusals


def _message_blockers(kind: str) -> dict[str, Q]:
    """The rules that belong to the text itself rather than to the person's consent."""
    now = timezone.now()
    rules = {}
    if kind != MessageKind.HELP_REPLY:
        rules["no contact for this text"] = Q(contact__isnull=True)
        # Consent names a number: a contact moved to another number since the text was queued must not get it.
        rules["number changed since this text was queued"] = Q(contact__isnull=False) & ~Q(to=F("contact__phone"))
    if kind in (MessageKind.CAMPAIGN, MessageKind.TEST, MessageKind.CONFIRMATION, MessageKind.OPT_IN_REQUEST):
        rules["no program for this text"] = Q(program__isnull=True)
    if kind in (MessageKind.CONFIRMATION, MessageKind.OPT_IN_REQUEST, MessageKind.STOP_CONFIRMATION):
        rules["no consent event for this text"] = Q(consent_event__isnull=True)
    if kind == MessageKind.STOP_CONFIRMATION:
        window = now - timedelta(seconds=settings.OPT_OUT_CONFIRMATION_WINDOW_SECONDS)
        # Measured from when the person texted (a STOP applied late, after an outage, keeps its own time).
        asked_at = Q(in_reply_to__isnull=False, in_reply_to__received_at__lt=window) | Q(
            in_reply_to__isnull=True, consent_event__created_at__lt=window
        )
        rules["past the opt-out confirmation window"] = asked_at
    if kind == MessageKind.HELP_REPLY:
        window = now - timedelta(seconds=settings.SMS_REPLY_WINDOW_SECONDS)
        rules["not an answer to a recent text"] = Q(in_reply_to__isnull=True) | Q(in_reply_to__received_at__lt=window)
    if kind == MessageKind.AGENT_REPLY:
        window = now - timedelta(hours=settings.AGENT_REPLY_WINDOW_HOURS)
        rules["not an answer to a recent text"] = Q(in_reply_to__isnull=True) | Q(in_reply_to__received_at__lt=window)
        rules["no staff user for this reply"] = Q(requested_by__isnull=True)
    if kind == MessageKind.TEST:
        rules["no staff user for this test"] = Q(requested_by__isnull=True)
        stale = now - timedelta(seconds=settings.TEST_SEND_MAX_DELAY_SECONDS)
        # A test is checked against the number's sending window when staff ask; one that waited longer
        # than this is dropped rather than arriving at a moment nobody checked.
        rules["test not sent in time"] = Q(created_at__lt=stale)
    if kind == MessageKind.OPT_IN_REQUEST:
        # A pending sign-up blocks another for the same program (signup); this bounds them across programs,
        # so nobody can text-bomb a number through public forms.
        handed_over_today = (
            OutboundMessage.objects.filter(
                contact_id=OuterRef("contact_id"),
                kind=MessageKind.OPT_IN_REQUEST,
                status__in=HANDED_OVER_STATUSES,
                created_at__gte=now - timedelta(hours=24),
            )
            .order_by()
            .values("contact_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        rules["too many “reply YES” requests to this number today"] = Q(
            GreaterThanOrEqual(Coalesce(Subquery(handed_over_today), 0), settings.DOUBLE_OPT_IN_REQUESTS_PER_DAY)
        )
    return rules


def outbox_lock_claimed(claims: dict[int, int]) -> list[OutboundMessage]:
    """Lock the messages still CLAIMED with the attempt they were claimed at, then their contacts, in the one order.

    `claims` maps message id to its claim's attempt number; a message claimed again since
    (a reconcile gave it to another worker) is no longer ours and is left out.
    """
    owned = [
        m
        for m in OutboundMessage.objects.filter(pk__in=claims, status=MessageStatus.CLAIMED)
        .select_for_update(of=("self",))
        .select_related("contact")
        .order_by("pk")
        if m.attempts == claims[m.pk]
    ]
    contacts_lock([m.contact_id for m in owned if m.contact_id])
    return owned


@dataclass(frozen=True)
class SendOutcome:
    message: OutboundMessage
    sent: bool
    retry_at: datetime | None = None  # when a transient error asks for another try
    held: bool = False  # held back by the caller's `hold` (a frequency cap)


def outbox_send_claimed(messages: list[OutboundMessage], *, hold=None) -> list[SendOutcome]:
    """Hand CLAIMED messages to the provider, concurrently, and record what happened to each.

    `messages` need only their id and the attempt they were claimed at; one claimed again since
    (a recovery gave it to another worker) is no longer ours and gets no outcome.

    See the module's docstring for the order of things. `hold(messages)`, when given, runs
    after the gate's checks, under the same locks, and returns the ids it held back (having
    deferred or skipped them through this module): campaigns count frequency caps there, so two
    campaigns texting one contact at once count each other's texts. A retry of a send whose
    answer was lost asks the provider first, so it never sends twice. Errors are
    acted on by class: 21610 records a carrier opt-out, undeliverable numbers
    are marked, transient errors schedule a retry with bounded backoff, others
    fail the message.
    """
    from .spool import inbound_spool_apply

    backend = get_backend()
    answers: dict[int, SendResult | SendError] = {}
    outcomes: dict[int, SendOutcome] = {}
    if not inbound_spool_apply():
        # A STOP may be waiting in the spool; until it is applied, nothing goes out. Not an attempt.
        retry_at = timezone.now() + timedelta(seconds=settings.SEND_THROTTLE_PAUSE_SECONDS)
        outbox_defer(ids=[m.pk for m in messages], until=retry_at, reason=_SPOOL_WAITING)
        return [SendOutcome(message=m, sent=False, retry_at=retry_at) for m in messages]
    with transaction.atomic():
        # Full rows, re-read under lock; a message claimed again since (no longer ours) is left out.
        messages = outbox_lock_claimed({m.pk: m.attempts for m in messages})
        refusals = _refusals(messages)
        for message in messages:
            if message.pk in refusals:
                outbox_skip(ids=[message.pk], reason=refusals[message.pk])
                message.refresh_from_db()
                outcomes[message.pk] = SendOutcome(message=message, sent=False)
        ready = [m for m in messages if m.pk not in refusals]
        held = hold(ready) if hold and ready else set()
        for message in [m for m in ready if m.pk in held]:
            outcomes[message.pk] = SendOutcome(message=message, sent=False, held=True)
        ready = [m for m in ready if m.pk not in held]
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


_SPOOL_WAITING = "waiting for texts received during an outage to be applied"


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


# The one transient answer that certainly sent nothing: a rate-limit refusal (Twilio's code, or the bare status).
_REFUSED_UNSENT_CODES = ("20429", "429")


def _answer_may_be_lost(message: OutboundMessage) -> bool:
    # Any other earlier attempt may have reached the provider: a timeout or a dropped connection tells
    # nothing, and Twilio may have created a message it answered with a 5xx. Twilio takes no idempotency
    # key, so asking it what it holds for the number is the only way not to send twice.
    return message.attempts > 1 and message.error_code not in _REFUSED_UNSENT_CODES


def _already_accepted(backend, message: OutboundMessage) -> SendResult | None:
    """The provider's record of this very message, when an earlier attempt reached it."""
    candidates = [f for f in backend.find_sent(message.to, since=message.created_at - _RECONCILE_SKEW)
                  if f.body == message.body]  # fmt: skip
    return _unclaimed(message, candidates)


def _unclaimed(message: OutboundMessage, candidates: list[SendResult]) -> SendResult | None:
    """The first provider record that no other message of ours owns (same body first)."""
    known = set(OutboundMessage.objects.filter(sid__in=[f.sid for f in candidates]).values_list("sid", flat=True))
    unknown = [f for f in candidates if f.sid not in known]
    same_body = [f for f in unknown if f.body == message.body]
    if same_body or unknown:
        found = (same_body or unknown)[0]
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


def retry_delay(attempts: int) -> timedelta:
    """Doubling backoff, capped, with jitter so a burst of 429s doesn't come back as one burst."""
    ceiling = min(settings.SMS_RETRY_MAX_SECONDS, settings.SMS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def _record_failure(message: OutboundMessage, error: SendError) -> SendOutcome:
    now = timezone.now()
    fields = {"error_code": error.code[:10], "reason": str(error)[:200]}
    retry_at = None
    claimed = OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.CLAIMED)
    with transaction.atomic():
        if error.transient and message.attempts < settings.SMS_SEND_MAX_ATTEMPTS:
            retry_at = now + retry_delay(message.attempts)
            _set(claimed, MessageStatus.RETRY, send_after=retry_at, **fields)
        else:
            _set(claimed, MessageStatus.FAILED, **fields)
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
        consent_opt_out(
            contact=contact,
            method=ConsentMethod.CARRIER,
            evidence={**evidence, "error_code": code, "message_sid": message.sid, "reason": "carrier reports opt-out"},
        )
    else:
        contact_mark_undeliverable(contact=contact, reason=f"{code}: {text}")


# --- Provider status callbacks ---------------------------------------------------------------------


def outbox_status_apply(*, sid: str, status: str, error_code: str = "") -> bool:
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
            outbox_status_apply(sid=sid, status=status, error_code=error_code)
        EarlyStatus.objects.filter(pk__in=[pk for pk, *_ in early]).delete()
    return len(early)


def early_statuses_purge(*, older_than: timedelta) -> int:
    """Forget early callbacks whose SID never showed up (another system's messages, say)."""
    deleted, _ = EarlyStatus.objects.filter(received_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- Recovery ----------------------------------------------------------------------------------------


def outbox_recover(*, limit: int = 100) -> int:
    """Settle what is stuck, whatever its kind. Returns how many messages were settled or re-enqueued.

    A message CLAIMED without a SID past `SEND_CLAIM_TIMEOUT_SECONDS` lost its
    worker mid-send: the provider is asked what it accepted for that number since
    the claim, and its SID adopted (sent, exactly once) or the message queued
    again. A live worker holds its message's row lock while sending, and this
    skips locked rows, so it never second-guesses a send in flight. A single
    text (not a campaign's) still waiting past `SEND_TASK_LOST_SECONDS` lost its
    task: a new one is enqueued (claiming first makes a duplicate harmless).
    """
    return _stale_claims_settle(limit=limit) + _lost_tasks_requeue(limit=limit)


def _stale_claims_settle(*, limit: int) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.SEND_CLAIM_TIMEOUT_SECONDS)
    settled, requeue = 0, []
    with transaction.atomic():
        stale = list(
            OutboundMessage.objects.filter(status=MessageStatus.CLAIMED, sid__isnull=True, claimed_at__lt=cutoff)
            .order_by()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("campaign")[:limit]
        )
        for message in stale:
            outcome = _stale_claim_settle(message)
            settled += outcome != "ask again"
            if outcome == "queued" and message.campaign_id is None:
                requeue.append(message.pk)
    _deliver_after_commit(requeue)
    return settled


def _stale_claim_settle(message: OutboundMessage) -> str:
    now = timezone.now()
    one = OutboundMessage.objects.filter(pk=message.pk)
    try:
        found = _provider_lookup(message)
    except SendError as error:
        # The provider can't be asked right now; sending again could text someone twice, so wait for the next tick.
        log.warning("message %s: claim expired, provider lookup failed (%s); will ask again", message.pk, error)
        return "ask again"
    except LookupError as error:
        log.warning("message %s: claim expired and the provider can't be asked (%s)", message.pk, error)
        _set(one, MessageStatus.FAILED, reason="send interrupted; the provider could not confirm it")
        return "failed"
    if found is not None:
        status = found.status if found.status in STATUS_RANK else MessageStatus.QUEUED
        _set(one, status, sid=found.sid, sent_at=now, reason="sent; confirmed after a restart")
        log.info("message %s: adopted %s from the provider after an interrupted send", message.pk, found.sid)
        return "adopted"
    campaign = message.campaign
    if campaign is not None and campaign.status == "cancelled":
        _set(one, MessageStatus.CANCELED, reason="campaign cancelled")
        return "cancelled"
    _set(one, MessageStatus.PENDING, send_after=None)
    log.info("message %s: interrupted before the provider had it; queued again", message.pk)
    return "queued"


def _provider_lookup(message: OutboundMessage) -> SendResult | None:
    """What the provider accepted for this message since its claim, or None. LookupError when it can't be asked."""
    backend = get_backend()
    find_sent = getattr(backend, "find_sent", None)
    if find_sent is None:
        raise LookupError(f"{type(backend).__name__} can't say what it sent")
    found = find_sent(to=message.to, since=message.claimed_at - timedelta(seconds=5))
    if not found:
        return None
    # Texts to this number since the claim that no message of ours owns (another campaign's are not ours).
    return _unclaimed(message, list(found))


def _lost_tasks_requeue(*, limit: int) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.SEND_TASK_LOST_SECONDS)
    due = Q(send_after__isnull=True) | Q(send_after__lte=timezone.now())
    waiting = list(
        OutboundMessage.objects.filter(due, campaign__isnull=True, status__in=SENDABLE_STATUSES, created_at__lt=cutoff)
        .filter(Q(status_updated_at__isnull=True) | Q(status_updated_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    _deliver_after_commit(waiting)
    return len(waiting)


def _deliver_after_commit(ids: list[int]) -> None:
    from .tasks import message_deliver_task

    for message_id in ids:
        transaction.on_commit(lambda message_id=message_id: message_deliver_task.delay(message_id))
