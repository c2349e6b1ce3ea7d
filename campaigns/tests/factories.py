"""Builders for campaign tests: programs with subscribers in chosen states, and campaigns."""

import itertools

from campaigns.models import Campaign
from contacts.models import ConsentMethod
from contacts.services import consent_opt_in, consent_opt_out
from contacts.tests.factories import make_contact, make_program

_numbers = itertools.count(1000)

# Area codes with known time zones / states, for quiet-hour tests.
AREA = {"SF": "415", "NY": "212", "FL": "305", "TX": "512", "AL": "205", "HI": "808"}


def next_phone(area: str = "415") -> str:
    return f"+1{area}555{next(_numbers) % 10000:04d}"


def subscriber(program, *, area: str = "415", phone: str | None = None, **fields):
    contact = make_contact(phone or next_phone(area), **fields)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.IMPORT, evidence={"reason": "test import"})
    return contact


def opted_out(program, *, area: str = "415"):
    contact = subscriber(program, area=area)
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    return contact


def make_campaign(program=None, **fields) -> Campaign:
    program = program or make_program()
    values = {"name": "Spring sale", "program": program, "body": "Hi {{ first_name|default:'there' }}, 20% off today."}
    values.update(fields)
    return Campaign.objects.create(**values)
