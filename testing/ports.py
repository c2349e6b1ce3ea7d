"""A TCP port on 127.0.0.1 that nothing listens on, for a process a test starts (or a test's dead address)."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
