# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Pin every package the project resolves to, in pyproject.toml's ``[tool.uv]`` section.

    uv run scripts/pin_dependencies.py

Resolves the project's dependencies, every dependency group and the build system's requirements
with ``uv pip compile`` (a universal resolution: every platform and Python version the project
supports), ignoring the pins in place, and writes the result as ``constraint-dependencies`` and
``build-constraint-dependencies``. ``uv sync``, ``uv run`` and the Docker build then install exactly
these versions, whatever is newest on the day. The ranges in ``[project]`` and
``[dependency-groups]`` stay what the project accepts; run this after changing them, or to take
newer versions. Only standard library here: it must run while the current pins are unsatisfiable.
No index URL is written: the pins name versions, never where to get them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# The arrays this script owns, each written as one quoted requirement a line.
_ARRAY = r'^{name} = \[\n(?:    "[^"\n]*",\n)*\]\n'


def requirements(pyproject: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(the project's dependencies and every group's, the build system's requirements)."""
    project = pyproject.get("project", {})
    groups = pyproject.get("dependency-groups", {})
    build_system = pyproject.get("build-system", {})
    runtime = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        runtime += extra
    for group in groups.values():
        runtime += [entry for entry in group if isinstance(entry, str)]  # {include-group = …} is listed too
    return runtime, list(build_system.get("requires", []))


def compile_pins(requirements: list[str], python_version: str) -> list[str]:
    """``uv pip compile`` of ``requirements`` outside the project, so that the current pins do not apply."""
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("uv is not on PATH")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("UV_CONSTRAINT")}
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "requirements.in"
        source.write_text("\n".join(requirements) + "\n")
        result = subprocess.run(  # noqa: S603 - uv, with arguments of ours
            [
                uv,
                "pip",
                "compile",
                str(source),
                "--universal",
                "--python-version",
                python_version,
                "--no-config",
                "--no-header",
                "--no-annotate",
                "--quiet",
            ],
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        sys.exit(f"uv pip compile failed:\n{result.stderr}")
    pins = [line.strip() for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")]
    for pin in pins:
        if "==" not in pin or "://" in pin or pin.startswith("-"):
            sys.exit(f"not a version pin, refusing to write it: {pin!r}")
    return pins


def with_array(text: str, name: str, items: list[str], comment: str) -> str:
    """``text`` with the TOML array ``name`` of ``[tool.uv]`` replaced by ``items`` (added if missing)."""
    array = f"{name} = [\n" + "".join(f'    "{item}",\n' for item in items) + "]\n"
    pattern = re.compile(_ARRAY.format(name=re.escape(name)), re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _: array, text, count=1)
    start = text.find("\n[tool.uv]\n")
    if start < 0:
        sys.exit("pyproject.toml has no [tool.uv] section to write the pins in")
    end = text.find("\n[", start + 1)  # the next table, or the end of the file
    end = len(text) if end < 0 else end
    body = text[:end].rstrip("\n") + "\n"
    return body + comment + array + text[end:]


def main() -> None:
    text = PYPROJECT.read_text()
    pyproject = tomllib.loads(text)
    minimum = re.search(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"])
    if minimum is None:
        sys.exit("requires-python has no lower bound to resolve for")
    runtime, build = requirements(pyproject)
    text = with_array(
        text,
        "constraint-dependencies",
        compile_pins(runtime, minimum.group(1)),
        "# Every package the project resolves to, pinned, so that a fresh clone installs what was tested:\n"
        "# written by `uv run scripts/pin_dependencies.py` (docs/testing.md). Edit the ranges above.\n",
    )
    text = with_array(
        text,
        "build-constraint-dependencies",
        compile_pins(build, minimum.group(1)),
        "# The build backend that installs the project itself, pinned by the same command.\n",
    )
    PYPROJECT.write_text(text)
    print(f"pinned {PYPROJECT.name}: run `uv sync` to install the pinned versions")


if __name__ == "__main__":
    main()
