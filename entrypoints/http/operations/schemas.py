"""Operations on the wire: what a probe answers."""

from __future__ import annotations

from typing import Literal

import msgspec


class HealthStatus(msgspec.Struct):
    status: Literal["ok"] = "ok"
