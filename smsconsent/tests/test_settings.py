"""Settings read from the environment: safe in production, and loud about missing Twilio settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from smsconsent.checks import twilio_settings_check
from testing.ports import free_port

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only-0123456789abcdef",
    "SUPPRESSION_HMAC_KEY": "another-long-random-key-for-the-suppression-list",
    "LEDGER_HMAC_KEY": "a-third-long-random-key-for-the-consent-ledger-chain",
    "ALLOWED_HOSTS": "sms.example.com",
    "DATABASE_URL": "postgres://smsconsent@db.example.com:5432/smsconsent",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "SMS_BACKEND": "console",
}


def _manage(*args, env: dict) -> subprocess.CompletedProcess:
    # Start from a clean slate: nothing from the test run's own environment leaks in.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SMSCONSENT_NETWORK_GUARD_LOG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**base, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.smoke
def test_production_refuses_to_start_without_a_secret_key():
    done = _manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": ""})
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=0" in done.stderr


def test_production_refuses_to_start_without_a_suppression_key():
    done = _manage("check", env={**PRODUCTION_ENV, "SUPPRESSION_HMAC_KEY": ""})
    assert done.returncode != 0
    assert "SUPPRESSION_HMAC_KEY must be set" in done.stderr


def test_check_deploy_is_clean_with_production_settings():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.smoke
def test_twilio_backend_without_credentials_or_sender_warns(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = settings.TWILIO_FROM_NUMBER = ""
    warnings = twilio_settings_check()
    assert [w.id for w in warnings] == ["smsconsent.W001", "smsconsent.W002"]
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set" in warnings[0].msg

    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    assert twilio_settings_check() == []
    settings.SMS_BACKEND = "console"
    settings.TWILIO_ACCOUNT_SID = ""
    assert twilio_settings_check() == []


def test_manage_check_shows_the_twilio_warning():
    env = {**PRODUCTION_ENV, "DEBUG": "1", "SMS_BACKEND": "twilio", "DATABASE_URL": "sqlite:///:memory:"}
    done = _manage("check", env=env)
    assert "smsconsent.W001" in done.stderr + done.stdout
    assert "smsconsent.W002" in done.stderr + done.stdout


def test_sms_go_to_the_console_unless_twilio_credentials_are_given():
    probe = "from django.conf import settings; print(settings.SMS_BACKEND)"
    env = {**PRODUCTION_ENV, "DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"}
    env.pop("SMS_BACKEND")
    assert _manage("shell", "-c", probe, env=env).stdout.strip().endswith("console")
    with_twilio = {**env, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t"}
    assert _manage("shell", "-c", probe, env=with_twilio).stdout.strip().endswith("twilio")


# --- /healthz ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


@pytest.mark.django_db
def test_healthz_is_503_when_redis_does_not_answer(client, settings):
    closed_port = free_port()  # nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert b"redis" in response.content


@pytest.mark.smoke
def test_env_example_lists_every_setting_read_from_the_environment():
    import re

    source = (BASE_DIR / "smsconsent" / "settings.py").read_text()
    read = set(re.findall(r"""env\.\w+\(\s*["']([A-Z0-9_]+)["']""", source))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    assert read - listed == set(), "add these to .env.example"
