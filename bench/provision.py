"""Provision tenants, senders and users through the gateway's own CLI, in one process.

``wa-gateway tenant create`` / ``sender add`` / ``user create`` are run in-process (each call is the
CLI's ``main``), so a dozen tenants take seconds instead of a second of start-up per command. Reads a
JSON list of tenants on stdin, prints the created ids as JSON; run with the gateway's environment:

    python -m bench.provision < tenants.json
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from typing import Any

from entrypoints.cli import main as cli


def _run(argv: list[str], stdin: str = "") -> dict[str, Any]:
    out = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            status = cli(argv)
    finally:
        sys.stdin = saved
    if status != 0:
        raise SystemExit(f"wa-gateway {' '.join(argv)} failed with status {status}")
    lines = [line for line in out.getvalue().splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def provision(spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    created = []
    for tenant in spec:
        argv = ["tenant", "create", tenant["name"], "--provider", tenant.get("provider", "sandbox")]
        secrets = ""
        if tenant.get("provider") == "twilio":
            argv += ["--twilio-account-sid", tenant["account_sid"], "--secrets-stdin"]
            secrets = tenant["auth_token"] + "\n"
        elif tenant.get("no_session_window_check", True):
            argv.append("--no-session-window-check")
        tenant_id = _run(argv, secrets)["id"]
        for number in tenant.get("senders", []):
            _run(["sender", "add", tenant_id, number])
        for user in tenant.get("users", []):
            _run(
                ["user", "create", tenant_id, user["username"], "--role", "tenant_admin", "--password-stdin"],
                user["password"] + "\n",
            )
        created.append({"name": tenant["name"], "id": tenant_id})
    return created


if __name__ == "__main__":
    print(json.dumps(provision(json.load(sys.stdin))))
