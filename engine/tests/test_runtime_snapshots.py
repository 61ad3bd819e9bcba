"""runtime/snapshots.py: where a memory snapshot of Pyodide is kept, under which key, and how many."""

import os

from pyo3_pyodide.cache import CACHE_ENV
from pyo3_pyodide.runtime import snapshots

from template_tools import matrix
from tests.helpers.pyodide import fake_runtime

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]
PRERELEASE = RELEASES["315.0.0-alpha.2"]


def test_the_snapshot_key_follows_the_pure_wheels_and_old_snapshots_go(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    runtime = fake_runtime(STABLE, "0.11.1")
    pure = tmp_path / "pytest-8.3.5-py3-none-any.whl"
    pure.write_bytes(b"pytest")
    compiled = tmp_path / "hello-0.1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    compiled.write_bytes(b"hello")
    first = snapshots.snapshot_file(runtime, [pure, compiled])
    assert first.parent == tmp_path / "cache" / "snapshots" / STABLE.version
    compiled.write_bytes(b"hello, rebuilt")  # the wheel under test is never in a snapshot
    assert snapshots.snapshot_file(runtime, [pure, compiled]) == first
    pure.write_bytes(b"pytest, another build")
    assert snapshots.snapshot_file(runtime, [pure, compiled]) != first
    assert (
        snapshots.snapshot_file(fake_runtime(PRERELEASE, "0.11.1"), [pure]).parent.name == PRERELEASE.version
    )

    made = []
    for number in range(snapshots.KEEP + 2):
        pure.write_bytes(b"pytest %d" % number)
        path = snapshots.snapshot_file(runtime, [pure])
        path.parent.mkdir(parents=True, exist_ok=True)  # the runner makes it, as it writes the snapshot
        path.write_bytes(b"snapshot")
        os.utime(path, (number, number))  # made in this order
        made.append(path)
    stale, writing = made[0].with_suffix(".bin.17.part"), made[1].with_suffix(".bin.18.part")
    stale.write_bytes(b"cut short")
    os.utime(stale, (0, 0))
    writing.write_bytes(b"being written")
    kept = snapshots.snapshot_file(runtime, [pure])  # the newest: marked as used, never pruned
    assert writing.is_file() and not stale.exists()
    assert sorted(first.parent.glob("*.bin")) == sorted(made[-snapshots.KEEP :])
    writing.unlink()
    assert kept == made[-1] and kept.stat().st_mtime > snapshots.KEEP + 2
