"""The console's Spanish texts, one module per area, keyed by the English text they translate."""

from __future__ import annotations

from collections.abc import Mapping

from entrypoints.console.texts import administration, common, messages

SPANISH: Mapping[str, str] = {
    **common.SPANISH,
    **messages.SPANISH,
    **administration.SPANISH,
}
