"""The processes a benchmark runs: the fast Twilio fake, the web server, Celery workers and beat.

Each is a real process with the production entry point, started with one
environment (`bench_env`) and always stopped; peak memory is read from /proc.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
FROM_NUMBER = "+15005550006"
LOG_DIR = ROOT / "var" / "bench-logs"
# A database and a Redis database of the benchmarks' own, never the development or test ones.
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/smsconsent_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(*, database_url: str, redis_url: str, fake_url: str = "", web_url: str = "", **overrides) -> dict:
    """The environment every process of a run shares (the same HMAC key the data set was built with)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "smsconsent.settings",
            "DEBUG": "0",
            "SECRET_KEY": "bench-secret-key-long-enough-for-django-at-fifty-characters",
            "SUPPRESSION_HMAC_KEY": "bench-suppression-hmac-key-at-least-32-characters",
            "LEDGER_HMAC_KEY": "bench-ledger-key-at-least-32-characters",
            "LEDGER_ANCHOR_FILE": str(ROOT / "var" / "bench-ledger-anchors.jsonl"),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": fake_url or "http://127.0.0.1:9",
            "PUBLIC_BASE_URL": web_url or "http://127.0.0.1:8000",
            "SEND_RATE_PER_SECOND": "0",
            "QUIET_HOURS_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of this process and each of its children, in MB."""
        peaks = {}
        for pid in [self.popen.pid, *_children(self.popen.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
            except FileNotFoundError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[f"{pid} {cmd}"] = int(line.split()[1]) / 1024
        return peaks


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
        for kid in kids:
            found += [kid, *_children(kid)]
    return found


# CPU priority of the bulk work (sending, delivery receipts) when it shares cores with the opt-out path:
# `nice` so a STOP never waits for a core behind a campaign, as the README's scaling notes advise.
BULK_NICENESS = 10


def _spawn(
    name: str, argv: list[str], env: dict, ready: str | None = None, timeout: float = 60, niceness: int = 0
) -> Proc:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}.log"
    if niceness:
        argv = ["nice", "-n", str(niceness), *argv]  # nice execs the command: the pid stays the same
    log = open(log_path, "w")  # noqa: SIM115 — lives as long as the process
    popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc = Proc(name, popen, log_path)
    if ready:
        deadline = time.monotonic() + timeout
        while ready not in log_path.read_text():
            if popen.poll() is not None or time.monotonic() > deadline:
                proc.stop()
                raise RuntimeError(f"{name} did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
    return proc


def start_fake(env: dict, *, callbacks: bool) -> Proc:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.fast_fake", "--port", str(port), "--token", AUTH_TOKEN,
            "--account-sid", ACCOUNT_SID]  # fmt: skip
    if callbacks:
        argv += ["--callbacks", "--callback-concurrency", "8"]
    proc = _spawn("fake", argv, env, ready=f"port {port}")
    proc.extra["url"] = f"http://127.0.0.1:{port}"
    return proc


def start_web(
    env: dict, *, port: int, workers: int = 2, threads: int = 4, name: str = "web", niceness: int = 0
) -> Proc:
    argv = [sys.executable, "-m", "gunicorn", "smsconsent.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers),
            "--threads", str(threads), "--log-level", "warning"]  # fmt: skip
    proc = _spawn(name, argv, env, niceness=niceness)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web server did not start: {proc.log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)
    proc.extra["url"] = f"http://127.0.0.1:{port}"
    return proc


def start_worker(env: dict, name: str, *, concurrency: int = 1, niceness: int = 0) -> Proc:
    argv = [sys.executable, "-m", "celery", "-A", "smsconsent", "worker", "-n", f"{name}@%h", "-c", str(concurrency),
            "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "INFO"]  # fmt: skip
    return _spawn(name, argv, env, ready="ready.", niceness=niceness)


def start_beat(env: dict) -> Proc:
    schedule = LOG_DIR / "celerybeat-schedule"
    argv = [sys.executable, "-m", "celery", "-A", "smsconsent", "beat", "-s", str(schedule), "-l", "INFO"]
    return _spawn("beat", argv, env, ready="beat: Starting")
