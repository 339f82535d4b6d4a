"""`wa-gateway serve` processes for tests that need real HTTP: several processes, or a tool that
drives the API from outside (schemathesis, newman); and the command an operator runs first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

WA_GATEWAY = str(Path(sys.executable).parent / "wa-gateway")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def gateway_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a fresh shell (none of this project's settings), plus ``settings``."""
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    environment = {key: value for key, value in os.environ.items() if key in keep}
    environment.update(settings)
    return environment


@contextmanager
def served_gateway(directory: Path, settings: Mapping[str, str]) -> Iterator[str]:
    """A `wa-gateway serve` process in ``directory`` with ``settings``; its base URL."""
    port = free_port()
    environment = gateway_environment(settings)
    log = (directory / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [WA_GATEWAY, "serve", "--port", str(port)],
        cwd=directory,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {(directory / f'serve-{port}.log').read_text()}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def create_platform_admin(
    directory: Path, environment: Mapping[str, str], username: str, password: str
) -> str:
    """A platform admin, as an operator makes the first one: `wa-gateway user create platform <username>
    --role platform_admin --password-stdin` run in ``directory``; what it printed."""
    created = subprocess.run(
        [WA_GATEWAY, "user", "create", "platform", username, "--role", "platform_admin", "--password-stdin"],
        input=password + "\n",
        cwd=directory,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    return created.stdout
