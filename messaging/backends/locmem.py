"""An in-memory backend for unit tests: `messaging.backends.locmem.outbox` lists what was sent."""

import itertools

from .base import BaseBackend, OutgoingSMS, SendResult

outbox: list[OutgoingSMS] = []
_sids = itertools.count(1)


class LocmemBackend(BaseBackend):
    def send(self, sms: OutgoingSMS) -> SendResult:
        outbox.append(sms)
        return SendResult(sid=f"SMlocmem{next(_sids):024d}", status="queued")
