"""Writes for the public sign-up: record the consent event with its evidence and queue the one text."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import translation

from contacts.models import ConsentEvent, ConsentMethod, Contact, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import EvidenceFromRequest, consent_opt_in, contact_get_or_create
from messaging.models import MessageKind, OutboundMessage
from messaging.services import message_queue
from messaging.texts import text_double_opt_in_request, text_opt_in_confirmation

from .disclosure import Disclosure
from .models import DisclosureVersion
from .selectors import contact_may_receive_texts

log = logging.getLogger(__name__)


def disclosure_version_get_or_create(*, program, disclosure: Disclosure) -> DisclosureVersion:
    """The stored snapshot of exactly this text; a new one only when the words changed."""
    version, _ = DisclosureVersion.objects.get_or_create(
        program=program,
        language=disclosure.language,
        sha256=disclosure.sha256,
        defaults={"text": disclosure.text},
    )
    return version


@dataclass(frozen=True)
class SignupOutcome:
    event: ConsentEvent | None  # None when the number was already subscribed
    message: OutboundMessage | None  # the one text queued, if any


@transaction.atomic
def signup_submit(
    *,
    program,
    phone: str,
    first_name: str,
    disclosure: Disclosure,
    request_evidence: EvidenceFromRequest,
    age_gate: dict | None = None,
) -> SignupOutcome:
    """A valid web sign-up: pending (double opt-in) or active consent, plus exactly one text.

    A number already subscribed to the program gets no event and no second
    text. A number that opted out opts in again here, as a new event.
    """
    contact, _ = contact_get_or_create(phone=phone, first_name=first_name)
    # Serializes two quick submissions for one number, so a double click can't send two texts.
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if first_name and not contact.first_name:
        Contact.objects.filter(pk=contact.pk).update(first_name=first_name.strip()[:60])

    if subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE:
        log.info("sign-up for program %s by an already subscribed contact %s: nothing sent", program.pk, contact.pk)
        return SignupOutcome(event=None, message=None)

    version = disclosure_version_get_or_create(program=program, disclosure=disclosure)
    evidence = {
        **request_evidence.as_dict(),
        "language": disclosure.language,
        "disclosure_text": version.text,
        "disclosure_version": version.pk,
        "disclosure_sha256": version.sha256,
        "age_gate": age_gate,
    }
    event = consent_opt_in(
        contact=contact,
        program=program,
        method=ConsentMethod.WEB_FORM,
        evidence=evidence,
        pending=program.double_opt_in,
    )

    if not contact_may_receive_texts(contact=contact):
        log.info("contact %s is suppressed or undeliverable: consent recorded, no text sent", contact.pk)
        return SignupOutcome(event=event, message=None)
    with translation.override(disclosure.language):
        body = text_double_opt_in_request(program) if program.double_opt_in else text_opt_in_confirmation(program)
    message = message_queue(
        kind=MessageKind.CONFIRMATION, to=str(contact.phone), body=body, contact=contact, program=program
    )
    return SignupOutcome(event=event, message=message)
