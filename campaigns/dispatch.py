"""Sending a campaign: claim a batch, re-check consent, apply quiet hours and caps, send each message once.

Any number of send chains (Celery tasks that re-enqueue themselves) on any
number of machines share a campaign: each batch is claimed with
`SELECT … FOR UPDATE SKIP LOCKED`, so no two chains hold the same message.

The strict guarantee, for each small group of messages (`SMS_SEND_CONCURRENCY`)
in one short transaction: lock the messages (still ours?), lock their contacts
in id order, re-check consent, suppression and undeliverability, then hand
them to the provider at once through `messages_send_claimed`, which stores
each SID. Every consent change locks the contact row first, so an opt-out
waits for a send in flight, and every send that starts after the opt-out
commits sees it: nothing reaches the provider after an opt-out is recorded.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.models import Contact
from messaging.models import SENDABLE_STATUSES, MessageStatus, OutboundMessage
from messaging.outbox import (
    outbox_cancel_campaign,
    outbox_claim_campaign,
    outbox_defer,
    outbox_defer_due,
    outbox_due,
    outbox_fail,
    outbox_release,
    outbox_send_claimed,
    outbox_skip,
    outbox_skip_blocked,
    outbox_store_bodies,
)

from . import coordination, frequency, quiet_hours, throttle
from .clock import sending_now
from .models import Campaign, CampaignStatus
from .rendering import body_compile, message_compose

log = logging.getLogger(__name__)

# How often a chain looks at the campaign's status while sending a batch: pause and cancel act within this.
STATUS_CHECK_SECONDS = 1.0
# Statuses meaning "not finished": the campaign completes when none are left.
UNFINISHED_STATUSES = (*SENDABLE_STATUSES, MessageStatus.CLAIMED)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    stopped: bool = False  # the campaign was paused or cancelled mid-batch


def campaign_has_due_work(campaign_id: int) -> bool:
    return outbox_due(campaign_id=campaign_id, now=sending_now()).exists()


def _claim_size() -> int:
    # Never claim more than ~10 s of sending: claimed messages wait on the rate limiter,
    # and a stale-claim reconcile must never overtake a live worker's queue.
    size = settings.SEND_BATCH_SIZE
    if settings.SEND_RATE_PER_SECOND > 0:
        size = min(size, max(1, int(settings.SEND_RATE_PER_SECOND * 10)))
    return max(1, size)


def messages_claim(*, campaign: Campaign, size: int) -> list[int]:
    """Claim up to `size` due messages of the campaign, and skip (with the reason) those the gate refuses now."""
    ids = outbox_claim_campaign(campaign_id=campaign.pk, now=sending_now(), size=size)
    skipped = outbox_skip_blocked(ids=ids) if ids else set()
    return [pk for pk in ids if pk not in skipped]


def _claimed_rows(ids: list[int]) -> list[dict]:
    return list(
        OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.CLAIMED).values(
            "pk",
            "attempts",
            "contact_id",
            "contact__time_zones",
            "contact__region",
            "contact__first_name",
            "contact__last_name",
            "contact__email",
            "contact__attributes",
        )
    )


def _defer_quiet_groups(campaign: Campaign, rows: list[dict], now, rules) -> set[int]:
    """Defer every due message of the campaign in a (time zones, state) group that is outside its window.

    Decided once per group present in the batch, and applied to the whole
    campaign with one UPDATE per group, so later batches don't claim them again.
    """
    deferred = set()
    groups = {(r["contact__time_zones"], r["contact__region"]) for r in rows}
    for zones, region in groups:
        opens = quiet_hours.next_allowed(time_zones=zones, region=region, at=now, rules=rules)
        if opens == now:
            continue
        reason = "quiet hours" if opens else "quiet hours: no common sending window this week"
        opens = opens or now + timedelta(days=1)
        in_group = Contact.objects.filter(time_zones=zones, region=region).values("pk")
        batch_ids = [r["pk"] for r in rows if (r["contact__time_zones"], r["contact__region"]) == (zones, region)]
        outbox_defer(ids=batch_ids, until=opens, reason=reason)
        outbox_defer_due(campaign_id=campaign.pk, now=now, contacts=in_group, until=opens, reason=reason)
        deferred.update(batch_ids)
    return deferred


def _outside_window_now(row: dict, rules) -> bool:
    """A batch can take seconds to send: a window that closes meanwhile defers the rest of it."""
    now = sending_now()
    zones, region = row["contact__time_zones"], row["contact__region"]
    opens = quiet_hours.next_allowed(time_zones=zones, region=region, at=now, rules=rules)
    if opens == now:
        return False
    outbox_defer(ids=[row["pk"]], until=opens or now + timedelta(days=1), reason="quiet hours")
    return True


def _apply_caps(rows: list[dict], now, caps) -> set[int]:
    """Defer or skip (per `FREQUENCY_CAP_ACTION`) the batch's messages that would put a contact over a cap."""
    over = frequency.contacts_over_cap(
        regions={r["contact_id"]: r["contact__region"] for r in rows}, now=now, state=caps
    )
    held = set()
    for row in rows:
        if row["contact_id"] in over:
            _hold_for_cap(row["pk"], over[row["contact_id"]])
            held.add(row["pk"])
    return held


def _hold_for_cap(message_id: int, over) -> None:
    if settings.FREQUENCY_CAP_ACTION == "skip":
        outbox_skip(ids=[message_id], reason=over.reason)
    else:
        outbox_defer(ids=[message_id], until=over.until, reason=over.reason)


def _render_bodies(campaign: Campaign, rows: list[dict]) -> list[dict]:
    """Render each claimed message's text and store it before sending (a reconcile can then compare bodies)."""
    template = body_compile(campaign.body)
    ready, bodies = [], []  # bodies: (message id, text)
    for row in rows:
        fields = {
            "first_name": row["contact__first_name"],
            "last_name": row["contact__last_name"],
            "email": row["contact__email"],
            "attributes": row["contact__attributes"] if isinstance(row["contact__attributes"], dict) else {},
        }
        try:
            body = message_compose(
                body=campaign.body, program=campaign.program, contact_fields=fields, template=template
            )
        except ValidationError as error:
            outbox_fail(ids=[row["pk"]], reason=str(error.messages[0]))
            continue
        bodies.append((row["pk"], body))
        ready.append(row)
    outbox_store_bodies(bodies=bodies)
    return ready


def messages_send_checked(*, campaign: Campaign, rows: list[dict], caps) -> dict[int, str]:
    """Send claimed messages through the gate, holding back those over a frequency cap.

    Returns, per message id, what happened: "sent", "retry", "failed",
    "skipped", "deferred" or "lost" (no longer ours).
    """

    def over_cap(messages) -> set[int]:
        capped = {m.contact_id: m.contact.region for m in messages if frequency.caps_for(m.contact.region, caps)}
        over = frequency.contacts_over_cap(regions=capped, now=sending_now(), state=caps) if capped else {}
        for message in messages:
            if message.contact_id in over:
                _hold_for_cap(message.pk, over[message.contact_id])
        return {m.pk for m in messages if m.contact_id in over}

    outcomes = {row["pk"]: "lost" for row in rows}
    claimed = [
        OutboundMessage(pk=row["pk"], attempts=row["attempts"], contact_id=row["contact_id"], kind="campaign")
        for row in rows
    ]
    for outcome in outbox_send_claimed(claimed, hold=over_cap):
        outcomes[outcome.message.pk] = _outcome_word(outcome)
    return outcomes


def _outcome_word(outcome) -> str:
    if outcome.held:
        return "deferred"
    if outcome.sent:
        return "sent"
    if outcome.retry_at is not None:
        return "retry"
    return "skipped" if outcome.message.status == MessageStatus.SKIPPED else "failed"


def _release(ids: list[int], status: str) -> None:
    """Give back claimed-but-unsent messages (pause: to the queue; cancel: cancelled)."""
    outbox_release(ids=ids, cancelled=status == CampaignStatus.CANCELLED)


def _campaign_status(campaign_id: int) -> str:
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).get()


def campaign_send_batch(*, campaign_id: int, lease: str | None = None) -> BatchResult:
    """Claim one batch of the campaign's due messages and send them. Safe to run in many workers at once."""
    result = BatchResult()
    campaign = Campaign.objects.select_related("program").get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING or campaign.audience_built_at is None:
        result.stopped = True
        return result
    ids = messages_claim(campaign=campaign, size=_claim_size())
    result.claimed = len(ids)
    if not ids:
        return result
    now = sending_now()
    rows = _claimed_rows(ids)
    quiet_rules = quiet_hours.state_rules() if settings.QUIET_HOURS_ENABLED else None
    deferred = _defer_quiet_groups(campaign, rows, now, quiet_rules) if quiet_rules is not None else set()
    caps = frequency.state_caps()
    rows = [r for r in rows if r["pk"] not in deferred]
    held = _apply_caps(rows, now, caps)
    rows = _render_bodies(campaign, [r for r in rows if r["pk"] not in held])
    result.deferred = len(deferred) + len(held)

    sender = throttle.sender_key()
    last_check = time.monotonic()
    status = CampaignStatus.SENDING

    def stopped() -> bool:
        nonlocal last_check, status
        if time.monotonic() - last_check >= STATUS_CHECK_SECONDS:
            last_check = time.monotonic()
            status = _campaign_status(campaign_id)
            if lease:
                coordination.lease_renew(lease, settings.CAMPAIGN_CHAIN_LEASE_SECONDS)
        return status != CampaignStatus.SENDING

    step = max(1, settings.SMS_SEND_CONCURRENCY)
    index = 0
    while index < len(rows):
        # A group is only as large as the sender's pace grants at this moment, and goes out at once.
        want = min(step, len(rows) - index)
        granted = 0 if stopped() else throttle.throttle_acquire(
            sender, settings.SEND_RATE_PER_SECOND, want=want, should_stop=stopped
        )  # fmt: skip
        if not granted:
            _release([r["pk"] for r in rows[index:]], status)
            result.stopped = True
            break
        chunk, index = rows[index : index + granted], index + granted
        if quiet_rules is not None:
            late = [r for r in chunk if _outside_window_now(r, quiet_rules)]
            result.deferred += len(late)
            chunk = [r for r in chunk if r not in late]
        outcomes = messages_send_checked(campaign=campaign, rows=chunk, caps=caps).values() if chunk else ()
        result.sent += sum(1 for o in outcomes if o == "sent")
        result.skipped += sum(1 for o in outcomes if o == "skipped")
        result.deferred += sum(1 for o in outcomes if o == "deferred")
        if "retry" in outcomes:
            # The provider pushed back (429, 5xx): everyone sending from this sender slows down.
            throttle.throttle_slow_down(sender, settings.SEND_THROTTLE_PAUSE_SECONDS)
    log.info("campaign %s batch: %s", campaign_id, result)
    return result


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """Mark a sending campaign COMPLETED when none of its messages is left to send."""
    if OutboundMessage.objects.filter(campaign_id=campaign_id, status__in=UNFINISHED_STATUSES).exists():
        return False
    now = timezone.now()
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING, audience_built_at__isnull=False).update(
            status=CampaignStatus.COMPLETED, completed_at=now, updated_at=now
        )
    )


def chain_lease_name(campaign_id: int, slot: int) -> str:
    return f"send:{campaign_id}:{slot}"


def campaign_chains_ensure(*, campaign_id: int) -> int:
    """Start the send chains of a sending campaign that aren't running (each holds a lease in Redis).

    At most `CAMPAIGN_SEND_CHAINS` run per campaign; a chain whose worker died
    loses its lease by expiry and the periodic tick starts it again.
    """
    from .tasks import campaign_send_task

    started = 0
    for slot in range(max(1, settings.CAMPAIGN_SEND_CHAINS)):
        if coordination.lease_take(chain_lease_name(campaign_id, slot), settings.CAMPAIGN_CHAIN_LEASE_SECONDS):
            campaign_send_task.delay(campaign_id, slot)
            started += 1
    return started


def campaigns_cancel_pending(*, campaign_id: int) -> int:
    """Cancel the unsent messages of a cancelled campaign."""
    return outbox_cancel_campaign(campaign_id=campaign_id)
