"""Writes to contacts and consent. The only code that changes consent state.

Every consent change appends a ledger event and updates `Subscription` in the
same transaction, so the current state can never disagree with the evidence.
"""

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .ledger import ledger_append
from .models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    Program,
    Subscription,
    SubscriptionStatus,
    SuppressedNumber,
)
from .phones import phone_digest, phone_facts


def contact_get_or_create(
    *, phone, first_name: str = "", last_name: str = "", email: str = "", attributes: dict | None = None
) -> tuple[Contact, bool]:
    """Find the contact for `phone` (any accepted format) or create it. Raises ValidationError for bad numbers.

    An existing contact is returned unchanged: the other arguments only fill a new one.
    """
    facts = phone_facts(phone)
    contact = Contact.objects.filter(phone=facts.e164).first()
    if contact:
        return contact, False
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                phone=facts.e164,
                phone_digest=phone_digest(facts.e164),
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                email=email.strip().lower(),
                attributes=attributes or {},
                time_zones=facts.time_zones,
                region=facts.region,
            )
    except IntegrityError:  # a concurrent request created it first
        return Contact.objects.get(phone=facts.e164), False
    return contact, True


def contact_update_phone_facts(*, contact: Contact) -> Contact:
    """Re-derive digest, time zones and state from the number (after an edit in the admin)."""
    facts = phone_facts(contact.phone)
    contact.phone_digest = phone_digest(facts.e164)
    contact.time_zones = facts.time_zones
    contact.region = facts.region
    contact.save(update_fields=["phone_digest", "time_zones", "region", "updated_at"])
    return contact


def _require_evidence(method: str, evidence: dict) -> None:
    if method in (ConsentMethod.ADMIN, ConsentMethod.IMPORT) and not str(evidence.get("reason", "")).strip():
        raise ValidationError({"reason": "Say how and when the person consented (or why they opted out)."})


def _consent_lock(contact: Contact, program: Program | None = None) -> None:
    """Take the locks every consent change takes, always in this order: contact, subscriptions, ledger.

    The send path locks the contact row while it re-checks consent and hands a
    message to the provider, so a consent change waits for a send in flight
    and every later send sees the change. One order everywhere means no deadlock.
    """
    Contact.objects.select_for_update(no_key=True).filter(pk=contact.pk).exists()
    subscriptions = Subscription.objects.select_for_update().filter(contact=contact)
    if program is not None:
        subscriptions = subscriptions.filter(program=program)
    list(subscriptions.order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def consent_opt_in(
    *,
    contact: Contact,
    program: Program,
    method: str,
    evidence: dict,
    actor=None,
    pending: bool = False,
) -> ConsentEvent:
    """Record consent to `program`. `pending=True` starts a double opt-in that a YES completes."""
    _require_evidence(method, evidence)
    _consent_lock(contact, program)
    now = timezone.now()
    kind = ConsentKind.PENDING if pending else ConsentKind.OPT_IN
    event = ledger_append(
        contact=contact, program=program, kind=kind, method=method, evidence=evidence, actor=actor, at=now
    )
    status = SubscriptionStatus.PENDING if pending else SubscriptionStatus.ACTIVE
    expires = now + timedelta(hours=settings.CONSENT_PENDING_EXPIRY_HOURS) if pending else None
    Subscription.objects.update_or_create(
        contact=contact,
        program=program,
        defaults={"status": status, "last_event": event, "pending_expires_at": expires, "updated_at": now},
    )
    return event


@transaction.atomic
def consent_confirm_pending(*, contact: Contact, method: str, evidence: dict) -> list[ConsentEvent]:
    """A YES reply: every unexpired pending opt-in of this contact becomes active, one event each."""
    _consent_lock(contact)
    now = timezone.now()
    pending = list(
        Subscription.objects.select_for_update()
        .filter(contact=contact, status=SubscriptionStatus.PENDING, pending_expires_at__gt=now)
        .select_related("program")
    )
    events = []
    for subscription in pending:
        event = ledger_append(
            contact=contact,
            program=subscription.program,
            kind=ConsentKind.OPT_IN,
            method=method,
            evidence={**evidence, "confirms_event": subscription.last_event_id},
            at=now,
        )
        subscription.status = SubscriptionStatus.ACTIVE
        subscription.last_event = event
        subscription.pending_expires_at = None
        subscription.updated_at = now
        subscription.save(update_fields=["status", "last_event", "pending_expires_at", "updated_at"])
        events.append(event)
    return events


@transaction.atomic
def consent_opt_out(
    *, contact: Contact, method: str, evidence: dict, program: Program | None = None, actor=None
) -> ConsentEvent:
    """Revoke consent. With no program (or scope "all"), every program of the contact is revoked."""
    _require_evidence(method, evidence)
    if settings.CONSENT_OPT_OUT_SCOPE == "all":
        program = None
    _consent_lock(contact, program)
    now = timezone.now()
    event = ledger_append(
        contact=contact,
        program=program,
        kind=ConsentKind.OPT_OUT,
        method=method,
        evidence=evidence,
        actor=actor,
        at=now,
    )
    subscriptions = Subscription.objects.filter(contact=contact).exclude(status=SubscriptionStatus.OPTED_OUT)
    if program is not None:
        subscriptions = subscriptions.filter(program=program)
    subscriptions.update(status=SubscriptionStatus.OPTED_OUT, last_event=event, pending_expires_at=None, updated_at=now)
    return event


def consent_expire_pending(*, now=None, batch_size: int = 1000) -> int:
    """Expire double opt-ins nobody confirmed in time. Returns how many expired."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                Subscription.objects.select_for_update(skip_locked=True)
                .filter(status=SubscriptionStatus.PENDING, pending_expires_at__lte=now)
                .select_related("contact", "program")[:batch_size]
            )
            for subscription in batch:
                event = ledger_append(
                    contact=subscription.contact,
                    program=subscription.program,
                    kind=ConsentKind.EXPIRED,
                    method=ConsentMethod.SYSTEM,
                    evidence={"expired_event": subscription.last_event_id},
                    at=now,
                )
                Subscription.objects.filter(pk=subscription.pk).update(
                    status=SubscriptionStatus.EXPIRED, last_event=event, pending_expires_at=None, updated_at=now
                )
        expired += len(batch)
        if len(batch) < batch_size:
            return expired


def contact_mark_undeliverable(*, contact: Contact, reason: str) -> None:
    """The carrier says this number can't get texts; campaigns exclude it from now on."""
    Contact.objects.filter(pk=contact.pk, undeliverable_at__isnull=True).update(
        undeliverable_at=timezone.now(), undeliverable_reason=reason[:200]
    )


def number_suppress(*, phone, reason: str) -> SuppressedNumber:
    """Never text this number again, whatever consent says. Stores only a keyed HMAC."""
    digest = phone_digest(phone_facts(phone).e164)
    suppressed, _ = SuppressedNumber.objects.get_or_create(digest=digest, defaults={"reason": reason[:200]})
    return suppressed


@dataclass(frozen=True)
class EvidenceFromRequest:
    """The web-request part of consent evidence: where, from which address, with which browser."""

    form_url: str
    ip: str
    user_agent: str
    language: str

    def as_dict(self) -> dict:
        return {"form_url": self.form_url, "ip": self.ip, "user_agent": self.user_agent, "language": self.language}


def client_ip(request) -> str:
    """The client's address: for rate limits, login lockouts and consent evidence alike.

    Behind TRUSTED_PROXY_COUNT proxies of ours, each appending the address it was called from to
    TRUSTED_PROXY_IP_HEADER, the client's address is that many values from the right. Whatever
    stands left of it came from the client, who can write anything there.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.TRUSTED_PROXY_IP_HEADER
    if not header:
        return remote
    values = [value.strip() for value in request.META.get(header, "").split(",") if value.strip()]
    if not values:
        return remote
    # Fewer values than proxies: the request skipped a proxy, and every value there was added by ours.
    candidate = values[-min(settings.TRUSTED_PROXY_COUNT, len(values))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that writes something else is misconfigured; don't store it as evidence
        return remote


def evidence_from_request(request) -> EvidenceFromRequest:
    return EvidenceFromRequest(
        form_url=request.build_absolute_uri(),
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
        language=getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
    )
