"""Inbound texts kept while PostgreSQL can't take them, and applied as soon as it can.

Twilio does not retry an inbound webhook that fails, so a STOP answered with a
500 would be lost. When the database is unreachable (refused, or the connection
dies mid-request) or a lock keeps the text waiting past
`INBOUND_LOCK_TIMEOUT_MS`, the webhook keeps the verified, cleaned parameters
here and answers 200 at once. The spool is a Redis list every process sees;
when Redis is down too, entries go to files under `INBOUND_SPOOL_DIR` on the
web host.

Entries are applied, oldest first, through the same `inbound_receive` as the
webhook (replies then go out through the outbox, not the webhook answer):

- by the gate before any text goes out (`outbox_send_claimed`): while an entry
  waits, nothing is sent, so a kept STOP is recorded before the next text;
- by beat every `INBOUND_SPOOL_SECONDS`, and by a task the webhook enqueues
  after the next text it stores;
- for files, by the web host's next webhook request and `manage.py
  inbound_spool_apply`.

Applying is idempotent (a MessageSid is stored once), so an entry applied twice,
or also found by the backstop poll, changes nothing.

Status callbacks the database can't take are kept here too (Redis only), and
beat applies them with the texts. Twilio retries a failed callback only where
the callback URL asks it to (its default retry policy covers connections that
fail, not 5xx answers), so a receipt answered 503 would usually be lost; kept,
it is answered 200 and applied once the database is back. Applying a receipt
twice changes nothing (statuses never move backwards).
"""

import fcntl
import json
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.utils.dateparse import parse_datetime

from smsconsent.redis import redis_client, redis_key

from .outbox import outbox_deliver, outbox_status_apply

log = logging.getLogger(__name__)

_LOCK_SECONDS = 30  # one applier at a time; a dead one's lock expires


def _key(name: str) -> str:
    return redis_key("messaging", "inbound-spool", name)


def inbound_spool_keep(*, params: dict, received_at: datetime) -> str:
    """Keep one verified inbound text for later. Returns where ("redis" or "disk"); raises OSError if neither works."""
    entry = json.dumps({"params": params, "received_at": received_at.isoformat()})
    try:
        redis_client().rpush(_key("entries"), entry)
        return "redis"
    except Exception:  # Redis down too: the web host's disk is the last place left
        log.exception("inbound spool: Redis unavailable, keeping the text on disk")
    folder = Path(settings.INBOUND_SPOOL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{received_at.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(4)}.json"
    temporary = folder / f".{name}.tmp"
    with open(temporary, "w") as file:
        file.write(entry)
        file.flush()
        os.fsync(file.fileno())
    temporary.rename(folder / name)
    return "disk"


def inbound_spool_clear() -> None:
    """Forget every entry kept in Redis (tests; an operator who applied them by hand)."""
    redis_client().delete(_key("entries"), _key("lock"), _key("statuses"), _key("statuses-lock"))


def status_spool_keep(*, sid: str, status: str, error_code: str) -> None:
    """Keep one verified status callback the database could not take. Raises when Redis is away too."""
    entry = json.dumps({"sid": sid, "status": status, "error_code": error_code})
    redis_client().rpush(_key("statuses"), entry)


def status_spool_waiting() -> int:
    return redis_client().llen(_key("statuses"))


def status_spool_apply() -> int:
    """Apply the status callbacks kept during an outage, oldest first. Returns how many were applied.

    Stops at the first one the database can't take yet (the next run goes on from there).
    """
    client = redis_client()
    token = secrets.token_hex(8)
    if not status_spool_waiting() or not client.set(_key("statuses-lock"), token, nx=True, ex=_LOCK_SECONDS):
        return 0
    applied = 0
    try:
        while (raw := client.lindex(_key("statuses"), 0)) is not None:
            try:
                outbox_status_apply(**json.loads(raw))
            except DatabaseError:
                log.warning("status spool: the database is still unavailable; will try again", exc_info=True)
                break
            except (ValueError, TypeError):
                log.error("status spool: dropping an unreadable entry: %r", raw[:200])
            client.lpop(_key("statuses"))
            applied += 1
        return applied
    finally:
        if client.get(_key("statuses-lock")) == token.encode():
            client.delete(_key("statuses-lock"))


def inbound_spool_waiting() -> int:
    """How many entries wait in Redis. Raises when Redis can't be asked (the gate then holds sends back)."""
    return redis_client().llen(_key("entries"))


def inbound_spool_apply() -> bool:
    """Apply every entry waiting in Redis; True when none is left (the usual case costs one LLEN).

    False when an entry could not be applied yet (the database is still away), when another
    process is applying them right now, or when Redis can't be asked: a caller about to send
    must then hold back.
    """
    try:
        if not inbound_spool_waiting():
            return True
        client = redis_client()
        token = secrets.token_hex(8)
        if not client.set(_key("lock"), token, nx=True, ex=_LOCK_SECONDS):
            return False
    except Exception:
        log.exception("inbound spool: Redis unavailable; holding sends back")
        return False
    try:
        while (raw := client.lindex(_key("entries"), 0)) is not None:
            replies = _apply_one(raw)
            if replies is None:
                return False
            client.lpop(_key("entries"))
            # Only now: a reply's send would otherwise find this very entry still waiting, and hold back.
            outbox_deliver(replies)
        return True
    finally:
        if client.get(_key("lock")) == token.encode():
            client.delete(_key("lock"))


def inbound_spool_apply_files() -> int:
    """Apply the entries this host kept on disk (Redis was down too). Returns how many were applied."""
    folder = Path(settings.INBOUND_SPOOL_DIR)
    if not folder.is_dir():
        return 0
    applied = 0
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for path in sorted(p for p in folder.glob("*.json")):
            replies = _apply_one(path.read_bytes())
            if replies is None:
                break
            path.unlink()
            outbox_deliver(replies)
            applied += 1
    return applied


def inbound_spool_has_files() -> bool:
    folder = Path(settings.INBOUND_SPOOL_DIR)
    return folder.is_dir() and any(folder.glob("*.json"))


def _apply_one(raw: bytes | str) -> list[int] | None:
    """Apply one entry; the ids of its replies to send, or None when the database can't take it yet."""
    from .inbound import inbound_receive

    try:
        entry = json.loads(raw)
        params, received_at = entry["params"], parse_datetime(entry["received_at"])
    except (ValueError, KeyError, TypeError):
        log.error("inbound spool: dropping an unreadable entry: %r", raw[:200])
        return []
    try:
        outcome = inbound_receive(params=params, received_at=received_at, reply_by="api")
    except DatabaseError:
        log.warning("inbound spool: the database is still unavailable; will try again", exc_info=True)
        return None
    log.info("inbound spool: applied %s from %s", params.get("MessageSid"), received_at)
    return outcome.queued
