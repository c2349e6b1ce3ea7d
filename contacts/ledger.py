"""The consent ledger's chain: append an event, seal events into the chain, verify it, replay it.

A consent change appends its event unsealed, in its own transaction, waiting on no other contact's
change. The sealer then gives each committed unsealed event, oldest first, the next `position` in
the chain, the previous event's hash as `prev_hash`, and its own `hash`: an HMAC-SHA256, keyed with
LEDGER_HMAC_KEY, over prev_hash, its position, its id and its content in a canonical JSON form.
Changing, removing or reordering a sealed row breaks every hash after it, and without the key
nobody can compute replacements. The key lives in the environment, never in the database.

Why not chain at append time: the head of the chain can only be read under a lock held until the
appending transaction commits, so every consent change in the system would queue behind the one
before it. A burst of STOP replies to a large campaign then waits seconds for its answers. Beat
seals every LEDGER_SEAL_SECONDS; `verify_ledger` fails when an event has waited longer than
LEDGER_SEAL_OVERDUE_SECONDS, which means sealing has stopped.

Events sealed before the chain was keyed keep their plain SHA-256 hashes and say so in
`hash_scheme` (recorded at seal time, covered by the trigger like the hash). Re-hashing them would
mean rewriting sealed evidence, so they stay as they were: the first keyed event's HMAC covers the
last unkeyed hash, which pins everything before it, and the verifier accepts an unkeyed event only
before the first keyed one, so relabelling events as unkeyed to forge them breaks the chain.

The chain can't show that its newest events were deleted, or that someone holding the key added
one at the head. After each seal commits, its new head goes to an anchor sink outside the database
(`contacts.anchors`). If that write fails the seal stays committed and unanchored; the next run
anchors the head before sealing more, after checking that the anchors it has agree with the chain
(it refuses to build on a head that fails its own hash, say after the key changed, or on a chain
whose anchored events are gone or changed). Accepting an unanchored head there is what lets an
anchor outage heal itself; the price is that an event someone holding the key adds at the head
between two seals is anchored with the rest. Against that, only the key's secrecy helps; against
everyone else, the key and the anchors together.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import groupby, islice
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from smsconsent.db import rows_update

from .anchors import Anchor, AnchorSink, AnchorSinkError, anchor_sink
from .models import ConsentEvent, ConsentKind, HashScheme, Subscription, SubscriptionStatus

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number; it names "the consent ledger" among advisory locks.
_LEDGER_LOCK_KEY = 0x5_3C0_45E7
# What a hash covers, read the same way from a model instance and from `.values()`.
_ROW_FIELDS = ("id", "contact_id", "phone", "program_id", "kind", "method", "evidence", "actor_id", "created_at")


class LedgerSealRefused(Exception):
    """The chain's head contradicts the anchors outside the database, or its own hash: the sealer won't build on it."""


def _content(row: dict) -> dict:
    return {
        "contact": row["contact_id"],
        "phone": row["phone"],
        "program": row["program_id"],
        "kind": row["kind"],
        "method": row["method"],
        "evidence": row["evidence"],
        "actor": row["actor_id"],
        "created_at": row["created_at"].astimezone(UTC).isoformat(timespec="microseconds"),
    }


def _canonical(content: dict) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_row(event: ConsentEvent) -> dict:
    """The fields of `event` a hash covers, as `.values(*_ROW_FIELDS)` would give them."""
    return {field: getattr(event, field) for field in _ROW_FIELDS}


def event_hash(prev_hash: str, row: dict, *, position: int, scheme: str = HashScheme.HMAC_SHA256) -> str:
    """The hash of one event (a dict of _ROW_FIELDS) at `position` after `prev_hash`, computed by `scheme`."""
    if scheme == HashScheme.SHA256:
        # Before the chain was keyed: no key, and neither the position nor the id was covered.
        return hashlib.sha256((prev_hash + _canonical(_content(row))).encode()).hexdigest()
    # The id is covered because `--state` replays a contact's events in id order.
    message = _canonical({**_content(row), "id": row["id"], "position": position, "prev_hash": prev_hash})
    return hmac.new(settings.LEDGER_HMAC_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


@contextmanager
def _sealer_lock(*, wait: bool = False) -> Iterator[bool]:
    """Be the only sealer until the block ends; yield False when another sealer is at work (unless `wait`).

    On PostgreSQL a session-level advisory lock, held across a seal's transactions and the anchor
    writes after them, so `verify_ledger` can also wait for a seal in progress to finish anchoring.
    SQLite's IMMEDIATE transactions already let one writer in at a time.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_LEDGER_LOCK_KEY])
            locked = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LEDGER_LOCK_KEY])
            locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LEDGER_LOCK_KEY])


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


def _chain_head() -> tuple[int, str] | None:
    """(position, hash) of the newest sealed event, or None for an empty chain."""
    return (
        ConsentEvent.objects.filter(position__isnull=False)
        .order_by("-position")
        .values_list("position", "hash")
        .first()
    )


def _anchors_mismatch(anchors: Iterable[Anchor]) -> str | None:
    """Why the chain contradicts one of `anchors` (checked with one query), or None when it has every one."""
    anchors = [anchor for anchor in anchors if anchor.position]  # position 0 is the empty chain: nothing to match
    sealed = dict(
        ConsentEvent.objects.filter(position__in={a.position for a in anchors}).values_list("position", "hash")
    )
    for anchor in anchors:
        when = anchor.at.isoformat(timespec="seconds")
        if anchor.position not in sealed:
            return f"position {anchor.position}, anchored at {when}, is missing from the chain (events were removed)"
        if sealed[anchor.position] != anchor.hash:
            return f"the event at position {anchor.position} is not the one anchored at {when} (rewritten)"
    return None


def _head_check_before_sealing(sink: AnchorSink) -> None:
    """Refuse to seal on a head that fails its own hash or that the anchors contradict; anchor a head an
    earlier seal could not.

    The head's own hash is checked with today's key, so a changed LEDGER_HMAC_KEY stops the sealer
    instead of chaining on with a second key. An empty sink is anchored (the empty chain as position
    0, or the unkeyed head sealed before the key) before any keyed event is sealed, and a failure
    there seals nothing. So once the chain holds a keyed event the sink holds an anchor, and an empty
    sink means the anchors were lost or live on another machine.
    """
    row = (
        ConsentEvent.objects.filter(position__isnull=False)
        .order_by("-position")
        .values(*_ROW_FIELDS, "position", "prev_hash", "hash", "hash_scheme")
        .first()
    )
    if row and (reason := _event_problem(row, row["position"], row["prev_hash"], keyed_from=None)):
        raise LedgerSealRefused(f"the chain's head, event #{row['id']} at position {row['position']}: {reason}")
    head = (row["position"], row["hash"], row["hash_scheme"]) if row else None
    newest = sink.newest()
    head_position = head[0] if head else 0
    if newest is None:
        if head and head[2] != HashScheme.SHA256:
            raise LedgerSealRefused(
                f"the chain holds keyed events up to position {head[0]} but {sink} holds no anchor: the anchors "
                "were lost, or this worker is not on the machine that keeps them (see LEDGER_SEAL_QUEUE)"
            )
        if head is None:
            sink.append(Anchor(0, GENESIS_HASH, timezone.now()))
    elif newest.position > head_position:
        raise LedgerSealRefused(
            f"position {newest.position} is anchored in {sink} but the chain ends at {head_position}: "
            "events were removed from the ledger (a database replaced on purpose needs an anchor sink of its own)"
        )
    elif mismatch := _anchors_mismatch([newest]):
        raise LedgerSealRefused(mismatch)
    if head and (newest is None or newest.position < head_position):
        logger.warning("Consent ledger: anchoring the head at position %s, which an earlier seal could not.", head[0])
        sink.append(Anchor(head[0], head[1], timezone.now()))


def ledger_seal(*, batch_size: int = 1000) -> int:
    """Chain every committed unsealed event, oldest id first, in batches; return how many were sealed.

    Positions follow the order of sealing, not ids: an event whose transaction commits late gets a
    later place than a younger event sealed before it, so no event is ever inserted mid-chain. Each
    batch's new head is anchored as soon as the batch commits. Raises LedgerSealRefused (sealing
    nothing) when the head fails its own hash or contradicts the anchors, and AnchorSinkError when an
    anchor can't be written; the batches committed before it are anchored by the next run.
    """
    sealed = 0
    with _sealer_lock() as ours:
        if not ours:
            return sealed  # the sealer at work chains whatever this one would have
        sink = anchor_sink()
        _head_check_before_sealing(sink)
        while True:
            with transaction.atomic():
                head = _chain_head()
                position, prev_hash = head or (0, GENESIS_HASH)
                batch = list(
                    ConsentEvent.objects.filter(position__isnull=True).order_by("id").values(*_ROW_FIELDS)[:batch_size]
                )
                rows = []
                for row in batch:
                    position += 1
                    sealed_hash = event_hash(prev_hash, row, position=position)
                    rows.append((row["id"], position, prev_hash, sealed_hash, HashScheme.HMAC_SHA256))
                    prev_hash = sealed_hash
                rows_update(ConsentEvent, ["position", "prev_hash", "hash", "hash_scheme"], rows)
            if batch:
                sink.append(Anchor(position, prev_hash, timezone.now()))
            sealed += len(batch)
            if len(batch) < batch_size:
                return sealed


class ProblemKind(StrEnum):
    BROKEN = "broken"  # a sealed event changed, went missing mid-chain or was moved
    ANCHORS = "anchors"  # the chain disagrees with its anchors: events removed or added at the head
    UNSEALED = "unsealed"  # an event the sealer has not reached in time: sealing has stopped
    STATE = "state"  # a subscription row disagrees with what the ledger's events make it


@dataclass(frozen=True)
class LedgerProblem:
    kind: ProblemKind
    reason: str
    event_id: int | None = None  # the event it is found at, when there is one

    @property
    def overdue(self) -> bool:
        return self.kind == ProblemKind.UNSEALED


@dataclass(frozen=True)
class LedgerReport:
    checked: int  # sealed events walked, up to and including a broken one
    problem: LedgerProblem | None
    unsealed: int = 0  # events waiting for the sealer
    head: int = 0  # the last position found intact


@contextmanager
def _read_snapshot() -> Iterator[None]:
    """One consistent view of the database for a long read, streamed through server-side cursors.

    PostgreSQL: a REPEATABLE READ, read-only transaction (inside an outer transaction, that one's
    view). SQLite: no transaction, which there would take the write lock for the whole read.
    """
    if connection.vendor != "postgresql":
        yield
        return
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _event_problem(row: dict, position: int, prev_hash: str, keyed_from: int | None) -> str | None:
    """Why the sealed event `row`, due at `position` after `prev_hash`, breaks the chain; None when it holds."""
    scheme = row["hash_scheme"]
    if row["prev_hash"] != prev_hash:
        return "its prev_hash does not match the event before it (a row was removed or reordered)"
    if row["position"] != position:
        return f"it holds position {row['position']} where {position} was due (events were removed or moved)"
    if scheme not in HashScheme.values:
        return f"its hash scheme {scheme!r} is not one the ledger uses"
    if scheme == HashScheme.SHA256 and keyed_from is not None:
        return f"it claims the unkeyed scheme after the chain became keyed at position {keyed_from}"
    if event_hash(prev_hash, row, position=position, scheme=scheme) != row["hash"]:
        return "its content does not match its hash (the row was changed, or the key is not the sealer's)"
    return None


def _chain_walk(chunk_size: int) -> tuple[int, LedgerProblem | None]:
    """Walk the sealed chain in position order, memory flat; return (events checked, first problem)."""
    prev_hash, checked, keyed_from = GENESIS_HASH, 0, None
    chain = ConsentEvent.objects.filter(position__isnull=False).order_by("position")
    for row in chain.values(*_ROW_FIELDS, "position", "prev_hash", "hash", "hash_scheme").iterator(chunk_size):
        checked += 1
        if reason := _event_problem(row, checked, prev_hash, keyed_from):
            return checked, LedgerProblem(ProblemKind.BROKEN, reason, row["id"])
        if keyed_from is None and row["hash_scheme"] == HashScheme.HMAC_SHA256:
            keyed_from = checked
        prev_hash = row["hash"]
    return checked, None


def _anchors_check(sink: AnchorSink, head: int, chunk_size: int) -> LedgerProblem | None:
    """Every anchor must match the chain, and the chain's head must be anchored."""
    highest = 0
    try:
        anchors = sink.read()
        for chunk in iter(lambda: list(islice(anchors, chunk_size)), []):
            if mismatch := _anchors_mismatch(chunk):
                return LedgerProblem(ProblemKind.ANCHORS, mismatch)
            highest = max(highest, *(anchor.position for anchor in chunk))
        if head <= highest:
            return None
        # A seal that has committed but not yet anchored looks like this for a moment: wait for it, look again.
        with _sealer_lock(wait=True):
            newest = sink.newest()
    except AnchorSinkError as error:
        return LedgerProblem(ProblemKind.ANCHORS, f"the anchors can't be read: {error}")
    if newest is not None and newest.position >= head:
        mismatch = _anchors_mismatch([newest])
        return LedgerProblem(ProblemKind.ANCHORS, mismatch) if mismatch else None
    if newest is None:
        return LedgerProblem(
            ProblemKind.ANCHORS,
            f"{sink} holds no anchor, but {head} event(s) are sealed: the next seal anchors the head, so if one "
            "has run since they were sealed, the anchors were lost or live on another machine (see LEDGER_SEAL_QUEUE)",
        )
    return LedgerProblem(
        ProblemKind.ANCHORS,
        f"positions {highest + 1} to {head} are sealed but not anchored in {sink}: an anchor write failed "
        "(the seal task's log says why; the next seal anchors them) or they were added at the head outside the sealer",
    )


def ledger_check(*, chunk_size: int = 5000) -> LedgerReport:
    """Check the chain, then its anchors, then that sealing keeps up; report the first problem.

    The chain: positions run 1, 2, 3… with no gap, each event follows the hash before it and matches
    its own hash under its scheme (the key for keyed events). The anchors: every anchored position is
    in the chain with its anchored hash, and the head is anchored. An event left unsealed past
    LEDGER_SEAL_OVERDUE_SECONDS is a problem too: the chain does not protect it yet.
    """
    with _read_snapshot():
        checked, problem = _chain_walk(chunk_size)
    if problem:
        return LedgerReport(checked, problem, head=checked - 1)
    head = checked  # positions run 1…checked
    problem = _anchors_check(anchor_sink(), head, chunk_size)
    unsealed = ConsentEvent.objects.filter(position__isnull=True)
    if problem:
        return LedgerReport(checked, problem, unsealed.count(), head)
    now = timezone.now()
    overdue_before = now - timedelta(seconds=settings.LEDGER_SEAL_OVERDUE_SECONDS)
    overdue = unsealed.filter(created_at__lt=overdue_before).order_by("id").first()
    if overdue is not None:
        waited = int((now - overdue.created_at).total_seconds())
        reason = f"it has waited {waited} s to be sealed into the chain; is beat running the ledger sealing?"
        return LedgerReport(checked, LedgerProblem(ProblemKind.UNSEALED, reason, overdue.pk), unsealed.count(), head)
    return LedgerReport(checked, None, unsealed.count(), head)


def ledger_verify(*, chunk_size: int = 5000) -> Iterator[LedgerProblem]:
    """Yield the first problem `ledger_check` finds, if any."""
    problem = ledger_check(chunk_size=chunk_size).problem
    if problem:
        yield problem


# --- Subscriptions replayed from the ledger -------------------------------------------------------------------

_STATUS_OF_KIND = {
    ConsentKind.PENDING: SubscriptionStatus.PENDING,
    ConsentKind.OPT_IN: SubscriptionStatus.ACTIVE,
    ConsentKind.EXPIRED: SubscriptionStatus.EXPIRED,
}


def subscriptions_replay(events: Iterable[tuple[int | None, str]]) -> dict[int, str]:
    """One contact's subscriptions as its ledger events make them: {program id: status}.

    `events` are (program id, kind) in the order they were appended (id order). The rules are the
    ones `contacts.services` writes by: pending → pending, opt_in → active, expired → expired; an
    opt_out for a program opts that program out, and an opt_out for no program (revoke-all) opts out
    every subscription the contact has at that moment. An opt_out creates no subscription. Raises
    ValueError for an event no service writes (anything but an opt_out with no program).
    """
    states: dict[int, str] = {}
    for program_id, kind in events:
        if kind == ConsentKind.OPT_OUT:
            for target in list(states) if program_id is None else [program_id] if program_id in states else []:
                states[target] = SubscriptionStatus.OPTED_OUT
        elif program_id is None or kind not in _STATUS_OF_KIND:
            raise ValueError(f"a {kind!r} event for program {program_id!r}")
        else:
            states[program_id] = _STATUS_OF_KIND[kind]
    return states


@dataclass(frozen=True)
class StateReport:
    checked: int  # subscriptions (stored or replayed) compared
    problem: LedgerProblem | None


def _by_contact(rows: Iterator[tuple]) -> Iterator[tuple[int, list[tuple]]]:
    for contact_id, group in groupby(rows, key=itemgetter(0)):
        yield contact_id, list(group)


def _contact_disagreement(contact_id: int, events: list[tuple], stored: list[tuple]) -> tuple[int, str | None]:
    """(subscriptions compared, why one stored row differs from the replay, or None) for one contact."""
    try:
        replayed = subscriptions_replay((program_id, kind) for _, program_id, kind in events)
    except ValueError as error:
        return 0, f"contact #{contact_id}'s ledger can't be replayed: {error}"
    rows = {program_id: (status, pk) for _, program_id, status, pk in stored}
    programs = sorted(replayed.keys() | rows.keys())
    for program_id in programs:
        (status, pk), ledger = rows.get(program_id, (None, None)), replayed.get(program_id)
        if status == ledger:
            continue
        row = f"subscription #{pk} (contact #{contact_id}, program #{program_id}) is {status}"
        if pk is None:
            row = f"contact #{contact_id} has no subscription to program #{program_id}"
        ledger_says = f"its ledger events make it {ledger}" if ledger else "no ledger event creates it"
        return len(programs), f"{row}, but {ledger_says}"
    return len(programs), None


def subscriptions_check(*, chunk_size: int = 5000) -> StateReport:
    """Replay every contact's ledger events and compare with its subscription rows; report the first that differs.

    Two streams in contact order (the events by their (contact, id) index, the rows by their unique
    (contact, program) index), merged one contact at a time, so memory stays flat however large the
    ledger; on PostgreSQL both read the same snapshot.
    """
    checked = 0
    with _read_snapshot():
        events = ConsentEvent.objects.order_by("contact_id", "id").values_list("contact_id", "program_id", "kind")
        stored = Subscription.objects.order_by("contact_id", "program_id").values_list(
            "contact_id", "program_id", "status", "id"
        )
        events, stored = _by_contact(events.iterator(chunk_size)), _by_contact(stored.iterator(chunk_size))
        next_events, next_stored = next(events, None), next(stored, None)
        while next_events or next_stored:
            contact_id = min(group[0] for group in (next_events, next_stored) if group)
            contact_events = contact_stored = []
            if next_events and next_events[0] == contact_id:
                contact_events, next_events = next_events[1], next(events, None)
            if next_stored and next_stored[0] == contact_id:
                contact_stored, next_stored = next_stored[1], next(stored, None)
            compared, disagreement = _contact_disagreement(contact_id, contact_events, contact_stored)
            checked += compared
            if disagreement:
                return StateReport(checked, LedgerProblem(ProblemKind.STATE, disagreement))
    return StateReport(checked, None)
