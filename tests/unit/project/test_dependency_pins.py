"""The resolved dependencies are pinned in pyproject.toml (``[tool.uv] constraint-dependencies``,
written by ``uv run scripts/pin_dependencies.py``): a fresh clone installs what was tested, not what
is newest that day, and the pins name versions only, never an index or a host."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
REFRESH = "run `uv run scripts/pin_dependencies.py`"


def pins(setting: str) -> dict[str, list[Requirement]]:
    """``[tool.uv]``'s pins by package name (a package may be pinned per platform or Python version)."""
    by_name: dict[str, list[Requirement]] = defaultdict(list)
    for line in PYPROJECT["tool"]["uv"].get(setting, []):
        requirement = Requirement(line)
        by_name[canonicalize_name(requirement.name)].append(requirement)
    return by_name


def declared_dependencies() -> list[Requirement]:
    """The project's dependencies and those of every dependency group."""
    lines = list(PYPROJECT["project"]["dependencies"])
    for group in PYPROJECT.get("dependency-groups", {}).values():
        lines += [line for line in group if isinstance(line, str)]
    return [Requirement(line) for line in lines]


def assert_pinned_within_range(declared: list[Requirement], pinned: dict[str, list[Requirement]]) -> None:
    unpinned = [
        str(requirement) for requirement in declared if canonicalize_name(requirement.name) not in pinned
    ]
    assert unpinned == [], f"dependencies without a pin: {REFRESH}"
    for requirement in declared:
        for pin in pinned[canonicalize_name(requirement.name)]:
            (version,) = (clause.version for clause in pin.specifier)
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{pin} is outside {requirement}: {REFRESH}"
            )


def test_every_dependency_of_the_project_is_pinned_within_its_declared_range() -> None:
    assert_pinned_within_range(declared_dependencies(), pins("constraint-dependencies"))


def test_the_build_backend_that_installs_the_project_is_pinned_too() -> None:
    declared = [Requirement(line) for line in PYPROJECT["build-system"]["requires"]]

    assert_pinned_within_range(declared, pins("build-constraint-dependencies"))


def test_the_pins_name_exact_versions_and_no_index_or_host() -> None:
    every_pin = [
        pin
        for setting in ("constraint-dependencies", "build-constraint-dependencies")
        for group in pins(setting).values()
        for pin in group
    ]

    assert len(every_pin) > len(declared_dependencies())  # the whole resolved set, not only the direct ones
    for pin in every_pin:
        assert pin.url is None, pin
        assert "://" not in str(pin), pin
        assert [clause.operator for clause in pin.specifier] == ["=="], f"{pin} is not one exact version"
    # Nothing tells uv where to install from: the index stays whatever the machine uses.
    index_settings = {"index", "index-url", "extra-index-url", "find-links", "sources", "no-index"}
    assert index_settings.isdisjoint(PYPROJECT["tool"]["uv"])


def test_the_installed_environment_is_the_pinned_one() -> None:
    checked = 0
    for name, group in pins("constraint-dependencies").items():
        applicable = [pin for pin in group if pin.marker is None or pin.marker.evaluate()]
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a group not installed here (bench), or another platform's package
        assert [str(installed)] == [clause.version for pin in applicable for clause in pin.specifier], name
        checked += 1
    # The project's own dependencies at least are installed, so the check above really checked.
    assert checked >= len(PYPROJECT["project"]["dependencies"])
