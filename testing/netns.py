"""Other "machines" on this one, for scale-out tests: network namespaces joined to this one by veth pairs.

Each host is a network namespace with its own loopback and one veth link to this
machine; processes started with `host.prefix` (`ip netns exec …`) see only that
link. The shared PostgreSQL, Redis and the Twilio fake listen on 127.0.0.1 here,
so each host reaches them through TCP proxies on the host end of its own link:
every byte a worker on that host exchanges crosses the veth pair.

Addresses are link-local (169.254.213.0/24): they exist only on these links,
which the test makes and removes. Making namespaces needs root and iproute2;
`hosts_make` raises `NamespacesUnavailable` (the test skips, saying why) otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from testing.tcp_proxy import TcpProxy

SUBNET = "169.254.213"


class NamespacesUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise NamespacesUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


@dataclass
class NetworkHost:
    namespace: str
    near: str  # this machine's address on the link
    far: str  # the host's own address
    proxies: list[TcpProxy] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]

    def reach(self, address: tuple[str, int]) -> tuple[str, int]:
        """Where, seen from this host, the service at `address` on this machine answers (through a proxy)."""
        proxy = TcpProxy(address, host=self.near).start()
        self.proxies.append(proxy)
        return self.near, proxy.port

    def remove(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        with contextlib.suppress(NamespacesUnavailable):
            _ip("netns", "del", self.namespace)


def hosts_make(count: int) -> list[NetworkHost]:
    """`count` hosts, each a namespace with a veth link to this machine. Raises NamespacesUnavailable."""
    if os.geteuid() != 0:
        raise NamespacesUnavailable("network namespaces need root")
    if shutil.which("ip") is None:
        raise NamespacesUnavailable("iproute2's `ip` is not installed")
    hosts: list[NetworkHost] = []
    try:
        for n in range(count):
            tag = f"{os.getpid() % 100000}x{n}"
            host = NetworkHost(f"smsc-{tag}", f"{SUBNET}.{4 * n + 1}", f"{SUBNET}.{4 * n + 2}")
            _ip("netns", "add", host.namespace)
            hosts.append(host)
            near_end, far_end = f"sv{tag}a", f"sv{tag}b"  # at most 15 characters
            _ip("link", "add", near_end, "type", "veth", "peer", "name", far_end)
            _ip("link", "set", far_end, "netns", host.namespace)
            _ip("addr", "add", f"{host.near}/30", "dev", near_end)
            _ip("link", "set", near_end, "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.far}/30", "dev", far_end)
            _ip("-n", host.namespace, "link", "set", far_end, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
    except NamespacesUnavailable:
        for host in hosts:
            host.remove()
        raise
    return hosts
