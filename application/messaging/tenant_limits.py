"""The limits the gateway holds a tenant to, as its admins may read them (they cannot change them: the
send limits are the platform admins' to set, the others the operator's settings). Here, beside the send
path, since most of them are its limits; the others come in as figures (``GatewayLimits``)."""

from __future__ import annotations

from dataclasses import dataclass

from application.authorization import require_tenant_admin
from application.errors import NotFound
from application.messaging.send_message import TenantSendLimits
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal


@dataclass(frozen=True, slots=True)
class SendLimit:
    """Messages the tenant may send in a window: 0 is no limit. ``own``: a limit set for this tenant by
    the platform admins, rather than the gateway's default."""

    amount: int
    own: bool


@dataclass(frozen=True, slots=True)
class TenantLimits:
    sends_per_minute: SendLimit
    sends_per_day: SendLimit
    # Messages of the tenant being handed to their providers at once; more wait their turn in the queue.
    max_in_flight: int
    # Messages each sender (a WhatsApp number) is handed to its provider per second at most.
    sender_messages_per_second: float
    max_webhook_endpoints: int
    # API requests per minute from one client address (all tenants' requests from it count).
    requests_per_minute_per_address: int
    # Failed sign-ins per minute from one client address (and per username from it).
    login_attempts_per_minute: int
    # Whether free-form messages are refused outside a contact's 24-hour session window.
    session_window_check: bool


@dataclass(frozen=True, slots=True)
class GatewayLimits:
    """The operator's settings that every tenant is held to alike."""

    max_in_flight: int
    sender_messages_per_second: float
    max_webhook_endpoints: int
    requests_per_minute_per_address: int
    login_attempts_per_minute: int


class GetTenantLimits:
    """The caller's tenant's limits, as the send path, the dispatcher and the API enforce them."""

    def __init__(self, uow: UnitOfWork, send_limits: TenantSendLimits, gateway: GatewayLimits) -> None:
        self._uow = uow
        self._send_limits = send_limits
        self._gateway = gateway

    async def __call__(self, actor: Principal) -> TenantLimits:
        require_tenant_admin(actor, "only tenant admins read their tenant's limits")
        async with self._uow:
            tenant = await self._uow.tenants.get(actor.tenant_id)
        if tenant is None:
            raise NotFound("the tenant does not exist")
        gateway = self._gateway
        return TenantLimits(
            sends_per_minute=SendLimit(
                self._send_limits.per_minute(tenant), own=tenant.sends_per_minute is not None
            ),
            sends_per_day=SendLimit(self._send_limits.per_day(tenant), own=tenant.sends_per_day is not None),
            max_in_flight=gateway.max_in_flight,
            sender_messages_per_second=gateway.sender_messages_per_second,
            max_webhook_endpoints=gateway.max_webhook_endpoints,
            requests_per_minute_per_address=gateway.requests_per_minute_per_address,
            login_attempts_per_minute=gateway.login_attempts_per_minute,
            session_window_check=tenant.enforces_session_window,
        )
