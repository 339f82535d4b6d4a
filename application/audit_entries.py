"""Building audit entries from what a use case already has: its actor, the time, and the request it
serves (the request id bound to the log context by the entrypoint; the address on the principal)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from application.authorization import Actor, Operator
from application.log_context import current_log_context
from domain.administration.audit import (
    OPERATOR_ACTOR,
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditTarget,
    TargetKind,
)


def audit_actor(actor: Actor) -> AuditActor:
    if isinstance(actor, Operator):
        return OPERATOR_ACTOR
    if actor.user_id is not None:
        return AuditActor(kind=ActorKind.USER, id=actor.user_id, role=actor.role)
    return AuditActor(kind=ActorKind.API_KEY, id=actor.api_key_id, role=actor.role)


def audit_entry(
    action: AuditAction,
    actor: Actor | AuditActor,
    *,
    now: datetime,
    tenant_id: UUID | None,
    target: tuple[TargetKind, UUID | str | None] | None = None,
    details: Mapping[str, object] | None = None,
    client_address: str | None = None,
) -> AuditEntry:
    """An entry for ``action`` by ``actor``; the address is the principal's unless given."""
    if client_address is None and not isinstance(actor, AuditActor | Operator):
        client_address = actor.client_address
    return AuditEntry(
        action=action,
        occurred_at=now,
        actor=actor if isinstance(actor, AuditActor) else audit_actor(actor),
        tenant_id=tenant_id,
        target=(
            AuditTarget(kind=target[0], id=str(target[1]) if target[1] is not None else None)
            if target
            else None
        ),
        client_address=client_address,
        request_id=current_log_context().get("request_id"),
        details={name: str(value) for name, value in (details or {}).items()},
    )
