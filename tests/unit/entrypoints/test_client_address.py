"""The client's address behind proxies: only a trusted proxy is believed, and only about the hops to
its right; what a client writes into a forwarding header never becomes its address."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.http.client_address import ClientAddresses
from entrypoints.settings import ConfigurationError, load_settings, parse_networks

LOAD_BALANCER = "10.0.0.2"  # inside the trusted 10.0.0.0/8
CLIENT = "203.0.113.7"


def behind(trusted: str = "10.0.0.0/8", header: str = "x-forwarded-for") -> ClientAddresses:
    return ClientAddresses(parse_networks(trusted), header)


def headers(*lines: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in lines]


def xff(*values: str) -> list[tuple[bytes, bytes]]:
    return headers(*(("X-Forwarded-For", value) for value in values))


def forwarded(*values: str) -> list[tuple[bytes, bytes]]:
    return headers(*(("Forwarded", value) for value in values))


# ------------------------------------------------------------------------------------ untrusted peers


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert ClientAddresses().resolve(CLIENT, xff("198.51.100.1")) == CLIENT


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored() -> None:
    resolver = behind()

    assert resolver.resolve(CLIENT, xff("198.51.100.1")) == CLIENT
    assert resolver.resolve(CLIENT, xff("10.0.0.9")) == CLIENT
    assert behind(header="forwarded").resolve(CLIENT, forwarded("for=198.51.100.1")) == CLIENT


def test_a_peer_that_is_not_an_address_is_itself_and_no_peer_is_unknown() -> None:
    assert behind().resolve("testclient", xff("198.51.100.1")) == "testclient"
    assert behind().resolve(None, xff("198.51.100.1")) == "unknown"


# ----------------------------------------------------------------------------- trusted proxies: chains


def test_behind_a_trusted_proxy_the_client_is_the_address_it_forwarded() -> None:
    assert behind().resolve(LOAD_BALANCER, xff(CLIENT)) == CLIENT


def test_what_a_client_put_in_front_of_the_proxys_entry_is_not_believed() -> None:
    # The client sent "X-Forwarded-For: 198.51.100.1"; the load balancer appended the real peer.
    assert behind().resolve(LOAD_BALANCER, xff(f"198.51.100.1, {CLIENT}")) == CLIENT


def test_through_several_trusted_hops_the_client_is_the_right_most_untrusted_address() -> None:
    resolver = behind("10.0.0.0/8, 192.0.2.10")

    assert resolver.resolve(LOAD_BALANCER, xff(f"198.51.100.1, {CLIENT}, 192.0.2.10, 10.1.2.3")) == CLIENT


def test_an_untrusted_hop_in_the_chain_is_the_client_even_if_more_hops_follow_it_leftwards() -> None:
    # 192.0.2.10 is not trusted here: it may have written anything to its left.
    assert behind().resolve(LOAD_BALANCER, xff(f"{CLIENT}, 192.0.2.10, 10.1.2.3")) == "192.0.2.10"


def test_when_every_hop_is_a_trusted_proxy_the_farthest_one_is_the_client() -> None:
    assert behind().resolve(LOAD_BALANCER, xff("10.9.9.9, 10.1.2.3")) == "10.9.9.9"


def test_several_header_lines_are_one_list_in_order() -> None:
    assert behind().resolve(LOAD_BALANCER, xff("198.51.100.1", f"{CLIENT}, 10.1.2.3")) == CLIENT


def test_ports_brackets_and_ipv6_are_understood_in_x_forwarded_for() -> None:
    resolver = behind("10.0.0.0/8, fd00::/8")

    assert resolver.resolve(LOAD_BALANCER, xff(f"{CLIENT}:51234")) == CLIENT
    assert resolver.resolve(LOAD_BALANCER, xff("2001:db8::17")) == "2001:db8::17"
    assert resolver.resolve(LOAD_BALANCER, xff("[2001:db8::17]:4711")) == "2001:db8::17"
    assert resolver.resolve("fd00::1", xff("[2001:db8::17]")) == "2001:db8::17"


def test_an_ipv4_peer_seen_through_a_dual_stack_socket_is_still_trusted() -> None:
    assert behind().resolve("::ffff:10.0.0.2", xff(CLIENT)) == CLIENT
    assert behind().resolve("::ffff:203.0.113.9", xff("198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize("trusted", ["::ffff:10.0.0.2", "::ffff:10.0.0.0/104", "::ffff:a00:2"])
def test_a_trusted_proxy_written_as_an_ipv4_mapped_address_is_its_ipv4_address(trusted: str) -> None:
    resolver = behind(trusted)

    assert resolver.resolve(LOAD_BALANCER, xff(CLIENT)) == CLIENT
    assert resolver.resolve("::ffff:10.0.0.2", xff(CLIENT)) == CLIENT
    assert resolver.resolve("10.0.1.2", xff(CLIENT)) == ("10.0.1.2" if "/" not in trusted else CLIENT)


def test_only_the_configured_header_is_read() -> None:
    # A proxy that writes X-Forwarded-For passes a client's Forwarded header through untouched.
    both = headers(("Forwarded", "for=198.51.100.1"), ("X-Forwarded-For", CLIENT))

    assert behind().resolve(LOAD_BALANCER, both) == CLIENT
    assert behind(header="forwarded").resolve(LOAD_BALANCER, xff(CLIENT)) == LOAD_BALANCER


# --------------------------------------------------------------------------------------- Forwarded


@pytest.mark.parametrize(
    ("value", "client"),
    [
        (f"for={CLIENT}", CLIENT),
        (f"for={CLIENT};proto=https;by=10.0.0.2", CLIENT),
        (f"proto=https;For={CLIENT}", CLIENT),
        (f'for="{CLIENT}:4711"', CLIENT),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]:4711";proto=http', "2001:db8:cafe::17"),
        (f'for="\\{CLIENT}"', CLIENT),  # a quoted-pair stands for the character itself
        (f'for=198.51.100.1, for="{CLIENT}";host="example.com, with a comma"', CLIENT),
        (f"for=198.51.100.1;proto=http, for={CLIENT}, for=10.1.2.3", CLIENT),
        (f" for = {CLIENT} ", CLIENT),  # spaces RFC 7239 does not allow, tolerated
    ],
)
def test_the_forwarded_header_is_read_as_rfc_7239_writes_it(value: str, client: str) -> None:
    assert behind(header="forwarded").resolve(LOAD_BALANCER, forwarded(value)) == client


def test_forwarded_elements_from_several_lines_are_one_list() -> None:
    resolver = behind(header="forwarded")

    assert resolver.resolve(LOAD_BALANCER, forwarded("for=198.51.100.1", f"for={CLIENT}")) == CLIENT


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",
        "for=_hidden",
        "proto=https",  # a hop that did not say whom it received the request from
        'for="[2001:db8::17"',
        f"for={CLIENT};for=198.51.100.1",  # a parameter twice
        f'for="{CLIENT}',  # an unclosed quote
        f'for="{CLIENT}"x',
        f"for={CLIENT}, for=not-an-address",
        f"for=[{CLIENT}]",
        f"{CLIENT}",
        "for=" + "9" * 5000,
    ],
)
def test_a_forwarded_element_that_names_no_address_stops_at_the_nearest_trusted_hop(value: str) -> None:
    assert behind(header="forwarded").resolve(LOAD_BALANCER, forwarded(value)) == LOAD_BALANCER


# ------------------------------------------------------------------------------------------ garbage


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not an address",
        f"{CLIENT}, garbage",
        f"{CLIENT}:port",
        f"{CLIENT}:123456",
        "[2001:db8::17",
        "[203.0.113.7]",
        "unknown",
        "\x00\xff",
        ",,,",
        "1" * 10_000,
    ],
)
def test_a_garbage_x_forwarded_for_gives_the_nearest_trusted_hop(value: str) -> None:
    assert behind().resolve(LOAD_BALANCER, xff(value)) == LOAD_BALANCER


def test_garbage_left_of_the_real_client_does_not_matter() -> None:
    assert behind().resolve(LOAD_BALANCER, xff(f"garbage, {CLIENT}")) == CLIENT


def test_garbage_between_trusted_hops_stops_at_the_nearest_of_them() -> None:
    assert behind().resolve(LOAD_BALANCER, xff(f"{CLIENT}, garbage, 10.1.2.3")) == "10.1.2.3"


# ------------------------------------------------------------------------------------------ settings


def test_trusted_proxies_are_read_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "DATA_DIR": str(tmp_path),
            "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32, ::ffff:198.51.100.0/120",
            "TRUSTED_PROXY_HEADER": "Forwarded",
        },
        env_file=None,
    )

    assert [str(network) for network in settings.trusted_proxy_networks] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
        "198.51.100.0/24",
    ]
    assert settings.trusted_proxy_header == "forwarded"
    assert load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None).trusted_proxy_networks == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.0/8, my-load-balancer"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXY_HEADER", "x-real-ip"),
    ],
)
def test_a_trusted_proxy_setting_that_means_nothing_is_refused_at_start(
    name: str, value: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_settings(environ={"DATA_DIR": str(tmp_path), name: value}, env_file=None)
