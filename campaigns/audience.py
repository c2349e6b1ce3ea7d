"""Who a campaign is aimed at, as one query: shared by the preview counts and the audience build."""

import re

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from contacts.models import Contact, Subscription
from contacts.selectors import BLOCK_LABELS, SendRefs, consent_sendable_q, send_blockers
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


# Why a contact in the audience is not sendable, in the order reported: the campaign rule of
# `contacts.selectors.send_blockers`, so the preview and the gate can't disagree.
EXCLUSION_REASONS = ("suppressed", "undeliverable", "opted_out", "no_consent")
EXCLUSION_LABELS = {reason: BLOCK_LABELS[reason] for reason in EXCLUSION_REASONS}


def exclusion_conditions(*, program, contact_ref: str = "pk", prefix: str = "") -> dict[str, Q]:
    """For each reason, a Q true when it applies, on any queryset whose rows lead to a contact."""
    refs = SendRefs(contact=contact_ref, contact_fields=prefix, program=program)
    return send_blockers(kind="campaign", refs=refs)
