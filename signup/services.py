"""Writes for the public sign-up: record the consent event with its evidence and queue the one text."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from contacts.models import ConsentEvent, ConsentMethod, Subscription, SubscriptionStatus
from contacts.selectors import contact_already_opted_out, number_has_opt_out_on_record
from contacts.services import (
    EvidenceFromRequest,
    consent_code_new,
    consent_opt_in,
    consent_opt_out,
    contact_get_or_create,
    contacts_lock,
)
from messaging.models import MessageKind, OutboundMessage
from messaging.outbox import outbox_queue
from messaging.selectors import program_last_texted
from messaging.services import consent_text_queue
from messaging.texts import text_opt_out_confirmation_generic

from .disclosure import Disclosure
from .models import DisclosureVersion

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
    message: OutboundMessage | None  # the one text recorded, if any (SKIPPED when the gate refused it)


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
    """A valid web sign-up: pending (double opt-in) or active consent, plus at most one text.

    Anyone can type any number into a public form, so:
    - an existing contact is never changed (the name typed only fills a new contact);
    - a number already subscribed, or already waiting for its YES, gets no event and no text;
    - a number with an opt-out or a suppression on record always needs its own YES by text,
      whatever the program's setting: only the person can give consent back.
    """
    contact, _ = contact_get_or_create(phone=phone, first_name=first_name)
    # Serializes two quick submissions for one number, so a double click can't send two texts.
    contacts_lock([contact.pk])
    current = Subscription.objects.filter(contact=contact, program=program).first()
    if current and current.status == SubscriptionStatus.ACTIVE:
        log.info("sign-up for program %s by an already subscribed contact %s: nothing sent", program.pk, contact.pk)
        return SignupOutcome(event=None, message=None)
    if current and current.status == SubscriptionStatus.PENDING and current.pending_expires_at > timezone.now():
        log.info("sign-up for program %s by contact %s already waiting for YES: nothing sent", program.pk, contact.pk)
        return SignupOutcome(event=None, message=None)

    version = disclosure_version_get_or_create(program=program, disclosure=disclosure)
    needs_yes = program.double_opt_in or number_has_opt_out_on_record(
        e164=str(contact.phone), digest=contact.phone_digest
    )
    evidence = {
        **request_evidence.as_dict(),
        "language": disclosure.language,
        "disclosure_text": version.text,
        "disclosure_version": version.pk,
        "disclosure_sha256": version.sha256,
        "age_gate": age_gate,
        # Shown on the thanks page: "text YES 4821" confirms this sign-up from the person's own phone,
        # even where we may not text them first (the number opted out before).
        "confirm_code": consent_code_new(),
    }
    if needs_yes and not program.double_opt_in:
        evidence["double_opt_in_reason"] = "the number has an opt-out or suppression on record"
    event = consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence=evidence, pending=needs_yes
    )
    with translation.override(disclosure.language):
        message = consent_text_queue(event=event)
    return SignupOutcome(event=event, message=message)


@transaction.atomic
def web_opt_out(*, phone: str, request_evidence: EvidenceFromRequest) -> ConsentEvent:
    """An opt-out from the public opt-out page: every program stops, with one confirmation text.

    Revocation by any reasonable means: whoever asks for a number, it stops (a wrong stop costs a
    subscriber, who can text START; a missed one breaks the law). An unknown number is recorded
    too, so a later sign-up for it waits for its own YES. A number already opted out gets no
    second confirmation.
    """
    contact, _ = contact_get_or_create(phone=phone)
    contacts_lock([contact.pk])
    already = contact_already_opted_out(contact=contact)  # read before the opt-out below changes the answer
    event = consent_opt_out(contact=contact, method=ConsentMethod.WEB, evidence=request_evidence.as_dict())
    if not already:
        last = program_last_texted(contact=contact)
        brand = last.brand if last else settings.SMS_DEFAULT_BRAND
        outbox_queue(
            kind=MessageKind.STOP_CONFIRMATION, body=text_opt_out_confirmation_generic(brand), contact=contact,
            consent_event=event,
        )  # fmt: skip
    return event
