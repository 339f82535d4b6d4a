"""A PostgreSQL cluster of a test's own, built with the machine's server binaries, that it may stop.

The shared server on 127.0.0.1:5432 serves other tests and CI and must never be restarted; a test that
needs to take the database away under load starts one of these instead: ``initdb`` into a temporary
directory, ``pg_ctl start`` on a free port (trust auth, Unix socket in the same directory), and
``pg_ctl stop -m immediate`` / ``start`` whenever it likes.

PostgreSQL refuses to run as root: run as root (a container), the cluster belongs to the ``postgres``
user and every binary runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from adapters.database.engine import normalize_database_url

SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 60
_BINARIES = ("initdb", "pg_ctl", "postgres")


class PrivateClusterUnavailable(Exception):
    """No private cluster can be started here; the message says why."""


def find_server_binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: ``PG_BINDIR``, Debian's layout, or PATH."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    # Debian/Ubuntu keep one directory per major version; the newest wins.
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major_version, reverse=True)
    candidates += [Path(p) for p in versions]
    candidates += [Path("/usr/local/pgsql/bin"), Path("/opt/homebrew/bin"), Path("/usr/local/bin")]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in _BINARIES):
            return directory
    return None


def _major_version(bindir: str) -> int:
    name = Path(bindir).parent.name
    return int(name) if name.isdigit() else 0


@dataclass(frozen=True, slots=True)
class PrivateCluster:
    bindir: Path
    root: Path  # the cluster's directory: data/, the Unix socket and the server log
    port: int
    run_as: str | None  # the user the server runs as when we are root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        """The application's URL (psycopg async driver) for ``database`` on this cluster."""
        return normalize_database_url(f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}")

    def create_database(self) -> str:
        name = f"wa_gateway_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=200",
                # Survives the server being killed (the kernel has every write); only a power cut loses
                # data. Commits stay synchronous: an acknowledged commit is on its way to disk.
                "-c fsync=off",
            ]
        )
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.log_file), "-o", options)

    def stop(self, *, immediate: bool = True) -> None:
        """``immediate``: the server dies at once, as on a crash (recovery runs at the next start)."""
        self._pg_ctl("stop", "-w", "-m", "immediate" if immediate else "fast")

    def is_running(self) -> bool:
        status = subprocess.run(
            [*self._prefix(), str(self.bindir / "pg_ctl"), "status", "-D", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        return status.returncode == 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, binary: str, *args: str) -> None:
        result = subprocess.run(
            [*self._prefix(), str(self.bindir / binary), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        if result.returncode != 0:
            raise PrivateClusterUnavailable(
                f"{binary} {' '.join(args[:1])} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}\n{self.log_tail()}"
            )

    def _prefix(self) -> list[str]:
        return ["runuser", "-u", self.run_as, "--"] if self.run_as else []


@contextmanager
def private_postgres_cluster(port: int) -> Iterator[PrivateCluster]:
    """Initialise and start a cluster on ``port``; stop it and delete its files on leaving."""
    bindir = find_server_binaries()
    if bindir is None:
        raise PrivateClusterUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in PG_BINDIR, "
            "/usr/lib/postgresql/*/bin or PATH: a private cluster cannot be started"
        )
    run_as: str | None = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise PrivateClusterUnavailable("running as root, and runuser is missing to start PostgreSQL")
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError as error:
            raise PrivateClusterUnavailable(
                f"running as root (PostgreSQL refuses to) and there is no {SERVER_USER!r} user to run it as"
            ) from error
        run_as = SERVER_USER
    root = Path(tempfile.mkdtemp(prefix="wa-gateway-pg-"))
    if run_as is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PrivateCluster(bindir=bindir, root=root, port=port, run_as=run_as)
    try:
        cluster._run(
            "initdb", "-D", str(cluster.data_dir), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.is_running():
                cluster.stop(immediate=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
