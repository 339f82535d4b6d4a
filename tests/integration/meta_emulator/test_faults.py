"""Injected faults: Meta's throttling and server errors, requests held past the client's timeout,
dropped connections, failures after the message was created, and errors forced on chosen sends."""

from __future__ import annotations

import time

import aiohttp
import pytest

from emulators.meta import (
    EmulatorConfig,
    EmulatorState,
    FailureKind,
    Faults,
    ForcedError,
    InboundMessage,
    RunningEmulator,
    Stage,
    running_emulator,
)
from tests.support.meta_emulator import (
    CUSTOMER,
    MEXICAN_NUMBER,
    MEXICAN_WA_ID,
    OTHER_PHONE_NUMBER_ID,
    OTHER_TOKEN,
    PHONE_NUMBER_ID,
    GraphClient,
    WebhookReceiver,
    emulator_config,
)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (FailureKind.RATE_LIMITED, 429, 130429),
        (FailureKind.SERVER_ERROR, 500, 131000),
        (FailureKind.UNAVAILABLE, 503, 2),
    ],
)
async def test_injected_http_failures_have_metas_bodies(
    emulator: RunningEmulator, graph: GraphClient, kind: FailureKind, status: int, code: int
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(kind,))

    answer = await graph.send_text()

    assert (answer.status, answer.error["code"]) == (status, code)
    assert set(answer.error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert answer.error["message"].startswith(f"(#{code}) ")
    assert emulator.state.messages == {}
    assert emulator.state.stats[f"outcome.{kind.value}"] == 1


async def test_a_dropped_connection_gives_no_answer(emulator: RunningEmulator, graph: GraphClient) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.DROP,))

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await graph.send_text("dropped")

    request = emulator.state.requests[-1]
    assert request.outcome == "dropped"
    assert request.body["text"] == {
        "body": "dropped"
    }  # the request was read before the connection was dropped


@pytest.mark.parametrize(("kind", "answer"), [(FailureKind.SERVER_ERROR, 500), (FailureKind.DROP, None)])
async def test_a_failure_can_strike_after_the_message_was_created(
    emulator: RunningEmulator,
    graph: GraphClient,
    receiver: WebhookReceiver,
    kind: FailureKind,
    answer: int | None,
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(kind,), create_before_failing=True)

    try:
        status: int | None = (await graph.send_text(biz_opaque_callback_data="outbound-77")).status
    except aiohttp.ServerDisconnectedError:
        status = None

    assert status == answer
    (message,) = emulator.state.messages.values()  # created all the same
    assert emulator.state.requests[-1].message_id == message.id
    await emulator.state.settle()
    assert receiver.statuses() == ["sent", "delivered", "read"]
    # The opaque data is how the client ties these statuses back to the send whose answer it lost.
    assert {status["biz_opaque_callback_data"] for status in receiver.status_items()} == {"outbound-77"}


async def test_a_rate_limit_never_creates_the_message(emulator: RunningEmulator, graph: GraphClient) -> None:
    emulator.state.update_faults(failure_rate=1.0, create_before_failing=True)

    answer = await graph.send_text()

    assert answer.status == 429
    assert emulator.state.messages == {}


async def test_a_held_request_outlasts_the_client_timeout_without_delaying_shutdown(
    http: aiohttp.ClientSession,
) -> None:
    faults = Faults(failure_rate=1.0, failure_kinds=(FailureKind.TIMEOUT,), hold_seconds=30)
    started = time.monotonic()
    async with running_emulator(emulator_config(None, faults=faults)) as emulator:
        with pytest.raises(TimeoutError):
            async with http.post(
                emulator.url(f"/v23.0/{PHONE_NUMBER_ID}/messages"),
                json={"messaging_product": "whatsapp", "to": CUSTOMER, "text": {"body": "x"}},
                headers={"Authorization": "Bearer access-token-of-acme"},
                timeout=aiohttp.ClientTimeout(total=0.3),
            ):
                pass
    assert time.monotonic() - started < 5


async def test_latency_delays_requests(emulator: RunningEmulator, graph: GraphClient) -> None:
    emulator.state.update_faults(latency_ms=(150, 200))
    started = time.monotonic()

    answer = await graph.send_text()

    assert answer.status == 200
    assert time.monotonic() - started >= 0.15


async def test_the_next_sends_fail_with_the_code_asked_for_then_sending_works_again(
    emulator: RunningEmulator, graph: GraphClient, http: aiohttp.ClientSession
) -> None:
    async with http.patch(
        emulator.url("/_emulator/faults"),
        json={"next_errors": [{"code": 131056}, {"code": 130429}, {"code": 368}]},
    ) as response:
        assert response.status == 200

    answers = [await graph.send_text(str(i)) for i in range(4)]

    assert [(a.status, a.body.get("error", {}).get("code")) for a in answers] == [
        (400, 131056),
        (429, 130429),
        (403, 368),
        (200, None),
    ]
    assert answers[0].error["message"] == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    assert emulator.state.faults.next_errors == ()


@pytest.mark.parametrize(
    ("code", "status"), [(131031, 403), (368, 403), (131000, 500), (131016, 503), (132001, 404), (190, 401)]
)
async def test_an_error_forced_on_a_business_number(
    emulator: RunningEmulator, graph: GraphClient, code: int, status: int
) -> None:
    emulator.state.update_faults(sender_errors={PHONE_NUMBER_ID: ForcedError(code)})

    mine = await graph.send_text()
    theirs = await graph.send_text(phone_number_id=OTHER_PHONE_NUMBER_ID, token=OTHER_TOKEN)

    assert (mine.status, mine.error["code"]) == (status, code)
    assert theirs.status == 200


async def test_a_forced_error_may_say_everything_itself(
    emulator: RunningEmulator, graph: GraphClient
) -> None:
    forced = ForcedError(135000, stage=Stage.REQUEST, http_status=418, title="Odd", details="Very odd")
    emulator.state.update_faults(recipient_errors={"14155550100": forced})

    answer = await graph.send_text()

    assert answer.status == 418
    assert answer.error["message"] == "(#135000) Odd"
    assert answer.error["error_data"]["details"] == "Very odd"


async def test_failure_rate_fails_a_share_of_sends(emulator: RunningEmulator, graph: GraphClient) -> None:
    emulator.state.update_faults(
        failure_rate=0.5, failure_kinds=(FailureKind.SERVER_ERROR, FailureKind.RATE_LIMITED)
    )

    statuses = [(await graph.send_text(str(i))).status for i in range(60)]

    assert set(statuses) == {200, 429, 500}
    stats = emulator.state.stats
    assert stats["outcome.accepted"] == statuses.count(200)
    assert stats["outcome.server_error"] + stats["outcome.rate_limited"] == 60 - statuses.count(200)


async def test_marking_as_read_is_not_failed_at_random(emulator: RunningEmulator, graph: GraphClient) -> None:
    delivery = await emulator.send_inbound(
        InboundMessage(from_=CUSTOMER, phone_number_id=PHONE_NUMBER_ID, text={"body": "hi"})
    )
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.SERVER_ERROR,))

    answer = await graph.send(
        {"messaging_product": "whatsapp", "status": "read", "message_id": delivery.message_ids[0]}
    )

    assert answer.status == 200


def test_faults_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        EmulatorState(EmulatorConfig(faults=Faults(failure_rate=1.5)))
    with pytest.raises(ValueError, match="minimum"):
        Faults(latency_ms=(10, 1))


@pytest.mark.parametrize("key", [MEXICAN_NUMBER, MEXICAN_WA_ID], ids=["number-as-sent", "wa-id"])
async def test_a_recipient_error_is_found_by_the_number_as_sent_or_by_its_wa_id(
    emulator: RunningEmulator, graph: GraphClient, key: str
) -> None:
    emulator.state.update_faults(recipient_errors={key: ForcedError(131026, stage=Stage.REQUEST)})

    answer = await graph.send_text(to=MEXICAN_NUMBER)

    assert (answer.status, answer.error["code"]) == (400, 131026)
