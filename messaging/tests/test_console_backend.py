"""The console backend: each text on one line of its own, with the number and the body."""

import io

from messaging.backends import OutgoingSMS
from messaging.backends.console import ConsoleBackend


def test_each_text_is_one_line_with_the_number_and_the_body():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).send(OutgoingSMS(to="+14155550101", body="Acme: 20% off\nReply STOP"))
    assert stream.getvalue() == f"SMS to +14155550101: Acme: 20% off ⏎ Reply STOP  [{result.sid}]\n"
    assert result.sid.startswith("SM") and len(result.sid) == 32


def test_texts_bypass_a_replaced_sys_stdout_as_celery_workers_have(monkeypatch):
    """Celery swaps sys.stdout for a logger that prefixes lines and obeys the worker's level; texts skip it."""
    real, redirected = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.__stdout__", real)
    monkeypatch.setattr("sys.stdout", redirected)
    ConsoleBackend().send(OutgoingSMS(to="+14155550101", body="Hi"))
    assert real.getvalue().startswith("SMS to +14155550101: Hi  [SMconsole")
    assert redirected.getvalue() == ""
