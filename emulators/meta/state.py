"""Everything the emulator holds while it runs: accounts, messages, media, what it received and posted."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from emulators.common.settings import merged, validated
from emulators.common.state import EmulatorStateBase, PostedWebhook, RequestRecord, utcnow
from emulators.meta.config import (
    App,
    Business,
    EmulatorConfig,
    Faults,
    ForcedError,
    PhoneNumber,
    SessionWindow,
    TemplateReview,
    WebhookSettings,
    digits,
)
from emulators.meta.errors import ResolvedError
from emulators.meta.templates import TemplateRecord


class AuthKind(enum.StrEnum):
    VALID = "valid"  # a live access token of the business that owns the object
    MISSING = "missing"
    INVALID = "invalid"  # no such token, or not a Bearer token
    EXPIRED = "expired"
    FOREIGN = "foreign"  # a live token, but of another business: the object "does not exist" for it


@dataclass(frozen=True, slots=True)
class AuthUsed:
    kind: AuthKind
    token: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind is AuthKind.VALID


@dataclass(frozen=True, slots=True)
class Line:
    """A business phone number with what it belongs to."""

    phone_number_id: str
    waba_id: str
    number: PhoneNumber
    business: Business
    app_id: str

    @property
    def display_phone_number(self) -> str:
        return self.number.display_phone_number


@dataclass(slots=True)
class StatusEvent:
    status: str
    timestamp: int


@dataclass(slots=True)
class MessageRecord:
    """A message sent through the Cloud API, as the emulator keeps it."""

    id: str  # the wamid
    phone_number_id: str
    waba_id: str
    to: str  # as the request gave it
    wa_id: str
    type: str
    request: dict[str, Any]  # the whole JSON body of the send
    category: str  # pricing category: service, utility, marketing, authentication
    created_at: int
    billable: bool = False
    pricing_type: str = "free_customer_service"  # or "regular"
    conversation: tuple[str, int] | None = None  # (id, expiry) once it was sent
    status: str = "accepted"
    biz_opaque_callback_data: str | None = None
    context_message_id: str | None = None
    error: ResolvedError | None = None
    history: list[StatusEvent] = field(default_factory=list)
    token: str | None = None


@dataclass(slots=True)
class InboundRecord:
    """A message a customer sent to a business number (through the inbound simulation)."""

    id: str
    phone_number_id: str
    wa_id: str
    type: str
    message: dict[str, Any]  # the message object as the webhook carried it
    timestamp: int
    read: bool = False


@dataclass(slots=True)
class MediaRecord:
    id: str
    phone_number_id: str
    waba_id: str
    mime_type: str
    content: bytes
    created_at: int
    filename: str | None = None
    deleted: bool = False

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def sha256_base64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.content).digest()).decode()


@dataclass(frozen=True, slots=True)
class MediaUrl:
    media_id: str
    expires_at: float


@dataclass(slots=True, kw_only=True)
class ReceivedRequest(RequestRecord):
    """One request to the Graph API, kept with its raw content for assertions."""

    version: str | None
    object_id: str
    auth: AuthUsed
    body: Any = None  # the decoded JSON body, if it was JSON
    form: dict[str, str] = field(default_factory=dict)  # a multipart upload's fields (the file's name)
    message_id: str | None = None
    media_id: str | None = None


@dataclass(slots=True, kw_only=True)
class Delivery(PostedWebhook):
    """One webhook POST the emulator made (one attempt of it); ``kind`` is "status", "inbound", or
    "batch" when it carries several events."""

    app_id: str
    body: str  # the raw JSON, exactly as signed
    signature: str  # the X-Hub-Signature-256 header value
    message_ids: tuple[str, ...]
    statuses: tuple[str, ...]
    attempt: int = 1
    # A template webhook's (template id, event or new quality score) pairs.
    template_events: tuple[tuple[str, str], ...] = ()

    @property
    def payload(self) -> Any:
        return msgspec.json.decode(self.body)

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass(slots=True)
class ReadReceipt:
    message_id: str
    phone_number_id: str
    typing_indicator: str | None
    at: int


@dataclass(slots=True)
class _Data:
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    inbound: dict[str, InboundRecord] = field(default_factory=dict)
    media: dict[str, MediaRecord] = field(default_factory=dict)
    media_urls: dict[str, MediaUrl] = field(default_factory=dict)
    reads: list[ReadReceipt] = field(default_factory=list)
    windows: dict[tuple[str, str], float] = field(default_factory=dict)
    conversations: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    templates: dict[str, TemplateRecord] = field(default_factory=dict)


_WAMID_ALPHABET = "0123456789ABCDEF"


class EmulatorState(EmulatorStateBase[Faults, ReceivedRequest, Delivery]):
    """The running emulator's state. Tests may read it directly; change it through the methods."""

    config: EmulatorConfig

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        super().__init__(validated(config or EmulatorConfig()))

    def _load(self) -> None:
        super()._load()
        config = self.config
        self.clock_offset = 0.0
        self.apps: dict[str, App] = dict(config.apps)
        self.businesses: dict[str, Business] = dict(config.businesses)
        self.wa_ids: dict[str, str] = {digits(k): digits(v) for k, v in config.wa_ids.items()}
        self.webhooks: WebhookSettings = config.webhooks
        self.session_window: SessionWindow = config.session_window
        self.template_review: TemplateReview = config.template_review
        self._index()
        self._data = _Data()

    def _index(self) -> None:
        self._lines: dict[str, Line] = {}
        self._tokens: dict[str, tuple[str, bool]] = {}  # token → (WABA id, expired)
        for waba_id, business in self.businesses.items():
            for phone_number_id, number in business.phone_numbers.items():
                self._lines[phone_number_id] = Line(
                    phone_number_id, waba_id, number, business, business.app_id
                )
            for token in business.access_tokens:
                self._tokens[token] = (waba_id, False)
            for token in business.expired_tokens:
                self._tokens[token] = (waba_id, True)

    # -- the clock ------------------------------------------------------------------------------

    def now(self) -> float:
        """Unix time as the emulator sees it (``advance_clock`` moves it forward)."""
        return time.time() + self.clock_offset

    def timestamp(self) -> int:
        return int(self.now())

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward: media URLs expire, customer windows close."""
        self.clock_offset += seconds
        return self.now()

    # -- what was received and sent -------------------------------------------------------------

    @property
    def messages(self) -> dict[str, MessageRecord]:
        return self._data.messages

    @property
    def inbound(self) -> dict[str, InboundRecord]:
        return self._data.inbound

    @property
    def media(self) -> dict[str, MediaRecord]:
        return self._data.media

    @property
    def reads(self) -> list[ReadReceipt]:
        return list(self._data.reads)

    def status_webhooks(self, message_id: str | None = None) -> list[Delivery]:
        return [
            d for d in self.deliveries if d.statuses and (message_id is None or message_id in d.message_ids)
        ]

    def record_request(
        self,
        *,
        method: str,
        path: str,
        version: str | None,
        object_id: str,
        auth: AuthUsed,
        body: Any = None,
        form: dict[str, str] | None = None,
    ) -> ReceivedRequest:
        record = ReceivedRequest(
            id=self._next_request_id(),
            received_at=utcnow(),
            method=method,
            path=path,
            version=version,
            object_id=object_id,
            auth=auth,
            body=body,
            form=form or {},
        )
        return self._keep_request(record)

    def finish_request(
        self,
        record: ReceivedRequest,
        outcome: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        message_id: str | None = None,
    ) -> None:
        if message_id is not None:
            record.message_id = message_id
        super().finish_request(record, outcome, http_status=http_status, error_code=error_code)

    def record_delivery(self, delivery: Delivery) -> None:
        super().record_delivery(delivery)
        self.stats[f"webhooks.{delivery.kind}.{'ok' if delivery.ok else 'failed'}"] += 1

    def add_message(self, message: MessageRecord) -> None:
        self._data.messages[message.id] = message

    def add_inbound(self, message: InboundRecord) -> None:
        self._data.inbound[message.id] = message
        self.record_customer_message(message.phone_number_id, message.wa_id, message.timestamp)

    def add_read(self, receipt: ReadReceipt) -> None:
        self._data.reads.append(receipt)
        inbound = self._data.inbound.get(receipt.message_id)
        if inbound is not None:
            inbound.read = True

    # -- media ----------------------------------------------------------------------------------

    def add_media(self, media: MediaRecord) -> None:
        self._data.media[media.id] = media

    def live_media(self, media_id: str) -> MediaRecord | None:
        media = self._data.media.get(media_id)
        return media if media is not None and not media.deleted else None

    def issue_media_url(self, media_id: str) -> tuple[str, MediaUrl]:
        """A new download handle for ``media_id``, valid for ``media_url_ttl_seconds``."""
        handle = base64.urlsafe_b64encode(self.rng.randbytes(18)).decode()
        url = MediaUrl(media_id=media_id, expires_at=self.now() + self.config.media_url_ttl_seconds)
        self._data.media_urls[handle] = url
        return handle, url

    def media_url(self, handle: str) -> MediaUrl | None:
        return self._data.media_urls.get(handle)

    # -- directory ------------------------------------------------------------------------------

    def line(self, phone_number_id: str) -> Line | None:
        return self._lines.get(phone_number_id)

    @property
    def lines(self) -> list[Line]:
        return list(self._lines.values())

    def authenticate(self, authorization: str | None, waba_id: str | None) -> AuthUsed:
        """Check ``Authorization: Bearer <token>`` for an object of business ``waba_id``."""
        if not authorization:
            return AuthUsed(AuthKind.MISSING)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return AuthUsed(AuthKind.INVALID)
        owner = next((v for k, v in self._tokens.items() if hmac.compare_digest(k, token)), None)
        if owner is None:
            return AuthUsed(AuthKind.INVALID, token)
        token_waba, expired = owner
        if expired:
            return AuthUsed(AuthKind.EXPIRED, token)
        if waba_id is not None and token_waba != waba_id:
            return AuthUsed(AuthKind.FOREIGN, token)
        return AuthUsed(AuthKind.VALID, token)

    def wa_id_of(self, number: str) -> str:
        """The WhatsApp id a number resolves to (its digits, unless ``wa_ids`` says otherwise)."""
        plain = digits(number)
        return self.wa_ids.get(plain, plain)

    def add_app(self, app_id: str, app: App) -> None:
        self.apps[app_id] = validated(app)

    def add_business(self, waba_id: str, business: Business) -> None:
        """Add or replace a business account (its app must exist)."""
        business = validated(business)
        if business.app_id not in self.apps:
            raise LookupError(f"no app {business.app_id!r}")
        for phone_number_id in business.phone_numbers:
            line = self._lines.get(phone_number_id)
            if line is not None and line.waba_id != waba_id:
                raise LookupError(f"phone number id {phone_number_id} belongs to business {line.waba_id}")
        self.businesses[waba_id] = business
        self._index()

    def expire_token(self, token: str) -> bool:
        """Make a live token answer error 190 from now on; False if no business has it."""
        for waba_id, business in self.businesses.items():
            if token in business.access_tokens:
                self.businesses[waba_id] = msgspec.structs.replace(
                    business,
                    access_tokens=tuple(t for t in business.access_tokens if t != token),
                    expired_tokens=(*business.expired_tokens, token),
                )
                self._index()
                return True
        return False

    def callback_of(self, line: Line) -> tuple[str | None, App]:
        """Where ``line``'s webhooks go, and the app that signs them."""
        app = self.apps[line.app_id]
        return line.business.callback_url or app.callback_url, app

    # -- message templates ----------------------------------------------------------------------

    @property
    def templates(self) -> dict[str, TemplateRecord]:
        """Every message template created (through the API or the console), by its id."""
        return self._data.templates

    def add_template(self, template: TemplateRecord) -> None:
        self._data.templates[template.id] = template

    def templates_of(self, waba_id: str) -> list[TemplateRecord]:
        """The business account's templates, oldest first (the ones being deleted too)."""
        return [t for t in self._data.templates.values() if t.waba_id == waba_id]

    def template_named(self, waba_id: str, name: str, language: str) -> TemplateRecord | None:
        return next(
            (t for t in self.templates_of(waba_id) if t.name == name and t.language == language), None
        )

    def live_template(self, template_id: str) -> TemplateRecord | None:
        template = self._data.templates.get(template_id)
        return template if template is not None and template.live else None

    def remove_template(self, template: TemplateRecord) -> None:
        self._data.templates.pop(template.id, None)

    def due_reviews(self) -> list[TemplateRecord]:
        """The pending templates whose review time has come on the emulator's clock."""
        now = self.now()
        return [
            t
            for t in self._data.templates.values()
            if t.status == "PENDING" and t.review_due_at is not None and t.review_due_at <= now
        ]

    def new_template_id(self) -> str:
        return str(self.rng.randrange(10**15, 10**16))

    def set_template_review(self, review: TemplateReview) -> None:
        self.template_review = validated(review)

    # -- the customer-service window ------------------------------------------------------------

    def record_customer_message(self, phone_number_id: str, wa_id: str, at: float) -> None:
        key = (phone_number_id, wa_id)
        self._data.windows[key] = max(at, self._data.windows.get(key, at))

    def set_customer_window(self, phone_number_id: str, wa_id: str, last_message_at: float | None) -> None:
        """Say when the customer last wrote to this number (None: never)."""
        if last_message_at is None:
            self._data.windows.pop((phone_number_id, wa_id), None)
        else:
            self._data.windows[(phone_number_id, wa_id)] = last_message_at

    def last_customer_message(self, phone_number_id: str, wa_id: str) -> float | None:
        return self._data.windows.get((phone_number_id, wa_id))

    def window_open(self, phone_number_id: str, wa_id: str) -> bool:
        last = self.last_customer_message(phone_number_id, wa_id)
        return last is not None and self.now() - last < self.session_window.hours * 3600

    def conversation(self, phone_number_id: str, wa_id: str, category: str) -> tuple[str, int]:
        """The conversation (id, expiry) a message of ``category`` falls in; a new one every 24 h."""
        key = (phone_number_id, wa_id, category)
        current = self._data.conversations.get(key)
        if current is None or current[1] <= self.now():
            current = (self.rng.randbytes(16).hex(), self.timestamp() + 24 * 3600)
            self._data.conversations[key] = current
        return current

    # -- behaviour ------------------------------------------------------------------------------

    def take_next_error(self) -> ForcedError | None:
        """The first of ``next_errors``, used up."""
        if not self.faults.next_errors:
            return None
        first, *rest = self.faults.next_errors
        self.faults = msgspec.structs.replace(self.faults, next_errors=tuple(rest))
        return first

    def set_webhooks(self, settings: WebhookSettings) -> None:
        self.webhooks = validated(settings)

    def update_webhooks(self, **changes: Any) -> WebhookSettings:
        self.set_webhooks(merged(self.webhooks, changes))
        return self.webhooks

    def set_session_window(self, window: SessionWindow) -> None:
        self.session_window = validated(window)

    def update_session_window(self, **changes: Any) -> SessionWindow:
        self.set_session_window(merged(self.session_window, changes))
        return self.session_window

    # -- ids ------------------------------------------------------------------------------------

    def new_wamid(self, wa_id: str) -> str:
        """A WhatsApp message id: ``wamid.`` and base64 of the customer's number and a random key."""
        key = "".join(self.rng.choice(_WAMID_ALPHABET) for _ in range(32))
        raw = b"\x18" + bytes([len(wa_id)]) + wa_id.encode() + b"\x15\x02\x00\x11\x18\x20" + key.encode()
        return "wamid." + base64.b64encode(raw).decode()

    def new_media_id(self) -> str:
        return str(self.rng.randrange(10**15, 10**16))

    def new_fbtrace_id(self) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(17)).decode().rstrip("=")
