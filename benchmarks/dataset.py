"""A realistic benchmark data set, written with PostgreSQL COPY (the ORM would take hours at 1M).

Numbers spread over every textable US area code (so time zones and states
vary as in real life), three programs with the campaign's program at ~80%
subscribed, ~5% opted out, ~2% suppressed, some undeliverable numbers, tags
and attributes. Every subscription has its ledger event, hash-chained, so the
data would pass `manage.py verify_ledger`.
"""

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from contacts.anchors import Anchor, anchor_sink
from contacts.ledger import GENESIS_HASH, event_hash, event_row
from contacts.models import ConsentEvent, HashScheme, Program
from contacts.phones import phone_digest, phone_facts, phone_parse

FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hugo", "Iris", "Jon", ""]
CITIES = ["Austin", "Miami", "Denver", "Boston", "Tulsa", "Seattle", "Fresno", "Tampa"]
TIERS = ["gold", "silver", "bronze"]
TAGS = ["vip", "newsletter", "in-store", "online"]


@dataclass(frozen=True)
class AreaCode:
    code: int
    time_zones: str
    region: str


@dataclass(frozen=True)
class Dataset:
    scale: int
    campaign_program_id: int
    program_ids: tuple[int, ...]
    counts: dict


def textable_area_codes() -> list[AreaCode]:
    """Area codes whose numbers `phone_parse` accepts, with the zone and state their numbers get."""
    found = []
    for code in range(201, 990):
        sample = f"+1{code}2345678"
        try:
            facts = phone_facts(sample)
        except ValidationError:  # invalid, toll-free or otherwise not textable
            continue
        found.append(AreaCode(code, facts.time_zones, facts.region))
    return found


def _phones(rng: random.Random, area_codes: list[AreaCode], n: int):
    """n distinct valid numbers, spread over area codes; yields (e164, area_code)."""
    seen = set()
    while len(seen) < n:
        ac = area_codes[rng.randrange(len(area_codes))]
        exchange = rng.randrange(200, 1000)
        if exchange % 100 == 11 or exchange == 555:  # N11 and 555 exchanges aren't assignable
            continue
        e164 = f"+1{ac.code}{exchange}{rng.randrange(10000):04d}"
        if e164 in seen or not _textable(e164):
            continue
        seen.add(e164)
        yield e164, ac


def _textable(e164: str) -> bool:
    # Only numbers the product itself would accept, as if every contact had come in through a form.
    try:
        phone_parse(e164)
    except ValidationError:
        return False
    return True


def _reset(cursor) -> None:
    # The ledger refuses TRUNCATE; the benchmark's superuser skips that trigger, and starts a new anchor file.
    cursor.execute("SET session_replication_role = replica")
    cursor.execute(
        "TRUNCATE messaging_outboundmessage, contacts_subscription, contacts_consentevent, "
        "contacts_contact_tags, contacts_contact, contacts_suppressednumber, contacts_tag, "
        "contacts_programkeyword, campaigns_campaign_tags, campaigns_campaign, contacts_program "
        "RESTART IDENTITY CASCADE"
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    Path(settings.LEDGER_ANCHOR_FILE).unlink(missing_ok=True)


def _programs() -> list[Program]:
    specs = [("deals", "Weekly deals"), ("news", "Store news"), ("events", "Event invitations")]
    return [
        Program.objects.create(
            slug=slug,
            brand="Acme",
            name=name,
            description=f"{name} from Acme stores.",
            help_contact="help@acme.test",
            terms_url="https://acme.test/terms",
            privacy_url="https://acme.test/privacy",
            double_opt_in=False,
        )
        for slug, name in specs
    ]


def dataset_build(*, scale: int, seed: int = 7) -> Dataset:
    """Replace the database's contacts and consent with `scale` generated contacts."""
    rng = random.Random(seed)
    area_codes = textable_area_codes()
    connection.ensure_connection()
    raw = connection.connection  # psycopg connection, for COPY
    with connection.cursor() as cursor:
        _reset(cursor)
    programs = _programs()
    deals, news, events = programs
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO contacts_tag (name) VALUES (%s)", [(t,) for t in TAGS])
    now = datetime.now(UTC)
    counts = {"contacts": 0, "active": 0, "opted_out": 0, "pending": 0, "suppressed": 0, "undeliverable": 0}

    event_id = 0
    prev_hash = GENESIS_HASH
    # Rows for each table are streamed straight into COPY; nothing grows with the scale but `seen` numbers.
    with raw.cursor() as cur:
        with cur.copy(
            "COPY contacts_contact (id, phone, phone_digest, first_name, last_name, email, attributes, "
            "time_zones, region, undeliverable_at, undeliverable_reason, created_at, updated_at) FROM STDIN"
        ) as copy:
            subs_later = []  # (contact_id, e164) for the next COPY; ints and short strings only
            for i, (e164, ac) in enumerate(_phones(rng, area_codes, scale), start=1):
                undeliverable = rng.random() < 0.005
                counts["undeliverable"] += undeliverable
                copy.write_row(
                    (
                        i, e164, phone_digest(e164), FIRST_NAMES[i % len(FIRST_NAMES)], "", "",
                        f'{{"city": "{CITIES[i % len(CITIES)]}", "tier": "{TIERS[i % 3]}"}}',
                        ac.time_zones, ac.region,
                        now if undeliverable else None, "21211: invalid To" if undeliverable else "",
                        now, now,
                    )
                )  # fmt: skip
                subs_later.append((i, e164))
        counts["contacts"] = len(subs_later)

        with cur.copy("COPY contacts_contact_tags (contact_id, tag_id) FROM STDIN") as copy:
            for contact_id, _ in subs_later:
                for tag_id in range(1, len(TAGS) + 1):
                    if rng.random() < 0.25:
                        copy.write_row((contact_id, tag_id))

        with cur.copy("COPY contacts_suppressednumber (digest, reason, created_at) FROM STDIN") as copy:
            for _, e164 in subs_later:
                if rng.random() < 0.02:
                    copy.write_row((phone_digest(e164), "erased on request", now))
                    counts["suppressed"] += 1

        events_copy = cur.copy(
            "COPY contacts_consentevent (id, contact_id, phone, program_id, kind, method, evidence, actor_id, "
            "created_at, position, prev_hash, hash, hash_scheme) FROM STDIN"
        )
        subscription_rows = []
        with events_copy as copy:
            for contact_id, e164 in subs_later:
                for program, share in ((deals, 0.88), (news, 0.3), (events, 0.1)):
                    if rng.random() >= share:
                        continue
                    roll = rng.random()
                    kinds = ["opt_in"]
                    status = "active"
                    if program is deals and roll < 0.057:
                        kinds, status = ["opt_in", "opt_out"], "opted_out"
                    elif program is deals and roll < 0.09:
                        kinds, status = ["pending"], "pending"
                    at = now - timedelta(days=rng.randrange(1, 900))
                    for kind in kinds:
                        event_id += 1
                        event = ConsentEvent(
                            id=event_id, contact_id=contact_id, phone=e164, program_id=program.pk, kind=kind,
                            method="web_form" if kind != "opt_out" else "keyword",
                            evidence={"form_url": f"https://acme.test/join/{program.slug}/", "ip": "203.0.113.9",
                                      "disclosure_hash": "bench"},
                            actor_id=None, created_at=at, prev_hash=prev_hash,
                        )  # fmt: skip
                        event.hash = event_hash(prev_hash, event_row(event), position=event_id)
                        prev_hash = event.hash
                        copy.write_row(
                            (event_id, contact_id, e164, program.pk, kind, event.method, _json(event.evidence),
                             None, at, event_id, event.prev_hash, event.hash, HashScheme.HMAC_SHA256)
                        )  # fmt: skip
                        at += timedelta(minutes=1)
                    subscription_rows.append((contact_id, program.pk, status, event_id, at))
                    if program is deals:
                        counts[status] = counts.get(status, 0) + 1
        del subs_later

        with cur.copy(
            "COPY contacts_subscription (contact_id, program_id, status, last_event_id, pending_expires_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            for contact_id, program_id, status, last_event_id, at in subscription_rows:
                expires = now + timedelta(days=1) if status == "pending" else None
                copy.write_row((contact_id, program_id, status, last_event_id, expires, at))
        del subscription_rows

    with connection.cursor() as cursor:
        for table in ("contacts_contact", "contacts_consentevent"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cursor.execute("ANALYZE")
    if event_id:
        anchor_sink().append(Anchor(event_id, prev_hash, now))  # the sealer builds only on an anchored chain
    return Dataset(scale=scale, campaign_program_id=deals.pk, program_ids=tuple(p.pk for p in programs), counts=counts)


def _json(value: dict) -> str:
    return json.dumps(value, default=str)
