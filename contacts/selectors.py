"""Reads about contacts and consent.

"May we send program P to this contact right now?" has one answer, built
here as a query expression, so a single contact check, an audience build and
the check at the moment of sending all ask exactly the same question.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import Contact, Program, Subscription, SubscriptionStatus, SuppressedNumber


def consent_sendable_q(*, program, contact_ref: str = "pk", prefix: str = "") -> Q:
    """A Q on a queryset whose rows lead to a contact, true when the contact may get `program` now.

    `contact_ref` names the contact id as seen from the queryset (for `Contact`
    itself "pk"; for a message table "contact_id"); `prefix` reaches contact
    fields from there ("" or "contact__").
    """
    active = Subscription.objects.filter(
        contact_id=OuterRef(contact_ref), program=program, status=SubscriptionStatus.ACTIVE
    )
    suppressed = SuppressedNumber.objects.filter(digest=OuterRef(f"{prefix}phone_digest"))
    return Q(Exists(active)) & ~Q(Exists(suppressed)) & Q(**{f"{prefix}undeliverable_at__isnull": True})


def consent_may_send(*, contact: Contact, program: Program) -> bool:
    return Contact.objects.filter(consent_sendable_q(program=program), pk=contact.pk).exists()


def contacts_sendable(*, program: Program, contacts: QuerySet | None = None) -> QuerySet:
    """Contacts (of `contacts`, default all) that may get `program` right now."""
    contacts = Contact.objects.all() if contacts is None else contacts
    return contacts.filter(consent_sendable_q(program=program))


def subscription_status(*, contact: Contact, program: Program) -> str | None:
    return Subscription.objects.filter(contact=contact, program=program).values_list("status", flat=True).first()


def contact_export(*, contact: Contact) -> dict:
    """Everything we hold about one person, as JSON-ready data (GDPR access and portability)."""
    subscriptions = contact.subscriptions.select_related("program").order_by("program__slug")
    events = contact.consent_events.select_related("program", "actor").order_by("id")
    data = {
        "exported_at": timezone.now().isoformat(),
        "contact": {
            "id": contact.pk,
            "phone": str(contact.phone),
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "attributes": contact.attributes,
            "tags": list(contact.tags.values_list("name", flat=True)),
            "time_zones": [z for z in contact.time_zones.split("|") if z],
            "region": contact.region,
            "undeliverable_at": _iso(contact.undeliverable_at),
            "undeliverable_reason": contact.undeliverable_reason,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "subscriptions": [
            {
                "program": s.program.slug,
                "program_name": str(s.program),
                "status": s.status,
                "since": _iso(s.updated_at),
                "last_event_id": s.last_event_id,
            }
            for s in subscriptions
        ],
        "consent_events": [
            {
                "id": e.pk,
                "at": _iso(e.created_at),
                "kind": e.kind,
                "method": e.method,
                "program": e.program.slug if e.program else None,
                "all_programs": e.program_id is None,
                "phone": e.phone,
                "evidence": e.evidence,
                "actor": e.actor.get_username() if e.actor else None,
                "chain_position": e.position,  # null until sealed into the chain, moments after the change
                "hash": e.hash,
                "prev_hash": e.prev_hash,
            }
            for e in events.iterator(chunk_size=1000)
        ],
        "suppressed": SuppressedNumber.objects.filter(digest=contact.phone_digest).exists(),
    }
    # The message table belongs to the messaging app; reach it through its relation, not an import.
    messages = getattr(contact, "outbound_messages", None)
    if messages is not None:
        data["outbound_messages"] = [
            {**m, "created_at": _iso(m["created_at"]), "sent_at": _iso(m["sent_at"])}
            for m in messages.order_by("id")
            .values("id", "kind", "to", "body", "status", "sid", "created_at", "sent_at", "error_code", "reason")
            .iterator(chunk_size=1000)
        ]
    return data


def _iso(value) -> str | None:
    return value.isoformat() if value else None
