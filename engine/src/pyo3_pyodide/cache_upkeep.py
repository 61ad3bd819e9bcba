"""What the releases of a project's matrix need of the cache, and the listing and pruning that keep it.

cache.py names the areas and lists and prunes them; each module that writes an area says which of its
entries a release needs (its pinned npm runtime, snapshots, packages, Emscripten cache and managed
toolchain). Above both, this module puts the two together for `nox -s toolchain -- --list/--prune`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pyo3_pyodide import cache
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm, snapshots
from pyo3_pyodide.toolchain import managed, system

if TYPE_CHECKING:
    from rich.table import Table


def users(releases: Iterable[Release]) -> dict[Path, list[str]]:
    """Each cache entry that one of `releases` (or the engine's own pins) needs, with who needs it."""
    found: dict[Path, list[str]] = {}
    for release in releases:
        needed = {
            npm.package_folder("pyodide", release.npm),
            snapshots.release_folder(release.version),
            pyodide_packages.release_folder(release.npm),
            system.em_cache_dir(release),
            *managed.needed_paths(release),
        }
        for path in needed:
            found.setdefault(path, []).append(release.version)
    for name, version in [("playwright-core", npm.PLAYWRIGHT_CORE), ("puppeteer-core", npm.PUPPETEER_CORE)]:
        found.setdefault(npm.package_folder(name, version), []).append("the engine (--browser)")
    return found


def listing(releases: Iterable[Release]) -> list[Table]:
    """The areas, then every entry with its size, state and users: what `--list` prints."""
    entries = cache.entries(users(releases))
    return [cache.areas_table(entries), cache.entries_table(entries)]


def prune(releases: Iterable[Release]) -> int:
    """Remove what no release among `releases` needs in the pinned areas, and leftovers anywhere; the bytes
    freed."""
    return cache.prune(users(releases))
