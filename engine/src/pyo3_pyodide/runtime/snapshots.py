"""Where wasm_test keeps its memory snapshots of Pyodide, and which one a run uses.

Booting Pyodide and importing pytest is most of a warm `nox -s wasm_test` (4 s and 1.5 s of 7.5 s on the
2-core machine); restoring a snapshot of that state takes under a second. run_pytest.mjs makes the
snapshot in a Pyodide instance of its own (booted with `_makeSnapshot`, the test run's pure wheels
unpacked, pytest and its default plugins imported, nothing else: no extension module, whose wasm a
snapshot cannot hold), then restores it for the tests; later runs only restore it. The tests always get
an instance restored from a snapshot (or, where that fails, booted from scratch), never the maker.

A snapshot holds Pyodide's memory, not its files: every run still installs all its wheels and checks
them, as without a snapshot.

The key: the runtime (its version and folder), the runner (which holds the recipe) and the pure
wheels (sha256). Layout: <cache>/snapshots/<pyodide version>/<key>.bin, the newest KEEP per release kept.
Pyodide's snapshot API is private (`_makeSnapshot`, `_loadSnapshot`); where a release lacks it, or
refuses a snapshot, the runner says so, boots from scratch and (after a refusal) deletes the file.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.cache import SNAPSHOTS, STALE_SECONDS
from pyo3_pyodide.runtime_info import Runtime
from pyo3_pyodide.wheel import tags as wheel_tags

KEEP = 4  # snapshots per release (several projects, or a lock that changes back and forth)
# What a snapshot is made by: the runner, and the Python it runs inside Pyodide.
RECIPE = [Path(__file__).with_name(name) for name in ("run_pytest.mjs", "inside_pyodide.py")]


def is_pure(wheel: Path) -> bool:
    """A wheel without compiled code: the only kind a snapshot may hold imported."""
    return wheel_tags.is_pure(wheel.name)


def snapshot_key(runtime: Runtime, wheels: list[Path]) -> str:
    digest = hashlib.sha256()
    # the runtime's folder is written once (npm.py); Pyodide itself refuses a snapshot of another build
    parts = [runtime.release.version, str(runtime.folder), *map(files.sha256_of, RECIPE)]
    parts += [f"{wheel.name}={files.sha256_of(wheel)}" for wheel in sorted(wheels)]
    digest.update("\n".join(parts).encode())
    return digest.hexdigest()[:32]


def release_folder(version: str) -> Path:
    """The snapshots of one Pyodide release."""
    return SNAPSHOTS.path / version


def snapshot_file(runtime: Runtime, wheels: list[Path]) -> Path:
    """The snapshot for these test wheels in this runtime (which may not exist yet); older ones of the
    same release beyond the newest KEEP are deleted, and an existing one is marked as just used."""
    folder = release_folder(runtime.release.version)
    path = folder / f"{snapshot_key(runtime, [wheel for wheel in wheels if is_pure(wheel)])}.bin"
    if path.is_file():
        path.touch()
    prune(folder, keep=path)
    return path


def prune(folder: Path, keep: Path) -> None:
    for partial in folder.glob("*.part"):  # a runner killed while writing; one writing now is younger
        if time.time() - partial.stat().st_mtime > STALE_SECONDS:
            partial.unlink(missing_ok=True)
    others = sorted(
        (path for path in folder.glob("*.bin") if path != keep),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for old in others[KEEP - 1 :]:
        old.unlink(missing_ok=True)
