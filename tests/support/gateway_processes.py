"""The gateway run the way an operator runs it, for tests that need real processes.

- ``start_emulator``: a ``wa-gateway twilio-emulator`` process in place of Twilio, driven through its
  control API (``/_emulator/*``): faults, callbacks, and the messages it created.
- ``Gateway``: N ``wa-gateway serve --port`` and M ``wa-gateway worker`` processes on one database,
  configured through the environment only, provisioned with the CLI (``tenant create --provider
  twilio``, ``sender add``, ``user create``), each waited for (``/healthz``) and killed at the end.

Every process writes to a log file of its own in the test's directory; a failing test shows the tails.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from adapters.database.engine import normalize_database_url
from adapters.security.secret_box import generate_key

WA_GATEWAY = str(Path(sys.executable).parent / "wa-gateway")
SENDER = "+14155238886"  # the tenant's WhatsApp number (Twilio's sandbox number)
READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """A fresh shell's environment: none of this project's settings, no proxies."""
    return {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}}


class ManagedProcess:
    """A child process with its output in a log file; stopped (or killed) by its own pid only."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv), env=dict(env), cwd=log_dir, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(signum)
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within a few seconds."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()

    def log_tail(self, lines: int = 25) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_answering(url: str, processes: Iterable[ManagedProcess], timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail early if one of ``processes`` exits."""
    deadline = time.monotonic() + timeout
    watched = list(processes)
    while time.monotonic() < deadline:
        for process in watched:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in watched)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s\n{tails}")


# -- the emulator ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    sid: str
    token: str

    @classmethod
    def new(cls) -> TwilioAccount:
        return cls(sid="AC" + uuid.uuid4().hex, token=secrets.token_urlsafe(24))


@dataclass(frozen=True, slots=True)
class CreatedMessage:
    """A message the emulator created (what Twilio would deliver), from the request that created it."""

    sid: str
    to: str
    from_: str
    body: str
    outcome: str  # "created", or the failure that struck after creating it (a lost answer)


@dataclass
class Emulator:
    process: ManagedProcess
    base_url: str
    account: TwilioAccount
    _http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=60, trust_env=False)

    async def patch_faults(self, **changes: Any) -> dict[str, Any]:
        return await self._patch("/_emulator/faults", changes)

    async def patch_callbacks(self, **changes: Any) -> dict[str, Any]:
        return await self._patch("/_emulator/callbacks", changes)

    async def _patch(self, path: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._http.patch(path, json=dict(changes))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def stats(self) -> dict[str, int]:
        response = await self._http.get("/_emulator/stats")
        response.raise_for_status()
        body = response.json()
        return {**body["stats"], "messages": body["messages"]}

    async def created_messages(self) -> list[CreatedMessage]:
        """Every message the emulator created, whether or not its creator heard back."""
        response = await self._http.get("/_emulator/messages")
        response.raise_for_status()
        created = []
        for record in response.json()["messages"]:
            if record["method"] != "POST" or not record["message_sid"]:
                continue
            form = record["form"]
            created.append(
                CreatedMessage(
                    sid=record["message_sid"],
                    to=form.get("To", [""])[-1],
                    from_=form.get("From", [""])[-1],
                    body=form.get("Body", [""])[-1],
                    outcome=record["outcome"],
                )
            )
        return created

    async def open_session_windows(self, inbound_url: str, sender: str, contacts: Sequence[str]) -> None:
        """Each contact writes to ``sender`` (a signed inbound webhook): its 24-hour window opens."""
        limit = asyncio.Semaphore(16)

        async def inbound(contact: str) -> None:
            async with limit:
                response = await self._http.post(
                    "/_emulator/inbound",
                    json={
                        "url": inbound_url,
                        "from": f"whatsapp:{contact}",
                        "to": f"whatsapp:{sender}",
                        "body": "hello",
                        "account_sid": self.account.sid,
                    },
                )
            response.raise_for_status()
            delivery = response.json()
            if delivery["http_status"] != 200:
                raise RuntimeError(f"the inbound webhook from {contact} was refused: {delivery}")

        await asyncio.gather(*(inbound(contact) for contact in contacts))

    async def aclose(self) -> None:
        await self._http.aclose()


def start_emulator(log_dir: Path, account: TwilioAccount, *, seed: int) -> Emulator:
    port = free_port()
    credentials = f"{account.sid}:{account.token}"
    process = ManagedProcess(
        "emulator",
        [WA_GATEWAY, "twilio-emulator", "--port", str(port), "--seed", str(seed), "--account", credentials],
        clean_environment(),
        log_dir,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base_url}/_emulator/health", [process], READY_TIMEOUT_SECONDS)
    except Exception:
        process.stop()
        raise
    return Emulator(process=process, base_url=base_url, account=account)


# -- the gateway -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provisioned:
    tenant_id: str
    username: str
    password: str
    sender: str


class Gateway:
    """API and worker processes of one deployment: one database, one set of secrets.

    ``database_url`` is a superuser's: it migrates, and creates the role the processes connect as
    (dropped again by ``stop``), which owns nothing and is bound by row-level security, as in production.
    """

    def __init__(
        self,
        *,
        database_url: str,
        emulator_url: str,
        log_dir: Path,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.api_ports: list[int] = []
        self.apis: list[ManagedProcess] = []
        self.workers: list[ManagedProcess] = []
        self._public_port = free_port()  # the first API process: Twilio's webhooks go there
        self._owner_url = database_url
        self.app_role = f"wa_gateway_app_{secrets.token_hex(4)}"
        app_url = make_url(normalize_database_url(database_url)).set(
            username=self.app_role, password=secrets.token_hex(16)
        )
        self.env: dict[str, str] = {
            **clean_environment(),
            "ENVIRONMENT": "production",
            "MIGRATION_DATABASE_URL": database_url,
            "DATABASE_URL": app_url.render_as_string(hide_password=False),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "CREDENTIALS_KEYS": generate_key(),
            "TWILIO_API_BASE_URL": emulator_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self._public_port}",
            # Cheap argon2id for tests; production parameters are measured in bench/.
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "8192",
            "ARGON2_PARALLELISM": "1",
            "ACCESS_TOKEN_TTL_SECONDS": "3600",
            "REQUESTS_PER_MINUTE_PER_IP": "10000000",  # every test request comes from 127.0.0.1
            "TENANT_SENDS_PER_MINUTE": "10000000",  # one tenant sends everything
            "SENDER_MESSAGES_PER_SECOND": "100000",
            "EMBEDDED_DISPATCHER": "false",
            "DISPATCH_RECONCILE_AFTER_SECONDS": "1",
            "DISPATCH_CONCURRENCY": "64",
            "PROVIDER_TIMEOUT_SECONDS": "5",
            "DISPATCH_LEASE_SECONDS": "30",
            # 6 processes on one server: each keeps few connections (SQLAlchemy may add 10 more).
            "DB_POOL_SIZE": "3",
            "LOG_LEVEL": "WARNING",
            **(settings or {}),
        }

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def public_base_url(self) -> str:
        return self.env["PUBLIC_BASE_URL"]

    def cli(self, *args: str, stdin: str = "") -> dict[str, Any]:
        """Run a ``wa-gateway`` command with this deployment's environment; its last line, as JSON."""
        result = subprocess.run(
            [WA_GATEWAY, *args],
            env=self.env,
            cwd=self.log_dir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"wa-gateway {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        last = result.stdout.strip().splitlines()[-1]
        try:
            parsed: dict[str, Any] = json.loads(last)
        except json.JSONDecodeError:
            return {"output": result.stdout}
        return parsed

    def migrate(self) -> None:
        """Once, before the processes start (each ``serve`` migrates too; at head that is a no-op);
        creates the application's role and grants it the tables."""
        self.cli("db", "upgrade", "--grant-app-role")

    def provision_twilio_tenant(self, account: TwilioAccount, sender: str = SENDER) -> Provisioned:
        suffix = uuid.uuid4().hex[:8]
        tenant = self.cli(
            "tenant", "create", f"Tenant {suffix}", "--provider", "twilio",
            "--twilio-account-sid", account.sid, "--secrets-stdin",
            stdin=account.token + "\n",
        )  # fmt: skip
        self.cli("sender", "add", tenant["id"], sender)
        username, password = f"agent-{suffix}", f"password-{suffix}"
        self.cli("user", "create", tenant["id"], username, "--password-stdin", stdin=password + "\n")
        return Provisioned(tenant_id=tenant["id"], username=username, password=password, sender=sender)

    def start(self, *, apis: int, workers: int) -> None:
        """Start the processes, then wait until every API process answers /healthz."""
        for _ in range(apis):
            self.start_api()
        for _ in range(workers):
            self.start_worker()
        self.wait_ready()

    def start_api(self) -> ManagedProcess:
        port = self._public_port if not self.api_ports else free_port()
        process = ManagedProcess(
            f"api-{len(self.apis)}", [WA_GATEWAY, "serve", "--port", str(port)], self.env, self.log_dir
        )
        self.api_ports.append(port)
        self.apis.append(process)
        return process

    def start_worker(self) -> ManagedProcess:
        process = ManagedProcess(
            f"worker-{len(self.workers)}", [WA_GATEWAY, "worker"], self.env, self.log_dir
        )
        self.workers.append(process)
        return process

    def wait_ready(self) -> None:
        everyone = [*self.apis, *self.workers]
        for url in self.api_urls:
            wait_until_answering(f"{url}/healthz", everyone, READY_TIMEOUT_SECONDS)
        # A worker is ready once it has printed its owner id (it claims from then on).
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for worker in self.workers:
            while "dispatching from" not in worker.log_path.read_text(errors="replace"):
                if not worker.alive():
                    raise RuntimeError(f"{worker.name} exited early:\n{worker.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{worker.name} did not start:\n{worker.log_tail()}")
                time.sleep(0.1)

    def dead_processes(self) -> list[str]:
        """Processes that ended without being asked to (with their exit status)."""
        return [f"{p.name} (exit {p.popen.returncode})" for p in [*self.apis, *self.workers] if not p.alive()]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each live process (Linux: /proc), to compare runs on a busy machine."""
        used = {}
        for process in [*self.apis, *self.workers]:
            seconds = process_cpu_seconds(process.pid)
            if seconds is not None:
                used[process.name] = seconds
        return used

    def log_tails(self, lines: int = 15) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(lines)}" for p in [*self.apis, *self.workers])

    def stop(self) -> None:
        everyone = [*self.workers, *self.apis]
        for process in everyone:  # all at once: each takes a moment to wind down
            if process.alive():
                process.popen.terminate()
        for process in everyone:
            process.stop()
        self._drop_app_role()

    def _drop_app_role(self) -> None:
        conninfo = make_url(normalize_database_url(self._owner_url)).set(drivername="postgresql")
        with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.app_role,)
            ).fetchone()
            if exists:
                role = sql.Identifier(self.app_role)
                # its grants in this database first, or the role cannot go
                connection.execute(sql.SQL("DROP OWNED BY {}").format(role))
                connection.execute(sql.SQL("DROP ROLE {}").format(role))

    async def login(self, account: Provisioned) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=self.api_urls[0], timeout=30, trust_env=False) as client:
            response = await client.post(
                "/auth/login", json={"username": account.username, "password": account.password}
            )
        if response.status_code != 200:
            raise RuntimeError(f"login failed: {response.status_code} {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}
