"""The consent ledger's hash chain: append one event, or verify them all.

Each event's hash covers the previous event's hash and the event's own
content in a canonical JSON form, so changing, removing or reordering any
row breaks every hash after it. Appends are serialized (an advisory lock on
PostgreSQL, IMMEDIATE transactions on SQLite) so the chain never forks.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import ConsentEvent

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number; it names "the consent ledger" among advisory locks.
_LEDGER_LOCK_KEY = 0x5_3C0_45E7


def _canonical(event: ConsentEvent) -> str:
    content = {
        "contact": event.contact_id,
        "phone": event.phone,
        "program": event.program_id,
        "kind": event.kind,
        "method": event.method,
        "evidence": event.evidence,
        "actor": event.actor_id,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, event: ConsentEvent) -> str:
    return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()


def _lock_ledger() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LEDGER_LOCK_KEY])


def ledger_append(
    *, contact, program, kind: str, method: str, evidence: dict, actor=None, at: datetime | None = None
) -> ConsentEvent:
    """Append one event to the chain. Call inside the transaction that changes consent state."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append must run inside the transaction that changes consent.")
    _lock_ledger()
    prev_hash = ConsentEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH
    event = ConsentEvent(
        contact=contact,
        phone=str(contact.phone),
        program=program,
        kind=kind,
        method=method,
        # A JSON round trip now, so the hash is taken over exactly what the database will return.
        evidence=json.loads(json.dumps(evidence, default=str)),
        actor=actor,
        created_at=at or timezone.now(),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(prev_hash, event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class LedgerProblem:
    event_id: int
    reason: str


@dataclass(frozen=True)
class LedgerReport:
    checked: int  # events walked, up to and including a broken one
    problem: LedgerProblem | None


def ledger_check(*, chunk_size: int = 5000) -> LedgerReport:
    """Walk the whole chain in id order (memory stays flat however long it is); stop at the first broken link."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in ConsentEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        checked += 1
        if event.prev_hash != expected_prev:
            reason = "its prev_hash does not match the event before it (a row was removed or reordered)"
            return LedgerReport(checked, LedgerProblem(event.pk, reason))
        if event_hash(event.prev_hash, event) != event.hash:
            reason = "its content does not match its hash (the row was changed)"
            return LedgerReport(checked, LedgerProblem(event.pk, reason))
        expected_prev = event.hash
    return LedgerReport(checked, None)


def ledger_verify(*, chunk_size: int = 5000) -> Iterator[LedgerProblem]:
    """Yield the first broken link of the chain, if any."""
    problem = ledger_check(chunk_size=chunk_size).problem
    if problem:
        yield problem
