"""The chain is keyed: LEDGER_HMAC_KEY from the environment, events sealed before the key still verify."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contacts.anchors import FileAnchorSink
from contacts.ledger import GENESIS_HASH, ledger_check, ledger_seal
from contacts.models import ConsentEvent, ConsentMethod, HashScheme
from contacts.services import consent_opt_in

from .factories import make_contact, make_program
from .tampering import chain_rows, past_the_trigger, sealed_ledger, unkeyed_hash, verify_fails

pytestmark = pytest.mark.django_db


def _rechain_unkeyed(rows: list[dict], prev_hash: str) -> None:
    """Relabel `rows` as sealed before the key and recompute their hashes from `prev_hash` on."""
    with past_the_trigger() as cursor:
        for row in rows:
            row["prev_hash"], row["hash"] = prev_hash, unkeyed_hash(prev_hash, row)
            prev_hash = row["hash"]
            cursor.execute(
                "UPDATE contacts_consentevent SET prev_hash = %s, hash = %s, hash_scheme = 'sha256' WHERE id = %s",
                [row["prev_hash"], row["hash"], row["id"]],
            )


@pytest.mark.smoke
def test_every_seal_is_keyed_and_a_different_key_fails_verification(settings):
    sealed_ledger()
    assert set(ConsentEvent.objects.values_list("hash_scheme", flat=True)) == {HashScheme.HMAC_SHA256}
    assert ledger_check().problem is None
    settings.LEDGER_HMAC_KEY = "another-key-of-at-least-thirty-two-characters"
    first = chain_rows()[0]
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{first['id']}: its content does not match its hash" in str(error)
    assert "or the key is not the sealer's" in str(error)


def test_an_event_relabelled_unkeyed_after_the_chain_became_keyed_breaks_it():
    sealed_ledger()
    chain = chain_rows()
    _rechain_unkeyed(chain[2:], chain[1]["hash"])
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{chain[2]['id']}: it claims the unkeyed scheme after the chain became keyed" in str(error)


def test_a_chain_relabelled_unkeyed_from_the_start_disagrees_with_its_anchors():
    sealed_ledger()
    chain = chain_rows()
    chain[-1]["kind"] = "opt_in"  # the last STOP never happened
    with past_the_trigger() as cursor:
        cursor.execute("UPDATE contacts_consentevent SET kind = 'opt_in' WHERE id = %s", [chain[-1]["id"]])
    _rechain_unkeyed(chain, GENESIS_HASH)
    error = verify_fails()
    assert error.returncode == 4
    assert f"the event at position {chain[-1]['position']} is not the one anchored" in str(error)


@pytest.mark.parametrize("scheme", [None, "sha256", "hmac-sha256"])
def test_an_event_forged_at_the_head_without_the_key_breaks_the_chain_whatever_scheme_it_claims(scheme):
    sealed_ledger()
    head = chain_rows()[-1]
    forged = {**head, "kind": "opt_in", "method": "admin", "evidence": {"reason": "customer called"}}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_consentevent (contact_id, phone, program_id, kind, method, evidence, created_at, "
            "position, prev_hash, hash, hash_scheme) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [forged["contact_id"], forged["phone"], forged["program_id"], forged["kind"], forged["method"],
             json.dumps(forged["evidence"]), forged["created_at"], head["position"] + 1, head["hash"],
             unkeyed_hash(head["hash"], forged), scheme],
        )  # fmt: skip
        forged_id = cursor.fetchone()[0]
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{forged_id}:" in str(error)


def _settings_in_a_new_process(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    environment.update({"DJANGO_SETTINGS_MODULE": "smsconsent.settings", **env})
    code = "from django.conf import settings; print(settings.LEDGER_HMAC_KEY)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=django_settings.BASE_DIR, env=environment, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_production_settings_refuse_to_start_without_a_ledger_key_or_with_a_short_one():
    production = {"DEBUG": "0", "SECRET_KEY": "s" * 50, "SUPPRESSION_HMAC_KEY": "h" * 40}
    missing = _settings_in_a_new_process(**production)
    assert missing.returncode != 0
    assert "LEDGER_HMAC_KEY must be set when DEBUG=0" in missing.stderr
    short = _settings_in_a_new_process(**production, LEDGER_HMAC_KEY="k" * 31)
    assert short.returncode != 0
    assert "LEDGER_HMAC_KEY must be at least 32 characters long" in short.stderr
    given = _settings_in_a_new_process(**production, LEDGER_HMAC_KEY="k" * 32)
    assert (given.returncode, given.stdout.strip()) == (0, "k" * 32)


def test_every_development_process_derives_the_same_ledger_key_from_the_given_secret_key():
    first = _settings_in_a_new_process(DEBUG="1", SECRET_KEY="dev-secret")
    second = _settings_in_a_new_process(DEBUG="1", SECRET_KEY="dev-secret")
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) == 64
    assert first.stdout.strip() != django_settings.LEDGER_HMAC_KEY  # this process has another SECRET_KEY


def _insert_sealed_before_the_key(contact, program) -> list[int]:
    """Two events as the sealer chained them before the key (schema of migration 0005: no hash_scheme)."""
    ids, prev_hash = [], GENESIS_HASH
    with connection.cursor() as cursor:
        for position, kind in enumerate(["opt_in", "opt_out"], start=1):
            row = {
                "contact_id": contact.pk, "phone": str(contact.phone), "program_id": program.pk, "kind": kind,
                "method": "web_form", "evidence": {"f": position}, "actor_id": None, "created_at": timezone.now(),
            }  # fmt: skip
            row_hash = unkeyed_hash(prev_hash, row)
            cursor.execute(
                "INSERT INTO contacts_consentevent (contact_id, phone, program_id, kind, method, evidence, created_at, "
                "position, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                [row["contact_id"], row["phone"], row["program_id"], kind, row["method"], json.dumps(row["evidence"]),
                 row["created_at"], position, prev_hash, row_hash],
            )  # fmt: skip
            ids.append(cursor.fetchone()[0])
            prev_hash = row_hash
    return ids


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_events_sealed_before_the_key_still_verify_and_the_keyed_chain_builds_on_them(ledger_anchor_file):
    contact, program = make_contact(), make_program()
    # Every app's newest migration: going back unapplies the other apps' migrations that depend on these too.
    leaf = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        MigrationExecutor(connection).migrate([("contacts", "0005_ledger_sealed_after_commit")])
        old_ids = _insert_sealed_before_the_key(contact, program)
    finally:
        MigrationExecutor(connection).migrate(leaf)
    assert list(ConsentEvent.objects.order_by("position").values_list("hash_scheme", flat=True)) == ["sha256"] * 2

    consent_opt_in(contact=contact, program=program, method=ConsentMethod.ADMIN, evidence={"reason": "called"})
    assert ledger_seal() == 1
    chain = chain_rows()
    assert ConsentEvent.objects.get(position=3).hash_scheme == HashScheme.HMAC_SHA256
    assert chain[2]["prev_hash"] == chain[1]["hash"]  # the keyed event covers the last unkeyed hash
    # The unkeyed head was anchored before the first keyed seal, then the keyed head.
    assert [anchor.position for anchor in FileAnchorSink(ledger_anchor_file).read()] == [2, 3]
    call_command("verify_ledger", "--state", stdout=StringIO())

    # Rewriting the unkeyed events, hashes and all, breaks the keyed event that covers them.
    chain[1]["kind"] = "opt_in"
    with past_the_trigger() as cursor:
        cursor.execute("UPDATE contacts_consentevent SET kind = 'opt_in' WHERE id = %s", [old_ids[1]])
    _rechain_unkeyed(chain[:2], GENESIS_HASH)
    error = verify_fails()
    assert error.returncode == 2
    assert f"broken at event #{chain[2]['id']}: its prev_hash does not match" in str(error)
