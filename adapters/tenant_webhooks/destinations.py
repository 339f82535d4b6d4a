"""Where webhooks may go: public addresses only, unless private networks are allowed (development).

A tenant's webhook URL is chosen by the tenant, so without this the gateway would POST wherever a
tenant points it: its own loopback services, a cloud's metadata endpoint (169.254.169.254), the
private network it runs in. The URL's host is checked when the endpoint is registered (an IP literal
as it is, a name by resolving it) and again on every delivery, where the sender connects only to
addresses that passed the check (see sender.py), so a name that resolves elsewhere later (DNS
rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from application.errors import WebhookUrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_PUBLIC_ONLY = "webhooks are delivered to public addresses only"


_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d (deprecated, but still a notation)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_ISATAP_IDENTIFIER = 0x0000_5EFE  # an interface identifier's upper half, u/g bits masked
_UNIVERSAL_GROUP_BITS = 0x0300_0000
_LOW_32_BITS = 0xFFFF_FFFF


def _wrapped_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 address(es) an IPv6 address merely writes another way, where it does.

    Reaching these means reaching what they wrap: IPv4-mapped, IPv4-compatible, 6to4, Teredo
    (server and de-obfuscated client), NAT64's well-known prefix.
    """
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves, not IPv4
        return (ipaddress.IPv4Address(int(address) & _LOW_32_BITS),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    if address in _NAT64_WELL_KNOWN:
        return (ipaddress.IPv4Address(int(address) & _LOW_32_BITS),)
    return ()


def _ipv4_behind_prefix(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """IPv4 addresses embedded under an IPv6 prefix that is a network of its own.

    ISATAP (``…:0:5efe:a.b.c.d``, or ``200:5efe`` with the universal bit) and NAT64's local-use
    prefix, where the IPv4 address sits in the last 32 bits (a /96 translator) or around the
    reserved octet (a /48 one, RFC 6052). Both the prefix and what it embeds must be public.
    """
    value = int(address)
    embedded: list[ipaddress.IPv4Address] = []
    if (value >> 32) & _LOW_32_BITS & ~_UNIVERSAL_GROUP_BITS == _ISATAP_IDENTIFIER:
        embedded.append(ipaddress.IPv4Address(value & _LOW_32_BITS))
    if address in _NAT64_LOCAL_USE:
        upper_half = (value >> 64) & 0xFFFF  # bits 48-63
        lower_half = (value >> 40) & 0xFFFF  # bits 72-87, past the reserved octet
        layouts = (value & _LOW_32_BITS, upper_half << 16 | lower_half)
        # The layout not in use reads as zeros: 0.0.0.0 there is no address, only an empty field.
        embedded.extend(ipaddress.IPv4Address(layout) for layout in layouts if layout)
    return tuple(embedded)


def _own_refusal(address: IPAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, applies in checks:
        if applies:
            return name
    if not address.is_global:  # shared address space (100.64.0.0/10), documentation ranges, ...
        return "non-public"
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address`` ("loopback", "private", ...), or None if they may.

    An IPv6 address that embeds an IPv4 address is judged by what it embeds: 2002:7f00:1:: (6to4)
    is 127.0.0.1, refused as loopback. A form that only rewrites an IPv4 address is then allowed
    when that address is public; one that embeds it under a prefix of its own needs both public.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return _own_refusal(address)
    wrapped = _wrapped_ipv4(address)
    for embedded in wrapped or _ipv4_behind_prefix(address):
        if (reason := _own_refusal(embedded)) is not None:
            return reason
    return None if wrapped else _own_refusal(address)


def ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (IPv6 without brackets), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


class DestinationPolicy:
    """The addresses webhooks may reach: all of them with ``allow_private_networks``, else public ones."""

    def __init__(self, *, allow_private_networks: bool) -> None:
        self.allow_private_networks = allow_private_networks

    def refusal(self, address: IPAddress) -> str | None:
        return None if self.allow_private_networks else address_refusal(address)

    def check_addresses(self, host: str, addresses: list[IPAddress]) -> None:
        """Raise WebhookUrlRefused if any address ``host`` stands for is one webhooks may not reach."""
        for address in addresses:
            reason = self.refusal(address)
            if reason is None:
                continue
            if ip_literal(host) is not None:
                raise WebhookUrlRefused(f"{host} is not a public address ({reason}): {_PUBLIC_ONLY}")
            raise WebhookUrlRefused(f"{host} resolves to {address} ({reason}): {_PUBLIC_ONLY}")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (asynchronously, through the system resolver)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_literal(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


class ResolvingWebhookUrlGuard:
    """Checks a webhook URL's host at registration: an IP literal as it is, a name by resolving it.

    A name that does not resolve is refused too (a typo, or a host that does not exist yet). With
    private networks allowed nothing is resolved: anything reachable is fine.
    """

    def __init__(self, policy: DestinationPolicy) -> None:
        self._policy = policy

    async def check(self, url: str) -> None:
        if self._policy.allow_private_networks:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        literal = ip_literal(host)
        if literal is not None:
            self._policy.check_addresses(host, [literal])
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise WebhookUrlRefused(f"{host} does not resolve to an address") from error
        if not addresses:
            raise WebhookUrlRefused(f"{host} does not resolve to an address")
        self._policy.check_addresses(host, addresses)
