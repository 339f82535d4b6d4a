"""The whole gateway, started for a test in one of three ways, from the lightest to the most real:

- ``running_gateway``: the app as the composition root builds it (real repositories, real JWTs, real
  password hashing, the sandbox provider), served in this process through Litestar's test client, on a
  SQLite file or on PostgreSQL as production runs there: migrated by the owner role and serving as the
  application's role, which row-level security binds (``DATABASES``, and the settings from
  ``database_of_its_own`` or ``emptied_session_database``).
- ``served_gateway``: one ``wa-gateway serve`` process, configured through its environment only: real
  HTTP, for the command as an operator runs it, or a tool that drives the API from outside.
- ``GatewayProcesses``: N ``wa-gateway serve`` and M ``wa-gateway worker`` processes on one PostgreSQL
  database, provisioned with the CLI (and the API, for a Meta account), beside a provider's emulator
  process in place of Twilio or Meta (tests/support/provider_emulators.py).

Every child process is a ``ManagedProcess``: its output goes to a log file of its own in the test's
directory (a failing test shows the tails), and it is stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from adapters.database.engine import normalize_database_url
from adapters.security.secret_box import generate_key
from application.authorization import OPERATOR
from domain.administration.tenancy import Role
from emulators.twilio import sign
from entrypoints.container import Container, create_container, upgrade_database
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.support.databases import PostgresRoles, create_prepared_database, empty_all_tables
from tests.support.postgres_server import PostgresServer

if TYPE_CHECKING:  # the emulators' module starts its processes with this one's helpers
    from tests.support.provider_emulators import MetaBusiness, TwilioAccount

WA_GATEWAY = str(Path(sys.executable).parent / "wa-gateway")
READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


# -- child processes -------------------------------------------------------------------------------


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

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds; its exit status."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()
        return self.popen.returncode

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


def wa_gateway(
    directory: Path, settings: Mapping[str, str], *arguments: str, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``wa-gateway <arguments>`` in ``directory``, in a fresh shell's environment plus ``settings``."""
    return subprocess.run(
        [WA_GATEWAY, *arguments],
        cwd=directory,
        env={**clean_environment(), **settings},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def create_platform_admin(directory: Path, settings: Mapping[str, str], username: str, password: str) -> str:
    """A platform admin, as an operator makes the first one: `wa-gateway user create platform <username>
    --role platform_admin --password-stdin` run in ``directory``; what it printed."""
    created = wa_gateway(
        directory,
        settings,
        "user", "create", "platform", username, "--role", "platform_admin", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return created.stdout


# -- one `wa-gateway serve` ------------------------------------------------------------------------


@contextmanager
def served_gateway(directory: Path, settings: Mapping[str, str], *arguments: str) -> Iterator[str]:
    """A `wa-gateway serve` process in ``directory`` (its output in serve.log there), in a fresh shell's
    environment plus ``settings``, with more ``arguments`` if given (``--workers 2``); its base URL once
    it answers /healthz."""
    port = free_port()
    process = ManagedProcess(
        "serve",
        [WA_GATEWAY, "serve", "--port", str(port), *arguments],
        {**clean_environment(), **settings},
        directory,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base_url}/healthz", [process], READY_TIMEOUT_SECONDS)
        yield base_url
    finally:
        process.stop()


# -- a deployment: API and worker processes --------------------------------------------------------

SENDER = "+14155238886"  # the tenant's WhatsApp number (Twilio's sandbox number)


@dataclass(frozen=True, slots=True)
class Provisioned:
    tenant_id: str
    username: str
    password: str
    sender: str


class GatewayProcesses:
    """API and worker processes of one deployment: one database, one set of secrets, configured through
    the environment only, provisioned with the CLI (``tenant create --provider twilio``, ``sender add``,
    ``user create``) and, for a Meta sender, the API (``POST /api/provider-accounts``, ``POST
    /api/senders``), each waited for and killed at the end.

    ``settings`` point it at its provider's emulator (``EmulatorProcess.gateway_settings``) among
    others; the first API process listens on ``public_port`` (by default a free one), where the
    providers' callbacks go (``public_base_url``).

    ``database_url`` is a superuser's: it migrates, and creates the role the processes connect as
    (dropped again by ``stop``), which owns nothing and is bound by row-level security, as in production.
    """

    def __init__(
        self,
        *,
        database_url: str,
        log_dir: Path,
        public_port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.api_ports: list[int] = []
        self.apis: list[ManagedProcess] = []
        self.workers: list[ManagedProcess] = []
        self._public_port = public_port or free_port()  # the first API process: callbacks go there
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
        result = wa_gateway(self.log_dir, self.env, *args, stdin=stdin)
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

    def provision_meta_tenant(self, business: MetaBusiness) -> Provisioned:
        """A tenant (sandbox by default, so free-form messages need an open window) and its admin, with
        the CLI; its Meta account and sender come over the API once the processes run
        (``connect_meta_sender``), as a tenant admin adds them."""
        suffix = uuid.uuid4().hex[:8]
        tenant = self.cli("tenant", "create", f"Tenant {suffix}")
        username, password = f"admin-{suffix}", f"password-{suffix}"
        self.cli(
            "user", "create", tenant["id"], username, "--role", "tenant_admin", "--password-stdin",
            stdin=password + "\n",
        )  # fmt: skip
        return Provisioned(
            tenant_id=tenant["id"], username=username, password=password, sender=business.sender
        )

    async def connect_meta_sender(self, headers: Mapping[str, str], business: MetaBusiness) -> None:
        """The tenant admin (``headers``) adds the Meta account and its number as a sender on it."""
        async with httpx.AsyncClient(base_url=self.api_urls[0], timeout=30, trust_env=False) as client:
            account = await client.post(
                "/api/provider-accounts", json=business.provider_account(), headers=dict(headers)
            )
            if account.status_code != 201:
                raise RuntimeError(f"adding the Meta account failed: {account.status_code} {account.text}")
            sender = await client.post(
                "/api/senders",
                json={
                    "phone_number": business.sender,
                    "account_id": account.json()["id"],
                    "provider_number_id": business.phone_number_id,
                },
                headers=dict(headers),
            )
            if sender.status_code != 201:
                raise RuntimeError(f"adding the Meta sender failed: {sender.status_code} {sender.text}")

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


# -- in this process -------------------------------------------------------------------------------

JWT_SECRET = "the-authorization-matrix-signs-with-this-secret"
PUBLIC_BASE_URL = "https://gateway.example"
ROOT_USERNAME = "root"
PASSWORD = "a long enough password"

SETTINGS = {
    "JWT_SECRET": JWT_SECRET,
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    # Nothing runs in the background: no dispatcher, no webhook worker, and the sandbox reports no status
    # while a test runs, so the only writes are the requests the test makes.
    "EMBEDDED_DISPATCHER": "false",
    "SANDBOX_SENT_AFTER_SECONDS": "3600",
    "SANDBOX_DELIVERED_AFTER_SECONDS": "3600",
    "SEND_WAIT_SECONDS": "10",
    # Tenant webhooks point at a local address that never answers (nothing delivers them anyway).
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
    # Hundreds of requests from one address; the limits have tests of their own.
    "REQUESTS_PER_MINUTE_PER_IP": "1000000",
    "LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
    "TWILIO_SIGNATURE_FAILURES_PER_MINUTE": "0",
    "META_SIGNATURE_FAILURES_PER_MINUTE": "0",
    "TENANT_SENDS_PER_MINUTE": "0",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
    "LOG_LEVEL": "WARNING",
}


def gateway_settings(directory: Path, overrides: Mapping[str, str] | None = None) -> Settings:
    """The settings of a gateway in this process: SETTINGS, then ``overrides``."""
    environ = {"DATA_DIR": str(directory), "CREDENTIALS_KEYS": generate_key(), **SETTINGS}
    return load_settings(environ={**environ, **(overrides or {})}, env_file=None)


# The databases a gateway runs on, as the params of a fixture that passes its value to one of the two
# functions below; the ids name the database in every test id.
DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _postgres_settings(server: PostgresServer, database: str, roles: PostgresRoles) -> dict[str, str]:
    # As in production: migrations as the owner, the gateway itself as the role row-level security binds.
    return {
        "DATABASE_URL": server.url_for(database, roles.app),
        "MIGRATION_DATABASE_URL": server.url_for(database, roles.owner),
    }


@contextmanager
def database_of_its_own(request: pytest.FixtureRequest, database: str) -> Iterator[dict[str, str]]:
    """Settings for a gateway on a database nothing else touches, even while other gateways run: on
    SQLite none are needed (the gateway's data directory gets a new file); on PostgreSQL, a new database,
    migrated by the owner with the application's role granted, and dropped afterwards."""
    if database == "sqlite":
        yield {}
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    roles: PostgresRoles = request.getfixturevalue("postgres_roles")
    name = create_prepared_database(server, roles)
    try:
        yield _postgres_settings(server, name, roles)
    finally:
        server.drop_database(name)


def emptied_session_database(request: pytest.FixtureRequest, database: str) -> dict[str, str]:
    """Settings for a gateway on the test session's database, emptied first: cheaper than a database of
    its own, for a gateway per test, when no other gateway is running on it."""
    if database == "sqlite":
        return {}
    empty_all_tables(request.getfixturevalue("postgres_admin_url"))
    server: PostgresServer = request.getfixturevalue("postgres_server")
    roles: PostgresRoles = request.getfixturevalue("postgres_roles")
    return _postgres_settings(server, request.getfixturevalue("postgres_database"), roles)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@dataclass
class Gateway:
    client: AsyncTestClient[Any]
    app: Litestar
    container: Container

    async def log_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def bearer_of(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer((await self.log_in(username, password))["access_token"])

    async def call(
        self, method: str, path: str, headers: Mapping[str, str], json: Any = None
    ) -> httpx.Response:
        """One JSON API call that must succeed (2xx): provisioning, not the behaviour under test."""
        response = await self.client.request(method, path, headers=dict(headers), json=json)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def create_platform_admin(self) -> dict[str, str]:
        """As `wa-gateway user create platform root --role platform_admin` does."""
        platform = await self.container.ensure_platform_tenant()()
        await self.container.create_user()(
            OPERATOR, platform.id, ROOT_USERNAME, PASSWORD, Role.PLATFORM_ADMIN
        )
        return await self.bearer_of(ROOT_USERNAME)

    async def receive_inbound(
        self,
        account_sid: str,
        auth_token: str,
        to: str,
        sender: str,
        body: str,
        *,
        media_urls: Sequence[str] = (),
    ) -> None:
        """A customer's WhatsApp message (with photos at ``media_urls``), posted and signed as Twilio
        posts it."""
        url = f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound"
        params = {
            "AccountSid": account_sid,
            "MessageSid": ("MM" if media_urls else "SM") + secrets.token_hex(16),
            "From": f"whatsapp:{sender}",
            "To": f"whatsapp:{to}",
            "Body": body,
            "NumMedia": str(len(media_urls)),
        }
        for index, media_url in enumerate(media_urls):
            params[f"MediaUrl{index}"] = media_url
            params[f"MediaContentType{index}"] = "image/jpeg"
        response = await self.client.post(
            "/webhooks/twilio/inbound",
            data=params,
            headers={"X-Twilio-Signature": sign(auth_token, url, params)},
        )
        assert response.status_code in (200, 204), response.text


@asynccontextmanager
async def running_gateway(
    directory: Path, overrides: Mapping[str, str] | None = None
) -> AsyncIterator[Gateway]:
    """The gateway with ``gateway_settings(directory, overrides)``, its database migrated as `wa-gateway
    serve` does, started (its lifespan runs) and served to a test client."""
    settings = gateway_settings(directory, overrides)
    upgrade_database(settings.resolved_migration_database_url)  # as `wa-gateway serve` does
    container = create_container(settings)
    app = create_app(container)
    async with AsyncTestClient(app=app) as client:
        yield Gateway(client=client, app=app, container=container)
