"""Celery tasks for campaigns. Each takes ids, re-reads rows and calls one service.

Schedules live in the database: `campaigns_start_due` and `campaigns_tick`
run every few seconds (beat) and only look for what is due. No task waits in
the broker with a far-future ETA.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import coordination
from .dispatch import (
    campaign_chains_ensure,
    campaign_complete_if_done,
    campaign_has_due_work,
    campaign_send_batch,
    campaigns_cancel_pending,
    chain_lease_name,
)
from .materialize import campaign_audience_build, campaign_exclusions_record
from .models import Campaign, CampaignStatus
from .services import campaign_start_due

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def campaigns_start_due() -> None:
    """Start every scheduled campaign whose send time has passed (each claimed by a conditional UPDATE)."""
    due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_at__lte=timezone.now())
    for campaign_id in due.values_list("pk", flat=True):
        campaign_start_due(campaign_id=campaign_id)


def campaign_build_enqueue(campaign_id: int) -> bool:
    """Enqueue the audience build unless one holds the lease (a second one would be harmless, only wasted)."""
    if coordination.lease_take(f"build:{campaign_id}", settings.CAMPAIGN_BUILD_LEASE_SECONDS):
        campaign_build_task.delay(campaign_id)
        return True
    return False


# Idempotent (a cursor and ON CONFLICT DO NOTHING), so a redelivery after a crash is harmless.
@shared_task(ignore_result=True, acks_late=True)
def campaign_build_task(campaign_id: int) -> None:
    lease = f"build:{campaign_id}"
    coordination.lease_renew(lease, settings.CAMPAIGN_BUILD_LEASE_SECONDS)
    try:
        built = campaign_audience_build(campaign_id=campaign_id)
    finally:
        coordination.lease_release(lease)
    if built:
        campaign_chains_ensure(campaign_id=campaign_id)
        if not Campaign.objects.filter(pk=campaign_id).values_list("excluded_counts", flat=True).get():
            campaign_exclusions_record(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def campaign_send_task(campaign_id: int, slot: int = 0) -> None:
    """One link of a send chain: send a batch, then enqueue the next link while due work remains."""
    lease = chain_lease_name(campaign_id, slot)
    coordination.lease_renew(lease, settings.CAMPAIGN_CHAIN_LEASE_SECONDS)
    result = campaign_send_batch(campaign_id=campaign_id, lease=lease)
    if result.claimed and not result.stopped:
        campaign_send_task.delay(campaign_id, slot)
        return
    coordination.lease_release(lease)
    campaign_complete_if_done(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def campaign_cancel_pending_task(campaign_id: int) -> None:
    campaigns_cancel_pending(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def campaigns_tick() -> None:
    """Keep sending campaigns moving: start due ones, finish builds, restart chains (`outbox_recover` settles sends)."""
    # Also here, so a scheduled campaign starts within one tick rather than one start-due period.
    campaigns_start_due()
    for campaign_id, built_at in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list(
        "pk", "audience_built_at"
    ):
        if built_at is None:
            # Normally running already; after a worker died its lease expires and this restarts it at its cursor.
            campaign_build_enqueue(campaign_id)
        elif campaign_has_due_work(campaign_id):
            campaign_chains_ensure(campaign_id=campaign_id)
        else:
            campaign_complete_if_done(campaign_id=campaign_id)
