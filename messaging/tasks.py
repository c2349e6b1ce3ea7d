"""Celery tasks for single messages. A task takes an id, re-reads the row and calls one service."""

from datetime import timedelta

from celery import shared_task

from .services import early_statuses_purge, message_claim, message_send_claimed


# The row counts attempts and bounds them (SMS_SEND_MAX_ATTEMPTS); Celery's own bound would only
# strand a message in RETRY, so it is off.
@shared_task(bind=True, ignore_result=True, max_retries=None)
def message_deliver_task(self, message_id: int) -> None:
    # Claiming first makes a duplicate delivery of this task a no-op.
    message = message_claim(message_id=message_id)
    if message is None:
        return
    outcome = message_send_claimed(message)
    if outcome.retry_at is not None:
        raise self.retry(eta=outcome.retry_at)


@shared_task(ignore_result=True)
def early_statuses_purge_task() -> None:
    early_statuses_purge(older_than=timedelta(days=1))
