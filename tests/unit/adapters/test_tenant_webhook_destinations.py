"""Where webhooks may go: public addresses only (unless private networks are allowed)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from adapters.tenant_webhooks.destinations import DestinationPolicy, ResolvingWebhookUrlGuard, address_refusal
from adapters.tenant_webhooks.sender import retry_after_seconds
from application.errors import WebhookUrlRefused


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),  # the cloud metadata endpoint
        ("fe80::1", "link-local"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.20", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.1.2.3", "private"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not one to bind
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700::6810:85e5"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::10.1.2.3", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1:5::9", "private"),  # 6to4 of 10.0.0.1, any subnet and host
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of the cloud metadata endpoint
        ("2001:0:7f00:1::f7f7:f7f7", "loopback"),  # Teredo, server 127.0.0.1 (client 8.8.8.8)
        ("2001:0:808:808:8000:0:f5ff:fffe", "private"),  # Teredo, obfuscated client 10.0.0.1
        ("64:ff9b::127.0.0.1", "loopback"),  # NAT64, well-known prefix
        ("64:ff9b::192.168.1.20", "private"),
        ("64:ff9b:1::127.0.0.1", "loopback"),  # NAT64, local-use prefix, /96 layout
        ("64:ff9b:1:7f00:0:100::", "loopback"),  # NAT64, local-use prefix, /48 layout (RFC 6052)
        ("2606:4700::5efe:127.0.0.1", "loopback"),  # ISATAP interface identifier
        ("2606:4700::200:5efe:169.254.169.254", "link-local"),  # ISATAP, universal bit set
        ("fe80::5efe:8.8.8.8", "link-local"),  # a public IPv4 behind a link-local prefix is still link-local
    ],
)
def test_ipv6_forms_embedding_a_non_public_ipv4_address_are_refused_as_that_address(
    address: str, reason: str
) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:8.8.8.8",  # IPv4-mapped
        "::8.8.8.8",  # IPv4-compatible
        "2002:808:808::1",  # 6to4
        "2001:0:808:808::fefe:fefe",  # Teredo, server 8.8.8.8, client 1.1.1.1
        "64:ff9b::8.8.8.8",  # NAT64, well-known prefix
        "2606:4700::5efe:8.8.8.8",  # ISATAP under a public prefix
    ],
)
def test_ipv6_forms_embedding_a_public_ipv4_address_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.fixture
def guard() -> ResolvingWebhookUrlGuard:
    return ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=False))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://192.168.0.10/hook",
        "http://172.16.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[::127.0.0.1]:8080/hook",
    ],
)
async def test_ip_literals_of_private_networks_are_refused(guard: ResolvingWebhookUrlGuard, url: str) -> None:
    with pytest.raises(WebhookUrlRefused, match="not a public address"):
        await guard.check(url)


@pytest.mark.parametrize("url", ["http://localhost:8080/hook", "http://LOCALHOST/hook", "http://2130706433/"])
async def test_names_resolving_to_loopback_are_refused(guard: ResolvingWebhookUrlGuard, url: str) -> None:
    with pytest.raises(WebhookUrlRefused, match=r"resolves to .*loopback"):
        await guard.check(url)


async def test_a_name_that_does_not_resolve_is_refused(guard: ResolvingWebhookUrlGuard) -> None:
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        await guard.check("https://no-such-host.invalid/hook")


async def test_a_public_ip_literal_passes(guard: ResolvingWebhookUrlGuard) -> None:
    await guard.check("https://93.184.215.14/hook")


async def test_with_private_networks_allowed_anything_passes() -> None:
    guard = ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=True))

    await guard.check("http://127.0.0.1:8080/hook")
    await guard.check("http://localhost/hook")


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    in_two_minutes = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)

    assert retry_after_seconds("120") == 120.0
    assert 100 < (retry_after_seconds(in_two_minutes) or 0) <= 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
