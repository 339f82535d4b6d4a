"""The counts the dispatch tests observed: shown at the end of the pytest run, kept in bench/results/.

Registered as a pytest plugin by a session fixture, so ``pytest_terminal_summary`` prints them without
``-s``; every record is also merged into ``bench/results/dispatch_integration.json`` at once, so a run
that is interrupted still leaves the numbers of the tests that finished.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

RESULTS_FILE = Path(__file__).resolve().parents[2] / "bench" / "results" / "dispatch_integration.json"


class DispatchReport:
    def __init__(self, path: Path = RESULTS_FILE) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}

    def record(self, name: str, counts: dict[str, Any]) -> None:
        entry = {**counts, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.entries[name] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            kept: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            kept = {}
        kept[name] = entry
        self.path.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.entries:
            return
        terminalreporter.section("dispatch: never lose, never double-send")
        for name, counts in self.entries.items():
            terminalreporter.write_line(f"{name}:")
            for key, value in counts.items():
                if key != "recorded_at":
                    terminalreporter.write_line(f"    {key}: {json.dumps(value, sort_keys=True)}")
        terminalreporter.write_line(f"(also in {self.path})")
