"""`make run`'s development environment, printed as shell `export` lines for scripts/run.sh to eval.

Keys are made once, at random, in var/dev-keys.env (file mode 600) and reused, so every process
`make run` starts (web, worker, beat) and every restart share them: the suppression list's hashes
match everywhere, the ledger's chain verifies, and staff stay signed in.

Without Twilio credentials of the developer's own, development ones are made the same way, with
texts still going to the console: the inbound webhook then verifies what the development phone
signs. Whatever the developer set, in the environment or in .env, wins over all of this.

    python scripts/dev_env.py [--var DIR] [--env-file PATH] [--port N]
"""

import argparse
import os
import secrets
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS_FILE = "dev-keys.env"
KEYS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "SUPPRESSION_HMAC_KEY": lambda: secrets.token_urlsafe(48),
    "LEDGER_HMAC_KEY": lambda: secrets.token_urlsafe(48),
    "TWILIO_ACCOUNT_SID": lambda: "AC" + secrets.token_hex(16),
    "TWILIO_AUTH_TOKEN": lambda: secrets.token_hex(16),
}
TWILIO_CREDENTIALS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
# Twilio's documented test "From" number: valid, and nobody's phone.
DEV_FROM_NUMBER = "+15005550006"


def keys_load(var_dir: Path) -> dict[str, str]:
    """The development keys, creating the file or any key missing from it; the file is left readable by us alone."""
    path = var_dir / KEYS_FILE
    var_dir.mkdir(parents=True, exist_ok=True)
    stored = _read_env_file(path)
    missing = {name: make() for name, make in KEYS.items() if not stored.get(name)}
    if missing:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a") as keys_file:
            if not stored:
                keys_file.write("# Development keys for `make run` (scripts/dev_env.py); never for production.\n")
            keys_file.writelines(f"{name}={value}\n" for name, value in missing.items())
        print(f"made development keys in {path}: {', '.join(missing)}", file=sys.stderr)
    os.chmod(path, 0o600)  # also tightens a file someone copied with wider permissions
    return {**stored, **missing}


def dev_environment(*, keys: dict[str, str], given: dict[str, str], port: int) -> dict[str, str]:
    """What `make run` exports: each value the developer did not set themselves (`given`: environment and .env)."""
    wanted = {name: keys[name] for name in ("SECRET_KEY", "SUPPRESSION_HMAC_KEY", "LEDGER_HMAC_KEY")}
    if not any(given.get(name) for name in TWILIO_CREDENTIALS):
        # SMS_BACKEND explicitly: with both credentials set, the settings would pick the real Twilio.
        wanted.update({name: keys[name] for name in TWILIO_CREDENTIALS})
        wanted.update({"SMS_BACKEND": "console", "TWILIO_FROM_NUMBER": DEV_FROM_NUMBER})
    wanted["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"  # where the webhook is, so its signatures verify
    wanted["LOG_LEVEL_REQUESTS"] = "WARNING"  # the phone polls: keep request lines to 4xx and 5xx
    return {name: value for name, value in wanted.items() if not given.get(name)}


def _read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as .env files hold them (comments and blank lines skipped, quotes removed)."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="where the keys file lives")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="the developer's .env")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RUN_PORT") or 8000))
    args = parser.parse_args()
    given = {**_read_env_file(args.env_file), **{k: v for k, v in os.environ.items() if v}}
    exports = dev_environment(keys=keys_load(args.var), given=given, port=args.port)
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
