"""SMS backends, chosen by `SMS_BACKEND` the way Django chooses an e-mail backend.

`console` prints (development), `locmem` keeps an outbox in memory (unit
tests), `twilio` talks to the Twilio REST API; a dotted path names any other.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseBackend, OutgoingSMS, SendError, SendResult

ALIASES = {
    "console": "messaging.backends.console.ConsoleBackend",
    "locmem": "messaging.backends.locmem.LocmemBackend",
    "twilio": "messaging.backends.twilio.TwilioBackend",
}


@cache
def _backend_for(path: str) -> BaseBackend:
    return import_string(ALIASES.get(path, path))()


def get_backend() -> BaseBackend:
    """The configured backend, one instance per process (it may hold a connection pool)."""
    return _backend_for(settings.SMS_BACKEND)


def reset_backends() -> None:
    """Forget cached backends (tests that change SMS_BACKEND or Twilio settings)."""
    _backend_for.cache_clear()


__all__ = ["BaseBackend", "OutgoingSMS", "SendError", "SendResult", "get_backend", "reset_backends"]
