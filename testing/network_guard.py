"""Make any attempt to reach the real Twilio fail, in the test process and in worker subprocesses.

Installed by the root conftest (and by `testing.worker` in Celery subprocesses).
Each attempt raises where it happens *and* is written to the file named by
`SMSCONSENT_NETWORK_GUARD_LOG`, so the run fails even when code catches the error.
"""

import os
import socket

_real_getaddrinfo = socket.getaddrinfo
FORBIDDEN_SUFFIXES = ("twilio.com",)


class RealProviderCallError(RuntimeError):
    pass


def _guarded_getaddrinfo(host, *args, **kwargs):
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
    if any(name == s or name.endswith("." + s) for s in FORBIDDEN_SUFFIXES):
        log = os.environ.get("SMSCONSENT_NETWORK_GUARD_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {name}\n")
        raise RealProviderCallError(f"a test tried to reach the real provider at {name}")
    return _real_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    socket.getaddrinfo = _guarded_getaddrinfo


def attempts() -> list[str]:
    log = os.environ.get("SMSCONSENT_NETWORK_GUARD_LOG")
    if not log or not os.path.exists(log):
        return []
    with open(log) as f:
        return [line.strip() for line in f if line.strip()]
