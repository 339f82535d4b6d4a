"""The table and the targets, from the results of one run (bench/results/latest.json).

python -m bench.report [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ACCEPT_TARGET = 0.65  # of the insert ceiling
HISTORY_TARGET = 0.75  # of the page ceiling
HISTORY_P99_GROWTH = 1.5  # p99 at the large history / p99 at the small one
E2E_TARGET = 1000.0  # messages/s with 200 ms provider latency
E2E_CPU_TARGET_MS = 2.0  # CPU of API + workers + PostgreSQL per message, end to end with callbacks
API_MEMORY_MIB = 150.0
HEADER = (
    "scenario",
    "case",
    "c",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "of ceiling",
    "cpu ratio",
    "api MiB",
    "cpu ms/req",
    "noise",
)


def _ceiling(runs: list[dict[str, Any]], case: str, connections: int) -> dict[str, Any] | None:
    for run in runs:
        if run["scenario"] == "ceiling" and run["case"] == case and run["connections"] == connections:
            return run
    return None


def server_cpu_ms(run: dict[str, Any]) -> float:
    """CPU of the app's processes and PostgreSQL per request (ms), whatever else ran on the machine."""
    cpu = run.get("cpu_ms_per_request") or {}
    return float(cpu.get("api", cpu.get("ceiling", 0.0))) + float(cpu.get("postgres", 0.0))


def message_cpu_ms(cpu: dict[str, float]) -> float:
    """CPU per message of the gateway's processes and PostgreSQL (API + workers + backends), in ms:
    the emulator and the load generator are left out, so a campaign and a single send compare."""
    return round(sum(float(cpu.get(group, 0.0)) for group in ("api", "worker", "postgres")), 3)


def _ratio_target(run: dict[str, Any], base: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    goal = ACCEPT_TARGET if run["scenario"] == "accept" else HISTORY_TARGET
    cpu_ratio = row["cpu ratio"]
    cpu_text = f"; by CPU per request {cpu_ratio:.0%}" if cpu_ratio is not None else ""
    return {
        "target": f"{run['scenario']} {run['case']} c={run['connections']} >= {goal:.0%} of its ceiling",
        "value": f"{row['of ceiling']:.0%} ({run['rps']:.0f} vs {base['rps']:.0f} req/s{cpu_text})",
        "met": row["of ceiling"] >= goal and run["errors"] == 0,
    }


def _growth_targets(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """p99 at the largest history against p99 at the smallest, per case and concurrency."""
    sizes = sorted({r["history_messages"] for r in history})
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    targets = []
    for run in history:
        if run["history_messages"] != large:
            continue
        case = run["case"].rsplit(" @", 1)[0]
        twin = next(
            (
                r
                for r in history
                if r["history_messages"] == small
                and r["case"].rsplit(" @", 1)[0] == case
                and r["connections"] == run["connections"]
            ),
            None,
        )
        if twin and twin["p99_ms"]:
            growth = run["p99_ms"] / twin["p99_ms"]
            targets.append(
                {
                    "target": f"history {case} c={run['connections']}: p99 @{large:,} <= "
                    f"{HISTORY_P99_GROWTH}x p99 @{small:,}",
                    "value": f"{growth:.2f}x ({run['p99_ms']:.1f} vs {twin['p99_ms']:.1f} ms)",
                    "met": growth <= HISTORY_P99_GROWTH,
                }
            )
    return targets


def _e2e_label(e2e: dict[str, Any]) -> str:
    if e2e.get("status_callbacks"):
        return "end to end with status callbacks and tenant webhooks (until read and received)"
    return "end to end without callbacks, Twilio tenants only (until the emulator holds every message)"


def _e2e_completed(e2e: dict[str, Any]) -> int:
    return int(e2e.get("messages_completed", e2e.get("messages_reached_emulator", 0)))


def _e2e_target(e2e: dict[str, Any]) -> dict[str, Any]:
    callbacks = " with callbacks and webhooks" if e2e.get("status_callbacks") else ""
    return {
        "target": f"end to end{callbacks} >= {E2E_TARGET:.0f} messages/s at "
        f"{e2e['provider_latency_ms']:g} ms latency",
        "value": f"{e2e['messages_per_s']:.0f} msg/s overall, {e2e['steady_messages_per_s']:.0f} steady "
        f"({_e2e_completed(e2e):,} messages in {e2e['total_s']} s)",
        "met": e2e["messages_per_s"] >= E2E_TARGET
        and _e2e_completed(e2e) >= e2e["messages_accepted"]
        and not e2e.get("timed_out", False),
    }


def _e2e_cpu_target(e2e: dict[str, Any]) -> dict[str, Any]:
    cpu = e2e.get("cpu_ms_per_message") or {}
    total = message_cpu_ms(cpu)
    return {
        "target": f"end to end with callbacks and webhooks: gateway CPU (API + workers + PostgreSQL) "
        f"<= {E2E_CPU_TARGET_MS:g} ms per message",
        "value": f"{total} ms (API {cpu.get('api', 0)}, workers {cpu.get('worker', 0)}, "
        f"PostgreSQL {cpu.get('postgres', 0)})",
        "met": 0 < total <= E2E_CPU_TARGET_MS,
    }


def _memory_target(memory: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    # Logins are left out: argon2id takes 64 MiB per hash in flight, by design (see docs/benchmarks.md).
    under_load = {k: v["peak_mib"] for k, v in memory.items() if k.startswith("api (") and "auth" not in k}
    if not under_load:
        return None
    worst = max(under_load, key=lambda k: under_load[k])
    return {
        "target": f"API process peak RSS under load < {API_MEMORY_MIB:.0f} MiB",
        "value": f"{under_load[worst]:.0f} MiB (worst: {worst})",
        "met": under_load[worst] < API_MEMORY_MIB,
    }


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    runs: list[dict[str, Any]] = results["runs"]
    table: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "scenario": run["scenario"],
            "case": run["case"],
            "c": run["connections"],
            "req/s": run["rps"],
            "p50 ms": run["p50_ms"],
            "p99 ms": run["p99_ms"],
            "errors": run["errors"],
            "of ceiling": None,
            "cpu ratio": None,
            "api MiB": (run.get("memory_peak_mib") or {}).get("api"),
            "cpu ms/req": _cpu_cell(run.get("cpu_ms_per_request") or {}),
            "noise": run.get("foreign_cpu_cores"),
        }
        base = None
        if run["scenario"] == "accept":
            base = _ceiling(runs, "insert", run["connections"])
        elif run["scenario"] == "history":
            base = _ceiling(runs, "page", run["connections"])
        if base and base["rps"]:
            row["of ceiling"] = round(run["rps"] / base["rps"], 3)
            if server_cpu_ms(run) and server_cpu_ms(base):
                row["cpu ratio"] = round(server_cpu_ms(base) / server_cpu_ms(run), 3)
            targets.append(_ratio_target(run, base, row))
        table.append(row)
    targets += _growth_targets([r for r in runs if r["scenario"] == "history"])
    e2e = results.get("e2e")
    if e2e:
        targets.append(_e2e_target(e2e))
        if e2e.get("status_callbacks"):
            targets.append(_e2e_cpu_target(e2e))
    memory = results.get("memory_peak_mib", {})
    memory_target = _memory_target(memory)
    if memory_target:
        targets.append(memory_target)
    auth = {r["case"]: r for r in runs if r["scenario"] == "auth"}
    with_token, without = auth.get("token -> 422 before db"), auth.get("no token -> 401")
    auth_cost = None
    if with_token and without:
        auth_cost = round(server_cpu_ms(with_token) - server_cpu_ms(without), 3)
    return {
        "table": table,
        "targets": targets,
        "memory": memory,
        "e2e": e2e,
        "e2e_dispatch_only": results.get("e2e_dispatch_only"),
        "overload": [r for r in runs if r["scenario"] == "overload"],
        "auth_cost_ms": auth_cost,
        "campaign_materialise": results.get("campaign_materialise"),
        "campaign_dispatch": results.get("campaign_dispatch"),
    }


def render(summary: dict[str, Any]) -> str:
    rows = [[_cell(h, row[h]) for h in HEADER] for row in summary["table"]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append("")
    lines.append(
        "cpu ms/req: CPU of the app's processes / PostgreSQL / wrk per request; cpu ratio: the ceiling's "
        "(app + PostgreSQL) CPU per request over this row's; noise: cores used by other processes"
    )
    for key in ("e2e", "e2e_dispatch_only"):
        if summary.get(key):
            lines += e2e_lines(summary[key])
    lines += overload_lines(summary.get("overload") or [])
    lines += _campaign_lines(summary)
    if summary.get("auth_cost_ms") is not None:
        lines.append(
            f"authentication: {summary['auth_cost_ms']} ms of app + PostgreSQL CPU per request "
            "(token -> 422 minus no token -> 401)"
        )
    if summary.get("memory"):
        peaks = ", ".join(f"{k} {v['peak_mib']:.0f}" for k, v in sorted(summary["memory"].items()))
        lines += ["", f"peak RSS per process (MiB): {peaks}"]
    lines.append("")
    for target in summary["targets"]:
        lines.append(f"[{'met ' if target['met'] else 'MISS'}] {target['target']}: {target['value']}")
    return "\n".join(lines)


# "emulator" is Twilio's (the name it always had), "meta emulator" Meta's when Meta tenants took part.
E2E_CPU_GROUPS = ("api", "worker", "postgres", "emulator", "meta emulator", "receiver", "load generator")


def provider_counts(by_provider: dict[str, dict[str, int]], *, callbacks: bool) -> str:
    """``twilio 500/500 read, meta 498/500 read``: per provider, the messages done of those accepted
    (read with callbacks; handed over to the provider without)."""
    done = "read" if callbacks else "handed_over"
    return ", ".join(
        f"{provider} {counts[done]:,}/{counts['accepted']:,} {done.replace('_', ' ')}"
        for provider, counts in by_provider.items()
    )


def e2e_lines(e2e: dict[str, Any]) -> list[str]:
    """The end-to-end case in words: which pipeline, its rate, and CPU per message per process group."""
    callbacks = bool(e2e.get("status_callbacks"))
    done = "were read and their events received" if callbacks else "reached the emulator"
    latency = (
        f"accept->read {e2e.get('accept_to_read_ms')}"
        if callbacks
        else f"accept->sent {e2e.get('accept_to_sent_ms')}"
    )
    lines = [
        "",
        f"{_e2e_label(e2e)}:",
        f"  {_e2e_completed(e2e):,}/{e2e['messages_accepted']:,} messages {done} "
        f"({e2e['provider_latency_ms']:g} ms latency) in {e2e['total_s']} s = {e2e['messages_per_s']} "
        f"msg/s (steady {e2e['steady_messages_per_s']}); accepted at {e2e['accept_rps']} req/s; {latency}"
        + ("; TIMED OUT" if e2e.get("timed_out") else ""),
    ]
    by_provider = e2e.get("messages_by_provider")
    if by_provider:
        lines.append(f"  by provider: {provider_counts(by_provider, callbacks=callbacks)}")
    if callbacks:
        lines.append(
            f"  webhook events received {e2e.get('webhook_events_received', 0):,} of "
            f"{e2e.get('webhook_events_written', 0):,} written; status callbacks "
            f"{e2e.get('status_callbacks_posted')}"
        )
    cpu = e2e.get("cpu_ms_per_message") or {}
    groups = ", ".join(f"{group} {cpu[group]:.2f}" for group in E2E_CPU_GROUPS if group in cpu)
    target = f" (target <= {E2E_CPU_TARGET_MS:g})" if callbacks else ""
    lines.append(
        f"  CPU ms per message: {groups}; gateway (API + workers + PostgreSQL) "
        f"{message_cpu_ms(cpu)}{target}; database sessions opened {e2e.get('database_sessions_opened')}; "
        f"noise {e2e.get('foreign_cpu_cores')} cores"
    )
    return lines


def overload_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Each overload flood: answers per second by kind, the backlog it left and how long it took."""
    lines: list[str] = []
    for run in runs:
        if not lines:
            lines += ["", "overload (`serve` with its embedded dispatcher; 503 = shed, not an error):"]
        drain = f"{run['drain_s']} s" if run.get("drain_s") is not None else f"> {run.get('drain_limit_s')} s"
        other = f" {run['other_statuses']}" if run.get("other_statuses") else ""
        lines.append(
            f"  c={run['connections']}: 202 {run.get('accepted_rps')}/s, 503 {run.get('shed_rps')}/s, other "
            f"{run.get('other_rps')}/s{other}; p50/p99/max {run['p50_ms']}/"
            f"{run['p99_ms']}/{run['max_ms']} ms; socket errors {run.get('socket_errors') or 0} "
            f"(timeouts {run.get('timeouts', 0)}); {run.get('queued_at_end', 0):,} queued at the end "
            f"({run.get('accepted_unanswered', 0):,} accepted unanswered), "
            f"dispatched {run.get('dispatch_per_s_during_flood')}/s during the flood, drained in {drain}"
        )
    return lines


def _campaign_lines(summary: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    stored = summary.get("campaign_materialise")
    if stored:
        lines += [
            "",
            f"campaign audience: {stored['stored']:,} of {stored['recipients']:,} CSV rows stored in "
            f"{stored['seconds']} s = {stored['rows_per_s']:,.0f} rows/s; CPU s {stored['cpu_seconds']}; "
            f"API peak {stored['memory_peak_mib'].get('api')} MiB; noise {stored['foreign_cpu_cores']} cores",
        ]
    dispatch = summary.get("campaign_dispatch")
    if dispatch:
        lines += [
            "",
            f"campaigns: {dispatch['messages_left']:,}/{dispatch['messages']:,} messages of "
            f"{dispatch['campaigns']} campaigns left at {dispatch['measured_per_s']} msg/s (steady "
            f"{dispatch['steady_per_s']}) for a pace of {dispatch['pace_per_s']:g} "
            f"({dispatch['pace_error_pct']:+.1f} %); noise {dispatch['foreign_cpu_cores']} cores",
        ]
        campaign_cpu = message_cpu_ms(dispatch["cpu_ms_per_message"])
        e2e = summary.get("e2e")
        single = message_cpu_ms(e2e["cpu_ms_per_message"]) if e2e and e2e.get("cpu_ms_per_message") else None
        lines.append(
            f"  CPU ms per message (API + workers + PostgreSQL): campaign {campaign_cpu} "
            f"{dispatch['cpu_ms_per_message']}"
            + (
                f"; single send end to end {single}"
                + (" (with callbacks and webhooks)" if e2e and e2e.get("status_callbacks") else "")
                if single is not None
                else ""
            )
        )
    return lines


def _cpu_cell(cpu: dict[str, float]) -> str:
    app = cpu.get("api", cpu.get("ceiling"))
    if app is None:
        return "-"
    return f"{app:.2f}/{cpu.get('postgres', 0):.2f}/{cpu.get('load generator', 0):.2f}"


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in ("of ceiling", "cpu ratio"):
        return f"{value:.0%}"
    if isinstance(value, float):
        return f"{value:,.1f}" if column in ("req/s", "api MiB") else f"{value:,.2f}"
    return str(value)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json"
    print(render(summarize(json.loads(path.read_text()))))
