"""pyo3_pyodide.cache: one owner of the cache's layout, and the listing and pruning of every area, on real
folders, real locks (flock, held by another process) and real markers."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pyo3_pyodide import cache

ENGINE = Path(cache.__file__).parent


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def put(path: Path, size: int = 100, *, marker: bool = False) -> Path:
    """A folder holding `size` bytes (and the completion marker), or a file of that size."""
    if path.suffix in (".whl", ".json", ".part", ".bin"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        return path
    path.mkdir(parents=True)
    (path / "data").write_bytes(b"x" * size)
    if marker:
        (path / cache.MARKER).write_text("{}")
    return path


def make_old(path: Path) -> None:
    old = time.time() - cache.STALE_SECONDS - 60
    os.utime(path, (old, old))


def test_the_cache_follows_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    assert cache.cache_dir() == tmp_path and cache.NPM.path == tmp_path / "npm"
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_dir().name == "pyo3-pyodide"


def test_only_cache_py_names_folders_of_the_cache():
    """Every module asks its area for its folder: no path is built from cache_dir() elsewhere."""
    names = {area.name for area in cache.AREAS}
    assert len(names) == len(cache.AREAS)
    for module in ENGINE.rglob("*.py"):
        if module.name == "cache.py":
            continue
        text = module.read_text(encoding="utf-8")
        assert "cache_dir() /" not in text, f"{module} builds a path in the cache itself"


def test_pinned_entries_no_one_needs_go_and_the_rest_stay(home, capsys):
    kept = put(cache.NPM.path / "pyodide-314.0.7", 1000, marker=True)
    unused = put(cache.NPM.path / "pyodide-0.27.7", 3000, marker=True)
    resumes = put(cache.EMSDK.path / "5.0.3", 500)  # no marker: an install that resumes, still needed
    snapshot = put(cache.SNAPSHOTS.path / "0.27.7" / "key.bin", 700).parent
    wheel = put(cache.WHEELS.path / "pluggy-1.6.0-py3-none-any.whl", 200)  # keyed by content
    resolution = put(cache.RESOLUTIONS.path / "0123456789abcdef.json", 50)
    users = {kept: ["314.0.7"], resumes: ["314.0.7"]}

    found = {entry.path: entry for entry in cache.entries(users)}
    assert found.keys() == {kept, unused, resumes, snapshot, wheel, resolution}
    assert found[resumes].state == "unfinished" and found[kept].state == "complete"
    assert found[unused].size == 3000 + 2 and found[kept].used_by == ("314.0.7",)

    assert cache.prune(users) == 3002 + 700
    assert not unused.exists() and not snapshot.exists()
    assert kept.is_dir() and resumes.is_dir() and wheel.is_file() and resolution.is_file()
    said = capsys.readouterr().err
    assert f"removing {unused} (npm, 2.9 KiB)" in said and f"removing {snapshot} (snapshots, 700 B)" in said


def test_leftovers_go_unless_a_writer_may_still_be_at_them(home):
    npm_partial = put(cache.NPM.path / "pyodide-314.0.7.partial", 10)  # npm writes under its lock: gone
    download = put(cache.DOWNLOADS.path / "xbuildenv.tar.bz2.part", 20)
    old_wheel = put(cache.WHEELS.path / "a-1-py3-none-any.whl.part", 30)
    make_old(old_wheel)
    young_wheel = put(cache.WHEELS.path / "b-1-py3-none-any.whl.part", 40)  # no lock here: may be written now
    writing = put(cache.SNAPSHOTS.path / "314.0.7" / "key.bin.part", 50).parent  # needed, and being written
    needed = put(cache.SNAPSHOTS.path / "314.0.7" / "old.bin", 60)
    make_old(needed)

    states = {entry.path: entry.state for entry in cache.entries({writing: ["314.0.7"]})}
    assert states[young_wheel] == "being written" and states[writing] == "being written"
    assert states[old_wheel] == "unfinished" and states[download] == "unfinished"

    assert cache.prune({writing: ["314.0.7"]}) == 10 + 20 + 30
    assert not npm_partial.exists() and not download.exists() and not old_wheel.exists()
    assert young_wheel.exists() and writing.is_dir()


def test_a_file_area_is_one_entry_and_content_is_kept(home):
    answers = put(cache.RUSTC_ANSWERS.path, 80)
    merged = put(cache.VENDOR_MERGED.path / "0123456789abcdef", 10)
    (cache.VENDOR_MERGED.path / "0123456789abcdef.lock").touch()  # the lock is not an entry
    assert [(entry.area, entry.path) for entry in cache.entries({})] == [
        (cache.VENDOR_MERGED, merged),
        (cache.RUSTC_ANSWERS, answers),
    ]
    assert cache.prune({}) == 0 and answers.is_file() and merged.is_dir()


def hold(lock: Path, seconds: float) -> subprocess.Popen:
    """Another process holding `lock` (flock) for `seconds`, as an install in progress does."""
    code = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"
    )
    lock.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(lock), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "held\n"
    return process


@pytest.mark.parametrize(
    ("area", "name"),
    [(cache.NPM, "pyodide-0.27.7"), (cache.EMSDK, "4.0.9"), (cache.EM_CACHE, "4.0.9")],
    ids=["npm", "toolchain", "emscripten's own lock"],
)
def test_prune_waits_for_a_writer_of_the_area(home, capsys, area, name):
    entry = put(area.path / name, 10, marker=True)
    holder = hold(area.lock_of(entry), 2)
    removed = []
    pruning = threading.Thread(target=lambda: removed.append(cache.prune({})))
    started = time.monotonic()
    pruning.start()
    time.sleep(1)
    assert entry.is_dir(), "removed while another process held its lock"
    pruning.join(30)
    holder.wait(30)
    assert removed and not entry.exists() and time.monotonic() - started >= 1.5
    assert "waiting for another install or prune" in capsys.readouterr().err


def test_the_listing_names_every_area_and_what_pruning_frees(home):
    from rich.console import Console

    put(cache.NPM.path / "pyodide-0.27.7", 2048, marker=True)
    found = cache.entries({})
    recorder = Console(record=True, width=300)
    recorder.print(cache.areas_table(found), cache.entries_table(found))
    text = recorder.export_text()
    for area in cache.AREAS:
        assert re.search(rf"{re.escape(area.name)} +│ {re.escape(area.holds)}", text), area.name
    assert f"1 entries, 2.0 KiB, in {home} (2.0 KiB to prune" in text.replace("\n", " ")
