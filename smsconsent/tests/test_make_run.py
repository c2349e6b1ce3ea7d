"""`make run`'s environment (scripts/dev_env.py): keys made once, private, and the same for every process."""

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "dev_env.py"
KEYS = ("SECRET_KEY", "SUPPRESSION_HMAC_KEY", "LEDGER_HMAC_KEY")


def dev_env(var: Path, *, env_file: Path | None = None, port: int = 8123, **environment) -> dict[str, str]:
    """Run the script as scripts/run.sh does; return what it exports."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    arguments = ["--var", str(var), "--env-file", str(env_file or var / "no.env"), "--port", str(port)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        env={**clean, **environment}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    exports = {}
    for line in done.stdout.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        exports[name] = shlex.split(value)[0]
    return exports


@pytest.mark.smoke
def test_keys_are_made_once_kept_private_and_the_same_on_every_start(tmp_path):
    first = dev_env(tmp_path)
    second = dev_env(tmp_path)

    assert first == second
    keys_file = tmp_path / "dev-keys.env"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    for name in KEYS:
        assert len(first[name]) >= 50, name
    assert len({first[name] for name in KEYS}) == 3  # three keys, not one key three times
    assert re.fullmatch(r"AC[0-9a-f]{32}", first["TWILIO_ACCOUNT_SID"])
    assert re.fullmatch(r"[0-9a-f]{32}", first["TWILIO_AUTH_TOKEN"])
    # Another checkout gets keys of its own.
    assert dev_env(tmp_path / "elsewhere")["SECRET_KEY"] != first["SECRET_KEY"]


def test_a_keys_file_with_wider_permissions_is_tightened_and_a_missing_key_added(tmp_path):
    keys_file = tmp_path / "dev-keys.env"
    keys_file.write_text("SECRET_KEY=kept-from-before-0123456789-0123456789-0123456789\n")
    keys_file.chmod(0o644)
    exports = dev_env(tmp_path)
    assert exports["SECRET_KEY"] == "kept-from-before-0123456789-0123456789-0123456789"
    assert exports["LEDGER_HMAC_KEY"] and "LEDGER_HMAC_KEY=" in keys_file.read_text()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600


def test_without_twilio_credentials_texts_go_to_the_console_and_the_webhook_gets_a_dev_token(tmp_path):
    exports = dev_env(tmp_path, port=8123)
    assert exports["SMS_BACKEND"] == "console"  # explicit: with both credentials set it would default to twilio
    assert exports["TWILIO_FROM_NUMBER"] == "+15005550006"
    assert exports["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"  # follows RUN_PORT
    assert exports["LOG_LEVEL_REQUESTS"] == "WARNING"


def test_what_the_developer_set_wins_in_the_environment_or_in_env(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nTWILIO_ACCOUNT_SID=ACmine\nTWILIO_AUTH_TOKEN='token-of-mine'\nPUBLIC_BASE_URL=\n")
    exports = dev_env(tmp_path, env_file=env_file, SECRET_KEY="set-by-me", PUBLIC_BASE_URL="https://tunnel.example")
    assert "SECRET_KEY" not in exports and "PUBLIC_BASE_URL" not in exports
    # Real credentials: no development token over them, and the settings' own backend choice stands.
    assert not {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_BACKEND", "TWILIO_FROM_NUMBER"} & set(exports)
    assert exports["SUPPRESSION_HMAC_KEY"]  # still made and shared


def test_every_process_started_with_the_exports_reads_the_same_keys(tmp_path):
    """Web, worker and beat all start from these exports: each process sees the same keys in its settings."""
    exports = dev_env(tmp_path)
    probe = "from django.conf import settings as s; print(s.SECRET_KEY, s.SUPPRESSION_HMAC_KEY, s.SMS_BACKEND)"
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env = {**clean, **exports, "DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"}
    seen = {
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", probe], cwd=settings.BASE_DIR, env=env,
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.split("\n")[-2]
        for _ in range(2)
    }  # fmt: skip
    assert seen == {f"{exports['SECRET_KEY']} {exports['SUPPRESSION_HMAC_KEY']} console"}
