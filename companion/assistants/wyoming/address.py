"""Where `companion serve wyoming` listens: a unix socket or a loopback port by default; any other
address only when asked for with --allow-remote, and then said plainly what that opens."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from companion.errors import CompanionError

DEFAULT_URI = "tcp://127.0.0.1:10700"
"""Home Assistant's Wyoming integration connects by host and port, so a port on this computer only."""


@dataclass(frozen=True)
class Address:
    uri: str  # as the wyoming package reads it
    host: str | None = None  # tcp
    port: int | None = None
    path: str | None = None  # unix

    @property
    def remote(self) -> bool:
        return self.host is not None and not is_loopback(self.host)

    def shown(self) -> str:
        if self.path is not None:
            return self.path
        if self.host in ("0.0.0.0", "::", ""):
            return f"port {self.port} on every network this computer is on"
        return f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(uri: str, allow_remote: bool = False) -> Address:
    """The address of `uri` (unix://PATH or tcp://HOST:PORT); refused when it is not on this computer
    and `allow_remote` is not given, or when it cannot be read."""
    hint = "for example --uri tcp://127.0.0.1:10700 or --uri unix:///run/user/1000/companion.sock"
    parts = urlsplit(uri.strip())
    if parts.scheme == "unix":
        path = parts.netloc + parts.path
        if not path:
            raise CompanionError(f"--uri {uri} names no socket file", hint)
        return Address(f"unix://{path}", path=path)
    if parts.scheme != "tcp":
        raise CompanionError(f"--uri takes unix://PATH or tcp://HOST:PORT, not '{uri}'", hint)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or not 0 < port < 65536:
        raise CompanionError(f"--uri {uri} needs a host and a port", hint)
    address = Address(f"tcp://{'[' + host + ']' if ':' in host else host}:{port}", host=host, port=port)
    if address.remote and not allow_remote:
        raise CompanionError(f"{host} is not this computer only: anyone who can reach it could talk to Companion",
                             f"use --uri tcp://127.0.0.1:{port}, or add --allow-remote if you mean it")
    return address


def exposure(address: Address) -> str:
    """The line said when Companion listens beyond this computer."""
    return (f"Note: Companion answers anyone who can reach {address.shown()}: they can keep ripples, check-ins "
            "and reflections in your journal and hear what was kept since your last session. "
            "Use this only on a network you trust.")
