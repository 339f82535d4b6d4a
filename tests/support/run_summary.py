"""Figures a test reports for the end of the run (how many cases it sent): pytest shows them in its
summary (the ``pytest_terminal_summary`` hook of tests/integration/conftest.py)."""

from __future__ import annotations

TERMINAL_SUMMARY: list[str] = []
