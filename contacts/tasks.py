"""Celery tasks for the contacts app."""

from celery import shared_task

from .ledger import ledger_seal


@shared_task(ignore_result=True)
def ledger_seal_task() -> int:
    return ledger_seal()
