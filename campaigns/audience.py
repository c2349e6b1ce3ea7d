"""Who a campaign is aimed at, as one query: shared by the preview counts and the audience build."""

import re

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from contacts.models import Contact, Subscription, SubscriptionStatus, SuppressedNumber
from contacts.selectors import consent_sendable_q
from smsconsent.control_characters import json_nul_free

_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_]{1,50}$")


def attribute_filters_validate(filters: dict) -> dict:
    """Keys become JSON lookups, so only plain names are allowed."""
    if not isinstance(filters, dict):
        raise ValidationError("Attribute filters must be an object of name: value pairs.")
    for key, value in filters.items():
        if not _ATTRIBUTE_KEY.match(str(key)):
            raise ValidationError(f"“{key}” is not a valid attribute name (letters, digits and _ only).")
        if isinstance(value, (dict, list)):
            raise ValidationError(f"Attribute “{key}” must be matched against a single value.")
    return json_nul_free(filters)


def audience_base(*, program, tag_ids=(), attribute_filters=None) -> QuerySet:
    """Contacts with any consent record for `program`, having every tag and matching every attribute.

    Consent is not checked here: the difference between this and
    `audience_sendable` is what the preview reports as excluded, by reason.
    """
    contacts = Contact.objects.filter(Exists(Subscription.objects.filter(contact_id=OuterRef("pk"), program=program)))
    for tag_id in tag_ids:
        contacts = contacts.filter(
            Exists(Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag_id=tag_id))
        )
    for key, value in attribute_filters_validate(attribute_filters or {}).items():
        contacts = contacts.filter(**{f"attributes__{key}": value})
    return contacts


def audience_for_campaign(campaign) -> QuerySet:
    return audience_base(
        program=campaign.program,
        tag_ids=list(campaign.tags.values_list("pk", flat=True)) if campaign.pk else [],
        attribute_filters=campaign.attribute_filters,
    )


def audience_sendable(campaign) -> QuerySet:
    """The contacts that may get this campaign right now."""
    return audience_for_campaign(campaign).filter(consent_sendable_q(program=campaign.program))


# Why a contact in the audience is not sendable, checked in this order (the first that applies is reported).
EXCLUSION_REASONS = ("suppressed", "undeliverable", "opted_out", "no_consent")
EXCLUSION_LABELS = {
    "suppressed": "number suppressed",
    "undeliverable": "number undeliverable",
    "opted_out": "opted out",
    "no_consent": "no active consent",
}


def exclusion_conditions(*, program, contact_ref: str = "pk", prefix: str = "") -> dict[str, Q]:
    """For each reason, a Q true when it applies, on any queryset whose rows lead to a contact.

    Used for the audience breakdown (on `Contact`) and to skip messages at the
    moment of sending (on `OutboundMessage`, contact_ref="contact_id", prefix="contact__").
    """
    suppressed = SuppressedNumber.objects.filter(digest=OuterRef(f"{prefix}phone_digest"))
    subscriptions = Subscription.objects.filter(contact_id=OuterRef(contact_ref), program=program)
    opted_out = Q(Exists(subscriptions.filter(status=SubscriptionStatus.OPTED_OUT)))
    # Each condition names its own state, so a consent change landing between two of these
    # checks can't get a contact the wrong label (an opt-out reported as "no consent").
    return {
        "suppressed": Q(Exists(suppressed)),
        "undeliverable": Q(**{f"{prefix}undeliverable_at__isnull": False}),
        "opted_out": opted_out,
        "no_consent": ~Q(Exists(subscriptions.filter(status=SubscriptionStatus.ACTIVE))) & ~opted_out,
    }
