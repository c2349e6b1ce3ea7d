"""Reads for the public sign-up."""

from contacts.models import Contact, SuppressedNumber


def contact_may_receive_texts(*, contact: Contact) -> bool:
    """False for numbers on the suppression list or that the carrier says can't get texts."""
    if contact.undeliverable_at is not None:
        return False
    return not SuppressedNumber.objects.filter(digest=contact.phone_digest).exists()
