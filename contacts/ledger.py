"""The consent ledger's hash chain: append an event, seal events into the chain, verify it.

A consent change appends its event unsealed, in its own transaction, waiting on no other
contact's change. The sealer then gives each committed unsealed event, oldest first, the next
`position` in the chain, the previous event's hash as `prev_hash`, and its own `hash` over
prev_hash plus its content in a canonical JSON form; changing, removing or reordering a sealed
row breaks every hash after it. One sealer runs at a time (an advisory lock on PostgreSQL,
IMMEDIATE transactions on SQLite), so the chain never forks.

Why not chain at append time: the head of the chain can only be read under a lock held until the
appending transaction commits, so every consent change in the system would queue behind the one
before it. A burst of STOP replies to a large campaign then waits seconds for its answers. Beat
seals every LEDGER_SEAL_SECONDS; `verify_ledger` fails when an event has waited longer than
LEDGER_SEAL_OVERDUE_SECONDS, which means sealing has stopped.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from smsconsent.db import rows_update

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


def _sealer_lock_try() -> bool:
    """Become the only sealer until this transaction ends; False when another sealer is at work."""
    if connection.vendor != "postgresql":
        return True  # SQLite's IMMEDIATE transactions already let one writer in at a time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LEDGER_LOCK_KEY])
        return cursor.fetchone()[0]


def ledger_append(
    *, contact, program, kind: str, method: str, evidence: dict, actor=None, at: datetime | None = None
) -> ConsentEvent:
    """Append one unsealed event. Call inside the transaction that changes consent state."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append must run inside the transaction that changes consent.")
    event = ConsentEvent(
        contact=contact,
        phone=str(contact.phone),
        program=program,
        kind=kind,
        method=method,
        # A JSON round trip now, so the caller holds exactly what the database stores.
        evidence=json.loads(json.dumps(evidence, default=str)),
        actor=actor,
        created_at=at or timezone.now(),
    )
    event.save(force_insert=True)
    return event


def ledger_seal(*, batch_size: int = 1000) -> int:
    """Chain every committed unsealed event, oldest id first, in batches; return how many were sealed.

    Positions follow the order of sealing, not ids: an event whose transaction commits late gets a
    later place than a younger event sealed before it, so no event is ever inserted mid-chain.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            if not _sealer_lock_try():
                return sealed  # the sealer at work chains whatever this one would have
            head = (
                ConsentEvent.objects.filter(position__isnull=False)
                .order_by("-position")
                .values_list("position", "hash")
                .first()
            )
            position, prev_hash = head or (0, GENESIS_HASH)
            batch = list(ConsentEvent.objects.filter(position__isnull=True).order_by("id")[:batch_size])
            rows = []
            for event in batch:
                position += 1
                sealed_hash = event_hash(prev_hash, event)
                rows.append((event.pk, position, prev_hash, sealed_hash))
                prev_hash = sealed_hash
            rows_update(ConsentEvent, ["position", "prev_hash", "hash"], rows)
        sealed += len(batch)
        if len(batch) < batch_size:
            return sealed


@dataclass(frozen=True)
class LedgerProblem:
    event_id: int
    reason: str
    overdue: bool = False  # not a broken link: an event the sealer has not reached in time


@dataclass(frozen=True)
class LedgerReport:
    checked: int  # sealed events walked, up to and including a broken one
    problem: LedgerProblem | None
    unsealed: int = 0  # events waiting for the sealer


def ledger_check(*, chunk_size: int = 5000) -> LedgerReport:
    """Walk the chain in position order (memory stays flat however long it is); stop at the first broken link.

    An event left unsealed past LEDGER_SEAL_OVERDUE_SECONDS is a problem too: the chain does not
    protect it yet, and sealing has stopped.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    chain = ConsentEvent.objects.filter(position__isnull=False).order_by("position")
    for event in chain.iterator(chunk_size=chunk_size):
        checked += 1
        if event.prev_hash != expected_prev:
            reason = "its prev_hash does not match the event before it (a row was removed or reordered)"
            return LedgerReport(checked, LedgerProblem(event.pk, reason))
        if event_hash(event.prev_hash, event) != event.hash:
            reason = "its content does not match its hash (the row was changed)"
            return LedgerReport(checked, LedgerProblem(event.pk, reason))
        expected_prev = event.hash
    unsealed = ConsentEvent.objects.filter(position__isnull=True)
    now = timezone.now()
    overdue_before = now - timedelta(seconds=settings.LEDGER_SEAL_OVERDUE_SECONDS)
    overdue = unsealed.filter(created_at__lt=overdue_before).order_by("id").first()
    if overdue is not None:
        waited = int((now - overdue.created_at).total_seconds())
        reason = f"it has waited {waited} s to be sealed into the chain; is beat running the ledger sealing?"
        return LedgerReport(checked, LedgerProblem(overdue.pk, reason, overdue=True), unsealed.count())
    return LedgerReport(checked, None, unsealed.count())


def ledger_verify(*, chunk_size: int = 5000) -> Iterator[LedgerProblem]:
    """Yield the first broken link of the chain, if any."""
    problem = ledger_check(chunk_size=chunk_size).problem
    if problem:
        yield problem
