"""The campaign scenarios: a CSV audience stored, and campaigns sent at their pace by the workers.

campaign-materialise: one campaign's audience uploaded as a CSV file of ``--campaign-recipients`` rows
(POST /api/campaigns/{id}/audience, the route that takes 100,000); measured from the upload's first
byte to its answer: wall time, rows/s, CPU seconds of the API processes and of PostgreSQL's backends,
the API's peak RSS. The campaign is canceled afterwards, before any worker runs.

campaign-dispatch: ``--campaign-senders`` campaigns of a sandbox tenant, one per sender, each at
``--campaign-pace / --campaign-senders`` messages/s (a pace is per campaign), sized for
``--campaign-seconds`` of sending, run by ``wa-gateway worker`` processes; measured from the campaigns'
creation until the provider took every message: the rate the messages left at (their sent timestamps)
against the pace, and CPU ms per message of API + workers + PostgreSQL.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from bench import processes
from bench.processes import WA_GATEWAY

if TYPE_CHECKING:
    from bench.run import Gateway, Runner

TENANT = "bench-campaign"
USER = "campaign"
MAX_PACE_PER_CAMPAIGN = 80.0  # the API's bound on pace.messages_per_second
# A sandbox template (approved as soon as it is created) with one variable from a CSV column.
TEMPLATE = {
    "name": "bench_campaign",
    "language": "en",
    "category": "marketing",
    "body": "Hi {{1}}, our spring sale starts today.",
    "examples": {"1": "Ana"},
    "accounts": ["sandbox"],
}


def _say(text: str) -> None:
    from bench.run import say

    say(text)


def _call(base: str, token: str, method: str, path: str, body: bytes, content_type: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - a local URL of ours
        f"{base}{path}",
        data=body,
        headers={"Content-Type": content_type, "Authorization": token},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        return json.load(response)


def _post_json(base: str, token: str, path: str, payload: dict[str, Any]) -> Any:
    return _call(base, token, "POST", path, json.dumps(payload).encode(), "application/json")


def _prepare(gateway: Gateway) -> tuple[str, str, list[str]]:
    """The API's base URL, a fresh bearer token of the campaign tenant's admin, and its senders."""
    from bench.run import bearer_tokens, create_template

    assert gateway.api is not None
    assert gateway.api.base_url is not None
    (token,) = bearer_tokens(gateway, [USER], max_age=0)
    create_template(gateway.api.base_url, token, TEMPLATE)
    with psycopg.connect(gateway.url) as connection:
        rows = connection.execute(
            "SELECT phone_number FROM senders WHERE tenant_id = %s ORDER BY phone_number",
            (gateway.tenants[TENANT],),
        ).fetchall()
    return gateway.api.base_url, token, [row[0] for row in rows]


def campaign_csv(rows: int) -> bytes:
    lines = ["phone,first_name"]
    lines += [f"+4479{n:08d},Person {n}" for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def run_materialise(runner: Runner, gateway: Gateway) -> None:
    options = runner.options
    base, token, senders = _prepare(gateway)
    campaign = _post_json(
        base,
        token,
        "/api/campaigns",
        {
            "name": "bench materialise",
            "sender_number": senders[0],
            "template": {"name": TEMPLATE["name"], "language": "en"},
            "variables": {"1": {"attribute": "first_name"}},
            "audience": {"csv": True},
            "pace": {"messages_per_second": 1},
        },
    )
    body = campaign_csv(options.campaign_recipients)
    memory: dict[str, float] = {}
    processes.wait_for_quiet(options.quiet_cores, options.quiet_wait, _say)
    with (
        processes.sampling(runner.watched, memory),
        runner.profiling("campaign-materialise", "csv", 1),
        processes.ForeignLoad() as foreign,
        processes.CpuMeter(runner.watched, runner.databases) as cpu,
    ):
        started = time.monotonic()
        answer = _call(base, token, "POST", f"/api/campaigns/{campaign['id']}/audience", body, "text/csv")
        seconds = time.monotonic() - started
    _post_json(base, token, f"/api/campaigns/{campaign['id']}/cancel", {})
    stored = int(answer["stored"])
    result = {
        "recipients": options.campaign_recipients,
        "stored": stored,
        "duplicates": answer.get("duplicates"),
        "csv_bytes": len(body),
        "seconds": round(seconds, 2),
        "rows_per_s": round(stored / seconds, 1) if seconds else 0.0,
        "cpu_seconds": {name: round(value, 2) for name, value in cpu.seconds.items()},
        "memory_peak_mib": {k: round(v, 1) for k, v in memory.items()},
        "foreign_cpu_cores": round(foreign.cores, 2),
    }
    for group, peak in memory.items():
        runner.results.memory[f"{group} (campaign-materialise)"] = {"peak_mib": round(peak, 1)}
    runner.results.extra["campaign_materialise"] = result
    _say(
        f"campaign-materialise {stored:,} recipients in {seconds:.1f} s "
        f"({result['rows_per_s']:,.0f} rows/s); "
        f"cpu s {result['cpu_seconds']}; api peak {memory.get('api', 0):.0f} MiB; noise {foreign.cores:.2f}"
    )


def run_dispatch(runner: Runner, gateway: Gateway) -> None:
    options = runner.options
    campaigns = options.campaign_senders
    per_campaign_pace = options.campaign_pace / campaigns
    if per_campaign_pace > MAX_PACE_PER_CAMPAIGN:
        raise ValueError(
            f"{options.campaign_pace:g} msg/s over {campaigns} campaigns is {per_campaign_pace:g} each, "
            f"over the API's {MAX_PACE_PER_CAMPAIGN:g}: add --campaign-senders"
        )
    per_campaign = round(per_campaign_pace * options.campaign_seconds)
    total = per_campaign * campaigns
    base, token, senders = _prepare(gateway)
    tenant_id = gateway.tenants[TENANT]
    # Jobs queued by earlier scenarios (accept leaves its own) are not part of this one.
    with psycopg.connect(gateway.url, autocommit=True) as connection:
        connection.execute("DELETE FROM dispatch_jobs WHERE tenant_id <> %s::uuid", (tenant_id,))
    worker_env = {
        **gateway.env,
        # The sandbox's own status reports come an hour later: a message's updated_at is when it left.
        "SANDBOX_SENT_AFTER_SECONDS": "3600",
        "SANDBOX_DELIVERED_AFTER_SECONDS": "3600",
    }
    workers = [
        processes.start(
            f"gateway-campaign-worker-{index}", [WA_GATEWAY, "worker"], worker_env, runner.log_dir
        )
        for index in range(options.dispatch_workers)
    ]
    try:
        time.sleep(2.0)  # the workers connect and start polling
        audiences = [
            [
                {"number": f"+4478{c:02d}{n:06d}", "attributes": {"first_name": f"Person {n}"}}
                for n in range(per_campaign)
            ]
            for c in range(campaigns)
        ]
        assert gateway.api is not None
        runner.watched = {"api": [gateway.api], "worker": workers}
        memory: dict[str, float] = {}
        processes.wait_for_quiet(options.quiet_cores, options.quiet_wait, _say)
        ids: list[str] = []
        # Every campaign starts at one moment, after all are created (a listed audience is stored as
        # its campaign is created: ~1,000 rows/s here), so the rate is that of all of them at once.
        lead = 5.0 + total / 500
        start_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0).isoformat()
        with (
            processes.sampling(runner.watched, memory),
            runner.profiling("campaign-dispatch", "campaigns", campaigns),
            processes.ForeignLoad() as foreign,
            processes.CpuMeter(runner.watched, runner.databases) as cpu,
        ):
            started = time.monotonic()
            for index, (sender, audience) in enumerate(zip(senders, audiences, strict=False)):
                created = _post_json(
                    base,
                    token,
                    "/api/campaigns",
                    {
                        "name": f"bench dispatch {index}",
                        "sender_number": sender,
                        "template": {"name": TEMPLATE["name"], "language": "en"},
                        "variables": {"1": {"attribute": "first_name"}},
                        "audience": {"recipients": audience},
                        "pace": {"messages_per_second": per_campaign_pace},
                        "start_at": start_at,
                    },
                )
                ids.append(created["id"])
            created_s = time.monotonic() - started
            deadline = started + options.campaign_seconds * 3 + 60
            left = 0
            while time.monotonic() < deadline:
                left = _left(gateway.url, ids)
                if left >= total:
                    break
                time.sleep(0.25)
            finished = time.monotonic()
        moments = _sent_moments(gateway.url, ids)
        elapsed = finished - started
        result = {
            "campaigns": campaigns,
            "messages": total,
            "messages_left": len(moments),
            "dispatch_workers": options.dispatch_workers,
            "pace_per_s": options.campaign_pace,
            "pace_per_campaign": round(per_campaign_pace, 2),
            "create_s": round(created_s, 2),
            "start_after_s": round(lead, 1),
            "created_late": created_s > lead,
            "total_s": round(elapsed, 2),
            **sent_rates(moments, options.campaign_pace),
            "cpu_ms_per_message": cpu.per_request_ms(len(moments)),
            "memory_peak_mib": {k: round(v, 1) for k, v in memory.items()},
            "foreign_cpu_cores": round(foreign.cores, 2),
        }
        for group, peak in memory.items():
            runner.results.memory[f"{group} (campaign-dispatch)"] = {"peak_mib": round(peak, 1)}
        runner.results.extra["campaign_dispatch"] = result
        _say(
            f"campaign-dispatch {len(moments):,}/{total:,} messages left at {result['measured_per_s']} msg/s "
            f"(steady {result['steady_per_s']}) for a pace of {options.campaign_pace:g} "
            f"({result['pace_error_pct']:+.1f} %); cpu ms/message {result['cpu_ms_per_message']}; "
            f"noise {foreign.cores:.2f}"
        )
    finally:
        for worker in workers:
            worker.stop()


def _left(url: str, campaign_ids: list[str]) -> int:
    """The campaigns' messages the provider took (status past accepted)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM campaign_recipients r JOIN messages m ON m.id = r.message_id "
            "WHERE r.campaign_id = ANY(%s::uuid[]) AND m.status <> 'accepted'",
            (campaign_ids,),
        ).fetchone()
    return int(row[0]) if row else 0


def _sent_moments(url: str, campaign_ids: list[str]) -> list[float]:
    """When each of the campaigns' messages left (updated_at: the provider's answer is its last
    change), epoch seconds, in order."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT extract(epoch FROM m.updated_at) FROM campaign_recipients r "
            "JOIN messages m ON m.id = r.message_id "
            "WHERE r.campaign_id = ANY(%s::uuid[]) AND m.status <> 'accepted' ORDER BY 1",
            (campaign_ids,),
        ).fetchall()
    return [float(row[0]) for row in rows]


def sent_rates(moments: list[float], pace: float) -> dict[str, float]:
    """The rate the messages left at: over all of them, and between the 10th and 90th percentile of
    their sent moments (the first stretch, planned before the dispatcher's first poll, leaves
    together); and the steady rate's error against the pace, in percent."""
    if len(moments) < 2 or moments[-1] <= moments[0]:
        return {"measured_per_s": 0.0, "steady_per_s": 0.0, "pace_error_pct": -100.0}
    ordered = sorted(moments)
    overall = (len(ordered) - 1) / (ordered[-1] - ordered[0])
    low, high = int(len(ordered) * 0.1), int(len(ordered) * 0.9)
    span = ordered[high] - ordered[low]
    steady = (high - low) / span if span > 0 else overall
    return {
        "measured_per_s": round(overall, 1),
        "steady_per_s": round(steady, 1),
        "pace_error_pct": round((steady / pace - 1) * 100, 1) if pace else 0.0,
    }
