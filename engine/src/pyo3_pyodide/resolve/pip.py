"""pip, asked for the wheels a Pyodide runtime takes: pure ones and ones tagged for its platform.

The wheels land in the per-user wheel cache (verified by sha256 on every use), so that a warm run
needs no network. Used for the tests' dependencies (test_lock.py) and for the pyodide-lock (apps/).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from pyo3_pyodide import files
from pyo3_pyodide.cache import cache_dir
from pyo3_pyodide.console import console
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.runtime.npm import Runtime


class ResolveError(Exception):
    """pip could not give the wheels asked for; the message says what pip said and the fix."""


@dataclasses.dataclass(frozen=True)
class LockedWheel:
    name: str
    version: str
    file: str
    sha256: str


def requirement(line: str) -> Requirement:
    try:
        return Requirement(line)
    except InvalidRequirement:
        raise ResolveError(
            f"{line!r} is not a requirement (PEP 508); fix it in pyproject.toml's dependency groups"
        ) from None


def requirement_name(line: str) -> str:
    return canonicalize_name(requirement(line).name)


def lock_inputs(runtime: Runtime, requirements: Iterable[str]) -> dict:
    """What a lock section is resolved from: when any of it changes, the section is resolved again."""
    return {
        "python": ".".join(runtime.python.split(".")[:2]),
        "platforms": runtime.platform_tags(),
        "micropip": runtime.micropip,
        "requirements": sorted({str(requirement(line)) for line in requirements}),
    }


def pip_target_options(runtime: Runtime) -> list[str]:
    """pip's options that select wheels for the runtime instead of this machine."""
    python = ".".join(runtime.python.split(".")[:2])
    options = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    options += ["--abi", runtime.python_tag]
    for platform in runtime.platform_tags():
        options += ["--platform", platform]
    return options


def run_pip(arguments: list[str], what: str) -> None:
    command = [sys.executable, "-m", "pip", *arguments, "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    if "No module named pip" in result.stderr:
        raise ResolveError(
            f"{sys.executable} (the Python running nox) has no pip, which wasm_test uses to resolve "
            f"the test wheels: install it with `{sys.executable} -m ensurepip`"
        )
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    raise ResolveError(
        f"pip could not {what}:\n{result.stderr.strip()}\n"
        f"pip asked {index}. Only pure wheels and wheels built for this Pyodide platform install "
        "into Pyodide: keep requirements that need another platform out of the `wasm-test` "
        "dependency group (wasm_test reads it instead of `test` when pyproject.toml has it)"
    )


def wheel_cache() -> Path:
    return cache_dir() / "wheels"


def resolve(runtime: Runtime, requirements: list[str]) -> list[LockedWheel]:
    """pip's resolution of `requirements` for `runtime`; the wheels end in the cache."""
    console.print(f"resolving {', '.join(requirements)} for {runtime.describe()} with pip")
    with tempfile.TemporaryDirectory() as folder:
        options = pip_target_options(runtime)
        what = f"resolve {', '.join(requirements)} for {runtime.describe()}"
        run_pip(["download", *options, "--dest", folder, *requirements], what)
        return [store(wheel) for wheel in sorted(Path(folder).glob("*.whl"))]


def store(wheel: Path) -> LockedWheel:
    """Move a downloaded wheel into the cache; what the lock records of it."""
    name, version, _, _ = parse_wheel_filename(wheel.name)
    digest = sha256_of(wheel)
    with files.staged_file(wheel_cache() / wheel.name) as partial:
        shutil.move(wheel, partial)
    return LockedWheel(name=str(name), version=str(version), file=wheel.name, sha256=digest)


def cached_wheels(locked: list[LockedWheel], runtime: Runtime) -> list[Path]:
    """The locked wheels' paths in the cache; pip fetches those missing (or damaged) by their sha256."""
    missing = [
        wheel
        for wheel in locked
        if not (wheel_cache() / wheel.file).is_file() or sha256_of(wheel_cache() / wheel.file) != wheel.sha256
    ]
    if missing:
        with tempfile.TemporaryDirectory() as folder:
            requirements = Path(folder) / "requirements.txt"
            requirements.write_text(
                "".join(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n" for w in missing),
                encoding="utf-8",
            )
            options = ["--no-deps", "--require-hashes", *pip_target_options(runtime)]
            what = f"download the locked wheels {', '.join(w.file for w in missing)}"
            run_pip(["download", *options, "--dest", f"{folder}/wheels", "-r", str(requirements)], what)
            for wheel in missing:
                if not (Path(folder) / "wheels" / wheel.file).is_file():
                    raise ResolveError(
                        f"pip downloaded no {wheel.file}, which the lock names; resolve again: "
                        "`nox -s wasm_test -- --relock`"
                    )
                store(Path(folder) / "wheels" / wheel.file)
    return [wheel_cache() / wheel.file for wheel in locked]
