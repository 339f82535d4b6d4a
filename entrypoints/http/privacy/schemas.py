"""Retention and a person's data over HTTP: the shapes of the requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from application.privacy.contact_data import ContactExport, ErasureReport
from domain.messaging.retention import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, RetentionMode, RetentionPolicy

RetentionDays = Annotated[
    int,
    msgspec.Meta(
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description="Messages older than this many days lose their content (or are deleted)",
        examples=[90],
    ),
]


class RetentionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``days`` null: keep everything (the policy is removed). ``mode`` ``redact`` removes bodies and
    media and keeps the metadata; ``delete`` removes whole messages."""

    days: RetentionDays | None
    mode: RetentionMode = RetentionMode.REDACT


class RetentionResource(msgspec.Struct):
    """The tenant's retention: ``days`` null when it keeps everything (then ``mode`` and ``updated_at``
    are null too)."""

    days: int | None
    mode: RetentionMode | None
    updated_at: datetime | None

    @classmethod
    def of(cls, policy: RetentionPolicy | None) -> RetentionResource:
        if policy is None:
            return cls(days=None, mode=None, updated_at=None)
        return cls(days=policy.days, mode=policy.mode, updated_at=policy.updated_at)


class ErasureResource(msgspec.Struct):
    """What an erasure removed, per kind of record, and what it kept on purpose, per kind
    (``consent_opt_out``: 1 when the person had opted out, which stays so that they are not written to
    again). ``media_files_left``: files the media store could not delete right away (their records are
    gone, so nothing serves them; the log names them)."""

    contact: str
    forms: list[str]
    removed: dict[str, int]
    kept: dict[str, int]
    media_files_left: int

    @classmethod
    def of(cls, report: ErasureReport) -> ErasureResource:
        return cls(
            contact=report.contact.identity,
            forms=list(report.contact.forms),
            removed=report.removed,
            kept=report.kept,
            media_files_left=report.media_files_left,
        )


class ContactExportResource(msgspec.Struct):
    """Everything the tenant holds about one person: ``contact`` (their contact, if any), ``consent``
    (their current consent state, if any), ``consent_ledger`` (every consent change, oldest first),
    ``conversations``, ``messages`` (both ways, oldest first, each with its status reports as
    ``timeline``), ``media`` (kept files, each with the ``url`` it is served at) and
    ``campaign_recipients`` (their places on campaigns), as stored. ``truncated``: only the newest
    messages are here."""

    contact: str
    forms: list[str]
    exported_at: datetime
    truncated: bool
    records: dict[str, list[dict[str, Any]]]

    @classmethod
    def of(cls, export: ContactExport) -> ContactExportResource:
        return cls(
            contact=export.contact.identity,
            forms=list(export.forms),
            exported_at=export.exported_at,
            truncated=export.truncated,
            records=export.records,
        )
