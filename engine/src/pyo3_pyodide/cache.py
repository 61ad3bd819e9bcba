"""The per-user cache that every project shares: where it is, completion markers, one writer at a time.

$PYO3_PYODIDE_CACHE, else platformdirs' user cache folder "pyo3-pyodide". The managed toolchains, the npm
runtimes and the test wheels live there; an install is finished only once its marker is written, last.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import platformdirs

from pyo3_pyodide import files

CACHE_ENV = "PYO3_PYODIDE_CACHE"
MARKER = ".pyo3-pyodide-complete.json"  # in a finished install's folder, written last


def cache_dir() -> Path:
    """The per-user cache that all projects share: $PYO3_PYODIDE_CACHE, else the platform's."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("pyo3-pyodide"))


def read_json(path: Path) -> dict | None:
    """A marker's content, or None when it is missing or unreadable (e.g. cut short)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    """Write a marker whole or not at all: readers never see half of one."""
    files.write_text(path, json.dumps(data, indent=1))


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """One writer at a time for what `lock_path` guards (several projects share the cache)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock_file:
        if fcntl is not None:  # not on Windows
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                from pyo3_pyodide.console import console  # rarely needed: not loaded up front

                console.print(f"waiting for another install or prune in {lock_path.parent} to end")
                fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield  # the lock goes with the file, also when the process is killed


def format_size(size: int) -> str:
    """A size in bytes as people read it: 1.2 GiB."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
