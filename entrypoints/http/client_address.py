"""Who the client is: the peer of the connection, or, when the peer is a trusted proxy, the address the
proxies forwarded.

Every proxy appends the address it received the request from to ``X-Forwarded-For`` (or adds a
``for=`` element to ``Forwarded``), so the header reads client, proxy 1, proxy 2, … and only its right
end was written by proxies we trust: anything to the left of them may be the client's own invention.
The client is therefore the right-most address that is not a trusted proxy. An entry that is not an
address (``unknown``, an obfuscated ``_name``, garbage) ends the walk: the client is then the nearest
trusted hop, never something a client could have written. A peer that is not a trusted proxy is the
client, whatever headers it sent.

The headers are resolved here rather than by uvicorn (``proxy_headers``) so that one function, with
the same rules under every server and in tests, gives the address rate limits count and logs record.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any, cast

from litestar.connection import ASGIConnection

from application.principal import UNKNOWN_CLIENT_ADDRESS
from entrypoints.settings import IPNetwork, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_RESOLVED = "wa_gateway.client_address"
_STATE_KEY = "client_addresses"
# RFC 7230 token characters: the unquoted form of a Forwarded parameter name or value.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ClientAddresses:
    """Resolves the client's address of a request from its peer and, behind trusted proxies, its
    forwarding header (``x-forwarded-for`` or ``forwarded``)."""

    def __init__(self, trusted_proxies: Sequence[IPNetwork] = (), header: str = "x-forwarded-for") -> None:
        self._trusted = tuple(trusted_proxies)
        self._header = header.encode("latin-1")
        self._parse = _forwarded_for if header == "forwarded" else _x_forwarded_for

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientAddresses:
        return cls(settings.trusted_proxy_networks, settings.trusted_proxy_header)

    def resolve(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str:
        if peer is None:
            return UNKNOWN_CLIENT_ADDRESS
        peer_address = _address(peer)
        if peer_address is None or not self._is_trusted(peer_address):
            return peer if peer_address is None else str(peer_address)
        hops: list[IPAddress | None] = []
        for name, value in headers:
            if name.lower() == self._header:
                # Several header lines are one list, in order; each line parsed alone, so that one
                # broken line cannot swallow the next.
                hops.extend(self._parse(value.decode("latin-1")))
        client = peer_address
        for hop in reversed(hops):
            if hop is None:
                break
            client = hop
            if not self._is_trusted(hop):
                break
        return str(client)

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address of this request (resolved once, then kept on the request)."""
    return client_address_of_scope(cast(dict[str, Any], connection.scope))


def client_address_of_scope(scope: dict[str, Any]) -> str:
    """``client_address`` for code that holds the ASGI scope (a middleware) rather than a request."""
    resolved = scope.get(_RESOLVED)
    if resolved is None:
        # An app built without ``install`` (none of ours) believes no proxy.
        resolver = getattr(scope["app"].state, _STATE_KEY, None) or _NO_PROXIES
        peer = scope.get("client")
        resolved = resolver.resolve(peer[0] if peer else None, scope.get("headers", ()))
        scope[_RESOLVED] = resolved
    return str(resolved)


def install(app_state: Any, settings: Settings) -> None:
    """Keep the app's resolver on its state, where ``client_address`` finds it."""
    setattr(app_state, _STATE_KEY, ClientAddresses.from_settings(settings))


# ----------------------------------------------------------------------------------------- the headers


def _address(text: str) -> IPAddress | None:
    """An address from a node as proxies write it: ``192.0.2.7``, ``192.0.2.7:4711``, ``2001:db8::1``,
    ``[2001:db8::1]`` or ``[2001:db8::1]:4711``; None if it is none of those."""
    text = text.strip()
    if text.startswith("["):
        host, closed, port = text[1:].partition("]")
        if not closed or (port and not _is_port(port)) or ":" not in host:
            return None
        text = host
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not _is_port(":" + port):
            return None
        text = host
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _is_port(text: str) -> bool:
    return text.startswith(":") and 1 <= len(text) - 1 <= 5 and text[1:].isdigit()


def _x_forwarded_for(value: str) -> list[IPAddress | None]:
    return [_address(item) for item in value.split(",")]


def _forwarded_for(value: str) -> list[IPAddress | None]:
    """The ``for=`` node of each element of a ``Forwarded`` header line (RFC 7239), None for an element
    without one, with an unknown or obfuscated node, or that does not parse."""
    elements = _split_outside_quotes(value, ",")
    if elements is None:  # an unclosed quote: nothing of this line can be read with certainty
        return [None]
    return [_for_node(element) for element in elements]


def _for_node(element: str) -> IPAddress | None:
    pairs = _split_outside_quotes(element, ";")
    if pairs is None:
        return None
    node = None
    for pair in (part.strip() for part in pairs):
        if not pair:
            continue
        name, equals, raw = pair.partition("=")
        value = _parameter_value(raw.strip())
        if not equals or not _TOKEN.fullmatch(name.strip()) or value is None:
            return None
        if name.strip().lower() == "for":
            if node is not None:  # a parameter given twice: the element is invalid
                return None
            node = value
    return _address(node) if node is not None else None


def _parameter_value(raw: str) -> str | None:
    """A token as it is, a quoted-string unquoted (``\\x`` stands for ``x``); None for anything else."""
    if _TOKEN.fullmatch(raw):
        return raw
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return None
    inner = raw[1:-1]
    characters: list[str] = []
    escaped = False
    for character in inner:
        if escaped:
            characters.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == '"':
            return None
        else:
            characters.append(character)
    return None if escaped else "".join(characters)


def _split_outside_quotes(text: str, separator: str) -> list[str] | None:
    """``text`` split at each ``separator`` outside a quoted-string; None if a quote is left open."""
    pieces: list[str] = []
    start, quoted, escaped = 0, False, False
    for index, character in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            pieces.append(text[start:index])
            start = index + 1
    if quoted:
        return None
    pieces.append(text[start:])
    return pieces


_NO_PROXIES = ClientAddresses()
