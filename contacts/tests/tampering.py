"""What someone with direct database access can do to the consent ledger, for the tests that show it is caught."""

import hashlib
import json
from contextlib import contextmanager
from datetime import UTC
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from contacts.ledger import ledger_seal
from contacts.models import ConsentEvent, ConsentMethod
from contacts.services import consent_opt_in, consent_opt_out

from .factories import make_contact, make_program

CONTENT = ("id", "contact_id", "phone", "program_id", "kind", "method", "evidence", "actor_id", "created_at")


def sealed_ledger(contacts: int = 2) -> list[dict]:
    """Each contact opts in and then out; every event sealed. Returns the events in chain order."""
    program = make_program()
    for _ in range(contacts):
        contact = make_contact()
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
        consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    ledger_seal()
    return chain_rows()


def chain_rows() -> list[dict]:
    """The sealed events in chain order, with what their hashes cover."""
    return list(ConsentEvent.objects.order_by("position").values(*CONTENT, "position", "prev_hash", "hash"))


def verify_fails(*args, **options) -> CommandError:
    """Run verify_ledger, which must fail; return its error (message and exit code)."""
    with pytest.raises(CommandError) as error:
        call_command("verify_ledger", *args, stdout=StringIO(), **options)
    return error.value


@contextmanager
def past_the_trigger():
    """Skip the append-only trigger (and foreign-key checks), as a superuser can."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def unkeyed_hash(prev_hash: str, row: dict) -> str:
    """The chain's hash before it was keyed: sha256 over prev_hash and the row's canonical JSON."""
    content = {
        "contact": row["contact_id"], "phone": row["phone"], "program": row["program_id"], "kind": row["kind"],
        "method": row["method"], "evidence": row["evidence"], "actor": row["actor_id"],
        "created_at": row["created_at"].astimezone(UTC).isoformat(timespec="microseconds"),
    }  # fmt: skip
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()
