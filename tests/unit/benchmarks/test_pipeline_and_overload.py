"""The benchmark suite's own arithmetic: when the end-to-end pipeline is done, what its receiver counts,
how an overload flood's answers and backlog are read, and how the report words them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bench import receiver, report
from bench.end_to_end import Progress, gateway_cpu_ms, pipeline_done, steady_rate
from bench.load import LoadResult
from bench.overload import QueueLook, drain_timeout, drained, rate_between, split_statuses
from bench.run import parse_options


def flood(statuses: dict[int, int], socket_errors: dict[str, int] | None = None) -> LoadResult:
    return LoadResult(
        connections=512,
        duration_s=10.0,
        requests=sum(statuses.values()),
        rps=sum(statuses.values()) / 10.0,
        p50_ms=40.0,
        p90_ms=90.0,
        p99_ms=900.0,
        max_ms=9000.0,
        mean_ms=60.0,
        statuses=statuses,
        socket_errors=socket_errors or {},
    )


def test_the_pipeline_is_done_when_every_message_is_read_and_every_written_event_received() -> None:
    waiting_for_events = Progress(at=9.0, accepted=100, final=100, events_written=400, events_received=399)
    done = Progress(at=9.5, accepted=100, final=100, events_written=400, events_received=400)
    not_read = Progress(at=8.0, accepted=100, final=99, events_written=396, events_received=396)

    assert not pipeline_done(waiting_for_events, 100, callbacks=True)
    assert not pipeline_done(not_read, 100, callbacks=True)
    assert pipeline_done(done, 100, callbacks=True)


def test_without_callbacks_the_pipeline_is_done_when_the_emulator_holds_every_message() -> None:
    assert pipeline_done(Progress(at=5.0, accepted=100, reached_emulator=100), 100, callbacks=False)
    assert not pipeline_done(Progress(at=5.0, accepted=100, reached_emulator=99), 100, callbacks=False)


def test_nothing_accepted_is_never_done() -> None:
    assert not pipeline_done(Progress(at=1.0), 0, callbacks=True)


def test_the_steady_rate_leaves_out_the_first_and_last_tenth() -> None:
    points = [(0.0, 0), (1.0, 10), (2.0, 50), (3.0, 90), (10.0, 100)]

    assert steady_rate(points) == pytest.approx(40.0)
    assert steady_rate([]) == 0.0


def test_gateway_cpu_is_api_workers_and_postgres_only() -> None:
    cpu = {
        "api": 1.0,
        "worker": 0.5,
        "postgres": 0.25,
        "emulator": 3.0,
        "receiver": 2.0,
        "load generator": 1.0,
    }

    assert gateway_cpu_ms(cpu) == 1.75


def test_the_receiver_counts_a_retried_delivery_once() -> None:
    tally = receiver.Tally()
    tally.record("msg_1", b'{"type": "message.status", "data": {"status": "sent"}}')
    tally.record("msg_1", b'{"type": "message.status", "data": {"status": "sent"}}')
    tally.record("msg_2", b'{"type":"message.failed","data":{}}')

    assert tally.as_dict() == {
        "requests": 3,
        "events": 2,
        "by_type": {"message.status": 1, "message.failed": 1},
    }


def test_the_receiver_answers_200_and_reports_what_it_got(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver, "tally", receiver.Tally())

    async def call(method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> list[Any]:
        sent: list[Any] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "headers": headers}
        await receiver.app(scope, receive, send)
        return sent

    async def exchange() -> tuple[list[Any], list[Any]]:
        posted = await call("POST", "/hooks", b'{"type":"message.status"}', [(b"webhook-id", b"msg_9")])
        stats = await call("GET", "/_stats", b"", [])
        return posted, stats

    posted, stats = asyncio.run(exchange())

    assert posted[0]["status"] == 200
    assert json.loads(stats[1]["body"]) == {"requests": 1, "events": 1, "by_type": {"message.status": 1}}


def test_a_flood_splits_its_answers_into_accepted_shed_and_other() -> None:
    result = flood({202: 1000, 503: 3000, 500: 20}, {"timeout": 7, "read": 2})

    split = split_statuses(result)

    assert (split.accepted_rps, split.shed_rps, split.other_rps) == (100.0, 300.0, 2.0)
    assert split.other_statuses == {500: 20}
    assert split.timeouts == 7


def test_shed_requests_are_not_errors_of_an_overload_flood() -> None:
    result = flood({202: 1000, 503: 3000, 500: 20}, {"timeout": 7})

    assert result.errors((202, 503)) == 27


def test_the_dispatch_rate_is_read_between_the_floods_start_and_end() -> None:
    looks = [QueueLook(0.0, 0, 0), QueueLook(1.0, 50, 10), QueueLook(5.0, 300, 110), QueueLook(9.0, 10, 400)]

    assert rate_between(looks, 1.0, 5.0) == pytest.approx(25.0)
    assert rate_between(looks, 6.0, 7.0) == 0.0


def test_the_backlog_is_drained_once_no_job_is_queued_and_no_late_send_arrives() -> None:
    looks = [
        QueueLook(10.0, 0, 100, 500),  # the flood ends at 10 s with nothing queued yet
        QueueLook(11.0, 40, 110, 550),  # sends wrk gave up on are still being accepted
        QueueLook(12.0, 0, 550, 560),
        QueueLook(13.0, 0, 560, 560),
        QueueLook(14.0, 0, 560, 560),
        QueueLook(15.0, 0, 560, 560),
    ]

    assert drained(looks, after=10.0) == 12.0
    assert drained(looks[:4], after=10.0) is None


def test_a_backlog_is_waited_for_three_times_what_it_needs_within_bounds() -> None:
    assert drain_timeout(0, 0.0, quick=True) == 60.0
    assert drain_timeout(3000, 100.0, quick=False) == 90.0
    assert drain_timeout(100_000, 10.0, quick=True) == 120.0
    assert drain_timeout(100_000, 10.0, quick=False) == 600.0


def test_the_options_have_the_pipeline_and_both_floods_by_default() -> None:
    options = parse_options(["--quick"])

    assert options.e2e_cases == ("pipeline",)
    assert options.overload_connections == (16, 512)
    assert "overload" in options.scenarios


def test_an_unknown_end_to_end_case_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--e2e-cases", "pipeline,everything"])


def e2e_result(*, callbacks: bool, gateway_ms: float) -> dict[str, Any]:
    return {
        "case": "pipeline" if callbacks else "dispatch-only",
        "status_callbacks": callbacks,
        "messages_accepted": 1000,
        "messages_completed": 1000,
        "messages_reached_emulator": 1000,
        "webhook_events_written": 4000,
        "webhook_events_received": 4000,
        "provider_latency_ms": 200.0,
        "total_s": 10.0,
        "messages_per_s": 100.0,
        "steady_messages_per_s": 110.0,
        "accept_rps": 300.0,
        "timed_out": False,
        "cpu_ms_per_message": {
            "api": gateway_ms / 2,
            "worker": gateway_ms / 2,
            "postgres": 0.0,
            "receiver": 0.3,
        },
    }


def test_the_report_says_which_end_to_end_case_had_callbacks() -> None:
    summary = report.summarize(
        {
            "runs": [],
            "e2e": e2e_result(callbacks=True, gateway_ms=5.0),
            "e2e_dispatch_only": e2e_result(callbacks=False, gateway_ms=4.0),
        }
    )

    text = report.render(summary)

    assert "end to end with status callbacks and tenant webhooks (until read and received):" in text
    assert (
        "end to end without callbacks, Twilio tenants only (until the emulator holds every message):" in text
    )
    assert "receiver 0.30" in text
    cpu_target = next(t for t in summary["targets"] if "gateway CPU" in t["target"])
    assert cpu_target["met"] is False
    assert cpu_target["value"].startswith("5.0 ms")


def test_the_report_lists_each_overload_flood() -> None:
    run = {
        "scenario": "overload",
        "case": "send respond-async, embedded dispatcher",
        **flood({202: 1000, 503: 3000}).as_dict(),
        "errors": 0,
        "accepted_rps": 100.0,
        "shed_rps": 300.0,
        "other_rps": 0.0,
        "other_statuses": {},
        "timeouts": 0,
        "queued_at_end": 812,
        "accepted_unanswered": 30,
        "dispatch_per_s_during_flood": 70.2,
        "drain_s": 11.5,
        "drain_limit_s": 60.0,
    }

    text = report.render(report.summarize({"runs": [run]}))

    assert "c=512: 202 100.0/s, 503 300.0/s" in text
    assert "812 queued at the end (30 accepted unanswered), dispatched 70.2/s during the flood" in text
    assert "drained in 11.5 s" in text
