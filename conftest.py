"""Root test configuration: every test runs behind the network guard."""

import os
import tempfile

import pytest
from hypothesis import settings as hypothesis_settings

from testing import network_guard

# No property-based example may fail for taking long: on a busy machine any of them can (speed is measured
# by the benchmarks, never by a unit test's clock).
hypothesis_settings.register_profile("smsconsent", deadline=None)
hypothesis_settings.load_profile("smsconsent")

# `browser`: Debian's Chromium driven from a thread of its own; `eager_celery`: tasks run in-process;
# `testing.ledger`: flushes past the ledger's TRUNCATE guard, and an anchor file per test.
pytest_plugins = ["testing.browser", "testing.eager", "testing.ledger"]


def pytest_configure(config):
    fd, path = tempfile.mkstemp(prefix="network-guard-", suffix=".log")
    os.close(fd)
    os.environ["SMSCONSENT_NETWORK_GUARD_LOG"] = path
    network_guard.install()


def pytest_sessionfinish(session, exitstatus):
    tried = network_guard.attempts()
    if tried:
        session.config.get_terminal_writer().line(
            "FAILED: tests tried to reach the real provider: " + "; ".join(tried), red=True
        )
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _sending_hours_off(settings):
    """No test depends on the hour it runs at: sending hours apply only where a test turns them on, with its clock set.

    Otherwise a send made by any test is deferred whenever the suite runs at night in the numbers' time zone.
    The Celery processes a test starts follow this setting (`testing.worker.process_env`).
    """
    settings.QUIET_HOURS_ENABLED = False


@pytest.fixture(autouse=True)
def _fresh_sms_backends(settings):
    """Each test starts with an empty in-memory outbox and backends built from its own settings."""
    from messaging.backends import locmem, reset_backends

    locmem.outbox.clear()
    reset_backends()
    yield
    reset_backends()


@pytest.fixture(autouse=True)
def _empty_inbound_spool(settings, tmp_path):
    """Texts kept during an outage live in Redis (which outlives each test) and on disk: each test starts with none."""
    from messaging.spool import inbound_spool_clear

    settings.INBOUND_SPOOL_DIR = str(tmp_path / "inbound-spool")
    inbound_spool_clear()
    yield
    inbound_spool_clear()
