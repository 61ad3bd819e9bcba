"""pyo3_pyodide.cache_upkeep: what the releases of the shipped matrix need of the cache, pruned for real
(the folders are named by the modules that write them)."""

import io

import pytest
from pyo3_pyodide import cache, cache_upkeep
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm, snapshots
from pyo3_pyodide.toolchain import emsdk, system
from rich.console import Console

from template_tools import matrix


def two_releases():
    """Two releases of the shipped matrix with their own Pyodide and Emscripten."""
    releases = list(matrix.load().releases.values())
    for first in releases:
        for second in releases:
            if first.npm != second.npm and first.emscripten != second.emscripten:
                return first, second
    pytest.fail("the shipped matrix has no two releases with different npm and Emscripten versions")


def fill(release) -> list:
    """What wasm_test and a build with each provider leave in the cache for `release`."""
    folders = [
        npm.package_folder("pyodide", release.npm),
        snapshots.release_folder(release.version),
        pyodide_packages.release_folder(release.npm),
        system.em_cache_dir(release),
        emsdk.emsdk_dir_for(release.emscripten, []),
    ]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "data").write_bytes(b"x" * 1000)
        (folder / cache.MARKER).write_text("{}")
    return folders


def test_prune_keeps_what_the_matrix_needs_and_the_engines_drivers(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    kept, dropped = two_releases()
    needed, unneeded = fill(kept), fill(dropped)
    driver = npm.package_folder("playwright-core", npm.PLAYWRIGHT_CORE)
    driver.mkdir(parents=True)
    (driver / cache.MARKER).write_text("{}")
    old_driver = npm.package_folder("playwright-core", "1.0.0")  # an engine before this one pinned it
    old_driver.mkdir()

    users = cache_upkeep.users([kept])
    assert {path: users[path] for path in needed} == {path: [kept.version] for path in needed}
    assert users[driver] == ["the engine (--browser)"]
    recorder = Console(record=True, width=300, file=io.StringIO())
    recorder.print(*cache_upkeep.listing([kept]))
    assert kept.version in recorder.export_text()

    freed = cache_upkeep.prune([kept])

    assert all(path.is_dir() for path in [*needed, driver])
    assert not any(path.exists() for path in [*unneeded, old_driver])
    assert freed == len(unneeded) * (1000 + 2)  # each: its data and its marker
