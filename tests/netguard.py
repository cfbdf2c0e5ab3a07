"""Tests never send traffic off this machine, even when the code under test is broken.

`install()` patches socket connects (and asyncio's, which go through them), UDP sends and DNS
look-ups so that only loopback (127.0.0.0/8, ::1), Unix sockets and the names `localhost` /
`*.localhost` / IP literals get through. Anything else raises `NetworkBlockedError` (an OSError, as
a real network failure would be) and is recorded; the `no_external_network` fixture (autouse)
fails the test that tried, even if the code swallowed the error.

Wire it for the whole suite with `pytest_plugins = ("tests.netguard", ...)` in tests/conftest.py.
"""

from __future__ import annotations

import ipaddress
import socket
from asyncio.selector_events import BaseSelectorEventLoop
from collections.abc import Callable, Iterator
from typing import Any

import pytest

violations: list[str] = []


class NetworkBlockedError(ConnectionRefusedError):
    """A test tried to reach a non-loopback address."""


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _is_local_sockaddr(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        return _is_local_host(address[0])
    return False


def _refuse(what: str) -> NetworkBlockedError:
    message = f"netguard: tests may only reach loopback; refused {what}"
    violations.append(message)
    return NetworkBlockedError(message)


def install() -> Callable[[], None]:
    """Patch the socket layer; return the function that undoes it."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo
    original_sock_connect = BaseSelectorEventLoop.sock_connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family != socket.AF_UNIX and not _is_local_sockaddr(address):
            raise _refuse(f"connect to {address!r}")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family != socket.AF_UNIX and not _is_local_sockaddr(address):
            raise _refuse(f"connect_ex to {address!r}")
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1]
        if self.family != socket.AF_UNIX and not _is_local_sockaddr(address):
            raise _refuse(f"sendto {address!r}")
        return original_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local_host(host):
            violations.append(f"netguard: refused DNS look-up of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"netguard: no DNS in tests ({host!r})")
        return original_getaddrinfo(host, *args, **kwargs)

    async def sock_connect(self: BaseSelectorEventLoop, sock: socket.socket, address: Any) -> None:
        if sock.family != socket.AF_UNIX and not _is_local_sockaddr(address):
            raise _refuse(f"loop.sock_connect to {address!r}")
        await original_sock_connect(self, sock, address)

    patches: list[tuple[object, str, object]] = [
        (socket.socket, "connect", connect),
        (socket.socket, "connect_ex", connect_ex),
        (socket.socket, "sendto", sendto),
        (socket, "getaddrinfo", getaddrinfo),
        (BaseSelectorEventLoop, "sock_connect", sock_connect),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)

    def uninstall() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return uninstall


@pytest.fixture(autouse=True)
def no_external_network() -> Iterator[None]:
    """Block off-machine traffic during the test; fail it if it tried any."""
    before = len(violations)
    uninstall = install()
    try:
        yield
    finally:
        uninstall()
    tried = violations[before:]
    del violations[before:]
    if tried:
        pytest.fail("test tried to leave the machine:\n" + "\n".join(tried), pytrace=False)
