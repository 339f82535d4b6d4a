"""How long a tenant keeps its messages: the policy its admins set, and the batches the workers run to
remove what outlived it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from application.audit_entries import audit_entry
from application.authorization import require_tenant_admin
from application.errors import MediaStorageUnavailable, StorageUnavailable
from application.ports.clock import Clock
from application.ports.media_store import MediaStore
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.transactions import ConflictRetry
from domain.administration.audit import AuditAction, TargetKind
from domain.messaging.retention import RemovedData, RetentionMode, RetentionPolicy

logger = logging.getLogger(__name__)

# Messages one batch removes (one transaction: its locks and its WAL stay small), and the batches of one
# tenant a round runs at most: the rest waits for the next round, so one tenant's backlog neither holds
# a transaction open for long nor starves the others.
RETENTION_BATCH_SIZE = 500
RETENTION_BATCHES_PER_ROUND = 20


@dataclass(frozen=True, slots=True)
class SetRetention:
    """``days`` None: the tenant keeps everything (its policy is removed)."""

    principal: Principal
    days: int | None
    mode: RetentionMode = RetentionMode.REDACT


class GetRetentionPolicy:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> RetentionPolicy | None:
        require_tenant_admin(principal, "only tenant admins read their tenant's retention policy")
        async with self._uow:
            return await self._uow.retention.get_policy(principal.tenant_id)


class SetRetentionPolicy:
    """Set, change or remove the tenant's policy; the next rounds of the workers apply it."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: SetRetention) -> RetentionPolicy | None:
        principal = command.principal
        require_tenant_admin(principal, "only tenant admins set their tenant's retention policy")
        now = self._clock.now()
        policy = (
            None
            if command.days is None
            else RetentionPolicy(
                tenant_id=principal.tenant_id, days=command.days, mode=command.mode, updated_at=now
            )
        )
        async with self._uow:
            if policy is None:
                await self._uow.retention.remove_policy(principal.tenant_id)
                details: dict[str, object] = {"days": "forever"}
            else:
                await self._uow.retention.save_policy(policy)
                details = {"days": policy.days, "mode": policy.mode.value}
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.RETENTION_SET,
                    principal,
                    now=now,
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.RETENTION_POLICY, principal.tenant_id),
                    details=details,
                )
            )
            await self._uow.commit()
        return policy


class ApplyRetention:
    """One round of the retention, for every tenant with a policy: bounded batches of its messages past
    the horizon redacted or deleted, each batch its own transaction, then their media files removed from
    the store. How many messages went, all tenants together."""

    def __init__(
        self,
        uow: UnitOfWork,
        store: MediaStore,
        clock: Clock,
        *,
        batch_size: int = RETENTION_BATCH_SIZE,
        max_batches: int = RETENTION_BATCHES_PER_ROUND,
    ) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock
        self._batch_size = batch_size
        self._max_batches = max_batches
        # SQLite gives up a batch that collided with another process's: it is safe to run again.
        self._retry = ConflictRetry()

    async def __call__(self) -> int:
        async with self._uow:
            policies = await self._uow.retention.policies()
        removed = 0
        for policy in policies:
            try:
                removed += await self._apply(policy)
            except StorageUnavailable:
                raise  # the database is gone for every tenant: the round ends
            except Exception:
                # One tenant's failure (a row a batch cannot handle, say) keeps no other tenant waiting.
                logger.exception("retention of tenant %s failed, tried again next round", policy.tenant_id)
        return removed

    async def _apply(self, policy: RetentionPolicy) -> int:
        removed = 0
        for _ in range(self._max_batches):
            batch = await self._batch(policy)
            removed += batch.counts.get("messages", 0)
            await remove_files(self._store, batch.media_keys)
            if batch.counts.get("messages", 0) < self._batch_size:
                break
        return removed

    async def _batch(self, policy: RetentionPolicy) -> RemovedData:
        return await self._retry.run(lambda: self._batch_once(policy))

    async def _batch_once(self, policy: RetentionPolicy) -> RemovedData:
        now = self._clock.now()
        async with self._uow:
            if policy.mode is RetentionMode.DELETE:
                batch = await self._uow.retention.delete_expired(policy, now, self._batch_size)
            else:
                batch = await self._uow.retention.redact_expired(policy, now, self._batch_size)
            await self._uow.commit()
        return batch


async def remove_files(store: MediaStore, keys: Iterable[str]) -> int:
    """Delete the files of media records removed (and committed) already: how many could not be. A file
    that cannot be deleted now is logged and left; no record names it any more, so nothing serves it."""
    failed = 0
    for key in keys:
        try:
            await store.delete(key)
        except MediaStorageUnavailable:
            failed += 1
            logger.warning("a removed media file could not be deleted from the media store: %s", key)
    return failed
