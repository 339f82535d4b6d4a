"""How long a tenant keeps what its messages said, and what removing it means.

A tenant without a policy keeps everything. With one, messages older than ``days`` lose their content:
in ``redact`` mode the body, media and other personal content go and the metadata stays (status,
timestamps, numbers, kind, failure code, pricing: what statistics need), marked redacted; in ``delete``
mode the whole message goes, with its status events, dispatch job and media. Only messages whose fate is
settled are touched (``RETAINABLE_STATUSES``): a message still queued or sending is never removed under
the dispatcher's feet, whatever its age.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from domain.errors import DomainError
from domain.messaging.messages import MessageStatus

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650

# Settled messages: nothing the gateway does will change them any more (a sent or delivered message may
# still be read, but an old one is as settled as it gets; accepted, queued and sending ones are still in
# the dispatcher's hands).
RETAINABLE_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
        MessageStatus.RECEIVED,
    }
)


class InvalidRetentionPolicy(DomainError):
    pass


class RetentionMode(enum.StrEnum):
    REDACT = "redact"  # remove bodies and media, keep the metadata for statistics
    DELETE = "delete"  # remove whole messages


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    tenant_id: UUID
    days: int
    mode: RetentionMode
    updated_at: datetime

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not MIN_RETENTION_DAYS <= self.days <= MAX_RETENTION_DAYS:
            raise InvalidRetentionPolicy(
                f"messages are kept {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days"
            )

    def horizon(self, now: datetime) -> datetime:
        """Messages created before this moment have outlived the policy."""
        return now - timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class RemovedData:
    """What one removal took away, counted per kind (``messages``, ``status_events``, ``media``, …), and
    the media store keys of the files whose records went with it (the files are removed after the
    transaction commits, so a rolled back removal never loses a file it still names). ``kept``: what an
    erasure leaves on purpose, counted per kind (``consent_opt_out``: the person's opt-out, so that
    nobody writes to them again)."""

    counts: dict[str, int]
    media_keys: tuple[str, ...] = ()
    kept: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
