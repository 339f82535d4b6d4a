"""The benchmark suite: the gateway against its ceiling on this machine.

``uv run python -m bench`` (``--help`` for the options; ``--quick`` for a smoke run of a minute or two).
It creates its own databases (random names, dropped at the end), starts every process it measures,
prints a table and writes bench/results/latest.json. See docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from bench import campaigns, ceiling, database, end_to_end, load, meta_tenants, overload, processes, report
from bench.database import HistoryTenant
from bench.load import Load, LoadResult, lua_list, lua_string
from bench.processes import PYTHON, WA_GATEWAY, Service

RESULTS = processes.ROOT / "bench" / "results"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway user in a throwaway database
EMULATOR_ACCOUNT = "AC" + "0" * 31 + "1"
EMULATOR_TOKEN = "emulator-auth-token"  # noqa: S105 - the emulator's well-known development token
SCENARIOS = (
    "ceiling",
    "accept",
    "history",
    "auth",
    "e2e",
    "campaign-materialise",
    "campaign-dispatch",
    "overload",
)


@dataclass
class Options:
    scenarios: tuple[str, ...]
    duration: float
    warmup: float
    workers: int
    dispatch_workers: int
    server: str
    concurrency: tuple[int, ...]
    history_concurrency: tuple[int, ...]
    small_history: int
    large_history: int
    other_history: int
    e2e_messages: int
    e2e_tenants: int
    e2e_meta_tenants: int
    e2e_cases: tuple[str, ...]
    overload_connections: tuple[int, ...]
    campaign_recipients: int
    campaign_pace: float
    campaign_senders: int
    campaign_seconds: float
    provider_latency_ms: float
    login_concurrency: int
    log_level: str
    profile: tuple[str, ...]
    profile_seconds: float
    quiet_cores: float
    quiet_wait: float
    keep_databases: bool
    gateway_env: tuple[str, ...]
    app_dir: Path | None
    output: Path
    quick: bool


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: short, small, ~1-2 minutes")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {', '.join(SCENARIOS)} (ceiling always runs when another does)",
    )
    parser.add_argument("--duration", type=float, help="seconds per measured run (20; quick 4)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each run (3; quick 1)")
    parser.add_argument("--workers", type=int, default=2, help="API processes (and ceiling processes)")
    parser.add_argument("--dispatch-workers", type=int, default=2, help="`wa-gateway worker` processes")
    parser.add_argument(
        "--server",
        choices=processes.HTTP_SERVERS,
        default=processes.HTTP_SERVERS[0],
        help="HTTP server of the gateway's API and of the ceiling (default: %(default)s, serve's default)",
    )
    parser.add_argument("--concurrency", help="connections for ceiling and accept (16,64; quick 16)")
    parser.add_argument("--history-concurrency", help="connections for history (16,64; quick 16)")
    parser.add_argument("--small-history", type=int, default=100_000, help="messages of the small tenant")
    parser.add_argument(
        "--large-history", type=int, help="messages of the large tenant (5,000,000; quick 0 = skip)"
    )
    parser.add_argument("--other-history", type=int, help="other tenants' messages (500,000; quick 50,000)")
    parser.add_argument("--e2e-messages", type=int, help="messages end to end (20,000; quick 1,000)")
    parser.add_argument(
        "--e2e-tenants",
        type=int,
        default=16,
        help="tenants (one sender each) end to end, Twilio's and Meta's",
    )
    parser.add_argument(
        "--e2e-meta-tenants",
        type=int,
        help="of the end-to-end tenants, those on Meta's Cloud API (the Meta emulator) in the pipeline "
        "case; the others are on Twilio (half; 0: Twilio only)",
    )
    parser.add_argument(
        "--e2e-cases",
        default="pipeline",
        help="end-to-end cases: pipeline (status callbacks and tenant webhooks, until read and received), "
        "dispatch-only (no callbacks, until the emulator holds every message); comma-separated",
    )
    parser.add_argument(
        "--overload-connections", default="16,512", help="connections of each overload flood (16,512)"
    )
    parser.add_argument(
        "--campaign-recipients", type=int, help="recipients of the CSV audience (100,000; quick 10,000)"
    )
    parser.add_argument(
        "--campaign-pace",
        type=float,
        default=200.0,
        help="messages/s of campaign-dispatch, over --campaign-senders campaigns (a pace is per campaign)",
    )
    parser.add_argument("--campaign-senders", type=int, default=4, help="senders (one campaign each)")
    parser.add_argument(
        "--campaign-seconds", type=float, help="seconds of messages at the pace (60; quick 20)"
    )
    parser.add_argument("--provider-latency-ms", type=float, default=200.0, help="the emulator's latency")
    parser.add_argument("--login-concurrency", type=int, default=8)
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the gateway (INFO logs access)")
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy the API/worker processes during these scenarios (needs `uv run --group bench`)",
    )
    parser.add_argument("--profile-seconds", type=float, default=15.0)
    parser.add_argument(
        "--quiet-cores",
        type=float,
        default=0.2,
        help="before each run, wait until other processes use less CPU than this (a shared machine)",
    )
    parser.add_argument("--quiet-wait", type=float, help="but no longer than this (s; 120, quick 10)")
    parser.add_argument(
        "--app-dir",
        type=Path,
        help="measure the gateway code of another checkout (e.g. a `git archive` of a commit)",
    )
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the gateway's processes (repeatable), e.g. DB_POOL_SIZE=20",
    )
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    e2e_cases = tuple(c.strip() for c in args.e2e_cases.split(",") if c.strip())
    unknown = set(e2e_cases) - set(end_to_end.CASES)
    if unknown or not e2e_cases:
        parser.error(f"--e2e-cases: choose from {', '.join(end_to_end.CASES)}")
    e2e_meta_tenants = args.e2e_meta_tenants if args.e2e_meta_tenants is not None else args.e2e_tenants // 2
    if not 0 <= e2e_meta_tenants < args.e2e_tenants:
        # dispatch-only and overload send through Twilio alone.
        parser.error("--e2e-meta-tenants: from 0 to --e2e-tenants - 1 (one Twilio tenant at least)")
    return Options(
        scenarios=scenarios,
        duration=args.duration or (4.0 if quick else 20.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        workers=args.workers,
        dispatch_workers=args.dispatch_workers,
        server=args.server,
        concurrency=_ints(args.concurrency or ("16" if quick else "16,64")),
        history_concurrency=_ints(args.history_concurrency or ("16" if quick else "16,64")),
        small_history=args.small_history,
        large_history=args.large_history if args.large_history is not None else (0 if quick else 5_000_000),
        other_history=args.other_history
        if args.other_history is not None
        else (50_000 if quick else 500_000),
        e2e_messages=args.e2e_messages or (1_000 if quick else 20_000),
        e2e_tenants=args.e2e_tenants,
        e2e_meta_tenants=e2e_meta_tenants,
        e2e_cases=e2e_cases,
        overload_connections=_ints(args.overload_connections),
        campaign_recipients=args.campaign_recipients or (10_000 if quick else 100_000),
        campaign_pace=args.campaign_pace,
        campaign_senders=args.campaign_senders,
        campaign_seconds=args.campaign_seconds or (20.0 if quick else 60.0),
        provider_latency_ms=args.provider_latency_ms,
        login_concurrency=args.login_concurrency,
        log_level=args.log_level,
        profile=tuple(s.strip() for s in args.profile.split(",") if s.strip()),
        profile_seconds=args.profile_seconds,
        quiet_cores=args.quiet_cores,
        quiet_wait=args.quiet_wait if args.quiet_wait is not None else (10.0 if quick else 120.0),
        keep_databases=args.keep_databases,
        gateway_env=tuple(args.gateway_env),
        app_dir=args.app_dir,
        output=args.output,
        quick=quick,
    )


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- results ------------------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, scenario: str, case: str, result: LoadResult, **details: Any) -> dict[str, Any]:
        row = {"scenario": scenario, "case": case, **result.as_dict(), **details}
        self.runs.append(row)
        return row

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "options": self.options,
            "runs": self.runs,
            "memory_peak_mib": self.memory,
            **self.extra,
        }


def machine_facts() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(total_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": database.server_facts(),
        "load_generator": (wrk_version.stdout or wrk_version.stderr).splitlines()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# -- running load -------------------------------------------------------------------------------------


class Runner:
    def __init__(self, options: Options, results: Results, log_dir: Path) -> None:
        self.options = options
        self.results = results
        self.log_dir = log_dir
        self.watched: dict[str, list[Service]] = {}
        self.databases: list[str] = []

    def measure(
        self,
        scenario: str,
        case: str,
        url: str,
        make_load: Load,
        connections: int,
        *,
        duration: float | None = None,
        ok: tuple[int, ...] = (200, 201, 202),
        timeout_s: float = 10.0,
        **details: Any,
    ) -> dict[str, Any]:
        duration = duration or self.options.duration
        processes.wait_for_quiet(self.options.quiet_cores, self.options.quiet_wait, say)
        if self.options.warmup > 0:
            load.run_wrk(url, make_load, connections=connections, duration_s=self.options.warmup, seed=7)
        memory: dict[str, float] = {}
        sessions_before = (
            database.sessions_opened(database.database_url(self.databases[0])) if self.databases else 0
        )
        with (
            processes.sampling(self.watched, memory),
            self.profiling(scenario, case, connections),
            processes.ForeignLoad() as foreign,
            processes.CpuMeter(self.watched, self.databases) as cpu,
        ):
            result = load.run_wrk(
                url, make_load, connections=connections, duration_s=duration, timeout_s=timeout_s
            )
        row = self.results.add(
            scenario,
            case,
            result,
            errors=result.errors(ok),
            memory_peak_mib={k: round(v, 1) for k, v in memory.items()},
            foreign_cpu_cores=round(foreign.cores, 2),
            cpu_ms_per_request=cpu.per_request_ms(result.requests),
            database_sessions_opened=(
                database.sessions_opened(database.database_url(self.databases[0])) - sessions_before
                if self.databases
                else 0
            ),
            **details,
        )
        for group, peak in memory.items():
            key = f"{group} ({scenario})"
            self.results.memory.setdefault(key, {"peak_mib": 0.0})
            self.results.memory[key]["peak_mib"] = round(max(self.results.memory[key]["peak_mib"], peak), 1)
        say(
            f"{scenario:8} {case:28} c={connections:<3} {result.rps:8.1f} req/s  "
            f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {row['errors']}  "
            f"statuses {result.statuses}  cpu ms/req {row['cpu_ms_per_request']}  noise {foreign.cores:.2f}"
        )
        return row

    @contextlib.contextmanager
    def profiling(self, scenario: str, case: str, connections: int) -> Iterator[None]:
        if scenario not in self.options.profile:
            yield
            return
        py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        if not Path(py_spy).is_file():
            say("py-spy is not installed: run with `uv run --group bench python -m bench --profile ...`")
            yield
            return
        targets = [
            pid for group in ("api", "worker") for s in self.watched.get(group, []) for pid in s.workers()
        ]
        spies = []
        stem = re.sub(r"[^A-Za-z0-9]+", "-", f"profile-{scenario}-{case}-c{connections}").strip("-")
        for pid in targets:
            out = RESULTS / f"{stem}-{pid}.txt"
            spies.append(
                subprocess.Popen(  # noqa: S603
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(int(self.options.profile_seconds)),
                        "--rate",
                        "250",
                        "--format",
                        "raw",
                        "--output",
                        str(out),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            yield
        finally:
            for spy in spies:
                spy.wait(timeout=self.options.profile_seconds + 30)
            say(f"profiles: {RESULTS}/{stem}-*.txt (python -m bench.profile_summary FILES)")


# -- the ceiling --------------------------------------------------------------------------------------


def run_ceiling(runner: Runner, name: str) -> None:
    options = runner.options
    runner.databases = [name]
    url = database.database_url(name)
    say("ceiling: seeding 200,000 rows")
    ceiling.seed(url, 200_000)
    positions = _ceiling_positions(url, 1000)
    port = processes.free_port()
    env = {**processes.base_environment(), "CEILING_DATABASE_URL": url, "CEILING_POOL_SIZE": "10"}
    service = processes.start(
        "ceiling",
        processes.asgi_server_argv(options.server, "bench.ceiling:create_app", port, options.workers),
        env,
        runner.log_dir,
        health_url=f"http://127.0.0.1:{port}/healthz",
    )
    runner.watched = {"ceiling": [service]}
    base = f"http://127.0.0.1:{port}"
    try:
        insert = Load(
            lua_request=(
                '  local body = string.format(\'{"to_number":"+1415556%04d","body":"Bench message %d"}\', '
                "n % 10000, n)\n"
                '  return wrk.format("POST", "/insert", {["Content-Type"]="application/json"}, body)'
            )
        )
        paths = [f"/page?at={urllib.parse.quote(at.isoformat())}&id={row_id}" for at, row_id in positions]
        page = Load(
            lua_prelude=f"local paths = {lua_list(paths)}",
            lua_request='  return wrk.format("GET", paths[math.random(#paths)])',
        )
        for connections in options.concurrency:
            runner.measure("ceiling", "insert", base, insert, connections)
        for connections in sorted(set(options.concurrency) | set(options.history_concurrency)):
            runner.measure("ceiling", "page", base, page, connections)
    finally:
        service.stop()


def _ceiling_positions(url: str, count: int) -> list[tuple[datetime, UUID]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT created_at, id FROM ceiling_rows ORDER BY random() LIMIT %s", (count,)
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


# -- the gateway --------------------------------------------------------------------------------------


@dataclass
class Gateway:
    env: dict[str, str]
    database: str
    url: str
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # username -> (token, obtained at)
    tenants: dict[str, str] = field(default_factory=dict)  # tenant name -> id
    api: Service | None = None
    meta_api_url: str | None = None  # where the Meta emulator will listen (META_GRAPH_API_BASE_URL)


def gateway_environment(options: Options, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **processes.base_environment(),
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "CREDENTIALS_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "EMBEDDED_DISPATCHER": "false",
        "LOG_LEVEL": options.log_level,
        "HTTP_SERVER": options.server,  # `serve`'s server (a checkout without the setting runs uvicorn)
        # The benchmark is one client address sending thousands of requests a second, a few tenants
        # sending thousands of messages a minute: no rate limit may answer for the gateway's speed.
        "REQUESTS_PER_MINUTE_PER_IP": "1000000000",
        "TENANT_SENDS_PER_MINUTE": "0",
        "TENANT_SENDS_PER_DAY": "0",
        # The end-to-end scenario's webhook receiver listens on 127.0.0.1.
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        **dict(item.split("=", 1) for item in options.gateway_env),
        **extra,
    }


def provision_gateway(gateway: Gateway, options: Options) -> None:
    say("gateway: migrating")
    subprocess.run(  # noqa: S603
        [WA_GATEWAY, "db", "upgrade", "--grant-app-role"],
        env=gateway.env,
        cwd=RESULTS,
        check=True,
        capture_output=True,
    )
    spec: list[dict[str, Any]] = [
        {
            "name": "bench-accept",
            "senders": ["+14155238886"],
            # "login" is only logged in by the login scenario: sessions may be limited per user.
            "users": [
                {"username": "accept", "password": PASSWORD},
                {"username": "login", "password": PASSWORD},
            ],
        },
        {
            "name": "bench-history-small",
            "senders": ["+14155230001"],
            "users": [{"username": "small", "password": PASSWORD}],
        },
        {"name": "bench-other", "senders": ["+14155230003"], "users": []},
    ]
    if options.large_history:
        spec.append(
            {
                "name": "bench-history-large",
                "senders": ["+14155230002"],
                "users": [{"username": "large", "password": PASSWORD}],
            }
        )
    if "e2e" in options.scenarios or "overload" in options.scenarios:
        spec += [
            {
                "name": f"bench-e2e-{index:02d}",
                "provider": "twilio",
                "account_sid": EMULATOR_ACCOUNT,
                "auth_token": EMULATOR_TOKEN,
                "senders": [f"+1415524{index:04d}"],
                "users": [{"username": f"e2e{index:02d}", "password": PASSWORD}],
            }
            for index in range(end_to_end.twilio_tenant_count(options))
        ]
    if "e2e" in options.scenarios:
        # Their Meta accounts and senders are added through the API by the scenario (bench.meta_tenants).
        spec += [
            {
                "name": tenant.name,
                "no_session_window_check": False,
                "users": [{"username": tenant.username, "password": PASSWORD}],
            }
            for tenant in meta_tenants.meta_tenants(options.e2e_meta_tenants)
        ]
    if any(s.startswith("campaign-") for s in options.scenarios):
        spec.append(
            {
                "name": "bench-campaign",
                "senders": [f"+1415525{index:04d}" for index in range(options.campaign_senders)],
                "users": [{"username": "campaign", "password": PASSWORD}],
            }
        )
    say(f"gateway: provisioning {len(spec)} tenants through the CLI (argon2id for each user)")
    completed = subprocess.run(  # noqa: S603
        [PYTHON, "-m", "bench.provision"],
        input=json.dumps(spec),
        env=gateway.env,
        cwd=RESULTS,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"provisioning failed:\n{completed.stdout}\n{completed.stderr}")
    created = json.loads(completed.stdout.strip().splitlines()[-1])
    gateway.tenants = {tenant["name"]: tenant["id"] for tenant in created}


def seed_gateway(gateway: Gateway, options: Options, results: Results) -> None:
    tenants = [
        HistoryTenant(UUID(gateway.tenants["bench-history-small"]), "+14155230001", options.small_history),
        HistoryTenant(UUID(gateway.tenants["bench-other"]), "+14155230003", options.other_history),
    ]
    if options.large_history:
        tenants.append(
            HistoryTenant(UUID(gateway.tenants["bench-history-large"]), "+14155230002", options.large_history)
        )
    total = sum(t.messages for t in tenants)
    say(f"gateway: seeding {total:,} messages ({', '.join(f'{t.messages:,}' for t in tenants)})")
    span = timedelta(days=730)
    seconds = database.seed_histories(
        gateway.url,
        tenants,
        origin=datetime.now(UTC) - span - timedelta(days=1),
        span_seconds=span.total_seconds(),
        progress=say,
    )
    say(f"gateway: seeded {total:,} messages in {seconds:.1f} s ({total / seconds:,.0f} rows/s)")
    results.extra["seeding"] = {"messages": total, "seconds": round(seconds, 1)}


def start_api(runner: Runner, gateway: Gateway) -> Service:
    port = processes.free_port()
    service = processes.start(
        "gateway-api",
        [WA_GATEWAY, "serve", "--port", str(port), "--workers", str(runner.options.workers)],
        gateway.env,
        runner.log_dir,
        health_url=f"http://127.0.0.1:{port}/readyz",
        base_url=f"http://127.0.0.1:{port}",
    )
    gateway.api = service
    return service


def login(base: str, username: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - a local URL of ours
        f"{base}/auth/login",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        token: str = json.load(response)["access_token"]
    return token


TOKEN_MAX_AGE_SECONDS = 300.0  # access tokens live 15 minutes at most: a case gets one that outlives it


def bearer_tokens(
    gateway: Gateway, usernames: list[str], max_age: float = TOKEN_MAX_AGE_SECONDS
) -> list[str]:
    """``Bearer <token>`` for each user, logging in again when the cached token is older than ``max_age``."""
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    for username in usernames:
        cached = gateway.tokens.get(username)
        if cached is None or time.monotonic() - cached[1] > max_age:
            gateway.tokens[username] = (login(gateway.api.base_url, username), time.monotonic())
    return [f"Bearer {gateway.tokens[u][0]}" for u in usernames]


def run_accept(runner: Runner, gateway: Gateway) -> None:
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    tokens = bearer_tokens(gateway, ["accept"])
    run_id = secrets.token_hex(3)
    send = Load(
        lua_prelude=f"local tokens = {lua_list(tokens)}\nlocal run = {lua_string(run_id)}",
        lua_request=(
            '  local body = string.format(\'{"to_number":"+1415556%04d","body":"Bench message %d"}\', '
            "(n * 7 + tid) % 10000, n)\n"
            '  return wrk.format("POST", "/api/send", {["Authorization"]=tokens[(n % #tokens) + 1], '
            '["Content-Type"]="application/json", ["Prefer"]="respond-async", '
            '["Idempotency-Key"]=string.format("%s-%d-%d-%d", run, tid, n, math.random(1000000000))}, body)'
        ),
    )
    for connections in runner.options.concurrency:
        runner.measure("accept", "send respond-async", gateway.api.base_url, send, connections, ok=(202,))
    # The same send by template: the catalogue's lookup and the values' check on the accept path.
    create_template(gateway.api.base_url, tokens[0], BENCH_TEMPLATE)
    template_body = json.dumps(
        {
            "to_number": "+1415556%04d",
            "template": {
                "name": BENCH_TEMPLATE["name"],
                "language": "en",
                "variables": {"1": "Ana", "2": "A-%d"},
            },
        }
    )
    send_template = Load(
        lua_prelude=f"local tokens = {lua_list(tokens)}\nlocal run = {lua_string(run_id)}",
        lua_request=(
            f"  local body = string.format({lua_string(template_body)}, (n * 7 + tid) % 10000, n)\n"
            '  return wrk.format("POST", "/api/send", {["Authorization"]=tokens[(n % #tokens) + 1], '
            '["Content-Type"]="application/json", ["Prefer"]="respond-async", '
            '["Idempotency-Key"]=string.format("t%s-%d-%d-%d", run, tid, n, math.random(1000000000))}, body)'
        ),
    )
    for connections in runner.options.concurrency:
        case = "send template respond-async"
        runner.measure("accept", case, gateway.api.base_url, send_template, connections, ok=(202,))


# A sandbox template: approved as soon as it is created.
BENCH_TEMPLATE = {
    "name": "bench_order_update",
    "language": "en",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} has shipped.",
    "examples": {"1": "Ana", "2": "A-1"},
}


def create_template(base: str, token: str, template: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - a local URL of ours
        f"{base}/api/templates",
        data=json.dumps(template).encode(),
        headers={"Content-Type": "application/json", "Authorization": token},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            return
    except urllib.error.HTTPError as error:
        if error.code != 409:  # made by an earlier run on the same database
            raise


def run_history(runner: Runner, gateway: Gateway) -> None:
    """Pages at random positions; the sizes alternate run by run, so that the small and the large
    history are measured minutes apart, under the same conditions, for the p99 comparison."""
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    sizes = [("small", runner.options.small_history)]
    if runner.options.large_history:
        sizes.append(("large", runner.options.large_history))
    cursors: dict[str, list[str]] = {}
    for size_name, _ in sizes:
        tenant_id = UUID(gateway.tenants[f"bench-history-{size_name}"])
        positions = database.sample_positions(gateway.url, tenant_id, 1000)
        cursors[size_name] = [history_cursor(at, message_id) for at, message_id in positions]
    for case, extra in (("page", ""), ("page direction=inbound", "&direction=inbound")):
        for connections in runner.options.history_concurrency:
            for size_name, size in sizes:
                paths = [f"/api/messages?limit=50&cursor={cursor}{extra}" for cursor in cursors[size_name]]
                token = bearer_tokens(gateway, [size_name])[0]
                page = Load(
                    lua_prelude=(f"local paths = {lua_list(paths)}\nlocal token = {lua_string(token)}"),
                    lua_request=(
                        '  return wrk.format("GET", paths[math.random(#paths)], {["Authorization"]=token})'
                    ),
                )
                runner.measure(
                    "history",
                    f"{case} @{size:,}",
                    gateway.api.base_url,
                    page,
                    connections,
                    ok=(200,),
                    history_messages=size,
                )


def history_cursor(at: datetime, message_id: UUID) -> str:
    """The API's own cursor for a position (application.pagination), so the format cannot drift."""
    from application.pagination import encode_cursor
    from application.ports.messages import HistoryPosition

    return encode_cursor(HistoryPosition(created_at=at, message_id=message_id))


def run_auth(runner: Runner, gateway: Gateway) -> None:
    assert gateway.api is not None
    assert gateway.api.base_url is not None
    base = gateway.api.base_url
    (token,) = bearer_tokens(gateway, ["accept"], max_age=0)
    # No endpoint does nothing but authenticate; the closest is a request refused by the use case
    # before it touches the database (a naive `since`: 422). The same request without a token is
    # refused before authentication (401), and /healthz is the framework with nothing behind it.
    noop = "/api/messages?since=2020-01-01T00:00:00"
    probe = _status_of(f"{base}{noop}", token.removeprefix("Bearer "))
    runner.results.extra["auth_noop_probe"] = probe
    cases = [
        ("healthz (no auth, no db)", Load(lua_request='  return wrk.format("GET", "/healthz")'), (200,)),
        ("no token -> 401", Load(lua_request=f'  return wrk.format("GET", {lua_string(noop)})'), (401,)),
        (
            "token -> 422 before db",
            Load(
                lua_prelude=f"local token = {lua_string(token)}",
                lua_request=f'  return wrk.format("GET", {lua_string(noop)}, {{["Authorization"]=token}})',
            ),
            (422,),
        ),
    ]
    connections = runner.options.concurrency[0]
    for case, case_load, ok in cases:
        runner.measure("auth", case, base, case_load, connections, ok=ok)
    # Logins last, as a user of their own: a login may end other sessions of its user.
    login_load = Load(
        lua_prelude=f"local body = {lua_string(json.dumps({'username': 'login', 'password': PASSWORD}))}",
        lua_request='  return wrk.format("POST", "/auth/login", {["Content-Type"]="application/json"}, body)',
    )
    runner.measure(
        "auth",
        "login (argon2id t=3 m=64MiB p=4)",
        base,
        login_load,
        runner.options.login_concurrency,
        duration=max(6.0 if runner.options.quick else 10.0, runner.options.duration),
        ok=(200,),
        timeout_s=30.0,
    )


def _status_of(url: str, token: str) -> dict[str, Any]:
    """Status and problem type of one GET with a bearer token (to check what a case really measures)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return {"status": response.status}
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
        return {"status": error.code, "type": body.get("type"), "detail": body.get("detail")}


# -- main ---------------------------------------------------------------------------------------------


def run_gateway(runner: Runner) -> None:
    """The gateway's scenarios, on one database, against one `wa-gateway serve`."""
    options, results = runner.options, runner.results
    with (
        database.throwaway_app_role("wa_bench_app", options.keep_databases) as app_role,
        database.throwaway_database("wa_bench_gateway", options.keep_databases) as name,
    ):
        url = database.database_url(name)  # the admin: migrations, seeding, and the bench's own counts
        # The gateway connects as its own role, under row-level security, as in production.
        # The Meta emulator starts with the end-to-end scenario, after the API: its address is chosen
        # now, for the API's and the workers' META_GRAPH_API_BASE_URL.
        meta_api_url = f"http://127.0.0.1:{processes.free_port()}"
        env = gateway_environment(
            options,
            database.database_url(name, app_role),
            MIGRATION_DATABASE_URL=url,
            META_GRAPH_API_BASE_URL=meta_api_url,
        )
        gateway = Gateway(env=env, database=name, url=url, meta_api_url=meta_api_url)
        runner.databases = [name]
        provision_gateway(gateway, options)
        if "history" in options.scenarios:
            seed_gateway(gateway, options, results)
        api = start_api(runner, gateway)
        try:
            for scenario, run in (
                ("accept", run_accept),
                ("history", run_history),
                ("auth", run_auth),
                ("e2e", end_to_end.run_e2e),
                ("campaign-materialise", campaigns.run_materialise),
                ("campaign-dispatch", campaigns.run_dispatch),
                ("overload", overload.run_overload),  # last: it stops the API of the others
            ):
                if scenario not in options.scenarios:
                    continue
                runner.watched = {"api": [api]}
                try:
                    run(runner, gateway)
                except Exception as error:  # one failed scenario must not lose the others
                    say(f"{scenario} failed: {error!r}")
                    results.extra.setdefault("failed", {})[scenario] = traceback.format_exc()
        finally:
            api.stop()


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    if options.app_dir is not None:
        processes.APP_DIR = options.app_dir.resolve()
        sys.path.insert(0, str(processes.APP_DIR))
    load.ensure_wrk(install=os.geteuid() == 0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS / "logs"
    log_dir.mkdir(exist_ok=True)
    results = Results()
    results.machine = machine_facts()
    results.options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()}
    busy = database.other_activity()
    if busy:
        say(f"warning: {busy} other active session(s) on the PostgreSQL server: numbers may be low")
        results.extra["other_active_sessions_at_start"] = busy
    say(
        f"machine: {results.machine['nproc']} cores, {results.machine['memory_gib']} GiB, "
        f"PostgreSQL {results.machine['postgres']['server_version']}"
    )
    runner = Runner(options, results, log_dir)
    started = time.monotonic()
    with database.throwaway_database("wa_bench_ceiling", options.keep_databases) as ceiling_db:
        run_ceiling(runner, ceiling_db)
    if any(s != "ceiling" for s in options.scenarios):
        run_gateway(runner)
    results.extra["wall_seconds"] = round(time.monotonic() - started, 1)
    summary = report.summarize(results.as_dict())
    results.extra["targets"] = summary["targets"]
    results.extra["table"] = summary["table"]
    results.extra["auth_cost_ms"] = summary["auth_cost_ms"]
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results.as_dict(), indent=2, default=str) + "\n")
    print()
    print(report.render(summary))
    say(f"wrote {options.output} ({results.extra['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
