"""Consent on the wire: a person's state with its latest changes, ledger pages, and the policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from application.consent.management import ConsentPolicyCommand, ConsentView, LedgerPage
from domain.consent.model import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_NOTE_LENGTH,
    MAX_REPLY_LENGTH,
    ConsentChange,
    ConsentPolicy,
    ConsentState,
    KeywordMode,
)
from domain.templates.definition import TemplateCategory
from entrypoints.http.wire_types import Text

StateName = Literal["opted_in", "opted_out"]
SourceName = Literal["keyword", "api", "import", "console", "provider_button"]
CategoryName = Literal["marketing", "utility", "authentication"]
Keyword = Annotated[Text, msgspec.Meta(min_length=1, max_length=MAX_KEYWORD_LENGTH, examples=["BASTA"])]
Keywords = Annotated[list[Keyword], msgspec.Meta(max_length=MAX_KEYWORDS)]
Reply = Annotated[Text, msgspec.Meta(max_length=MAX_REPLY_LENGTH)]


class ConsentChangeResource(msgspec.Struct):
    """One entry of the ledger. `changed` is false for a change that repeated the state (a second STOP)."""

    id: str
    sequence: int
    identity: str
    number: str
    state: StateName
    source: SourceName
    actor: str
    evidence_message_id: str | None
    note: str | None
    changed: bool
    at: datetime

    @classmethod
    def of(cls, change: ConsentChange) -> ConsentChangeResource:
        return cls(
            id=str(change.id),
            sequence=change.sequence or 0,
            identity=change.identity,
            number=change.number,
            state=change.state.value,
            source=change.source.value,
            actor=change.actor,
            evidence_message_id=str(change.evidence_message_id) if change.evidence_message_id else None,
            note=change.note,
            changed=change.changed,
            at=change.at,
        )


class ConsentResource(msgspec.Struct):
    """A person's consent. `state` null: never asked (they may be messaged); `may_message` says whether
    free-form messages and templates of any category reach them."""

    number: str
    identity: str
    state: StateName | None
    source: SourceName | None
    changed_at: datetime | None
    may_message: bool
    recent_changes: list[ConsentChangeResource]

    @classmethod
    def of(cls, view: ConsentView) -> ConsentResource:
        record = view.record
        return cls(
            number=view.number.e164,
            identity=view.number.identity,
            state=record.state.value if record else None,
            source=record.source.value if record else None,
            changed_at=record.changed_at if record else None,
            may_message=record is None or record.state is ConsentState.OPTED_IN,
            recent_changes=[ConsentChangeResource.of(change) for change in view.recent],
        )


class ConsentLedgerPage(msgspec.Struct):
    items: list[ConsentChangeResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: LedgerPage) -> ConsentLedgerPage:
        return cls(
            items=[ConsentChangeResource.of(entry) for entry in page.entries], next_cursor=page.next_cursor
        )


class ConsentUpdate(msgspec.Struct, forbid_unknown_fields=True):
    state: StateName
    note: Annotated[Text, msgspec.Meta(max_length=MAX_NOTE_LENGTH)] | None = None


class ConsentPolicyBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The whole policy: what is left out takes its default."""

    opt_out_keywords: Keywords = []
    opt_in_keywords: Keywords = []
    keyword_mode: Literal["add", "replace"] = "add"
    opt_out_reply: Reply | None = None
    opt_in_reply: Reply | None = None
    allowed_categories: Annotated[list[CategoryName], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=lambda: ["authentication"]
    )

    def to_command(self) -> ConsentPolicyCommand:
        return ConsentPolicyCommand(
            opt_out_keywords=tuple(self.opt_out_keywords),
            opt_in_keywords=tuple(self.opt_in_keywords),
            keyword_mode=KeywordMode(self.keyword_mode),
            opt_out_reply=self.opt_out_reply,
            opt_in_reply=self.opt_in_reply,
            allowed_categories=frozenset(TemplateCategory(name) for name in self.allowed_categories),
        )


class ConsentPolicyResource(msgspec.Struct):
    """The policy in force, with the keywords each list recognises (the defaults counted), normalised
    (case-folded, without accents) as messages are compared with them. `updated_at` null: the defaults."""

    opt_out_keywords: list[str]
    opt_in_keywords: list[str]
    keyword_mode: Literal["add", "replace"]
    opt_out_reply: str | None
    opt_in_reply: str | None
    allowed_categories: list[CategoryName]
    recognised_opt_out: list[str]
    recognised_opt_in: list[str]
    updated_at: datetime | None

    @classmethod
    def of(cls, policy: ConsentPolicy) -> ConsentPolicyResource:
        return cls(
            opt_out_keywords=list(policy.opt_out_keywords),
            opt_in_keywords=list(policy.opt_in_keywords),
            keyword_mode=policy.keyword_mode.value,
            opt_out_reply=policy.opt_out_reply,
            opt_in_reply=policy.opt_in_reply,
            allowed_categories=sorted(c.value for c in policy.allowed_categories),
            recognised_opt_out=sorted(policy.opt_out_words),
            recognised_opt_in=sorted(policy.opt_in_words),
            updated_at=policy.updated_at,
        )


def state_of(update: ConsentUpdate) -> ConsentState:
    return ConsentState(update.state)
