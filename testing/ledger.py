"""The consent ledger under test: flushes get past its TRUNCATE guard, and each test has its own anchors.

PostgreSQL refuses TRUNCATE of the ledger (a trigger), and Django empties the database after every
transactional test with one TRUNCATE of every table. The test suite's role is a superuser, so its
flushes run with `session_replication_role = replica`, the one setting that skips ordinary triggers
and that only a superuser may change: the product's own guard stays in place for everything else.

The ledger's head anchors live outside the database, so they would outlive the rollback or flush of
each test's events: every test gets an anchor file of its own, named in the environment too, so the
Celery processes a test starts write to the same one.
"""

import itertools

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations

_REPLICA, _ORIGIN = "SET LOCAL session_replication_role = replica", "SET LOCAL session_replication_role = DEFAULT"
_flush = DatabaseOperations.execute_sql_flush


def _execute_sql_flush_past_truncate_guards(self, sql_list):
    return _flush(self, [_REPLICA, *sql_list, _ORIGIN])


def pytest_configure(config):
    DatabaseOperations.execute_sql_flush = _execute_sql_flush_past_truncate_guards


_numbers = itertools.count()


@pytest.fixture(scope="session")
def _ledger_anchor_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ledger-anchors")


@pytest.fixture(autouse=True)
def ledger_anchor_file(_ledger_anchor_dir, settings, monkeypatch):
    """This test's anchor file (not created until a seal writes to it)."""
    path = _ledger_anchor_dir / f"anchors-{next(_numbers)}.jsonl"
    settings.LEDGER_ANCHOR_SINK = "contacts.anchors.FileAnchorSink"
    settings.LEDGER_ANCHOR_FILE = str(path)
    monkeypatch.setenv("LEDGER_ANCHOR_SINK", settings.LEDGER_ANCHOR_SINK)
    monkeypatch.setenv("LEDGER_ANCHOR_FILE", str(path))
    return path
