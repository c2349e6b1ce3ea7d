"""`verify_ledger`, `seed_demo`, and the start-up script's own checks."""

import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from campaigns.models import Campaign
from contacts.ledger import ledger_seal
from contacts.management.commands import seed_demo
from contacts.models import ConsentEvent, ConsentMethod, Contact, Program, SubscriptionStatus
from contacts.services import consent_opt_in, consent_opt_out
from testing.ports import free_port

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db


def _events(n_contacts=2):
    program = make_program()
    for _ in range(n_contacts):
        contact = make_contact()
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
        consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    ledger_seal()


@pytest.mark.smoke
def test_verify_ledger_reports_the_count_when_intact():
    _events()
    consent_opt_in(contact=make_contact(), program=make_program(), method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    out = StringIO()
    call_command("verify_ledger", chunk_size=1, stdout=out)
    assert "intact: 4 event(s) verified. 1 recent event(s) wait to be sealed." in out.getvalue()


def test_verify_ledger_fails_when_sealing_has_stopped(settings):
    settings.LEDGER_SEAL_OVERDUE_SECONDS = 0
    _events()
    consent_opt_in(contact=make_contact(), program=make_program(), method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    waiting = ConsentEvent.objects.get(position__isnull=True)
    with pytest.raises(CommandError, match=f"incomplete at event #{waiting.pk}: it has waited") as error:
        call_command("verify_ledger")
    assert error.value.returncode == 3


def test_verify_ledger_names_the_first_tampered_event_and_fails():
    _events()
    first_opt_out = ConsentEvent.objects.filter(kind="opt_out").order_by("id").first()
    with connection.cursor() as cursor:
        # Past the append-only trigger, as someone with direct database access could.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE contacts_consentevent SET evidence = '{\"body\": \"START\"}' WHERE id = %s",
                       [first_opt_out.pk])  # fmt: skip
        cursor.execute("SET session_replication_role = DEFAULT")
    with pytest.raises(CommandError, match=f"broken at event #{first_opt_out.pk}: its content") as error:
        call_command("verify_ledger")
    assert error.value.returncode != 0


def test_verify_ledger_detects_a_removed_event():
    _events()
    removed = ConsentEvent.objects.order_by("id")[1]
    following = ConsentEvent.objects.order_by("id")[2]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM contacts_subscription")  # they point at ledger rows
        cursor.execute("DELETE FROM contacts_consentevent WHERE id = %s", [removed.pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    with pytest.raises(CommandError, match=f"broken at event #{following.pk}: its prev_hash"):
        call_command("verify_ledger")


@pytest.mark.smoke
def test_seed_demo_twice_changes_nothing_the_second_time(tmp_path, monkeypatch):
    monkeypatch.setattr(seed_demo, "DEMO_LOGIN_FILE", tmp_path / "demo-login.txt")
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    counts = [m.objects.count() for m in (get_user_model(), Program, Contact, ConsentEvent, Campaign)]
    call_command("seed_demo", stdout=second)
    assert [m.objects.count() for m in (get_user_model(), Program, Contact, ConsentEvent, Campaign)] == counts
    assert first.getvalue() == second.getvalue()
    username, password = (tmp_path / "demo-login.txt").read_text().strip().split(":", 1)
    assert f"Demo admin login: {username} / {password}" in first.getvalue()
    assert get_user_model().objects.get(username=username).check_password(password)

    deals = Program.objects.get(slug="deals")
    assert list(deals.keywords.values_list("keyword", flat=True)) == ["DEALS"]
    statuses = sorted(deals.subscriptions.values_list("status", flat=True))
    assert statuses.count(SubscriptionStatus.OPTED_OUT) == 1 and statuses.count(SubscriptionStatus.ACTIVE) >= 2
    assert Campaign.objects.get().status == "draft"
    call_command("verify_ledger", stdout=StringIO())


def test_seed_demo_if_empty_leaves_a_database_with_users_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(seed_demo, "DEMO_LOGIN_FILE", tmp_path / "demo-login.txt")
    get_user_model().objects.create_user("someone")
    call_command("seed_demo", if_empty=True, stdout=StringIO())
    assert not Program.objects.filter(slug="deals").exists()


@pytest.mark.smoke
def test_run_script_says_what_to_install_when_redis_is_missing():
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "REDIS_SERVER": "redis-server-that-is-not-installed",
    }
    script = Path(settings.BASE_DIR) / "scripts" / "run.sh"
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "redis-server is not installed" in done.stderr
    assert "apt-get install redis-server" in done.stderr
    assert "Starting development server" not in done.stdout + done.stderr


def test_run_script_refuses_without_a_virtualenv(tmp_path):
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "run.sh"
    script.write_text((Path(settings.BASE_DIR) / "scripts" / "run.sh").read_text())
    script.chmod(0o755)
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "make run" in done.stderr

