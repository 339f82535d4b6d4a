"""Rows the repository tests write through the unit of work, and the steps they drive the queues by,
one module per repository test module, for the test modules that build on them."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.phone import PhoneNumber

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # when every repository test's story starts
OUR_NUMBER = PhoneNumber.parse("+14155238886")  # the tenant's WhatsApp number
