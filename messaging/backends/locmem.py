"""An in-memory backend for unit tests.

`outbox` lists what was sent (`OutgoingSMS`); `outbox.results` the matching
`SendResult`s; `outbox.failures` holds `SendError`s that the next sends raise,
in order. `outbox.clear()` resets all three.
"""

import itertools

from django.utils import timezone

from .base import BaseBackend, OutgoingSMS, SendError, SendResult


class Outbox(list):
    def __init__(self):
        super().__init__()
        self.results: list[SendResult] = []
        self.failures: list[SendError] = []

    def clear(self):
        super().clear()
        self.results.clear()
        self.failures.clear()


outbox = Outbox()
_sids = itertools.count(1)


class LocmemBackend(BaseBackend):
    def send(self, sms: OutgoingSMS) -> SendResult:
        if outbox.failures:
            raise outbox.failures.pop(0)
        outbox.append(sms)
        result = SendResult(
            sid=f"SMlocmem{next(_sids):024d}", status="queued", segments=1, to=sms.to, body=sms.body,
            created_at=timezone.now(),
        )  # fmt: skip
        outbox.results.append(result)
        return result

    def find_sent(self, to, since):
        return [r for r in reversed(outbox.results) if r.to == to and r.created_at >= since]
