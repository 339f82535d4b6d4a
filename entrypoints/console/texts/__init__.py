"""The console's Spanish texts, one module per area, keyed by the English text they translate."""

from __future__ import annotations

from collections.abc import Mapping

from entrypoints.console.texts import (
    administration,
    campaigns,
    common,
    contacts,
    inbox,
    messages,
    platform,
    templates,
)

SPANISH: Mapping[str, str] = {
    **common.SPANISH,
    **inbox.SPANISH,
    **messages.SPANISH,
    **templates.SPANISH,
    **administration.SPANISH,
    **platform.SPANISH,
    **contacts.SPANISH,
    **campaigns.SPANISH,
}
