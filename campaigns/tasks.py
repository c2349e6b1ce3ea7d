"""Celery tasks for campaigns. Each takes ids, re-reads rows and calls one service."""

from celery import shared_task


@shared_task(ignore_result=True)
def campaigns_start_due() -> None:
    pass


@shared_task(ignore_result=True)
def campaign_build_task(campaign_id: int) -> None:
    pass


@shared_task(ignore_result=True)
def campaign_cancel_pending_task(campaign_id: int) -> None:
    pass
