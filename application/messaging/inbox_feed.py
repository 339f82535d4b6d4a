"""What changes in a tenant's inbox as it happens: new messages either way and status changes, for a
live view of the inbox.

Any process may write a message or a status (the API's, a worker's, a provider callback's), so a view
learns of them from the database, not from the process it is served by: ``ReadInboxChanges`` asks for
the messages created or changed since a moment (one indexed query), and ``InboxFeed`` runs one such
poll per tenant in this process, whichever number of views of that tenant are open, handing each
change to all of them.

Each poll reads on from the newest change it read, page after page on the (updated_at, id) keyset of
ix_messages_changes. Transactions commit in another order than their clocks read, and processes' clocks
differ a little: each poll also reads again a short ``lookback`` before the newest change it read, and
passes on only what it has not passed on yet (a message's id, status and time of change). A message's
time of change is stamped just before its transaction writes it and commits, so a few seconds cover a
late commit; a longer look-back would read every change of a busy tenant again at every poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from application.errors import RateLimited
from application.ports.clock import Clock
from application.ports.messages import ChangePosition, MessageView
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Direction, MessageStatus
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

CHANGES_PAGE = 200  # changes read at once; more are read at once after (see ``InboxFeed``)
# How far before the newest change read each poll reads again: a change is stamped just before its
# transaction commits, and another process's clock may be a little off; both stay well within this.
DEFAULT_LOOKBACK = timedelta(seconds=5)
MAX_STREAMS_PER_USER = 5  # a few tabs; beyond that a page is left without live updates (it still reloads)
_QUEUED_BATCHES = 100  # a view that falls this far behind is told to reload


@dataclass(frozen=True, slots=True)
class MessageChange:
    """A message as it is now (new, or changed), and its conversation as it is now (None: none yet)."""

    message: MessageView
    conversation: Conversation | None

    @property
    def key(self) -> tuple[UUID, MessageStatus, datetime]:
        """What makes two reads of a message the same change."""
        return (self.message.id, self.message.status, self.message.updated_at)


@dataclass(frozen=True, slots=True)
class InboxChanges:
    changes: list[MessageChange]
    full: bool  # the page was full: more changes may follow right after the last one

    @property
    def end(self) -> ChangePosition | None:
        """Where the next page begins (None: the page is empty)."""
        if not self.changes:
            return None
        last = self.changes[-1].message
        return ChangePosition(last.updated_at, last.id)


def contact_of(message: MessageView) -> str:
    """The customer's number on a message, whichever way it went."""
    return message.from_number if message.direction is Direction.INBOUND else message.to_number


class ReadInboxChanges:
    """A tenant's messages created or changed after ``since`` (and after ``after``, the end of the
    previous page), oldest change first, each with its conversation (all read at once)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self,
        tenant_id: UUID,
        since: datetime,
        limit: int = CHANGES_PAGE,
        after: ChangePosition | None = None,
    ) -> InboxChanges:
        async with self._uow:
            messages = await self._uow.messages.list_changed(tenant_id, since, limit, after)
            identities = [PhoneNumber(contact_of(message)).identity for message in messages]
            conversations = await self._uow.conversations.get_many(tenant_id, set(identities))
        changes = [
            MessageChange(message, conversations.get(identity))
            for message, identity in zip(messages, identities, strict=True)
        ]
        return InboxChanges(changes=changes, full=len(messages) >= limit)


class TooManyStreams(RateLimited):
    """The user has as many live views open as one may (a 429: try again once one is closed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} live views of the inbox may be open at once; close another tab, or reload "
            "the page to see new messages",
            retry_after_seconds=60,
            limit=limit,
            window_seconds=60,
            scope="inbox-streams",
        )


@dataclass(eq=False)
class InboxSubscription:
    """One live view's share of its tenant's feed: the batches of changes not yet taken."""

    tenant_id: UUID
    user_id: UUID
    batches: asyncio.Queue[list[MessageChange]] = field(
        default_factory=lambda: asyncio.Queue(_QUEUED_BATCHES)
    )
    fell_behind: bool = False  # batches were dropped: the view must be read afresh
    last_taken: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    async def next_batch(self, wait: float) -> list[MessageChange]:
        """The next batch of changes, or an empty one if none came within ``wait`` seconds."""
        try:
            return await asyncio.wait_for(self.batches.get(), wait)
        except TimeoutError:
            return []
        finally:
            self.last_taken = asyncio.get_running_loop().time()

    def offer(self, batch: list[MessageChange]) -> None:
        try:
            self.batches.put_nowait(batch)
        except asyncio.QueueFull:
            self.fell_behind = True


@dataclass(eq=False)
class _TenantPoller:
    subscribers: set[InboxSubscription]
    task: asyncio.Task[None] | None = None


class InboxFeed:
    """One poller per tenant with open views in this process, started by the first view to join and
    stopped when the last one leaves; every ``interval`` seconds it reads what changed and hands it to
    each view. Views of a user are at most ``max_streams_per_user`` at once (in this process); a view
    that takes nothing for ``abandoned_after`` seconds is dropped (its stream never ran)."""

    def __init__(
        self,
        read_changes: Callable[[], ReadInboxChanges],
        clock: Clock,
        *,
        interval: float = 1.0,
        lookback: timedelta = DEFAULT_LOOKBACK,
        page: int = CHANGES_PAGE,
        max_streams_per_user: int = MAX_STREAMS_PER_USER,
        abandoned_after: float = 60.0,
        view_lifetime: float = 30 * 60.0,
    ) -> None:
        self._read_changes = read_changes
        self._clock = clock
        self.interval = interval
        self._lookback = lookback
        self._page = page
        self._max_streams_per_user = max_streams_per_user
        self._abandoned_after = abandoned_after
        # How long a view's stream lasts before the browser opens a new one (its session checked anew).
        self.view_lifetime = view_lifetime
        self._pollers: dict[UUID, _TenantPoller] = {}

    def join(self, tenant_id: UUID, user_id: UUID) -> InboxSubscription:
        """A share of the tenant's changes from now on, until ``leave``. TooManyStreams if the user has
        the most views open already."""
        poller = self._pollers.get(tenant_id)
        if poller is not None and self._max_streams_per_user <= sum(
            1 for other in poller.subscribers if other.user_id == user_id
        ):
            raise TooManyStreams(self._max_streams_per_user)
        subscription = InboxSubscription(tenant_id, user_id)
        if poller is None:
            poller = self._pollers[tenant_id] = _TenantPoller({subscription})
            poller.task = asyncio.create_task(self._poll(tenant_id, poller), name=f"inbox feed {tenant_id}")
        else:
            poller.subscribers.add(subscription)
        return subscription

    async def leave(self, subscription: InboxSubscription) -> None:
        poller = self._pollers.get(subscription.tenant_id)
        if poller is None:
            return
        poller.subscribers.discard(subscription)
        if not poller.subscribers:
            del self._pollers[subscription.tenant_id]
            if poller.task is not None and poller.task is not asyncio.current_task():
                poller.task.cancel()
                with suppress(asyncio.CancelledError):
                    await poller.task

    def streams(self, tenant_id: UUID) -> int:
        """How many views of the tenant are open in this process."""
        poller = self._pollers.get(tenant_id)
        return len(poller.subscribers) if poller else 0

    async def _poll(self, tenant_id: UUID, poller: _TenantPoller) -> None:
        read = self._read_changes()
        newest_read = self._clock.now()  # the time of the newest change read (at first: when it started)
        passed_on: dict[tuple[UUID, MessageStatus, datetime], datetime] = {}
        while poller.subscribers:
            since, after = newest_read - self._lookback, None
            try:
                while True:
                    found = await read(tenant_id, since, self._page, after)
                    fresh = [change for change in found.changes if change.key not in passed_on]
                    for change in fresh:
                        passed_on[change.key] = change.message.updated_at
                    if found.changes:
                        newest_read = max(newest_read, found.changes[-1].message.updated_at)
                    if fresh:
                        for subscription in list(poller.subscribers):
                            subscription.offer(fresh)
                    if not found.full:
                        break
                    after = found.end
            except Exception:  # a poll that fails is tried again at the next tick; the views stay open
                logger.exception("could not read the inbox changes of tenant %s", tenant_id)
            # What the next poll cannot read again need not be remembered.
            horizon = newest_read - self._lookback
            for key in [key for key, moment in passed_on.items() if moment <= horizon]:
                del passed_on[key]
            await asyncio.sleep(self.interval)
            now = asyncio.get_running_loop().time()
            for subscription in list(poller.subscribers):
                if now - subscription.last_taken > self._abandoned_after:
                    await self.leave(subscription)
