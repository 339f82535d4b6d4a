"""Webhooks the emulator posts — status updates of sent messages, messages customers send, and changes
of message templates (their review, status and quality) — and the verification handshake it performs
as Meta does when a callback URL is set.

Every POST is JSON signed like Meta's: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
with the app secret>`` (and the legacy ``X-Hub-Signature: sha1=...``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from emulators.common.state import utcnow
from emulators.common.webhooks import MAX_RESPONSE_TEXT, WebhookClient
from emulators.meta import templates
from emulators.meta.config import ForcedError, WebhookOrder
from emulators.meta.errors import resolve
from emulators.meta.inbound import InboundMessage, message_item
from emulators.meta.state import (
    Delivery,
    EmulatorState,
    InboundRecord,
    Line,
    MessageRecord,
    StatusEvent,
)
from emulators.meta.templates import TemplateRecord
from emulators.meta.wire import BUSINESS_ACCOUNT, Event, envelope, status_item

SIGNATURE_HEADER = "X-Hub-Signature-256"
SHA1_SIGNATURE_HEADER = "X-Hub-Signature"
USER_AGENT = "facebookexternalua"
# How often a template waiting for review looks at the emulator's clock.
_REVIEW_TICK_SECONDS = 0.05


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(app_secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """What a callback URL answered to Meta's verification request."""

    url: str
    challenge: str
    verify_token: str
    http_status: int | None
    body: str
    error: str | None = None

    @property
    def echoed(self) -> bool:
        """The URL passed: a 200 whose body is exactly the challenge."""
        return self.http_status == 200 and self.body == self.challenge


class Webhooks(WebhookClient):
    """Posts signed webhooks (statuses of sent messages, customers' messages) and performs the
    verification handshake."""

    def __init__(self, state: EmulatorState) -> None:
        super().__init__()
        self._state = state
        self._pending: dict[tuple[str, str], list[Event]] = {}

    # -- posting --------------------------------------------------------------------------------

    async def deliver(
        self,
        events: Sequence[Event],
        *,
        url: str | None = None,
        merge: bool | None = None,
        sign_with: str | None = None,
    ) -> Delivery:
        """POST ``events`` in one webhook (to their line's callback URL unless ``url``), again while
        the receiver fails and retries remain; the last attempt's Delivery."""
        line = events[0].line
        if any(event.line.app_id != line.app_id for event in events):
            raise ValueError("one webhook carries the events of one app (it is signed with its secret)")
        configured, app = self._state.callback_of(line)
        target = url or configured
        if target is None:
            raise LookupError(f"no callback URL for phone number {line.phone_number_id} (nor its app)")
        settings = self._state.webhooks
        payload = envelope(events, merge=settings.merge_changes if merge is None else merge)
        secret = sign_with if sign_with is not None else app.secret
        return await self._post_signed(
            payload,
            url=target,
            app_id=line.app_id,
            secret=secret,
            kind=events[0].kind if len(events) == 1 else "batch",
            message_ids=tuple(event.message_id for event in events),
            statuses=tuple(event.status for event in events if event.status),
        )

    async def _post_signed(
        self,
        payload: object,
        *,
        url: str,
        app_id: str,
        secret: str,
        kind: str,
        message_ids: tuple[str, ...] = (),
        statuses: tuple[str, ...] = (),
        template_events: tuple[tuple[str, str], ...] = (),
    ) -> Delivery:
        """POST ``payload`` signed with ``secret``, again while the receiver fails and retries remain;
        the last attempt's Delivery."""
        settings = self._state.webhooks
        body = msgspec.json.encode(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SHA1_SIGNATURE_HEADER: sign_sha1(secret, body),
            SIGNATURE_HEADER: sign(secret, body),
        }
        attempts = 1 + settings.retry_attempts
        for attempt in range(1, attempts + 1):
            delivery = Delivery(
                kind=kind,
                url=url,
                app_id=app_id,
                body=body.decode(),
                signature=headers[SIGNATURE_HEADER],
                message_ids=message_ids,
                statuses=statuses,
                template_events=template_events,
                sent_at=utcnow(),
                attempt=attempt,
            )
            timeout_seconds = self._state.webhooks.timeout_seconds
            await self.post_once(delivery, data=body, headers=headers, timeout_seconds=timeout_seconds)
            self._state.record_delivery(delivery)
            if delivery.ok or attempt == attempts:
                return delivery
            await asyncio.sleep(settings.retry_delay_seconds)
        raise AssertionError("unreachable: the last attempt returns")

    # -- message templates ----------------------------------------------------------------------

    def start_review(self, template: TemplateRecord) -> None:
        """Review ``template`` once ``template_review.review_seconds`` have passed on the emulator's
        clock (sooner if the clock is moved: ``review_due``)."""
        template.review_due_at = self._state.now() + self._state.template_review.review_seconds
        self._state.spawn(self._review_when_due(template))

    async def _review_when_due(self, template: TemplateRecord) -> None:
        while template.status == templates.PENDING and template.review_due_at is not None:
            remaining = template.review_due_at - self._state.now()
            if remaining <= 0:
                await self.review_due()
                return
            await asyncio.sleep(min(remaining, _REVIEW_TICK_SECONDS))

    async def review_due(self) -> list[Delivery]:
        """Decide every pending template whose review time has come, posting each one's status
        webhook; the webhooks posted."""
        posted = []
        for template in self._state.due_reviews():
            status, reason = templates.review(template, self._state.template_review)
            delivery = await self.change_template_status(template, status, reason)
            if delivery is not None:
                posted.append(delivery)
        return posted

    async def change_template_status(
        self, template: TemplateRecord, event: str, reason: str | None = None
    ) -> Delivery | None:
        """Apply a status event to ``template`` (``FLAGGED`` leaves its status, its quality low;
        ``REINSTATED`` approves it again) and post its ``message_template_status_update`` webhook; None
        when no callback URL is configured."""
        if event not in (*templates.STATUSES, *templates.CONSOLE_EVENTS):
            raise ValueError(f"event: Meta has no template event {event!r}")
        status = templates.CONSOLE_EVENTS.get(event, event)
        if status is not None:
            template.status = status
            template.review_due_at = None
            template.rejected_reason = (reason or "OTHER") if status == templates.REJECTED else "NONE"
        if event == templates.FLAGGED:
            template.quality_score = "RED"
        template.history.append((event, self._state.timestamp()))
        value = templates.status_value(template, event, reason)
        return await self._post_business_change(
            template, "message_template_status_update", value, "template_status", event
        )

    async def change_template_quality(self, template: TemplateRecord, score: str) -> Delivery | None:
        """Give ``template`` a new quality score and post its ``message_template_quality_update``."""
        if score not in templates.QUALITY_SCORES:
            raise ValueError(f"score: Meta has no quality score {score!r}")
        previous, template.quality_score = template.quality_score, score
        value = templates.quality_value(template, previous)
        return await self._post_business_change(
            template, "message_template_quality_update", value, "template_quality", score
        )

    async def _post_business_change(
        self, template: TemplateRecord, field: str, value: dict[str, Any], kind: str, word: str
    ) -> Delivery | None:
        business = self._state.businesses.get(template.waba_id)
        if business is None:
            raise LookupError(f"no business {template.waba_id}")
        app = self._state.apps[business.app_id]
        target = business.callback_url or app.callback_url
        if target is None:
            self._state.stats[f"webhooks.{kind}.unconfigured"] += 1
            return None
        payload = {
            "object": BUSINESS_ACCOUNT,
            "entry": [
                {
                    "id": template.waba_id,
                    "time": self._state.timestamp(),
                    "changes": [{"value": value, "field": field}],
                }
            ],
        }
        return await self._post_signed(
            payload,
            url=target,
            app_id=business.app_id,
            secret=app.secret,
            kind=kind,
            template_events=((template.id, word),),
        )

    # -- statuses of sent messages --------------------------------------------------------------

    def start_progression(self, message: MessageRecord) -> None:
        self._state.spawn(self._progress(message))

    async def _progress(self, message: MessageRecord) -> None:
        """Move the message through its statuses, posting a webhook for each one."""
        settings = self._state.webhooks
        faults = self._state.faults
        steps = ("failed",) if message.error is not None else settings.statuses
        held: list[Event] = []
        for status in steps:
            await asyncio.sleep(settings.step_delay_seconds)
            event = self._advance(message, status)
            if faults.webhook_order is WebhookOrder.IN_ORDER:
                await self._post_status(event, copies=1 + faults.duplicate_webhooks)
            else:
                held.append(event)
        if faults.webhook_order is WebhookOrder.REVERSED:
            held.reverse()
        elif faults.webhook_order is WebhookOrder.SHUFFLED:
            self._state.rng.shuffle(held)
        for event in held:
            await self._post_status(event, copies=1 + faults.duplicate_webhooks)

    def _advance(self, message: MessageRecord, status: str) -> Event:
        """Record ``status`` on the message; the event that reports it."""
        line = self._state.line(message.phone_number_id)
        if line is None:
            raise LookupError(f"phone number {message.phone_number_id} is gone")
        timestamp = self._state.timestamp()
        message.status = status
        message.history.append(StatusEvent(status, timestamp))
        if status in ("sent", "delivered") and message.conversation is None:
            message.conversation = self._state.conversation(
                message.phone_number_id, message.wa_id, message.category
            )
        item = status_item(
            message,
            status,
            timestamp,
            conversation=message.conversation,
            billable=message.billable,
            pricing_type=message.pricing_type,
        )
        return Event(line=line, kind="status", item=item, message_id=message.id, status=status)

    async def _post_status(self, event: Event, *, copies: int) -> None:
        configured, _ = self._state.callback_of(event.line)
        if configured is None:
            self._state.stats["webhooks.status.unconfigured"] += copies
            return
        for _ in range(copies):
            if self._state.webhooks.batch_window_seconds > 0:
                self._enqueue(configured, event)
            else:
                await self.deliver([event])

    def _enqueue(self, url: str, event: Event) -> None:
        key = (url, event.line.app_id)
        if key not in self._pending:
            self._pending[key] = []
            self._state.spawn(self._flush_later(key))
        self._pending[key].append(event)

    async def _flush_later(self, key: tuple[str, str]) -> None:
        try:
            await asyncio.sleep(self._state.webhooks.batch_window_seconds)
        finally:
            events = self._pending.pop(key, [])
        if events:
            await self.deliver(events)

    async def send_status(self, message_id: str, status: str, error: ForcedError | None = None) -> Delivery:
        """Post one status webhook for a sent message now (``failed`` with ``error``, if given)."""
        message = self._state.messages.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id}")
        if status not in ("sent", "delivered", "read", "failed"):
            raise ValueError(f"status: Meta has no status {status!r}")
        if error is not None:
            message.error = resolve(error)
        if status == "failed" and message.error is None:
            raise ValueError('a failed status needs its error (e.g. {"code": 131026})')
        return await self.deliver([self._advance(message, status)])

    # -- messages customers send ----------------------------------------------------------------

    async def send_inbound(self, message: InboundMessage) -> Delivery:
        """Post a signed webhook for a customer's message to a business number, as Meta would."""
        return await self.send_inbound_batch([message])

    async def send_inbound_batch(
        self, messages: Sequence[InboundMessage], *, merge: bool | None = None
    ) -> Delivery:
        """Post several customers' messages in one webhook (entries by business account)."""
        if not messages:
            raise ValueError("messages: give at least one")
        events = [self._inbound_event(message) for message in messages]
        first = messages[0]
        return await self.deliver(events, url=first.url, merge=merge, sign_with=first.sign_with)

    def _inbound_event(self, message: InboundMessage) -> Event:
        line = self._line(message.phone_number_id)
        item, wa_id = message_item(message, line, self._state)
        self._state.add_inbound(
            InboundRecord(
                id=item["id"],
                phone_number_id=line.phone_number_id,
                wa_id=wa_id,
                type=item["type"],
                message=item,
                timestamp=int(item["timestamp"]),
            )
        )
        contact = {"profile": {"name": message.profile_name}, "wa_id": wa_id}
        return Event(line=line, kind="inbound", item=item, contact=contact, message_id=item["id"])

    def _line(self, phone_number_id: str | None) -> Line:
        if phone_number_id is not None:
            line = self._state.line(phone_number_id)
            if line is None:
                raise LookupError(f"unknown phone number id {phone_number_id!r}")
            return line
        lines = self._state.lines
        if len(lines) != 1:
            raise LookupError("name the phone_number_id: the emulator has more than one (or none)")
        return lines[0]

    # -- the verification handshake -------------------------------------------------------------

    async def verify(
        self,
        *,
        app_id: str | None = None,
        url: str | None = None,
        verify_token: str | None = None,
        challenge: str | None = None,
    ) -> Verification:
        """``GET <callback URL>?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` as Meta
        sends it when a callback URL is saved; what came back."""
        if app_id is None and len(self._state.apps) != 1:
            raise LookupError("name the app_id: the emulator has more than one app (or none)")
        app = self._state.apps.get(app_id or next(iter(self._state.apps)))
        if app is None:
            raise LookupError(f"unknown app {app_id!r}")
        target = url or app.callback_url
        if target is None:
            raise LookupError("no url given and the app has no callback URL")
        token = app.verify_token if verify_token is None else verify_token
        challenge = challenge or str(self._state.rng.randrange(10**9, 10**10))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": token}
        session = self.session
        timeout = aiohttp.ClientTimeout(total=self._state.webhooks.timeout_seconds)
        self._state.stats["verifications"] += 1
        try:
            async with session.get(
                target, params=params, headers={"User-Agent": USER_AGENT}, timeout=timeout
            ) as reply:
                text = (await reply.text())[:MAX_RESPONSE_TEXT]
                return Verification(target, challenge, token, reply.status, text)
        except (aiohttp.ClientError, TimeoutError) as error:
            return Verification(target, challenge, token, None, "", f"{type(error).__name__}: {error}")
