"""Real Celery worker (and beat) processes, and gunicorn web processes, for integration tests.

Each process gets an environment pointing at the pytest test database, the
test Redis database and (optionally) the Twilio fake, runs behind the network
guard (`testing.worker_main`), logs to a file the test can show, and is always
terminated: the `celery_processes` fixture kills whatever a test left running.

    def test_x(celery_processes, fake_twilio):
        worker = celery_processes.worker("w1", fake=fake_twilio, SEND_RATE_PER_SECOND="0")
        worker.kill()       # SIGKILL, like a crashed machine
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
READY_MARKERS = {"worker": "ready.", "beat": "beat: Starting", "web": "Booting worker"}


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's `test_…` database)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


def process_env(*, fake=None, **overrides) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "smsconsent.settings",
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
            "QUIET_HOURS_ENABLED": "1" if settings.QUIET_HOURS_ENABLED else "0",
        }
    )
    if fake is not None:
        env.update(fake.env())
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class CeleryProcess:
    def __init__(
        self, kind: str, name: str, args: list[str], env: dict[str, str], log_dir: Path, prefix: list[str] = ()
    ):
        self.kind, self.name = kind, name
        self.log_path = log_dir / f"{kind}-{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop())
        if kind == "web":
            command = [sys.executable, "-m", "testing.web_main", "smsconsent.wsgi", *args]
        else:
            command = [sys.executable, "-m", "testing.worker_main", "-A", "smsconsent", *args]
        # `prefix` runs the process elsewhere, e.g. `ip netns exec host-a` (another "machine").
        self.process = subprocess.Popen(
            [*prefix, *command], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tasks_succeeded(self, task: str) -> int:
        """How many runs of `task` (a dotted name) this worker has finished: an event a test can wait for."""
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", self.log()))

    def wait_ready(self, timeout: float = 90.0) -> CeleryProcess:
        deadline = time.monotonic() + timeout
        while READY_MARKERS[self.kind] not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} {self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} {self.name} not ready after {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acks, connections dropped mid-transaction."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class CeleryProcesses:
    """Starts workers and beat for one test; `stop_all` ends every one of them."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[CeleryProcess] = []

    def worker(self, name: str, *, fake=None, wait: bool = True, prefix: list[str] = (), **env) -> CeleryProcess:
        args = ["worker", "--pool=solo", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "-l", "INFO"]  # fmt: skip
        return self._start("worker", name, args, process_env(fake=fake, **env), wait, prefix)

    def beat(self, *, fake=None, wait: bool = True, **env) -> CeleryProcess:
        schedule = self.log_dir / "celerybeat-schedule"
        args = ["beat", "-s", str(schedule), "--max-interval", "1", "-l", "INFO"]
        return self._start("beat", "beat", args, process_env(fake=fake, **env), wait)

    def web(self, *, port: int, fake=None, wait: bool = True, **env) -> CeleryProcess:
        """A gunicorn web process on 127.0.0.1:`port` (the test picks the port, so it can sign URLs first)."""
        args = ["-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4", "--access-logfile", "-", "--timeout", "120"]
        return self._start("web", f"web-{port}", args, process_env(fake=fake, **env), wait)

    def _start(self, kind, name, args, env, wait, prefix=()) -> CeleryProcess:
        process = CeleryProcess(kind, name, args, env, self.log_dir, prefix)
        self.started.append(process)
        return process.wait_ready() if wait else process

    def logs(self) -> str:
        return "\n".join(f"===== {p.kind} {p.name}\n{p.log()[-4000:]}" for p in self.started)

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition", on_timeout=None):
    """Poll `predicate` until it is truthy (returns its value) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {message}\n{detail}")
        time.sleep(interval)


@pytest.fixture
def celery_processes(django_db_serialized_rollback, transactional_db, request):
    """Launch real Celery processes against this test's database; all are stopped when the test ends.

    Serialized rollback puts the migrations' seed data (state rules, keywords, roles) back after
    the flush, for the workers and for later tests that need it.
    """
    with tempfile.TemporaryDirectory(prefix="celery-test-") as log_dir:
        processes = CeleryProcesses(Path(log_dir))
        try:
            yield processes
        finally:
            report = request.node.stash.get(_failed_key, False)
            processes.stop_all()
            if report:
                print(processes.logs())


_failed_key = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed_key] = True
    return report
