"""A tenant's webhook receiver for the end-to-end scenario: answers every POST with 200 at once and
counts what it got, so its own cost stays small and its count says when the pipeline is done.

    python -m uvicorn bench.receiver:app --port PORT     (one process: the counts live in it)

``GET /_stats`` answers ``{"requests": n, "events": distinct webhook-ids, "by_type": {...}}``; the
event type is read from the body's ``"type"`` without decoding the JSON. Signatures are not checked:
the receiver stands for a fast client, and checking would measure the client.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TYPE = re.compile(rb'"type"\s*:\s*"([^"]{1,64})"')


@dataclass
class Tally:
    """What the receiver got: every request, the distinct webhook-ids (retries count once), by type."""

    requests: int = 0
    ids: set[str] = field(default_factory=set)
    by_type: Counter[str] = field(default_factory=Counter)

    def record(self, webhook_id: str | None, body: bytes) -> None:
        self.requests += 1
        if webhook_id is not None:
            if webhook_id in self.ids:
                return
            self.ids.add(webhook_id)
        found = _TYPE.search(body)
        self.by_type[found.group(1).decode() if found else "?"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "events": len(self.ids), "by_type": dict(self.by_type)}


tally = Tally()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/_stats":
        await _answer(send, 200, json.dumps(tally.as_dict()).encode(), b"application/json")
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    webhook_id = headers.get(b"webhook-id")
    tally.record(webhook_id.decode() if webhook_id is not None else None, body)
    await _answer(send, 200, b"", b"text/plain")


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
