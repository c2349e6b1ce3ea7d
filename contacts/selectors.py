"""Reads about contacts and consent.

"May we send program P to this contact right now?" has one answer, built
here as a query expression, so a single contact check, an audience build and
the check at the moment of sending all ask exactly the same question.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

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
