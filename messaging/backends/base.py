"""The interface every SMS backend implements, and the one error type they raise."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class OutgoingSMS:
    to: str  # E.164
    body: str
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    sid: str  # the provider's message id ("SM…")
    status: str  # the provider's status, e.g. "queued" or "accepted"
    segments: int | None = None
    # Filled by `find_sent`, which reports messages the provider already holds.
    to: str | None = None
    body: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ReceivedSMS:
    """A text the provider received for us (its record, for the backstop poll)."""

    sid: str
    from_: str
    to: str
    body: str
    received_at: datetime


class ErrorClass(StrEnum):
    TRANSIENT = "transient"  # try again later with backoff (429, 5xx, timeouts, 30003, 30008)
    OPTED_OUT = "opted_out"  # the carrier says the person opted out (21610): record it, never retry
    UNDELIVERABLE = "undeliverable"  # the number can't get texts (21211, 21614, 21635, 30006)
    PERMANENT = "permanent"  # anything else: fail the message, keep the code


class SendError(Exception):
    """A send the provider refused or that never reached it. Classified once, by the backend.

    `maybe_accepted` is true when the request may have reached the provider but
    its answer was lost (read timeout, connection dropped mid-answer): before
    trying again, ask the provider (`find_sent`) so a retry never sends twice.
    """

    def __init__(
        self,
        message: str,
        *,
        error_class: ErrorClass,
        code: str = "",
        http_status: int | None = None,
        maybe_accepted: bool = False,
    ):
        super().__init__(message)
        self.error_class = error_class
        self.code = code
        self.http_status = http_status
        self.maybe_accepted = maybe_accepted

    @property
    def transient(self) -> bool:
        return self.error_class is ErrorClass.TRANSIENT


class BaseBackend:
    def send(self, sms: OutgoingSMS) -> SendResult:
        """Hand one message to the provider. Raise SendError for any failure."""
        raise NotImplementedError

    def find_sent(self, to: str, since: datetime) -> list[SendResult]:
        """Messages the provider accepted for `to` (E.164) created at or after `since`, newest first.

        Used to reconcile a send whose answer was lost (a worker died between the
        provider's acceptance and storing the SID). Raise SendError when the
        provider can't be asked: the caller must then not send again yet.
        """
        raise NotImplementedError

    def find_received(self, since: datetime) -> list[ReceivedSMS]:
        """Texts the provider received for our numbers at or after `since`, newest first.

        The backstop for inbound webhooks that never reached us. Backends that can't
        tell return an empty list; raise SendError when the provider can't be asked.
        """
        return []
