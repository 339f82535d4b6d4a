"""Webhooks the emulator posts: a message's status callbacks, and inbound messages.

Every webhook is form-encoded and signed like Twilio's: ``X-Twilio-Signature`` is computed by the SDK's
own ``RequestValidator`` with the account's auth token over the URL and every posted field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from twilio.request_validator import RequestValidator

from emulators.common.state import utcnow
from emulators.common.webhooks import WebhookClient
from emulators.twilio.config import WHATSAPP_PREFIX, CallbackOrder, MediaFile, bare_number
from emulators.twilio.errors import ResolvedError
from emulators.twilio.state import Delivery, EmulatorState, MediaRecord, MessageRecord
from emulators.twilio.wire import inbound_params, status_callback_params

SIGNATURE_HEADER = "X-Twilio-Signature"


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's webhook signature, computed by the Twilio SDK itself."""
    validator = RequestValidator(auth_token)  # type: ignore[no-untyped-call]  # the SDK is untyped
    signature: str = validator.compute_signature(url, dict(params))  # type: ignore[no-untyped-call]
    return signature


class Webhooks(WebhookClient):
    """Posts signed webhooks: a message's status callbacks, and inbound messages."""

    def __init__(self, state: EmulatorState) -> None:
        super().__init__()
        self._state = state

    async def post(
        self,
        *,
        kind: str,
        url: str,
        params: Mapping[str, str],
        account_sid: str,
        message_sid: str,
        status: str,
        signed_url: str | None = None,
    ) -> Delivery:
        """POST ``params`` to ``url``, signed for ``signed_url`` (the URL itself unless given)."""
        token = self._state.auth_token(account_sid) or ""
        signature = sign(token, signed_url or url, params)
        delivery = Delivery(
            kind=kind,
            url=url,
            params=dict(params),
            signature=signature,
            message_sid=message_sid,
            status=status,
            sent_at=utcnow(),
        )
        headers = {
            SIGNATURE_HEADER: signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": self._state.new_sid(""),
        }
        await self.post_once(
            delivery, data=params, headers=headers, timeout_seconds=self._state.callbacks.timeout_seconds
        )
        self._state.record_delivery(delivery)
        return delivery

    async def send_inbound(
        self,
        *,
        url: str,
        from_: str,
        to: str,
        body: str = "",
        account_sid: str | None = None,
        media_urls: Sequence[str] = (),
        media_content_types: Sequence[str] = (),
        profile_name: str = "",
        extra: Mapping[str, str] | None = None,
        signed_url: str | None = None,
        media: Sequence[MediaFile] = (),
    ) -> Delivery:
        """Post an incoming WhatsApp message from ``from_`` to the tenant number ``to``, as Twilio would.

        ``account_sid`` may be left out when the emulator has one account. ``signed_url`` is the URL the
        signature covers when it differs from ``url`` (the public URL of a gateway behind a proxy).
        ``media`` are files the customer sends: each is served at a MediaUrl of the emulator's own
        (after any ``media_urls`` given as they are, typed by ``media_content_types``).
        """
        account = account_sid or self._only_account()
        if self._state.auth_token(account) is None:
            raise LookupError(f"unknown account {account!r}")
        if media and self._state.base_url is None:
            raise LookupError("the emulator does not know its own address to serve media from")
        now = utcnow()
        sid = self._state.new_sid("MM" if media_urls or media else "SM")
        files = [
            MediaRecord(
                sid=self._state.new_sid("ME"),
                account_sid=account,
                message_sid=sid,
                content_type=file.content_type,
                content=file.content,
            )
            for file in media
        ]
        given_types = list(media_content_types)[: len(media_urls)]
        given_types += ["image/jpeg"] * (len(media_urls) - len(given_types))
        message = MessageRecord(
            sid=sid,
            account_sid=account,
            to=WHATSAPP_PREFIX + bare_number(to),
            from_=WHATSAPP_PREFIX + bare_number(from_),
            body=body,
            direction="inbound",
            status="received",
            date_created=now,
            date_updated=now,
            date_sent=now,
            media_urls=(*media_urls, *(f"{self._state.base_url}{file.path}" for file in files)),
        )
        for file in files:
            self._state.add_media(file)
        self._state.add_message(message)
        params = inbound_params(
            message=message,
            profile_name=profile_name,
            media_content_types=[*given_types, *(file.content_type for file in files)]
            if files
            else media_content_types,
            extra=extra or {},
        )
        return await self.post(
            kind="inbound",
            url=url,
            params=params,
            account_sid=account,
            message_sid=message.sid,
            status="received",
            signed_url=signed_url,
        )

    def _only_account(self) -> str:
        if len(self._state.accounts) != 1:
            raise LookupError("name the account: the emulator has more than one (or none)")
        return next(iter(self._state.accounts))

    def start_progression(self, message: MessageRecord, failure: ResolvedError | None) -> None:
        self._state.spawn(self._progress(message, failure))

    async def _progress(self, message: MessageRecord, failure: ResolvedError | None) -> None:
        """Move the message through its statuses, posting a callback for each one."""
        settings = self._state.callbacks
        faults = self._state.faults
        steps = ("queued", failure.delivery_status) if failure else settings.statuses
        held: list[dict[str, str]] = []
        channel_install_sid = "XE" + message.account_sid[2:]
        for status in steps:
            await asyncio.sleep(settings.step_delay_seconds)
            _advance(message, status, failure)
            if not message.status_callback:
                continue
            params = status_callback_params(message, status, channel_install_sid)
            if faults.callback_order is CallbackOrder.IN_ORDER:
                await self._post_status(message, params, copies=1 + faults.duplicate_callbacks)
            else:
                held.append(params)
        if faults.callback_order is CallbackOrder.REVERSED:
            held.reverse()
        elif faults.callback_order is CallbackOrder.SHUFFLED:
            self._state.rng.shuffle(held)
        for params in held:
            await self._post_status(message, params, copies=1 + faults.duplicate_callbacks)

    async def _post_status(self, message: MessageRecord, params: dict[str, str], *, copies: int) -> None:
        assert message.status_callback is not None
        for _ in range(copies):
            await self.post(
                kind="status",
                url=message.status_callback,
                params=params,
                account_sid=message.account_sid,
                message_sid=message.sid,
                status=params["MessageStatus"],
            )


def _advance(message: MessageRecord, status: str, failure: ResolvedError | None) -> None:
    now = utcnow()
    message.status = status
    message.date_updated = now
    if status == "sent" and message.date_sent is None:
        message.date_sent = now
    if failure is not None and status == failure.delivery_status:
        message.error_code = failure.code
        message.error_message = failure.message
