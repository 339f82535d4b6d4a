from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.errors import AccessDenied, NoDefaultSender, NotFound, UnknownSender
from application.ports import Clock, MessagingProvider, OutboundRequest, OutcomeKind, SendOutcome, UnitOfWork
from domain.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class SendMessageCommand:
    tenant_id: UUID
    to_number: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    from_number: str | None = None


class SendMessage:
    """Store an outbound message, then hand it to the tenant's messaging provider.

    The message is committed before the provider is called, so a crash in between leaves a record
    (status ``accepted``) rather than a message nobody knows about.
    """

    def __init__(self, uow: UnitOfWork, provider: MessagingProvider, clock: Clock) -> None:
        self._uow = uow
        self._provider = provider
        self._clock = clock

    async def __call__(self, command: SendMessageCommand) -> Message:
        contact = PhoneNumber.parse(command.to_number)
        content = MessageContent(body=command.body, media_urls=command.media_urls)
        requested_sender = PhoneNumber.parse(command.from_number) if command.from_number else None

        async with self._uow:
            tenant = await self._uow.tenants.get(command.tenant_id)
            if tenant is None:
                raise NotFound("the tenant does not exist")
            if not tenant.is_active:
                raise AccessDenied("the tenant is suspended")
            if requested_sender is not None:
                sender = await self._uow.senders.get_by_number(tenant.id, requested_sender)
                if sender is None:
                    raise UnknownSender(f"{requested_sender} is not one of this tenant's WhatsApp senders")
            else:
                sender = await self._uow.senders.get_default(tenant.id)
                if sender is None:
                    raise NoDefaultSender("the tenant has no default sender: pass from_number")
            credentials = await self._uow.tenants.get_twilio_credentials(tenant.id)
            message = Message.new_outbound(
                tenant_id=tenant.id,
                sender=sender.phone_number,
                contact=contact,
                content=content,
                now=self._clock.now(),
            )
            await self._uow.messages.add(message)
            await self._uow.commit()

        outcome = await self._provider.send(
            OutboundRequest(tenant=tenant, message=message, credentials=credentials)
        )
        message = self._apply(message, outcome)
        async with self._uow:
            await self._uow.messages.update(message)
            await self._uow.commit()
        return message

    def _apply(self, message: Message, outcome: SendOutcome) -> Message:
        now = self._clock.now()
        if outcome.kind is OutcomeKind.ACCEPTED and outcome.provider_sid:
            status = outcome.status or MessageStatus.QUEUED
            return message.handed_to_provider(outcome.provider_sid, status, now)
        if outcome.kind is OutcomeKind.UNKNOWN:
            # The provider may have taken it: leave it accepted, to be settled by its status callback.
            return message
        return message.failed(
            code=outcome.error_code, reason=outcome.reason or "the provider refused it", now=now
        )
