"""Checking that a provider's callback really comes from the provider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class TwilioSigner:
    """Who signs a sender's Twilio webhooks: its number, its tenant's Twilio account and auth token."""

    tenant_id: UUID
    phone_number: PhoneNumber
    account_sid: str
    auth_token: str


class WebhookSignatureVerifier(Protocol):
    def is_well_formed(self, signature: str) -> bool:
        """Whether ``signature`` has the form of one of the provider's signatures (no secret needed):
        a screen that costs nothing, before anything is looked up to check it."""
        ...

    def is_valid(
        self, *, url: str, params: Mapping[str, Sequence[str]], signature: str, auth_token: str
    ) -> bool:
        """Whether ``signature`` is the provider's signature of this request, made with ``auth_token``."""
        ...
