"""The app as a database role that owns no table (README, "Database roles"): it runs, and can't undo the guards.

The grants are the README's own, read from it, so the README stays true. Roles are cluster-wide: each
test makes one with a name of its own and drops it, with everything granted to it, when it ends.
"""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from contacts.ledger import ledger_seal
from contacts.models import ConsentEvent, ConsentMethod
from contacts.services import consent_opt_in, consent_opt_out

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

README = Path(settings.BASE_DIR) / "README.md"


def _readme_grants(role: str) -> str:
    """The last SQL block of the README's "Database roles" section (what the owner runs), for `role`."""
    section = README.read_text().split("### Database roles", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    return blocks[-1].replace("smsconsent_app", role)


def _connect(user: str | None = None) -> psycopg.Connection:
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"] or "127.0.0.1", port=database["PORT"] or 5432, dbname=database["NAME"],
        user=user or database["USER"], password=database["PASSWORD"] or None, autocommit=True,
    )  # fmt: skip


@pytest.fixture
def app_role():
    """A login role granted what the README grants the app, as the tables' owner; dropped when the test ends."""
    role = f"smsconsent_app_test_{uuid.uuid4().hex[:12]}"
    with _connect() as owner:
        owner.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            owner.execute(_readme_grants(role))
            yield role
        finally:
            owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
            owner.execute(f'DROP OWNED BY "{role}"')
            owner.execute(f'DROP ROLE "{role}"')


def test_the_app_runs_as_a_role_that_owns_no_table(app_role, ledger_anchor_file):
    database = connection.settings_dict
    url = f"postgres://{app_role}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    script = (
        "from django.core.management import call_command\n"
        "from contacts.ledger import ledger_seal\n"
        "from contacts.models import ConsentMethod\n"
        "from contacts.services import consent_opt_in, consent_opt_out\n"
        "from contacts.tests.factories import make_contact, make_program\n"
        "contact, program = make_contact(), make_program()\n"
        "consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={'f': 1})\n"
        "consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={'body': 'STOP'})\n"
        "print('sealed', ledger_seal())\n"
        "call_command('verify_ledger', '--state')\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": url, "CONN_MAX_AGE": "0"}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sealed 2" in done.stdout
    assert "Consent ledger intact: 2 event(s) verified." in done.stdout
    assert "Subscriptions agree with the ledger: 1 subscription(s) replayed." in done.stdout
    with _connect() as owner:
        owners = owner.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [app_role]
        ).fetchone()
    assert owners == (0,)


REFUSED = {
    "ALTER TABLE contacts_consentevent DISABLE TRIGGER contacts_consentevent_no_update_delete": "must be owner",
    "ALTER TABLE contacts_consentevent DISABLE TRIGGER ALL": "must be owner",
    "DROP TRIGGER contacts_consentevent_no_truncate ON contacts_consentevent": "must be owner",
    "SET session_replication_role = replica": "permission denied",
    "TRUNCATE contacts_consentevent": "permission denied",
    "TRUNCATE contacts_contact CASCADE": "permission denied",
    "UPDATE contacts_consentevent SET kind = 'opt_in'": "permission denied",
    "DELETE FROM contacts_consentevent": "permission denied",
    # Sealing columns may be filled once; a sealed event's hash can't be replaced.
    "UPDATE contacts_consentevent SET hash = repeat('f', 64) WHERE position = 2": "append-only: UPDATE of row",
}


def test_a_role_that_owns_no_table_cannot_disable_the_trigger_truncate_or_change_ledger_rows(app_role):
    contact = make_contact()
    consent_opt_in(contact=contact, program=make_program(), method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    ledger_seal()
    sealed = list(ConsentEvent.objects.order_by("position").values_list("kind", "hash"))
    with _connect(app_role) as app:
        for statement, refusal in REFUSED.items():
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
                app.execute(statement)
        assert app.execute("SELECT count(*) FROM contacts_consentevent").fetchone() == (2,)
    assert list(ConsentEvent.objects.order_by("position").values_list("kind", "hash")) == sealed
