"""Everything the emulator holds while it runs: accounts, messages, what it received and what it posted."""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hmac
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from emulators.twilio.config import (
    ApiKey,
    CallbackSettings,
    EmulatorConfig,
    Faults,
    bare_number,
    validated,
)


class AuthKind(enum.StrEnum):
    ACCOUNT = "account"  # account SID + auth token
    API_KEY = "api_key"  # API key SID + secret of a key belonging to the account
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class AuthUsed:
    kind: AuthKind
    username: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind in (AuthKind.ACCOUNT, AuthKind.API_KEY)


@dataclass(slots=True)
class MessageRecord:
    """A Message resource as the emulator keeps it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: str  # "outbound-api" or "inbound"
    status: str
    date_created: datetime
    date_updated: datetime
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None
    persistent_action: tuple[str, ...] = ()  # a location: "geo:<latitude>,<longitude>|<label>"
    status_callback: str | None = None
    date_sent: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    auth: AuthUsed | None = None


@dataclass(slots=True)
class ReceivedRequest:
    """One request to the Twilio API, kept with its raw fields for assertions."""

    id: int
    received_at: datetime
    method: str
    path: str
    account_sid: str
    auth: AuthUsed
    form: dict[str, list[str]]
    query: dict[str, list[str]]
    outcome: str = "pending"
    http_status: int | None = None
    error_code: int | None = None
    message_sid: str | None = None


@dataclass(slots=True)
class Delivery:
    """One webhook the emulator posted: a status callback or an inbound message."""

    kind: str  # "status" or "inbound"
    url: str
    params: dict[str, str]
    signature: str
    message_sid: str
    status: str
    sent_at: datetime
    http_status: int | None = None
    error: str | None = None
    response_body: str = ""


@dataclass(slots=True)
class MediaRecord:
    """A file a customer sent with an inbound message, served at its MediaUrl."""

    sid: str  # ME…
    account_sid: str
    message_sid: str
    content_type: str
    content: bytes

    @property
    def path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.message_sid}/Media/{self.sid}"


@dataclass(frozen=True, slots=True)
class MediaFetch:
    """One request for a media file: of its MediaUrl (``at_cdn`` False) or of the CDN URL it redirects
    to, with whether it carried an Authorization header, and how it was answered."""

    path: str
    at_cdn: bool
    authorization_sent: bool
    auth: AuthUsed
    http_status: int
    media_sid: str | None = None


@dataclass(slots=True)
class _Data:
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    requests: deque[ReceivedRequest] = field(default_factory=deque)
    deliveries: deque[Delivery] = field(default_factory=deque)
    stats: Counter[str] = field(default_factory=Counter)
    media: dict[str, MediaRecord] = field(default_factory=dict)
    cdn_links: dict[str, tuple[str, float]] = field(default_factory=dict)  # token → (media SID, expiry)
    media_fetches: deque[MediaFetch] = field(default_factory=deque)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class EmulatorState:
    """The running emulator's state. Tests may read it directly; change it through the methods."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = validated(config or EmulatorConfig())
        self.rng = random.Random(self.config.seed)  # noqa: S311 - fault injection, not cryptography
        self.closing = asyncio.Event()
        # Where the emulator is served, for the MediaUrls it hands out (set once it listens).
        self.base_url: str | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._next_request_id = 0
        self._data = _Data()
        self._load(self.config)

    def _load(self, config: EmulatorConfig) -> None:
        self.accounts: dict[str, str] = dict(config.accounts)
        self.api_keys: dict[str, ApiKey] = dict(config.api_keys)
        self.senders: dict[str, frozenset[str]] = {
            account: frozenset(bare_number(number) for number in numbers)
            for account, numbers in config.senders.items()
        }
        self.faults: Faults = config.faults.normalized()
        self.callbacks: CallbackSettings = config.callbacks
        self._data = _Data(
            requests=deque(maxlen=config.max_records),
            deliveries=deque(maxlen=config.max_records),
            media_fetches=deque(maxlen=config.max_records),
        )

    # -- what was received and sent -------------------------------------------------------------

    @property
    def messages(self) -> dict[str, MessageRecord]:
        return self._data.messages

    @property
    def requests(self) -> list[ReceivedRequest]:
        return list(self._data.requests)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._data.deliveries)

    @property
    def stats(self) -> Counter[str]:
        return self._data.stats

    def status_callbacks(self, message_sid: str | None = None) -> list[Delivery]:
        return [
            d
            for d in self._data.deliveries
            if d.kind == "status" and (message_sid is None or d.message_sid == message_sid)
        ]

    def record_request(
        self,
        *,
        method: str,
        path: str,
        account_sid: str,
        auth: AuthUsed,
        form: dict[str, list[str]],
        query: dict[str, list[str]],
    ) -> ReceivedRequest:
        self._next_request_id += 1
        record = ReceivedRequest(
            id=self._next_request_id,
            received_at=utcnow(),
            method=method,
            path=path,
            account_sid=account_sid,
            auth=auth,
            form=form,
            query=query,
        )
        self._data.requests.append(record)
        self._data.stats["requests"] += 1
        return record

    def finish_request(
        self,
        record: ReceivedRequest,
        outcome: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        message_sid: str | None = None,
    ) -> None:
        record.outcome = outcome
        record.http_status = http_status
        record.error_code = error_code
        record.message_sid = message_sid
        self._data.stats[f"outcome.{outcome}"] += 1
        if error_code is not None:
            self._data.stats[f"error.{error_code}"] += 1

    def record_delivery(self, delivery: Delivery) -> None:
        self._data.deliveries.append(delivery)
        result = "ok" if delivery.http_status is not None and delivery.http_status < 400 else "failed"
        self._data.stats[f"{delivery.kind}_callbacks.{result}"] += 1

    def add_message(self, message: MessageRecord) -> None:
        self._data.messages[message.sid] = message

    # -- media ----------------------------------------------------------------------------------

    @property
    def media(self) -> dict[str, MediaRecord]:
        return self._data.media

    @property
    def media_fetches(self) -> list[MediaFetch]:
        return list(self._data.media_fetches)

    def add_media(self, media: MediaRecord) -> None:
        self._data.media[media.sid] = media

    def issue_cdn_link(self, media_sid: str) -> str:
        """A token for the CDN URL of ``media_sid``, valid for ``media_url_ttl_seconds``."""
        token = base64.urlsafe_b64encode(self.rng.randbytes(18)).decode()
        self._data.cdn_links[token] = (media_sid, time.monotonic() + self.config.media_url_ttl_seconds)
        return token

    def cdn_media(self, token: str) -> MediaRecord | None:
        """The file a CDN token stands for, unless the token is unknown or expired."""
        link = self._data.cdn_links.get(token)
        if link is None or link[1] < time.monotonic():
            return None
        return self._data.media.get(link[0])

    def record_media_fetch(self, fetch: MediaFetch) -> None:
        self._data.media_fetches.append(fetch)
        self._data.stats[f"media_fetches.{'cdn' if fetch.at_cdn else 'api'}.{fetch.http_status}"] += 1

    # -- accounts -------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, account_sid: str) -> AuthUsed:
        """Check HTTP Basic credentials for ``account_sid``: its auth token, or one of its API keys."""
        if not authorization:
            return AuthUsed(AuthKind.MISSING)
        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return AuthUsed(AuthKind.INVALID)
        username, _, password = decoded.partition(":")
        if scheme.lower() != "basic":
            return AuthUsed(AuthKind.INVALID, username)
        token = self.accounts.get(username)
        if username == account_sid and token is not None and _same(token, password):
            return AuthUsed(AuthKind.ACCOUNT, username)
        key = self.api_keys.get(username)
        if key is not None and key.account_sid == account_sid and _same(key.secret, password):
            return AuthUsed(AuthKind.API_KEY, username)
        return AuthUsed(AuthKind.INVALID, username)

    def auth_token(self, account_sid: str) -> str | None:
        return self.accounts.get(account_sid)

    def may_send_from(self, account_sid: str, from_: str) -> bool:
        allowed = self.senders.get(account_sid)
        return allowed is None or bare_number(from_) in allowed

    def add_account(self, account_sid: str, auth_token: str, senders: tuple[str, ...] | None = None) -> None:
        self.accounts[account_sid] = auth_token
        if senders is not None:
            self.senders[account_sid] = frozenset(bare_number(s) for s in senders)

    def add_api_key(self, key_sid: str, account_sid: str, secret: str) -> None:
        self.api_keys[key_sid] = ApiKey(account_sid=account_sid, secret=secret)

    # -- behaviour ------------------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; ValueError (msgspec.ValidationError) if a value is out of range."""
        self.faults = validated(faults).normalized()

    def update_faults(self, **changes: Any) -> Faults:
        """Change some fault settings, e.g. ``update_faults(failure_rate=0.5)``; the result is validated."""
        merged = msgspec.to_builtins(self.faults) | msgspec.to_builtins(changes)
        self.set_faults(msgspec.convert(merged, Faults))
        return self.faults

    def update_callbacks(self, **changes: Any) -> CallbackSettings:
        merged = msgspec.to_builtins(self.callbacks) | msgspec.to_builtins(changes)
        self.set_callbacks(msgspec.convert(merged, CallbackSettings))
        return self.callbacks

    def set_callbacks(self, callbacks: CallbackSettings) -> None:
        self.callbacks = validated(callbacks)

    def new_sid(self, prefix: str) -> str:
        return prefix + uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    # -- background work ------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in the background; reset() and shutdown cancel it."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def cancel_background(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a plain deadline
        """Wait until every message's progression and callbacks have finished (for tests)."""
        async with asyncio.timeout(timeout):
            while self._background:
                await asyncio.gather(*list(self._background), return_exceptions=True)

    async def reset(self) -> None:
        """Forget every message, request and callback; return to the start-up configuration."""
        await self.cancel_background()
        self.rng = random.Random(self.config.seed)  # noqa: S311 - fault injection, not cryptography
        self._next_request_id = 0
        self._load(self.config)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
