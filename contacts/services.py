"""Writes to contacts and consent. The only code that changes consent state.

Every consent change appends a ledger event and updates `Subscription` in the
same transaction, so the current state can never disagree with the evidence.
"""

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
from .selectors import opt_out_latest_for_number


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


def contacts_lock(contact_ids) -> None:
    """Lock contact rows in id order: the one helper every consent change and every send takes its locks with.

    The lock order everywhere: outbound message rows, then contacts (id order), then
    subscriptions, then the ledger. The send path holds these contact locks while it
    re-checks consent and hands texts to the provider, so a consent change waits for a
    send in flight and every later send sees the change; one order means no deadlock.
    NO KEY UPDATE: it conflicts with itself (two consent changes, or a change and a send,
    queue) but not with the key-share locks that inserting a message for the contact takes.
    """
    ids = sorted({pk for pk in contact_ids if pk is not None})
    if ids:
        list(Contact.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))


def _consent_lock(contact: Contact, program: Program | None = None) -> list[Subscription]:
    """Take the locks every consent change takes, in the one order: contact, subscriptions, ledger.

    Returns the subscriptions locked (of `program` when given), as they are now.
    """
    contacts_lock([contact.pk])
    subscriptions = Subscription.objects.select_for_update().filter(contact=contact)
    if program is not None:
        subscriptions = subscriptions.filter(program=program)
    return list(subscriptions.order_by("pk").only("pk", "program_id", "status", "pending_expires_at"))


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
    return _opt_in_record(contact=contact, program=program, method=method, evidence=evidence, actor=actor,
                          pending=pending)  # fmt: skip


def consent_code_new() -> str:
    """A short code the person texts back ("YES 4821") to confirm one pending sign-up from their own phone.

    It tells pending sign-ups of one number apart; it is no secret: only a text from the number counts.
    """
    return f"{secrets.randbelow(10_000):04d}"


def _opt_in_record(*, contact, program, method, evidence, actor, pending) -> ConsentEvent:
    # The caller holds the consent locks.
    now = timezone.now()
    if pending and "confirm_code" not in evidence:
        evidence = {**evidence, "confirm_code": consent_code_new()}
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
def consent_confirm_request(
    *, contact: Contact, request_event_id: int, method: str, evidence: dict
) -> ConsentEvent | None:
    """A YES answering one "reply YES" request: that one pending opt-in becomes active. None when it no longer waits.

    Only the request the person was texted about is confirmed: a stranger who opened other
    pending sign-ups for this number through the public forms gets nothing from this YES.
    """
    _consent_lock(contact)
    now = timezone.now()
    subscription = (
        Subscription.objects.filter(
            contact=contact, status=SubscriptionStatus.PENDING, last_event_id=request_event_id,
            pending_expires_at__gt=now,
        )
        .select_related("program")
        .first()
    )  # fmt: skip
    if subscription is None:
        return None
    return _opt_in_record(
        contact=contact, program=subscription.program, method=method, actor=None, pending=False,
        evidence={**evidence, "confirms_event": request_event_id},
    )  # fmt: skip


@transaction.atomic
def consent_restore(*, contact: Contact, method: str, evidence: dict) -> list[ConsentEvent]:
    """START from the person: restore exactly what their latest opt-out removed, one event per program.

    Programs stopped earlier, separately, stay stopped: each needs its own act. Inactive programs
    are not restored.
    """
    _consent_lock(contact)
    stopped = Subscription.objects.filter(contact=contact, status=SubscriptionStatus.OPTED_OUT)
    latest = stopped.order_by("-last_event_id").values_list("last_event_id", flat=True).first()
    if latest is None:
        return []
    restorable = stopped.filter(last_event_id=latest, program__is_active=True).select_related("program")
    evidence = {**evidence, "restores_after_event": latest}
    return [
        _opt_in_record(contact=contact, program=s.program, method=method, evidence=evidence, actor=None, pending=False)
        for s in restorable
    ]


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


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def program_minimum_age(program: Program) -> int:
    return program.minimum_age or settings.CONSENT_MINIMUM_AGE_DEFAULT


def consent_age_gate(*, program: Program, born: date | None, on: date) -> dict | None:
    """The age check of an age-gated program, as evidence (the date itself is not kept). ValidationError if it fails."""
    if not program.age_gated:
        return None
    minimum = program_minimum_age(program)
    if born is None:
        raise ValidationError(
            f"“{program}” is age-gated: give the person's date of birth (they must be {minimum} or older)."
        )
    if born > on or born.year < 1900:
        raise ValidationError("Enter a real date of birth.")
    if age_on(born, on) < minimum:
        raise ValidationError(f"The person was under {minimum} when they consented; “{program}” needs {minimum}+.")
    return {"minimum_age": minimum, "passed": True, "checked_on": on.isoformat()}


@dataclass(frozen=True)
class ConsentOnBehalf:
    """Consent staff record for someone (a recorded call, a paper form) or an import row brings.

    `double_opt_in_exception` says why no "reply YES" is needed for a double opt-in program
    (e.g. "confirmed by reading the terms back on a recorded call, ref 8812"); it is kept as evidence.
    """

    consented_at: datetime
    evidence: dict
    date_of_birth: date | None = None
    double_opt_in_exception: str = ""


@dataclass(frozen=True)
class OnBehalfChecked:
    age_gate: dict | None  # the age check, as evidence
    opted_out_before: bool  # the number has an opt-out on record: only its own YES brings it back


def consent_on_behalf_check(*, e164: str, program: Program, consent: ConsentOnBehalf) -> OnBehalfChecked:
    """The web's rules, applied to consent recorded by staff or imported. ValidationError when it can't be recorded.

    Read-only, so an import can check every row before writing any.
    """
    if SuppressedNumber.objects.filter(digest=phone_digest(e164)).exists():
        raise ValidationError("This number is on the suppression list and must never be texted.")
    any_opt_out = opt_out_latest_for_number(e164=e164, program=None, any_program=True)
    last_opt_out = opt_out_latest_for_number(e164=e164, program=program) if any_opt_out else None
    if last_opt_out and last_opt_out.created_at >= consent.consented_at:
        raise ValidationError(
            f"This number opted out on {last_opt_out.created_at:%Y-%m-%d %H:%M} UTC, after the consent given here. "
            "Only new consent, given after the opt-out, can be recorded."
        )
    if program.double_opt_in and any_opt_out and consent.double_opt_in_exception.strip():
        raise ValidationError(
            "This number opted out before: only the person's own YES by text can bring it back, with no exception."
        )
    age_gate = consent_age_gate(program=program, born=consent.date_of_birth, on=consent.consented_at.date())
    return OnBehalfChecked(age_gate=age_gate, opted_out_before=any_opt_out is not None)


@transaction.atomic(savepoint=False)  # an import gives each row its own savepoint
def consent_opt_in_on_behalf(
    *, contact: Contact, program: Program, method: str, actor, consent: ConsentOnBehalf
) -> ConsentEvent | None:
    """Record consent staff or an import bring, under the web's rules (`consent_on_behalf_check`).

    The result is pending, waiting for the person's own YES, when the program uses double opt-in
    (unless an exception is recorded) and always when the number has an opt-out on record.
    None, and nothing recorded, when the contact is already subscribed or already waiting for
    its YES (as on the web). The caller sends the text the event asks for.
    """
    current = next(iter(_consent_lock(contact, program)), None)
    checked = consent_on_behalf_check(e164=str(contact.phone), program=program, consent=consent)
    if current and (
        current.status == SubscriptionStatus.ACTIVE
        or (current.status == SubscriptionStatus.PENDING and current.pending_expires_at > timezone.now())
    ):
        return None
    exception = consent.double_opt_in_exception.strip()
    needs_yes = checked.opted_out_before or (program.double_opt_in and not exception)
    evidence = {**consent.evidence, "consented_at": consent.consented_at.isoformat(), "age_gate": checked.age_gate}
    if program.double_opt_in and not needs_yes:
        evidence["double_opt_in_exception"] = exception
    _require_evidence(method, evidence)
    return _opt_in_record(
        contact=contact, program=program, method=method, evidence=evidence, actor=actor, pending=needs_yes
    )


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
