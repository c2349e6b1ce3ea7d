"""The interface every SMS backend implements, and the one error type they raise."""

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class OutgoingSMS:
    to: str  # E.164
    body: str
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    sid: str  # the provider's message id ("SM…")
    status: str  # the provider's first status, e.g. "queued" or "accepted"
    segments: int | None = None


class ErrorClass(StrEnum):
    TRANSIENT = "transient"  # try again later with backoff (429, 5xx, timeouts, 30003, 30008)
    OPTED_OUT = "opted_out"  # the carrier says the person opted out (21610): record it, never retry
    UNDELIVERABLE = "undeliverable"  # the number can't get texts (21211, 21614, 21635, 30006)
    PERMANENT = "permanent"  # anything else: fail the message, keep the code


class SendError(Exception):
    """A send the provider refused or that never reached it. Classified once, by the backend."""

    def __init__(self, message: str, *, error_class: ErrorClass, code: str = "", http_status: int | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.code = code
        self.http_status = http_status

    @property
    def transient(self) -> bool:
        return self.error_class is ErrorClass.TRANSIENT


class BaseBackend:
    def send(self, sms: OutgoingSMS) -> SendResult:
        """Hand one message to the provider. Raise SendError for any failure."""
        raise NotImplementedError
