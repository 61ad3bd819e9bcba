"""The Debian sid build root (template_tools/sidroot.py): the real toolchain of the wasm tests."""

import json
from pathlib import Path

import pytest

from template_tools import matrix, sidroot


def write_marker(root: Path, recipe: dict) -> None:
    (root / sidroot.COMPLETE_MARKER).write_text(json.dumps({"recipe": recipe}), encoding="utf-8")


def test_a_root_is_ready_only_with_a_marker_of_the_current_recipe(tmp_path):
    assert not sidroot.is_ready(tmp_path / "absent")
    assert not sidroot.is_ready(tmp_path)  # a folder without the marker: interrupted, or not ours
    (tmp_path / sidroot.COMPLETE_MARKER).write_text('{"recipe": ', encoding="utf-8")
    assert not sidroot.is_ready(tmp_path)
    write_marker(tmp_path, {**sidroot.RECIPE, "debian": ["emscripten"]})
    assert not sidroot.is_ready(tmp_path)  # made with another package list: remade
    write_marker(tmp_path, sidroot.RECIPE)
    assert sidroot.is_ready(tmp_path)


@pytest.fixture(scope="module")
def root():
    try:
        return sidroot.ensure_root()
    except sidroot.SidRootError as error:
        pytest.fail(str(error), pytrace=False)


def in_root(root, *argv, **options):
    result = sidroot.run(root, list(argv), cwd=options.pop("cwd", "/"), timeout=300, **options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.wasm
def test_emcc_in_the_root_is_the_emscripten_of_a_release(root):
    version = sidroot.emcc_version(root)
    all_releases = matrix.load().releases.values()
    releases = [release for release in all_releases if release.emscripten == version]
    if not releases:
        pinned = ", ".join(sorted({release.emscripten for release in all_releases}))
        pytest.skip(
            f"Debian sid's emcc is now {version}, which no Pyodide release pins (the matrix has {pinned})"
        )
    for release in releases:  # the root must also hold that release's Python
        assert in_root(root, f"python{release.python}", "--version").startswith(f"Python {release.python}.")


@pytest.mark.wasm
def test_commands_run_inside_the_sid_root(root):
    assert in_root(root, "cat", "/etc/debian_version").strip().endswith("/sid")  # e.g. forky/sid
    assert in_root(root, "python3.15", "-c", "import sys; print(sys.version_info[:2])").strip() == "(3, 15)"
    assert in_root(root, "maturin", "--version").startswith("maturin ")  # the venv is first on PATH
    sysroot = in_root(root, "rustc", "--print", "sysroot").strip()
    in_root(
        root, "test", "-f", f"{sysroot}/lib/rustlib/src/rust/library/Cargo.lock"
    )  # rust-src, for build-std
    assert sidroot.rustc_version(root).count(".") == 2


@pytest.mark.wasm
def test_the_environment_is_the_roots_own_plus_what_the_caller_gives(root, monkeypatch):
    monkeypatch.setenv("RUSTFLAGS", "-C from-the-host")
    lines = in_root(root, "env", env={"MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION": "2026_5"}).splitlines()
    assert "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION=2026_5" in lines
    assert f"EM_CACHE={sidroot.EM_CACHE}" in lines
    assert f"CARGO_HOME={sidroot.CARGO_HOME}" in lines
    assert not any(line.startswith("RUSTFLAGS=") for line in lines)


@pytest.mark.wasm
def test_a_bound_host_folder_is_readable_and_writable_at_the_same_path(root, tmp_path):
    (tmp_path / "in.txt").write_text("from the host\n")
    script = "cat in.txt; echo from the root > out.txt; exit 3"
    result = sidroot.run(root, ["sh", "-c", script], cwd=str(tmp_path), bind=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (3, "from the host\n"), result.stderr
    assert (tmp_path / "out.txt").read_text() == "from the root\n"
    # Everything was mounted in the command's own namespace: nothing is left mounted on the host.
    assert str(root) not in Path("/proc/self/mountinfo").read_text()
