"""The address guard on a table of addresses, and through the resolver/connector hooks.

Non-loopback addresses are only ever handed to stub resolvers and to the guard's checks; nothing
here connects anywhere (tests.netguard would fail the test if it tried).
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FetchAllowList, Settings
from bot.ingest.errors import BlockedAddressError, UnsupportedSchemeError
from bot.ingest.fetch import FeedFetcher
from bot.ingest.guard import GuardedResolver, classify, current_host, guarded_socket_factory
from tests import netguard


def check_address(host: str | None, ip: str, allow: FetchAllowList) -> None:
    """The socket gate's verdict on `ip` for `host`: BlockedAddressError, or a socket (never
    connected) made and closed."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    token = current_host.set(host)
    try:
        guarded_socket_factory(allow)((family, socket.SOCK_STREAM, 0, "", (ip, 0))).close()
    finally:
        current_host.reset(token)


REFUSED = {
    "169.254.169.254": "metadata",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "0.0.0.0": "unspecified",
    "127.0.0.1": "loopback",
    "127.0.0.2": "loopback",
    "224.0.0.1": "multicast",
    "255.255.255.255": "broadcast",
    "240.0.0.1": "reserved",
    "192.0.2.1": "documentation",
    "198.18.0.1": "benchmark",
    "::": "unspecified",
    "::1": "loopback",
    "::ffff:10.0.0.1": "IPv4-mapped",
    "::ffff:127.0.0.1": "IPv4-mapped",
    "::ffff:169.254.169.254": "metadata",
    "::10.0.0.1": "IPv4-compatible",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "ff02::1": "multicast",
    "2002:a00::1": "6to4",
    "2002:7f00:1::1": "loopback",
    "64:ff9b::a00:1": "NAT64",
    "64:ff9b::a9fe:a9fe": "metadata",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "Teredo",
    "2001:db8::1": "documentation",
    "not-an-ip": "not a valid IP address",
    # IPv4 inside IPv6: every form is unwrapped and the IPv4 address judged
    "::ffff:0:7f00:1": "this machine) (127.0.0.1 written as an IPv4-translated",
    "::ffff:0:a00:1": "private network (10.0.0.1 written as an IPv4-translated",
    "::ffff:0:a9fe:a9fe": "metadata",
    "0:0:0:0:0:ffff:7f00:1": "this machine) (127.0.0.1 written as an IPv4-mapped",
    "::ffff:0.0.0.0": "unspecified",
    "64:ff9b::7f00:1": "this machine) (127.0.0.1 written as a NAT64",
    "64:ff9b::c0a8:101": "private network (192.168.1.1 written as a NAT64",
    "64:ff9b:1::a00:1": "private network (10.0.0.1 written as a local-use NAT64",
    "64:ff9b:1::808:808": "local-use NAT64",
    "64:ff9b:1:ab00:808:8:800::": "local-use NAT64",
    "2002:c0a8:101::1": "private network (192.168.1.1 written as a 6to4",
    "2002:a9fe:a9fe::": "metadata",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "this machine) (127.0.0.1 written as a Teredo",
    "2001:0:a00:1:8000:63bf:f7f7:f7f7": "private network (10.0.0.1 written as a Teredo",
    "::127.0.0.1": "this machine) (127.0.0.1 written as an IPv4-compatible",
    "::a9fe:a9fe": "metadata",
}

ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "::ffff:0:808:808",
    "::8.8.8.8",
    "2001:0:808:808:8000:63bf:f7f7:f7f7",
]


@pytest.mark.parametrize(("address", "reason_part"), sorted(REFUSED.items()))
def test_forbidden_addresses_are_refused_with_a_reason(address: str, reason_part: str) -> None:
    reason = classify(address)
    assert reason is not None
    assert reason_part in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify(address) is None


def test_embedded_v4_is_named_in_the_reason() -> None:
    assert classify("::ffff:10.0.0.1") == (
        "on a private network (10.0.0.1 written as an IPv4-mapped IPv6 address)"
    )
    assert "10.0.0.1" in (classify("64:ff9b::a00:1") or "")


def test_allow_list_networks_and_hosts() -> None:
    allow = FetchAllowList.parse("127.0.0.1/32, intranet.example")
    check_address(None, "127.0.0.1", allow)
    check_address("intranet.example", "10.1.2.3", allow)
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_address(None, "127.0.0.2", allow)
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_address(None, "::1", allow)
    # the IPv4-mapped form is not the allowed IPv4 network
    with pytest.raises(BlockedAddressError):
        check_address(None, "::ffff:127.0.0.1", allow)
    with pytest.raises(BlockedAddressError, match=r"other\.example resolves to 10\.1\.2\.3"):
        check_address("other.example", "10.1.2.3", allow)


def test_refusal_message_is_actionable() -> None:
    with pytest.raises(BlockedAddressError) as info:
        check_address("evil.example", "169.254.169.254", FetchAllowList())
    message = str(info.value)
    assert "evil.example resolves to 169.254.169.254" in message
    assert "metadata" in message
    assert "DIGESTBOT_FETCH_ALLOW" in message


class StubResolver(AbstractResolver):
    """Answers from a table; never touches DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"stub: no such host {host}")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        return None


STUB = StubResolver(
    {
        "evil.example": ["10.0.0.1"],
        "metadata.example": ["169.254.169.254"],
        "mapped.example": ["::ffff:192.168.0.1"],
        "public.example": ["93.184.216.34"],
        "mixed.example": ["10.0.0.1", "93.184.216.34"],
    }
)


async def test_guarded_resolver_refuses_private_answers() -> None:
    resolver = GuardedResolver(STUB, FetchAllowList())
    for host in ("evil.example", "metadata.example", "mapped.example"):
        with pytest.raises(BlockedAddressError, match=host):
            await resolver.resolve(host, 80)


async def test_guarded_resolver_passes_public_and_drops_private_answers() -> None:
    resolver = GuardedResolver(STUB, FetchAllowList())
    public = await resolver.resolve("public.example", 80)
    assert [answer["host"] for answer in public] == ["93.184.216.34"]
    mixed = await resolver.resolve("mixed.example", 80)
    assert [answer["host"] for answer in mixed] == ["93.184.216.34"]


async def test_guarded_resolver_honours_allowed_host_names() -> None:
    resolver = GuardedResolver(STUB, FetchAllowList.parse("evil.example"))
    answers = await resolver.resolve("evil.example", 80)
    assert [answer["host"] for answer in answers] == ["10.0.0.1"]


def test_socket_factory_refuses_forbidden_and_creates_public_sockets() -> None:
    factory = guarded_socket_factory(FetchAllowList())
    tcp = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
    with pytest.raises(BlockedAddressError, match="private"):
        factory((socket.AF_INET, *tcp, ("10.0.0.1", 80)))
    with pytest.raises(BlockedAddressError, match="link-local"):
        factory((socket.AF_INET6, *tcp, ("fe80::1", 80, 0, 2)))
    # a public address gets a fresh, unconnected socket: the guard would let it through
    sock = factory((socket.AF_INET, *tcp, ("93.184.216.34", 80)))
    try:
        assert sock.family == socket.AF_INET
        with pytest.raises(OSError):
            sock.getpeername()
    finally:
        sock.close()


def test_socket_factory_honours_host_allowed_by_name() -> None:
    factory = guarded_socket_factory(FetchAllowList.parse("intranet.example"))
    addr_info = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.7", 80))
    with pytest.raises(BlockedAddressError):
        factory(addr_info)
    token = current_host.set("intranet.example")
    try:
        factory(addr_info).close()
    finally:
        current_host.reset(token)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/feed",
        "https://metadata.example/latest/meta-data/",
        "http://mapped.example/",
    ],
)
async def test_fetcher_refuses_hosts_resolving_to_internal_addresses(url: str) -> None:
    async with FeedFetcher(Settings(), resolver=STUB) as fetcher:
        with pytest.raises(BlockedAddressError):
            await fetcher.fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://0.0.0.0/",
    ],
)
async def test_fetcher_refuses_ip_literals_at_the_socket_gate(url: str) -> None:
    resolver = StubResolver({})
    async with FeedFetcher(Settings(), resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError):
            await fetcher.fetch(url)
    assert resolver.calls == []  # literals never reach the resolver: the socket gate refused


@pytest.mark.parametrize(
    "url", ["http://2130706433/", "http://127.1/", "http://017700000001/", "http://127.0.0.1./"]
)
async def test_non_canonical_ipv4_literals_are_refused_without_connecting(url: str) -> None:
    resolver = StubResolver({})
    async with FeedFetcher(Settings(), resolver=resolver) as fetcher:
        with pytest.raises(UnsupportedSchemeError, match="not a valid web address"):
            await fetcher.fetch(url)
    assert resolver.calls == []


async def test_names_the_system_resolver_would_map_to_loopback_are_refused() -> None:
    # glibc resolves "0x7f000001" and "localhost." to 127.0.0.1; the guard judges the answer
    resolver = StubResolver({"0x7f000001": ["127.0.0.1"], "localhost.": ["127.0.0.1"]})
    async with FeedFetcher(Settings(), resolver=resolver) as fetcher:
        for url in ("http://0x7f000001/", "http://localhost./"):
            with pytest.raises(BlockedAddressError, match="loopback"):
                await fetcher.fetch(url)


async def test_netguard_blocks_off_machine_connects_during_tests() -> None:
    """The suite-wide net guard is active. A closed socket is used so that, were it not, the
    connect would fail locally (bad file descriptor) instead of sending anything."""
    before = len(netguard.violations)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.close()
        with pytest.raises(netguard.NetworkBlockedError):
            sock.connect(("10.0.0.1", 80))
        with pytest.raises(netguard.NetworkBlockedError):
            await asyncio.get_running_loop().sock_connect(sock, ("93.184.216.34", 80))
        assert len(netguard.violations) == before + 2
    finally:
        del netguard.violations[before:]
    # loopback still works: closed socket, so the error is the local one, not the guard's
    with pytest.raises(OSError) as local:
        sock.connect(("127.0.0.1", 9))
    assert not isinstance(local.value, netguard.NetworkBlockedError)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("feeds.localhost", True),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_netguard_knows_what_is_local(host: str, local: bool) -> None:
    assert netguard._is_local_host(host) is local
