"""Periodic work for the public sign-up."""

from celery import shared_task

from contacts.services import consent_expire_pending


@shared_task(name="signup.tasks.pending_consents_expire", ignore_result=True)
def pending_consents_expire() -> int:
    """Double opt-ins nobody confirmed within CONSENT_PENDING_EXPIRY_HOURS become expired."""
    return consent_expire_pending()
