"""Small builders for contacts tests (and other apps' tests)."""

import itertools

from contacts.models import Program
from contacts.services import contact_get_or_create

_numbers = itertools.count(100)


def make_program(**overrides) -> Program:
    n = next(_numbers)
    fields = {
        "slug": f"deals-{n}",
        "brand": "Acme Deals",
        "name": "Weekly offers",
        "description": "Weekly offers and coupons from Acme stores.",
        "frequency_text": "Up to 4 msgs/month",
        "help_contact": "help@acme.test",
        "terms_url": "https://acme.test/terms",
        "privacy_url": "https://acme.test/privacy",
        "double_opt_in": False,
    }
    fields.update(overrides)
    return Program.objects.create(**fields)


def make_contact(phone: str | None = None, **fields):
    # 415 (San Francisco) numbers in the 555-01xx fictional range are valid mobile-or-fixed numbers.
    phone = phone or f"+1415555{next(_numbers) % 10000:04d}"
    contact, _ = contact_get_or_create(phone=phone, **fields)
    return contact
