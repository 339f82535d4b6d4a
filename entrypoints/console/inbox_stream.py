"""The inbox's live updates as Server-Sent Events: each change of the tenant's messages, as the
tenant's feed in this process reads it from the database (see application/messaging/inbox_feed.py).

Each turn (the feed's interval) the stream checks its session again, as a request would: once the
user signed out anywhere, was deactivated or lost the role, it tells the page to go to the sign-in
form and ends. A comment every ``keep_alive`` seconds keeps proxies from closing a quiet stream; after
``lifetime`` seconds (the feed's ``view_lifetime`` unless given) the stream ends and the browser opens a
new one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from litestar.response import ServerSentEventMessage

from application.errors import InvalidToken
from application.messaging.inbox_feed import InboxFeed, InboxSubscription
from entrypoints.console.i18n import Translate
from entrypoints.console.inbox_display import change_event

KEEP_ALIVE_SECONDS = 15.0
RECONNECT_MILLISECONDS = 3000


async def inbox_events(
    feed: InboxFeed,
    subscription: InboxSubscription,
    check_session: Callable[[], Awaitable[object]],
    translate: Translate,
    now: Callable[[], datetime],
    *,
    sign_in_path: str,
    keep_alive: float = KEEP_ALIVE_SECONDS,
    lifetime: float | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """The events of one open page, until the session ends, the page leaves or ``lifetime`` is over.
    ``subscription`` is left however the stream ends."""
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    lifetime = feed.view_lifetime if lifetime is None else lifetime
    try:
        yield ServerSentEventMessage(comment="inbox", retry=RECONNECT_MILLISECONDS)
        while loop.time() - started < lifetime:
            batch = await subscription.next_batch(feed.interval)
            try:
                await check_session()
            except InvalidToken:
                yield ServerSentEventMessage(event="signed-out", data=sign_in_path)
                return
            if subscription.fell_behind:
                yield ServerSentEventMessage(event="reload", data="behind")
                return
            for change in batch:
                data = json.dumps(change_event(change, now(), translate), ensure_ascii=False)
                yield ServerSentEventMessage(event="message", data=data)
                last_sent = loop.time()
            if loop.time() - last_sent >= keep_alive:
                yield ServerSentEventMessage(comment="keep-alive")
                last_sent = loop.time()
    finally:
        await feed.leave(subscription)
