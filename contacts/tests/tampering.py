"""What someone with direct database access can do to the consent ledger, for the tests that show it is caught."""

import hashlib
import json
from contextlib import contextmanager
from datetime import UTC

from django.db import connection


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
