"""The development backend: prints each text on one line of its own; the admin's outbox shows them too."""

import sys
import uuid

from .base import BaseBackend, OutgoingSMS, SendResult

# A text is the one thing `make run` exists to show, so it is bold where a terminal can show that.
_BOLD, _PLAIN = "\033[1m", "\033[0m"


def console_line(sms: OutgoingSMS, *, sid: str) -> str:
    """`SMS to +14155550101: Acme Deals: … ⏎ Reply STOP to opt out  [SMconsole…]`: line breaks shown as ⏎."""
    body = " ⏎ ".join(sms.body.splitlines()) if sms.body else "(empty)"
    return f"SMS to {sms.to}: {body}  [{sid}]"


class ConsoleBackend(BaseBackend):
    def __init__(self, stream=None):
        self.stream = stream

    def send(self, sms: OutgoingSMS) -> SendResult:
        sid = "SMconsole" + uuid.uuid4().hex[:23]
        # Celery replaces sys.stdout with a logger that prefixes every line and obeys the worker's
        # log level; the process's own stdout keeps the text on one clean line in any log level.
        stream = self.stream or sys.__stdout__ or sys.stdout
        line = console_line(sms, sid=sid)
        if _is_terminal(stream):
            line = _BOLD + line + _PLAIN
        stream.write(line + "\n")
        stream.flush()
        return SendResult(sid=sid, status="sent")

    def find_sent(self, to, since):
        # Printing can't fail halfway, so there is never a lost answer to look for.
        return []


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
