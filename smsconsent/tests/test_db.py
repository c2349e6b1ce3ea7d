"""`rows_update`: many rows, each its own values, in one statement."""

import pytest

from contacts.tests.factories import make_contact
from messaging.models import MessageKind, OutboundMessage
from smsconsent.db import rows_update

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_each_row_gets_its_own_values_and_no_other_row_changes():
    contact = make_contact()
    messages = [
        OutboundMessage.objects.create(kind=MessageKind.CONFIRMATION, contact=contact, to=str(contact.phone), body="")
        for _ in range(3)
    ]
    texts = ['It\'s "quoted" — and ünïcode 🎉', "a;b'); DROP TABLE x; --"]
    rows = [(m.pk, text, f"r{n}") for n, (m, text) in enumerate(zip(messages[:2], texts, strict=True))]
    rows_update(OutboundMessage, ["body", "reason"], rows)
    stored = dict(OutboundMessage.objects.values_list("pk", "body"))
    assert stored == {messages[0].pk: texts[0], messages[1].pk: texts[1], messages[2].pk: ""}
    assert OutboundMessage.objects.get(pk=messages[1].pk).reason == "r1"
    rows_update(OutboundMessage, ["body"], [])  # nothing to do is fine
