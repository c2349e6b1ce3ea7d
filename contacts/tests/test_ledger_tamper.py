"""Tampering with the consent ledger, the way someone with direct database access could, and what catches it.

Each case works past the append-only trigger with `session_replication_role = replica` (a superuser's
power), or with plain INSERTs the trigger allows, and computes hashes the way the chain did before it
was keyed: the algorithm is in the repository, only the key is secret.
"""

import json

import pytest
from django.db import DatabaseError, connection, transaction

from contacts.models import ConsentEvent

from .tampering import past_the_trigger, sealed_ledger, unkeyed_hash, verify_fails

pytestmark = pytest.mark.django_db


def _truncate(statement: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL won't truncate a table with foreign-key checks still queued in the transaction (the
        # test's own); running them now leaves the trigger as the only thing that can refuse.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)


def test_verify_ledger_fails_when_the_newest_events_are_deleted():
    chain = sealed_ledger()
    with past_the_trigger() as cursor:
        cursor.execute("DELETE FROM contacts_subscription")  # they point at ledger rows
        cursor.execute("DELETE FROM contacts_consentevent WHERE position > %s", [chain[-3]["position"]])
    error = verify_fails()
    assert error.returncode == 4
    assert f"position {chain[-1]['position']}, anchored at" in str(error)
    assert "is missing from the chain (events were removed)" in str(error)


def test_verify_ledger_fails_on_a_gap_in_positions():
    chain = sealed_ledger()
    head = chain[-1]
    with past_the_trigger() as cursor:
        cursor.execute("UPDATE contacts_consentevent SET position = position + 5 WHERE id = %s", [head["id"]])
    error = verify_fails()
    assert error.returncode == 2
    position = head["position"]
    assert f"broken at event #{head['id']}: it holds position {position + 5} where {position} was due" in str(error)


def test_truncating_contacts_cascades_into_the_ledger_and_is_refused():
    chain = sealed_ledger()
    for statement in ("TRUNCATE contacts_contact CASCADE", "TRUNCATE contacts_consentevent CASCADE"):
        with pytest.raises(DatabaseError, match="append-only: TRUNCATE of contacts_consentevent refused"):
            _truncate(statement)
    assert ConsentEvent.objects.count() == len(chain)


def test_verify_ledger_fails_when_the_ledger_was_truncatedpast_the_trigger():
    chain = sealed_ledger()
    with past_the_trigger():
        _truncate("TRUNCATE contacts_contact CASCADE")
    error = verify_fails()
    assert error.returncode == 4
    assert f"position {chain[-1]['position']}, anchored at" in str(error)


def test_verify_ledger_fails_when_an_event_is_rewritten_and_every_later_hash_recomputed():
    chain = sealed_ledger()
    rewritten = next(row for row in chain if row["kind"] == "opt_out")
    rewritten["kind"] = "opt_in"  # the STOP never happened
    prev_hash = rewritten["prev_hash"]
    with past_the_trigger() as cursor:
        for row in chain[chain.index(rewritten) :]:
            row["prev_hash"], row["hash"] = prev_hash, unkeyed_hash(prev_hash, row)
            prev_hash = row["hash"]
            cursor.execute(
                "UPDATE contacts_consentevent SET kind = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [row["kind"], row["prev_hash"], row["hash"], row["id"]],
            )
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{rewritten['id']}: its content does not match its hash" in str(error)


def _forge_at_head(head: dict, hash_for) -> int:
    """INSERT (which the trigger allows) a STOP-cancelling opt_in chained onto `head`; return its id."""
    forged = {**head, "kind": "opt_in", "method": "admin", "evidence": {"reason": "customer called"}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('contacts_consentevent', 'id'))")
        forged["id"] = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO contacts_consentevent (id, contact_id, phone, program_id, kind, method, evidence, actor_id, "
            "created_at, position, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, %s)",
            [forged["id"], forged["contact_id"], forged["phone"], forged["program_id"], forged["kind"],
             forged["method"], json.dumps(forged["evidence"]), forged["created_at"], head["position"] + 1,
             head["hash"], hash_for(head["hash"], forged, head["position"] + 1)],
        )  # fmt: skip
    return forged["id"]


def test_verify_ledger_fails_when_a_correctly_hashed_event_is_forged_at_the_head():
    chain = sealed_ledger()
    forged = _forge_at_head(chain[-1], lambda prev_hash, row, position: unkeyed_hash(prev_hash, row))
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{forged}:" in str(error)
