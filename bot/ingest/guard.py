"""The address guard: which IP addresses the bot may connect to when it fetches a URL.

Feed URLs come from server members, so a URL (or a redirect, or a DNS answer that changes
between two look-ups) must never make the bot talk to this machine, the local network or a cloud
metadata service. `classify` says in words why an address is refused; `GuardedResolver` and
`guarded_socket_factory` apply the rule at connect time inside aiohttp, after DNS resolution.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FetchAllowList
from bot.ingest.errors import ADDRESS_REFUSED, HOST_REFUSED, NO_ADDRESS, BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_net = ipaddress.ip_network

# Checked in order; the first match gives the reason. Anything not listed that Python does not
# consider globally routable is refused as "reserved" (see `_classify`).
_RANGES: tuple[tuple[IPNetwork, str], ...] = (
    (_net("255.255.255.255/32"), "the broadcast address"),
    (_net("0.0.0.0/32"), "the unspecified address (0.0.0.0)"),
    (_net("0.0.0.0/8"), "a reserved 'this network' address"),
    (_net("127.0.0.0/8"), "a loopback address (this machine)"),
    (_net("10.0.0.0/8"), "on a private network"),
    (_net("172.16.0.0/12"), "on a private network"),
    (_net("192.168.0.0/16"), "on a private network"),
    (_net("169.254.169.254/32"), "the cloud metadata service (link-local)"),
    (_net("169.254.0.0/16"), "a link-local address"),
    (_net("100.64.0.0/10"), "a carrier-grade NAT address (shared, not public)"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"),
    (_net("192.0.2.0/24"), "a reserved documentation address"),
    (_net("198.51.100.0/24"), "a reserved documentation address"),
    (_net("203.0.113.0/24"), "a reserved documentation address"),
    (_net("198.18.0.0/15"), "a reserved benchmarking address"),
    (_net("192.88.99.0/24"), "a reserved 6to4 relay address"),
    (_net("240.0.0.0/4"), "a reserved address"),
    (_net("::/128"), "the unspecified address (::)"),
    (_net("::1/128"), "a loopback address (this machine)"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("fec0::/10"), "on a private network (site-local)"),
    (_net("fc00::/7"), "on a private network (unique local)"),
    (_net("ff00::/8"), "a multicast address"),
    (_net("100::/64"), "a reserved discard-only address"),
    (_net("2001:db8::/32"), "a reserved documentation address"),
    (_net("2001:2::/48"), "a reserved benchmarking address"),
)

# IPv6 forms whose low 32 bits are an IPv4 address; checked after Python's `ipv4_mapped`. SIIT's
# IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765) is not the IPv4-mapped `::ffff:a.b.c.d`: Python
# calls it global, so it is unwrapped here.
_LOW32_FORMS: tuple[tuple[IPNetwork, str], ...] = (
    (_net("::ffff:0:0:0/96"), "an IPv4-translated IPv6"),
    (_net("::/96"), "an IPv4-compatible IPv6"),
    (_net("64:ff9b::/96"), "a NAT64 IPv6"),
)
_NAT64_LOCAL = _net("64:ff9b:1::/48")


def parse_address(ip: str) -> IPAddress | None:
    """Parse an IP address (an IPv6 zone such as `%eth0` is dropped); None if it is not one."""
    try:
        return ipaddress.ip_address(ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _embedded(form: str, inner: ipaddress.IPv4Address) -> str | None:
    reason = _classify(inner)
    return None if reason is None else f"{reason} ({inner} written as {form} address)"


def _low32(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _classify(ip: IPAddress) -> str | None:
    if reason := next((reason for network, reason in _RANGES if ip in network), None):
        return reason
    if isinstance(ip, ipaddress.IPv4Address):
        return None if ip.is_global else "a reserved address"
    if ip.ipv4_mapped is not None:
        return _embedded("an IPv4-mapped IPv6", ip.ipv4_mapped)
    if form := next((form for network, form in _LOW32_FORMS if ip in network), None):
        return _embedded(form, _low32(ip))
    if ip in _NAT64_LOCAL:
        # RFC 8215: a translator on the operator's own network, and the IPv4 address may sit at
        # any RFC 6052 offset, so the address is refused whatever it embeds; the usual /96 form
        # is still unwrapped to name an internal target in the reason.
        return _embedded("a local-use NAT64 IPv6", _low32(ip)) or (
            "a reserved local-use NAT64 address (a translator on the local network)"
        )
    if ip.sixtofour is not None:
        return _embedded("a 6to4 IPv6", ip.sixtofour)
    if ip.teredo is not None:
        server, client = ip.teredo
        return _embedded("a Teredo IPv6", client) or _embedded("a Teredo IPv6", server)
    return None if ip.is_global else "a reserved address"


def classify(ip: str) -> str | None:
    """Why the bot must not connect to `ip`, in words ("on a private network"); None if public.

    IPv4 addresses embedded in IPv6 (IPv4-mapped, IPv4-translated, IPv4-compatible, 6to4, NAT64,
    Teredo) are unwrapped and judged as the IPv4 address they reach. Text that is not an IP
    address is refused.
    """
    address = parse_address(ip)
    return "not a valid IP address" if address is None else _classify(address)


def refusal(host: str | None, ip: str, allow: FetchAllowList) -> str | None:
    """The admin-facing sentence refusing a connection to `ip` for `host`; None if allowed.

    The operator's allow-list (DIGESTBOT_FETCH_ALLOW) lets a host name through whatever it
    resolves to, and an address through when it lies in one of the listed networks.
    """
    if host is not None and allow.allows_host(host):
        return None
    address = parse_address(ip)
    if address is not None and allow.allows_address(address):
        return None
    if (reason := classify(ip)) is None:
        return None
    shown = str(address) if address is not None else ip
    if host is None or host.strip("[]") == shown:
        return ADDRESS_REFUSED.format(address=shown, reason=reason)
    return HOST_REFUSED.format(host=host, address=shown, reason=reason)


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and drops every forbidden address from its answers; when none is left,
    BlockedAddressError. Each look-up is judged on its own, so DNS rebinding is caught too."""

    def __init__(self, inner: AbstractResolver, allow: FetchAllowList) -> None:
        self._inner = inner
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        refusals = [refusal(host, answer["host"], self._allow) for answer in answers]
        allowed = [answer for answer, refused in zip(answers, refusals, strict=True) if not refused]
        if not allowed:
            raise BlockedAddressError(next(filter(None, refusals), NO_ADDRESS.format(host=host)))
        return allowed

    async def close(self) -> None:
        await self._inner.close()


# The host name of the request being connected, set by the fetcher for each request so that the
# socket-level gate can honour host names on the allow-list (it only sees addresses).
current_host: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "digestbot_fetch_host", default=None
)

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


def guarded_socket_factory(allow: FetchAllowList) -> Callable[[AddrInfo], socket.socket]:
    """A `socket_factory` for aiohttp's TCPConnector: the last gate before every connect.

    aiohttp calls it with each address it connects to, after DNS, IP-literal URLs included. It
    raises BlockedAddressError, not an OSError (aiohttp would swallow that and try the next
    address); with `happy_eyeballs_delay=None` the error propagates.
    """

    def factory(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _canonname, sockaddr = addr_info
        if (message := refusal(current_host.get(), str(sockaddr[0]), allow)) is not None:
            raise BlockedAddressError(message)
        return socket.socket(family=family, type=type_, proto=proto)

    return factory
