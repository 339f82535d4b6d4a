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


def address_refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address`` ("loopback", "private", ...), or None if they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
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
