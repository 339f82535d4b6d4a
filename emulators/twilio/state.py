"""Everything the emulator holds while it runs: accounts, messages, what it received and what it posted."""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hmac
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emulators.common.settings import merged, validated
from emulators.common.state import EmulatorStateBase, PostedWebhook, RequestRecord, utcnow
from emulators.twilio.config import (
    ApiKey,
    CallbackSettings,
    ContentReview,
    EmulatorConfig,
    Faults,
    bare_number,
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


# The statuses of a WhatsApp approval request Twilio reports ("unsubmitted": none was made).
APPROVAL_STATUSES = ("received", "pending", "approved", "rejected", "paused", "disabled")


@dataclass(slots=True)
class ApprovalRecord:
    """A Content resource's WhatsApp approval request, and WhatsApp's decision on it (known from the
    submission, shown from ``decided_at``). ``set_status`` (a status set by hand) overrides both."""

    name: str
    category: str
    submitted_at: datetime
    decided_at: datetime
    decision: str  # "approved" or "rejected"
    rejection_reason: str = ""
    set_status: str | None = None

    def status(self, now: datetime) -> str:
        if self.set_status is not None:
            return self.set_status
        return self.decision if now >= self.decided_at else "pending"

    def reason(self, now: datetime) -> str:
        return self.rejection_reason if self.status(now) == "rejected" else ""


@dataclass(slots=True)
class ContentRecord:
    """A Content resource (``HX…``) as the emulator keeps it: ``types`` and ``variables`` as created."""

    sid: str
    account_sid: str
    friendly_name: str
    language: str
    variables: dict[str, str]
    types: dict[str, Any]
    date_created: datetime
    date_updated: datetime
    approval: ApprovalRecord | None = None


@dataclass(slots=True, kw_only=True)
class ReceivedRequest(RequestRecord):
    """One request to the Twilio API, kept with its raw fields for assertions (a Content API request's
    JSON body in ``json``)."""

    account_sid: str
    auth: AuthUsed
    form: dict[str, list[str]]
    query: dict[str, list[str]]
    message_sid: str | None = None
    json: Any = None


@dataclass(slots=True, kw_only=True)
class Delivery(PostedWebhook):
    """One webhook the emulator posted: a status callback (``kind`` "status") or an inbound message
    ("inbound")."""

    params: dict[str, str]
    signature: str
    message_sid: str
    status: str


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


class EmulatorState(EmulatorStateBase[Faults, ReceivedRequest, Delivery]):
    """The running emulator's state. Tests may read it directly; change it through the methods."""

    config: EmulatorConfig

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        # Where the emulator is served, for the MediaUrls it hands out (set once it listens).
        self.base_url: str | None = None
        super().__init__(validated(config or EmulatorConfig()))

    def _load(self) -> None:
        super()._load()
        config = self.config
        self.accounts: dict[str, str] = dict(config.accounts)
        self.api_keys: dict[str, ApiKey] = dict(config.api_keys)
        self.senders: dict[str, frozenset[str]] = {
            account: frozenset(bare_number(number) for number in numbers)
            for account, numbers in config.senders.items()
        }
        self.callbacks: CallbackSettings = config.callbacks
        self._messages: dict[str, MessageRecord] = {}
        self._media: dict[str, MediaRecord] = {}
        self._cdn_links: dict[str, tuple[str, float]] = {}  # token → (media SID, expiry)
        self._media_fetches: deque[MediaFetch] = deque(maxlen=config.max_records)
        self.clock_offset = 0.0
        self.content_review: ContentReview = config.content_review
        self._contents: dict[str, ContentRecord] = {}
        self._deleted_contents: set[str] = set()

    # -- the clock ------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The time as the emulator sees it (``advance_clock`` moves it forward)."""
        return utcnow() + timedelta(seconds=self.clock_offset)

    def advance_clock(self, seconds: float) -> datetime:
        """Move the emulator's clock forward: approvals come due."""
        self.clock_offset += seconds
        return self.now()

    # -- what was received and sent -------------------------------------------------------------

    @property
    def messages(self) -> dict[str, MessageRecord]:
        return self._messages

    def status_callbacks(self, message_sid: str | None = None) -> list[Delivery]:
        return [
            d
            for d in self.deliveries
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
        json: Any = None,
    ) -> ReceivedRequest:
        record = ReceivedRequest(
            id=self._next_request_id(),
            received_at=utcnow(),
            method=method,
            path=path,
            account_sid=account_sid,
            auth=auth,
            form=form,
            query=query,
            json=json,
        )
        return self._keep_request(record)

    def finish_request(
        self,
        record: ReceivedRequest,
        outcome: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        message_sid: str | None = None,
    ) -> None:
        if message_sid is not None:
            record.message_sid = message_sid
        super().finish_request(record, outcome, http_status=http_status, error_code=error_code)

    def record_delivery(self, delivery: Delivery) -> None:
        super().record_delivery(delivery)
        result = "ok" if delivery.http_status is not None and delivery.http_status < 400 else "failed"
        self.stats[f"{delivery.kind}_callbacks.{result}"] += 1

    def add_message(self, message: MessageRecord) -> None:
        self._messages[message.sid] = message

    # -- media ----------------------------------------------------------------------------------

    @property
    def media(self) -> dict[str, MediaRecord]:
        return self._media

    @property
    def media_fetches(self) -> list[MediaFetch]:
        return list(self._media_fetches)

    def add_media(self, media: MediaRecord) -> None:
        self._media[media.sid] = media

    def issue_cdn_link(self, media_sid: str) -> str:
        """A token for the CDN URL of ``media_sid``, valid for ``media_url_ttl_seconds``."""
        token = base64.urlsafe_b64encode(self.rng.randbytes(18)).decode()
        self._cdn_links[token] = (media_sid, time.monotonic() + self.config.media_url_ttl_seconds)
        return token

    def cdn_media(self, token: str) -> MediaRecord | None:
        """The file a CDN token stands for, unless the token is unknown or expired."""
        link = self._cdn_links.get(token)
        if link is None or link[1] < time.monotonic():
            return None
        return self._media.get(link[0])

    def record_media_fetch(self, fetch: MediaFetch) -> None:
        self._media_fetches.append(fetch)
        self.stats[f"media_fetches.{'cdn' if fetch.at_cdn else 'api'}.{fetch.http_status}"] += 1

    # -- Content resources ----------------------------------------------------------------------

    @property
    def contents(self) -> dict[str, ContentRecord]:
        return self._contents

    def add_content(self, content: ContentRecord) -> None:
        self._contents[content.sid] = content

    def content_of(self, account_sid: str, sid: str) -> ContentRecord | None:
        """The account's Content resource ``sid`` (another account's is not found)."""
        content = self._contents.get(sid)
        return content if content is not None and content.account_sid == account_sid else None

    def delete_content(self, sid: str) -> None:
        self._contents.pop(sid, None)
        self._deleted_contents.add(sid)

    def may_send_content(self, account_sid: str, sid: str) -> bool:
        """Whether a message of the account may name Content resource ``sid``: not one deleted, nor
        another account's. A SID the emulator never made is taken as made in Twilio's console."""
        content = self._contents.get(sid)
        if content is not None:
            return content.account_sid == account_sid
        return sid not in self._deleted_contents

    def submit_for_approval(self, content: ContentRecord, name: str, category: str) -> ApprovalRecord:
        """Submit ``content`` for WhatsApp's approval; the decision follows ``content_review``."""
        review = self.content_review
        now = self.now()
        reason = ""
        if review.reject_name_prefix and name.startswith(review.reject_name_prefix):
            reason = review.rejection_reason
        else:
            text = " ".join(content_texts(content.types)).lower()
            word = next((w for w in review.rejected_words if w and w.lower() in text), None)
            if word is not None:
                reason = f"{review.rejection_reason}: it contains {word!r}"
        content.approval = ApprovalRecord(
            name=name,
            category=category,
            submitted_at=now,
            decided_at=now + timedelta(seconds=review.approval_delay_seconds),
            decision="rejected" if reason else "approved",
            rejection_reason=reason,
        )
        content.date_updated = now
        return content.approval

    def set_approval_status(self, sid: str, status: str, rejection_reason: str = "") -> ApprovalRecord:
        """Set a submitted Content resource's approval status by hand (WhatsApp pausing or disabling a
        template, say). KeyError for an unknown SID; ValueError for an unknown status or a resource
        never submitted."""
        content = self._contents[sid]
        if status not in APPROVAL_STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(APPROVAL_STATUSES)}")
        if content.approval is None:
            raise ValueError(f"{sid} was never submitted for WhatsApp's approval")
        content.approval.set_status = status
        content.approval.rejection_reason = rejection_reason if status == "rejected" else ""
        content.date_updated = self.now()
        return content.approval

    def set_content_review(self, review: ContentReview) -> None:
        self.content_review = validated(review)

    # -- accounts -------------------------------------------------------------------------------

    def account_of(self, authorization: str | None) -> tuple[AuthUsed, str]:
        """Check HTTP Basic credentials of an API whose paths name no account (the Content API): the
        account is the one whose SID, or one of whose API keys, the username is."""
        username = ""
        if authorization:
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                encoded = authorization.partition(" ")[2].strip()
                username = base64.b64decode(encoded, validate=True).decode().partition(":")[0]
        key = self.api_keys.get(username)
        account_sid = key.account_sid if key is not None else username
        return self.authenticate(authorization, account_sid), account_sid

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

    def update_callbacks(self, **changes: Any) -> CallbackSettings:
        self.set_callbacks(merged(self.callbacks, changes))
        return self.callbacks

    def set_callbacks(self, callbacks: CallbackSettings) -> None:
        self.callbacks = validated(callbacks)

    def new_sid(self, prefix: str) -> str:
        return prefix + uuid.UUID(int=self.rng.getrandbits(128), version=4).hex


def content_texts(value: object) -> list[str]:
    """Every text inside a Content resource's types (what WhatsApp's review reads)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in content_texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in content_texts(item)]
    return []


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
