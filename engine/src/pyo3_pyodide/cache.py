"""The per-user cache that every project shares: where it is, its areas, completion markers, one writer at a
time, and the listing and pruning of every area (`nox -s toolchain -- --list/--prune`).

$PYO3_PYODIDE_CACHE, else platformdirs' user cache folder "pyo3-pyodide". Each area below is a folder (or a
file) of its own, named here and nowhere else: a module asks its area for the path (`NPM.path`). An install
is finished only once its marker is written, last.

An area is keyed by pins or by content. An entry of a pinned area belongs to releases (an npm runtime, an
emsdk, ...): pruning removes those that no release of the project's matrix needs. Entries keyed by content
(wheels by file name and sha256, resolutions by their inputs, ...) may serve any project: pruning keeps them.
Either way pruning removes leftovers of interrupted runs (`.part`, `.partial`, `.clone`), and never what
another process is writing: it holds the area's lock where writers take one, and elsewhere leaves alone a
leftover younger than an hour.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import platformdirs

from pyo3_pyodide import files

if TYPE_CHECKING:
    from rich.table import Table

CACHE_ENV = "PYO3_PYODIDE_CACHE"
MARKER = ".pyo3-pyodide-complete.json"  # in a finished install's folder, written last
LEFTOVERS = (".part", ".partial", ".clone")  # what a run writes before renaming it to its final name
STALE_SECONDS = 3600  # a leftover this old, in an area without a lock, belongs to no running process


def cache_dir() -> Path:
    """The per-user cache that all projects share: $PYO3_PYODIDE_CACHE, else the platform's."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("pyo3-pyodide"))


def toolchain_lock() -> Path:
    return cache_dir() / TOOLCHAIN_LOCK


@dataclasses.dataclass(frozen=True)
class Area:
    """One folder (or file) of the cache, with what it holds and how it is kept."""

    name: str  # its name in the cache folder
    holds: str  # what it holds, for the listing
    pinned: bool  # entries belong to releases of a matrix (else they are keyed by content, and kept)
    lock: str = ""  # the lock its writers hold, relative to the cache; "{entry}" stands for an entry's name
    marked: bool = False  # a finished entry holds MARKER

    @property
    def path(self) -> Path:
        return cache_dir() / self.name

    def lock_of(self, entry: Path) -> Path | None:
        """The lock that writers of `entry` hold, if any."""
        return cache_dir() / self.lock.format(entry=entry.name) if self.lock else None


TOOLCHAIN_LOCK = ".lock"  # held by the managed provider while it installs (emsdk, patches, sysroot)
NPM = Area(
    "npm",
    "npm packages: the Pyodide runtimes, the browser drivers",
    pinned=True,
    lock="npm/.lock",
    marked=True,
)
SNAPSHOTS = Area("snapshots", "memory snapshots of Pyodide with pytest imported, per release", pinned=True)
PYODIDE_PACKAGES = Area(
    "pyodide-packages",
    "each release's own packages: wheels, and package sets fetched",
    pinned=True,
    lock="pyodide-packages/{entry}/.lock",
)
EMSDK = Area(
    "emsdk",
    "emsdk at a pinned Emscripten, with Pyodide's patches",
    pinned=True,
    lock=TOOLCHAIN_LOCK,
    marked=True,
)
XBUILDENV = Area(
    "xbuildenv",
    "Pyodide's Emscripten patches, per cross-build environment",
    pinned=True,
    lock=TOOLCHAIN_LOCK,
    marked=True,
)
RUST_SYSROOT = Area(
    "rust-sysroot", "the sha256 recorded at a sysroot's first download", pinned=True, lock=TOOLCHAIN_LOCK
)
# Emscripten itself locks its cache with flock on cache.lock, as file_lock does.
EM_CACHE = Area(
    "em-cache",
    "Emscripten's cache for the system toolchain, per version",
    pinned=True,
    lock="em-cache/{entry}/cache.lock",
)
DOWNLOADS = Area(
    "downloads", "toolchain downloads in progress or interrupted", pinned=False, lock=TOOLCHAIN_LOCK
)
WHEELS = Area("wheels", "test wheels pip resolved, by file name and sha256", pinned=False)
RESOLUTIONS = Area("resolutions", "resolutions of test requirements, by their inputs", pinned=False)
VENDOR_MERGED = Area(
    "vendor-merged",
    "vendored crates merged with std's, by listing",
    pinned=False,
    lock="vendor-merged/{entry}.lock",
)
RUSTC_ANSWERS = Area("rustc-answers.json", "what each rustc said of its version and sysroot", pinned=False)
AREAS = (
    NPM,
    SNAPSHOTS,
    PYODIDE_PACKAGES,
    EMSDK,
    XBUILDENV,
    RUST_SYSROOT,
    EM_CACHE,
    DOWNLOADS,
    WHEELS,
    RESOLUTIONS,
    VENDOR_MERGED,
    RUSTC_ANSWERS,
)


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


# Listing and pruning


@dataclasses.dataclass(frozen=True)
class Entry:
    """One thing in an area of the cache."""

    area: Area
    path: Path
    size: int  # bytes on disk
    state: str  # "complete", "unfinished" (a leftover, or an install that resumes) or "being written"
    used_by: tuple[str, ...]  # what needs it: releases of the matrix, or the engine's own pins

    @property
    def prunable(self) -> bool:
        if self.state == "being written":
            return False
        if self.path.name.endswith(LEFTOVERS):
            return True
        return self.area.pinned and not self.used_by


def disk_size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _, names in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in names)
    return total


def _being_written(area: Area, path: Path) -> bool:
    """A leftover (or a folder holding one) that a running process may still be writing: only asked where
    writers hold no lock; where they do, pruning takes the lock instead."""
    if area.lock:
        return False
    inside = list(path.iterdir()) if path.is_dir() and not path.is_symlink() else []
    return any(
        leftover.name.endswith(LEFTOVERS) and time.time() - leftover.lstat().st_mtime < STALE_SECONDS
        for leftover in [path, *inside]
    )


def _state(area: Area, path: Path) -> str:
    if _being_written(area, path):
        return "being written"
    if path.name.endswith(LEFTOVERS) or (area.marked and not (path / MARKER).is_file()):
        return "unfinished"
    return "complete"


def _entry_paths(area: Area) -> list[Path]:
    path = area.path
    if not path.is_dir():
        return [path] if path.is_file() else []
    return sorted(child for child in path.iterdir() if not child.name.endswith(".lock"))  # locks stay


def entries(users: Mapping[Path, Iterable[str]]) -> list[Entry]:
    """Everything in every area with its size and state, and who among `users` (path -> its users) needs it."""
    return [
        Entry(area, path, disk_size(path), _state(area, path), tuple(users.get(path, ())))
        for area in AREAS
        for path in _entry_paths(area)
    ]


def areas_table(found: list[Entry]) -> Table:
    """Each area, what it holds, how many entries and bytes, and what pruning does to it."""
    from rich.table import Table  # only the listing needs it

    table = Table("area", "holds", "entries", "size", "pruned")
    for area in AREAS:
        mine = [entry for entry in found if entry.area == area]
        pruned = "what no release of the matrix needs" if area.pinned else "leftovers only"
        size = format_size(sum(entry.size for entry in mine))
        table.add_row(area.name, area.holds, str(len(mine)), size, pruned)
    return table


def entries_table(found: list[Entry]) -> Table:
    """Every entry with its size, state and users; the caption says what pruning would free."""
    from rich.table import Table

    total = format_size(sum(entry.size for entry in found))
    freeable = format_size(sum(entry.size for entry in found if entry.prunable))
    table = Table(
        "area",
        "size",
        "state",
        "used by",
        "path",
        caption=f"{len(found)} entries, {total}, in {cache_dir()} ({freeable} to prune; rustup's toolchains "
        "not included)",
    )
    for entry in found:
        used_by = ", ".join(entry.used_by) or ("-" if entry.area.pinned else "any project (by content)")
        table.add_row(entry.area.name, format_size(entry.size), entry.state, used_by, str(entry.path))
    return table


def prune(users: Mapping[Path, Iterable[str]]) -> int:
    """Remove what pruning removes (Entry.prunable), each under its area's lock; say what goes; return the
    bytes freed."""
    from pyo3_pyodide.console import console

    freed = 0
    for entry in entries(users):
        if not entry.prunable:
            continue
        lock = entry.area.lock_of(entry.path)
        with file_lock(lock) if lock else contextlib.nullcontext():
            if not entry.path.exists() and not entry.path.is_symlink():  # another prune was first
                continue
            console.print(f"removing {entry.path} ({entry.area.name}, {format_size(entry.size)})")
            if entry.path.is_dir() and not entry.path.is_symlink():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink()
            freed += entry.size
    return freed
