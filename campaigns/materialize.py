"""Materialise a campaign's audience: one `OutboundMessage` row per recipient, in set-based batches.

Each batch is one `INSERT … SELECT` over a range of contact ids, built from the
very queryset the preview counts (`audience_sendable`), so memory stays flat
from a thousand recipients to a million. `ON CONFLICT DO NOTHING` on the unique
(campaign, contact) and a cursor saved in the same transaction make a crashed
build resume without duplicates.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from contacts.models import Contact
from messaging.models import OutboundMessage
from messaging.outbox import outbox_campaign_insert

from .audience import audience_sendable
from .models import Campaign, CampaignStatus

log = logging.getLogger(__name__)

_ACTIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED)


def campaign_audience_build(*, campaign_id: int) -> bool:
    """Build (or finish building) the campaign's message rows. True when the audience is complete."""
    campaign = Campaign.objects.select_related("program").get(pk=campaign_id)
    if campaign.audience_built_at is not None:
        return True
    if campaign.status not in _ACTIVE:
        return False
    last_id = Contact.objects.aggregate(last=Max("pk"))["last"] or 0
    step = max(1, settings.AUDIENCE_BATCH_SIZE)
    cursor = campaign.audience_cursor
    while cursor < last_id:
        upper = min(cursor + step, last_id)
        with transaction.atomic():
            # Re-read under lock: two builders (a retried task) must not both advance the cursor.
            locked = (
                Campaign.objects.select_for_update().filter(pk=campaign_id).values_list("audience_cursor", "status")
            )
            current, status = locked.get()
            if status not in _ACTIVE:
                return False
            if current != cursor:  # someone else moved it: continue from there
                cursor = current
                continue
            inserted = _insert_range(campaign, lower=cursor, upper=upper)
            Campaign.objects.filter(pk=campaign_id).update(audience_cursor=upper)
        log.info("campaign %s audience: contacts %s..%s, %s rows", campaign_id, cursor + 1, upper, inserted)
        cursor = upper
    size = OutboundMessage.objects.filter(campaign_id=campaign_id).count()
    Campaign.objects.filter(pk=campaign_id, audience_built_at__isnull=True).update(
        audience_built_at=timezone.now(), audience_size=size
    )
    return True


def campaign_exclusions_record(*, campaign_id: int) -> dict:
    """Record who the campaign leaves out, by reason, as it starts (the same counts the preview showed).

    Kept apart from the build: counting a million contacts by reason must not hold up the first sends.
    """
    from .selectors import campaign_audience_breakdown

    campaign = Campaign.objects.select_related("program").get(pk=campaign_id)
    excluded = campaign_audience_breakdown(campaign)["excluded"]
    Campaign.objects.filter(pk=campaign_id).update(excluded_counts=excluded)
    return excluded


def _insert_range(campaign: Campaign, *, lower: int, upper: int) -> int:
    recipients = (
        audience_sendable(campaign)
        .filter(pk__gt=lower, pk__lte=upper)
        .order_by()
        .values(recipient_id=F("pk"), recipient_phone=F("phone"))
    )
    return outbox_campaign_insert(campaign=campaign, recipients=recipients)
