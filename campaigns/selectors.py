"""Reads for the campaign admin: who a campaign would reach, and how far its sending has got.

Both answers must stay cheap at a million contacts, so each is one aggregate
query: the audience split by exclusion reason in a single pass, and progress as
one GROUP BY on the messages' `outbound_claim` index.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q

from contacts.models import Contact, Program
from contacts.selectors import consent_sendable_q
from messaging.models import MessageKind, MessageStatus, OutboundMessage

from .audience import EXCLUSION_LABELS, audience_base, exclusion_conditions
from .audience import EXCLUSION_REASONS as CONSENT_EXCLUSION_REASONS
from .clock import sending_now
from .frequency import state_caps
from .models import Campaign, CampaignStatus

# Exclusion reasons, in the order they win when a contact has several: the
# consent reasons are the engine's own (`campaigns.audience`), so the preview
# and the check at the moment of sending can't disagree; the frequency cap comes last.
EXCLUSION_REASONS = {
    **{reason: EXCLUSION_LABELS[reason].capitalize() for reason in CONSENT_EXCLUSION_REASONS},
    "frequency_cap": "Over a frequency cap",
}


@dataclass(frozen=True)
class AudienceParams:
    """An audience as staff are still typing it: not necessarily a saved campaign."""

    program: Program
    tag_ids: tuple[int, ...] = ()
    attribute_filters: dict = field(default_factory=dict)

    @classmethod
    def of(cls, campaign: Campaign) -> "AudienceParams":
        tag_ids = tuple(campaign.tags.values_list("pk", flat=True)) if campaign.pk else ()
        return cls(program=campaign.program, tag_ids=tag_ids, attribute_filters=campaign.attribute_filters or {})

    def audience(self):
        return audience_base(program=self.program, tag_ids=self.tag_ids, attribute_filters=self.attribute_filters)

    def cache_key(self, caps: list[tuple]) -> str:
        raw = json.dumps([self.program.pk, sorted(self.tag_ids), self.attribute_filters, caps], sort_keys=True,
                         default=str)  # fmt: skip
        return "campaigns:breakdown:" + hashlib.sha256(raw.encode()).hexdigest()


def _caps() -> list[tuple[str, int, int]]:
    """(region or "" for everyone, count, hours) for every frequency cap the engine enforces."""
    caps = []
    if settings.FREQUENCY_CAP_COUNT > 0:
        caps.append(("", settings.FREQUENCY_CAP_COUNT, settings.FREQUENCY_CAP_WINDOW_HOURS))
    caps += sorted((region, cap.count, cap.hours) for region, cap in state_caps().items())
    return caps


def _over_cap_q(caps: list[tuple[str, int, int]], now) -> Q | None:
    """True for a contact a text now would put over any cap: one EXISTS … HAVING COUNT per cap."""
    over = None
    for region, count, hours in caps:
        recent = OutboundMessage.objects.filter(
            contact_id=OuterRef("pk"), kind=MessageKind.CAMPAIGN, sent_at__gt=now - timedelta(hours=hours)
        )
        q = Q(Exists(recent.values("contact_id").annotate(n=Count("pk")).filter(n__gte=count)))
        if region:
            # Region first: the database then looks up recent texts only for that state's contacts.
            q = Q(region=region) & q
        over = q if over is None else over | q
    return over


def campaign_audience_breakdown(target: Campaign | AudienceParams, *, cache_seconds: int = 0) -> dict:
    """How many contacts the audience holds, how many may be sent now, and why the others are excluded.

    One aggregate query over the audience (COUNT … FILTER per reason on
    PostgreSQL). Reasons are exclusive, first match wins in `EXCLUSION_REASONS`
    order, so `sendable + sum(excluded) == total`.
    """
    params = target if isinstance(target, AudienceParams) else AudienceParams.of(target)
    caps = _caps()
    if cache_seconds:
        cached = cache.get(params.cache_key(caps))
        if cached is not None:
            return cached

    conditions = exclusion_conditions(program=params.program)
    over_cap = _over_cap_q(caps, sending_now())
    if over_cap is not None:
        conditions["frequency_cap"] = over_cap
    counts = _count_by_first_reason(params.audience(), conditions)

    result = {
        "total": counts["total"],
        "sendable": counts["sendable"],
        "excluded": {reason: counts.get(reason, 0) for reason in EXCLUSION_REASONS},
        # "defer": over-cap contacts still get the text later; "skip": they never do.
        "frequency_cap_action": settings.FREQUENCY_CAP_ACTION,
    }
    if cache_seconds:
        cache.set(params.cache_key(caps), result, cache_seconds)
    return result


def _count_by_first_reason(audience, conditions: dict[str, Q]) -> dict[str, int]:
    """Total, each reason's count (a contact counts under the first reason that applies) and the rest.

    Each condition is evaluated once per contact in an inner query, and the
    outer query only counts flags: written as plain ORM aggregates, every
    reason would re-evaluate the ones before it (a dozen subqueries per
    contact instead of a handful, seconds at a million contacts).
    """
    flags = {f"is_{reason}": ExpressionWrapper(q, output_field=BooleanField()) for reason, q in conditions.items()}
    inner_sql, sql_params = audience.order_by().annotate(**flags).values(*flags).query.sql_with_params()
    columns, none_before = ["COUNT(*)"], []
    for flag in flags:
        columns.append(f"COUNT(*) FILTER (WHERE {' AND '.join([*none_before, flag])})")
        none_before.append(f"NOT {flag}")
    columns.append(f"COUNT(*) FILTER (WHERE {' AND '.join(none_before)})")
    # Only our own flag names go into the SQL text; every value is a parameter.
    # MATERIALIZED keeps the planner from folding the flags back into each COUNT.
    sql = f"WITH audience AS MATERIALIZED ({inner_sql}) SELECT {', '.join(columns)} FROM audience"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner's cost estimate for per-contact subqueries triggers JIT compilation,
            # which takes longer than the query itself.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, sql_params)
        row = cursor.fetchone()
    return {"total": row[0], **dict(zip(conditions, row[1:-1], strict=True)), "sendable": row[-1]}


def campaign_sample_contact(params: AudienceParams, *, sendable_exists: bool = True) -> Contact | None:
    """A contact of the audience to render the preview for: a sendable one when there is any."""
    audience = params.audience().order_by("pk")
    sample = audience.filter(consent_sendable_q(program=params.program)).first() if sendable_exists else None
    return sample or audience.first()


def campaign_cost(*, recipients: int, segments: int) -> dict:
    amount = round(settings.SMS_PRICE_PER_SEGMENT * segments * recipients, 2)
    return {
        "amount": amount,
        "currency": settings.SMS_PRICE_CURRENCY,
        "price_per_segment": settings.SMS_PRICE_PER_SEGMENT,
        "display": f"{amount:,.2f} {settings.SMS_PRICE_CURRENCY}",
    }


# --- Progress -------------------------------------------------------------------

# What staff see while a campaign sends, and which message statuses fall in each bucket.
PROGRESS_BUCKETS = {
    "pending": (MessageStatus.PENDING, MessageStatus.CLAIMED, MessageStatus.RETRY),
    "queued": (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.SCHEDULED, MessageStatus.SENDING),
    "sent": (MessageStatus.SENT,),
    "delivered": (MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PARTIALLY_DELIVERED),
    "failed": (MessageStatus.FAILED, MessageStatus.UNDELIVERED),
    "deferred": (MessageStatus.DEFERRED,),
    "skipped": (MessageStatus.SKIPPED,),
    "cancelled": (MessageStatus.CANCELED,),
}
PROGRESS_LABELS = {
    "pending": "Waiting to send",
    "queued": "Queued at provider",
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
    "deferred": "Deferred",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}
BUCKET_OF_STATUS = {status: bucket for bucket, statuses in PROGRESS_BUCKETS.items() for status in statuses}
# Buckets that still wait for us (not yet handed to the provider, or held back).
UNSETTLED_BUCKETS = ("pending", "deferred")
# How long a list page may show slightly old numbers, by campaign status.
_PROGRESS_CACHE_SECONDS = {CampaignStatus.SENDING: 5, CampaignStatus.PAUSED: 15}
_PROGRESS_CACHE_SECONDS_DEFAULT = 60


def _progress_from_counts(campaign: Campaign, by_status: dict[str, int]) -> dict:
    buckets = dict.fromkeys(PROGRESS_BUCKETS, 0)
    for status, n in by_status.items():
        buckets[BUCKET_OF_STATUS.get(status, "pending")] += n
    total = sum(buckets.values())
    unsettled = sum(buckets[b] for b in UNSETTLED_BUCKETS)
    processed = total - unsettled
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "status_display": campaign.get_status_display(),
        "total": total,
        "processed": processed,
        "percent": round(100 * processed / total, 1) if total else 0.0,
        "buckets": buckets,
        "finished": campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED),
    }


def campaign_progress(campaign: Campaign) -> dict:
    """Message counts per progress bucket: one GROUP BY status over the campaign's messages."""
    rows = OutboundMessage.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("pk")).order_by()
    return _progress_from_counts(campaign, dict(rows))


def campaigns_progress(campaigns: list[Campaign]) -> dict[int, dict]:
    """Progress for a page of campaigns with one grouped query for those not cached recently.

    The list page tolerates numbers a few seconds old; that keeps it from
    counting millions of rows on every refresh.
    """
    results: dict[int, dict] = {}
    keys = {c.pk: f"campaigns:progress:{c.pk}:{c.status}" for c in campaigns}
    cached = cache.get_many(list(keys.values()))
    missing = []
    for campaign in campaigns:
        if keys[campaign.pk] in cached:
            results[campaign.pk] = cached[keys[campaign.pk]]
        elif campaign.status == CampaignStatus.DRAFT:
            results[campaign.pk] = _progress_from_counts(campaign, {})  # drafts have no messages
        else:
            missing.append(campaign)
    if missing:
        by_campaign: dict[int, dict[str, int]] = {c.pk: {} for c in missing}
        rows = (
            OutboundMessage.objects.filter(campaign__in=[c.pk for c in missing])
            .values_list("campaign_id", "status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for campaign_id, status, n in rows:
            by_campaign[campaign_id][status] = n
        for campaign in missing:
            progress = _progress_from_counts(campaign, by_campaign[campaign.pk])
            results[campaign.pk] = progress
            timeout = _PROGRESS_CACHE_SECONDS.get(campaign.status, _PROGRESS_CACHE_SECONDS_DEFAULT)
            cache.set(keys[campaign.pk], progress, timeout)
    return results


def campaign_skip_reasons(campaign: Campaign, *, limit: int = 10) -> list[dict]:
    """Why messages were skipped, most common first (after completion, for the results chart)."""
    rows = (
        OutboundMessage.objects.filter(campaign=campaign, status=MessageStatus.SKIPPED)
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n")[:limit]
    )
    return [{"reason": row["reason"] or "—", "count": row["n"]} for row in rows]
