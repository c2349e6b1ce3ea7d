"""Celery tasks for single texts and the inbound safety nets. Each takes ids, re-reads rows and calls one service."""

from datetime import timedelta

from celery import shared_task

from .outbox import early_statuses_purge, outbox_claim, outbox_recover, outbox_send_claimed


# The row counts attempts and bounds them (SMS_SEND_MAX_ATTEMPTS); Celery's own bound would only
# strand a message in RETRY, so it is off.
@shared_task(bind=True, ignore_result=True, max_retries=None)
def message_deliver_task(self, message_id: int) -> None:
    # Claiming first makes a duplicate delivery of this task a no-op.
    message = outbox_claim(message_id=message_id)
    if message is None:
        return
    for outcome in outbox_send_claimed([message]):
        if outcome.retry_at is not None:
            raise self.retry(eta=outcome.retry_at)


@shared_task(ignore_result=True)
def outbox_recover_task() -> None:
    """Texts of every kind stuck by a lost task or a worker killed mid-send."""
    outbox_recover()


@shared_task(ignore_result=True)
def early_statuses_purge_task() -> None:
    early_statuses_purge(older_than=timedelta(days=1))


@shared_task(ignore_result=True)
def inbound_spool_apply_task() -> None:
    """Apply texts and status callbacks the webhooks kept while PostgreSQL was unreachable."""
    from .spool import inbound_spool_apply, status_spool_apply

    inbound_spool_apply()
    status_spool_apply()


@shared_task(ignore_result=True)
def inbound_backstop_task() -> None:
    """Ask Twilio for recent inbound texts and apply any whose webhook never reached us."""
    from .backstop import inbound_backstop_poll

    inbound_backstop_poll()
