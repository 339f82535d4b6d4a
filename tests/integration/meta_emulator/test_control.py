"""The emulator's control API, the webhook verification handshake it performs, and its command."""

from __future__ import annotations

import argparse
from pathlib import Path

import aiohttp
import msgspec
import pytest

from emulators.meta import FailureKind, Faults, RunningEmulator
from emulators.meta.command import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_APP_ID,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_WABA_ID,
    add_arguments,
    config_from_arguments,
)
from tests.support.meta_emulator import (
    APP_ID,
    APP_SECRET,
    EXPIRED_TOKEN,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    GraphClient,
    WebhookReceiver,
    emulator_config,
)


async def test_control_api_changes_faults_and_shows_what_was_received(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.patch(
        emulator.url("/_emulator/faults"), json={"failure_rate": 1, "failure_kinds": ["unavailable"]}
    ) as response:
        assert response.status == 200
        assert (await response.json())["failure_kinds"] == ["unavailable"]
    assert (await graph.send_text()).status == 503

    async with http.delete(emulator.url("/_emulator/faults")) as response:
        assert (await response.json())["failure_rate"] == 0
    sent = await graph.send_text("kept", biz_opaque_callback_data="m-1")
    await emulator.state.settle()

    async with http.get(emulator.url("/_emulator/requests")) as response:
        requests = (await response.json())["requests"]
    assert [r["outcome"] for r in requests] == ["unavailable", "accepted"]
    assert requests[1]["body"]["text"] == {"body": "kept"}
    assert requests[1]["auth"] == {"kind": "valid", "token": TOKEN}
    assert (requests[1]["version"], requests[1]["object_id"]) == ("v23.0", PHONE_NUMBER_ID)
    async with http.get(emulator.url("/_emulator/messages")) as response:
        (message,) = (await response.json())["messages"]
    assert message["id"] == sent.body["messages"][0]["id"]
    assert message["biz_opaque_callback_data"] == "m-1"
    assert message["request"]["text"] == {"body": "kept"}
    assert [h["status"] for h in message["history"]] == ["sent", "delivered", "read"]
    async with http.get(emulator.url("/_emulator/webhooks")) as response:
        webhooks = (await response.json())["webhooks"]
    assert [w["statuses"] for w in webhooks] == [["sent"], ["delivered"], ["read"]]
    assert all(w["http_status"] == 200 for w in webhooks)
    async with http.get(emulator.url("/_emulator/stats")) as response:
        stats = (await response.json())["stats"]
    assert stats["outcome.accepted"] == stats["outcome.unavailable"] == 1

    async with http.post(emulator.url("/_emulator/reset")) as response:
        assert response.status == 200
    assert emulator.state.requests == []
    assert emulator.state.messages == {}


async def test_control_api_refuses_bad_settings(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    for path, change in (
        ("faults", {"failure_rate": 2}),
        ("faults", {"failure_kinds": ["explode"]}),
        ("faults", {"latency_ms": [5, 1]}),
        ("faults", {"nonsense": 1}),
        ("callbacks", {"statuses": ["sent", "teleported"]}),
        ("callbacks", {"retry_attempts": -1}),
        ("session_window", {"hours": 0}),
    ):
        async with http.patch(emulator.url(f"/_emulator/{path}"), json=change) as response:
            assert response.status == 400, change
            assert "error" in await response.json()
    assert emulator.state.faults == Faults()


async def test_config_shows_no_secret_and_no_token(
    emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(emulator.url("/_emulator/config")) as response:
        text = await response.text()
        config = msgspec.json.decode(text)

    assert APP_ID in config["apps"]
    assert PHONE_NUMBER_ID in text
    for secret in (APP_SECRET, TOKEN, EXPIRED_TOKEN, VERIFY_TOKEN):
        assert secret not in text


async def test_control_api_adds_an_app_and_a_business_whose_token_then_works(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        emulator.url("/_emulator/apps"), json={"app_id": "777", "secret": "s", "verify_token": "v"}
    ) as response:
        assert response.status == 201
    async with http.post(
        emulator.url("/_emulator/businesses"),
        json={
            "waba_id": "888",
            "app_id": "777",
            "phone_numbers": {"999": {"display_phone_number": "15550100009"}},
            "access_tokens": ["initech-token"],
        },
    ) as response:
        assert response.status == 201
    async with http.post(
        emulator.url("/_emulator/businesses"),
        json={"waba_id": "889", "app_id": "no-such-app", "phone_numbers": {}},
    ) as response:
        assert response.status == 400

    answer = await graph.send_text(phone_number_id="999", token="initech-token")

    assert answer.status == 200


async def test_a_token_expired_through_the_control_api_answers_190(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.post(emulator.url("/_emulator/tokens/expire"), json={"token": TOKEN}) as response:
        assert response.status == 200

    answer = await graph.send_text()

    assert (answer.status, answer.error["code"], answer.error["error_subcode"]) == (401, 190, 463)


async def test_the_clock_moves_forward_only(emulator: RunningEmulator, http: aiohttp.ClientSession) -> None:
    before = emulator.state.now()
    async with http.post(emulator.url("/_emulator/clock"), json={"advance_seconds": 3600}) as response:
        assert (await response.json())["now"] >= before + 3600
    async with http.post(emulator.url("/_emulator/clock"), json={"advance_seconds": -1}) as response:
        assert response.status == 400


async def test_settle_waits_for_every_pending_webhook(
    emulator: RunningEmulator, graph: GraphClient, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    emulator.state.update_webhooks(step_delay_seconds=0.02)
    for i in range(3):
        await graph.send_text(str(i))

    async with http.post(emulator.url("/_emulator/settle")) as response:
        assert response.status == 200

    assert len(receiver.received) == 9


# -- the verification handshake ---------------------------------------------------------------------------


async def test_the_handshake_reports_that_the_receiver_echoed_the_challenge(
    emulator: RunningEmulator, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    async with http.post(emulator.url("/_emulator/verify"), json={"challenge": "1158201444"}) as response:
        result = await response.json()

    assert result == {
        "url": receiver.url(),
        "challenge": "1158201444",
        "verify_token": VERIFY_TOKEN,
        "http_status": 200,
        "body": "1158201444",
        "echoed": True,
        "error": None,
    }


async def test_the_handshake_with_a_wrong_verify_token_is_refused(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    verification = await emulator.verify(verify_token="guess")

    assert (verification.http_status, verification.echoed) == (403, False)
    assert verification.challenge.isdigit()


async def test_the_handshake_to_a_url_that_does_not_answer_reports_the_error(
    emulator: RunningEmulator,
) -> None:
    verification = await emulator.verify(url="http://127.0.0.1:9/webhooks/meta")

    assert verification.http_status is None
    assert verification.error
    assert not verification.echoed


# -- the command ------------------------------------------------------------------------------------------


def parse(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(arguments))


def test_the_command_defaults_to_one_well_known_business() -> None:
    config = config_from_arguments(parse())

    business = config.businesses[DEFAULT_WABA_ID]
    assert business.app_id == DEFAULT_APP_ID
    assert list(business.phone_numbers) == [DEFAULT_PHONE_NUMBER_ID]
    assert business.access_tokens == (DEFAULT_ACCESS_TOKEN,)
    assert config.apps[DEFAULT_APP_ID].callback_url == "http://127.0.0.1:8000/webhooks/meta"


def test_command_options_make_a_config() -> None:
    config = config_from_arguments(
        parse(
            "--app-id", "10", "--app-secret", "shh", "--waba-id", "20",
            "--phone-number", "30:15550100030", "--phone-number", "31:15550100031",
            "--token", "tok", "--expired-token", "old",
            "--callback-url", "", "--verify-token", "vt",
            "--enforce-session-window", "--latency-ms", "100-250",
            "--failure-rate", "0.1", "--failure-kind", "rate_limited", "--failure-kind", "drop",
            "--create-before-failing", "--status-delay-ms", "20", "--media-url-ttl", "60", "--seed", "3",
        )
    )  # fmt: skip

    assert config.apps == {"10": config.apps["10"]}
    assert (config.apps["10"].secret, config.apps["10"].callback_url, config.apps["10"].verify_token) == (
        "shh",
        None,
        "vt",
    )
    business = config.businesses["20"]
    assert {k: v.display_phone_number for k, v in business.phone_numbers.items()} == {
        "30": "15550100030",
        "31": "15550100031",
    }
    assert (business.access_tokens, business.expired_tokens) == (("tok",), ("old",))
    assert config.session_window.enforced
    assert config.faults.latency_ms == (100.0, 250.0)
    assert config.faults.failure_kinds == (FailureKind.RATE_LIMITED, FailureKind.DROP)
    assert (config.faults.failure_rate, config.faults.create_before_failing, config.seed) == (0.1, True, 3)
    assert (config.webhooks.step_delay_seconds, config.media_url_ttl_seconds) == (0.02, 60.0)
    with pytest.raises(ValueError, match="failure_rate"):
        config_from_arguments(parse("--failure-rate", "2"))


def test_the_command_reads_a_whole_configuration_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_bytes(msgspec.json.encode(emulator_config("http://127.0.0.1:8000/webhooks/meta")))

    assert config_from_arguments(parse("--config", str(path))) == emulator_config(
        "http://127.0.0.1:8000/webhooks/meta"
    )
    path.write_text('{"businesses": {"1": {"app_id": "missing"}}}')
    with pytest.raises(ValueError, match="app_id"):
        config_from_arguments(parse("--config", str(path)))
