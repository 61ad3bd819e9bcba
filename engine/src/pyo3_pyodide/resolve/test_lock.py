"""The test lock, tests/wasm_test.lock: per Pyodide release, the wheels `nox -s wasm_test` installs
beside the project's own, as pip resolved them for that release (commit it: every machine then tests with
the same wheels)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.console import console
from pyo3_pyodide.resolve.pip import LockedWheel, ResolveError, cached_wheels, lock_inputs, resolve
from pyo3_pyodide.runtime.npm import Runtime

TEST_LOCK_FILE = Path("tests") / "wasm_test.lock"
LOCK_HEADER = """\
# The wheels that `nox -s wasm_test` installs into Pyodide beside this project's own, per Pyodide release:
# pip's resolution of the test dependencies for that release's Python and platform tags. wasm_test writes
# a section whenever its inputs (python, platforms, micropip, requirements) change; commit this file, so
# that every machine tests with the same wheels. `nox -s wasm_test -- --relock` resolves them again.
"""


def read_test_lock(path: Path) -> dict[str, dict]:
    """The lock file's sections by Pyodide release (empty when there is no lock file yet)."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("release", {})
    except tomllib.TOMLDecodeError as error:
        raise ResolveError(
            f"{path} is not valid TOML ({error}); delete it, and `nox -s wasm_test` writes it again"
        ) from None


def format_test_lock(sections: dict[str, dict]) -> str:
    quote = json.dumps  # a JSON string is a TOML basic string
    lines = [LOCK_HEADER]
    for version in sorted(sections):
        section = sections[version]
        lines.append(f"[release.{quote(version)}]")
        lines.append(f"python = {quote(section['python'])}")
        lines.append(f"platforms = [{', '.join(map(quote, section['platforms']))}]")
        lines.append(f"micropip = {quote(section['micropip'])}")
        lines.append(f"requirements = [{', '.join(map(quote, section['requirements']))}]")
        lines.append("wheels = [")
        for wheel in section["wheels"]:
            fields = ", ".join(f"{key} = {quote(value)}" for key, value in wheel.items())
            lines.append(f"    {{ {fields} }},")
        lines += ["]", ""]
    return "\n".join(lines)


def write_test_lock(path: Path, sections: dict[str, dict]) -> None:
    files.write_text(path, format_test_lock(sections))


def dependency_wheels(
    project_dir: Path, runtime: Runtime, requirements: list[str], relock: bool = False
) -> list[Path]:
    """The wheels to install for the tests, per the lock file; resolved again when its inputs changed."""
    lock_path = project_dir / TEST_LOCK_FILE
    sections = read_test_lock(lock_path)
    inputs = lock_inputs(runtime, [*requirements, f"micropip=={runtime.micropip}"])
    section = sections.get(runtime.release.version)
    if relock or section is None or {key: section.get(key) for key in inputs} != inputs:
        locked = resolve(runtime, inputs["requirements"])
        section = {**inputs, "wheels": [dataclasses.asdict(wheel) for wheel in locked]}
        write_test_lock(lock_path, {**sections, runtime.release.version: section})
        console.print(f"wrote {lock_path} for Pyodide {runtime.release.version}")
    return cached_wheels([LockedWheel(**wheel) for wheel in section["wheels"]], runtime)
