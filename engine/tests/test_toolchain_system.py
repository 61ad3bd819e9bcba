"""The system provider: real executables on PATH, checked against the pins."""

import datetime
import json

import pytest
from pyo3_pyodide.toolchain import system
from pyo3_pyodide.toolchain.model import ToolchainError

from template_tools import matrix
from tests.helpers.fake_tools import fake_toolchain, write_script

MATRIX = matrix.load()
[PRE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]
STABLE = MATRIX.resolve("stable")
LEGACY_2025 = MATRIX.resolve("0.29")  # a nightly with Pyodide's wasm-eh sysroot
# rustc's own report for the nightly LEGACY_2025 pins: the day before the pinned date, Rust 1.86 (written here).
LEGACY_2025_RUSTC = {
    "rustc": "1.86.0",
    "nightly": system.nightly_date(LEGACY_2025.rust_toolchain) - datetime.timedelta(days=1),
}


def below(pin: str) -> str:
    """A stable Rust one minor release older than a stable pin."""
    major, minor, _ = (int(part) for part in pin.split("."))
    return f"{major}.{minor - 1}.0"


def provide(release, env):
    return system.ensure(release, MATRIX.releases, env)


def test_debian_like_toolchain_builds_std_from_rust_src(tmp_path):
    ready = provide(PRE, fake_toolchain(tmp_path, emcc=PRE.emscripten, rustc=PRE.rust_toolchain))
    assert ready.build_std
    assert ready.env["RUSTC_BOOTSTRAP"] == "1"
    assert ready.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER"] == str(tmp_path / "bin/emcc")
    assert ready.extra_rustflags == ("-C", "link-self-contained=no")
    # Where std's own dependencies are, for projects that vendor crates (tests/test_vendored.py).
    assert ready.std_vendor == tmp_path / "rust-sysroot/lib/rustlib/src/rust/library/vendor"


def test_prebuilt_std_needs_no_build_std(tmp_path):
    env = fake_toolchain(tmp_path, emcc=STABLE.emscripten, rustc=STABLE.rust_toolchain, target_std=True)
    ready = provide(STABLE, env)
    assert not ready.build_std and "RUSTC_BOOTSTRAP" not in ready.env
    assert ready.std_vendor is None


def test_wrong_emcc_is_refused_naming_found_wanted_and_fix(tmp_path):
    with pytest.raises(ToolchainError) as raised:
        provide(PRE, fake_toolchain(tmp_path, emcc=STABLE.emscripten))
    assert str(raised.value) == (
        f"emcc: {tmp_path}/bin/emcc is Emscripten {STABLE.emscripten}, Pyodide {PRE.version} pins "
        f"{PRE.emscripten} (no stable ABI between versions); it matches Pyodide {STABLE.version} "
        f"(`--pyodide {STABLE.version}`). Fix: put Emscripten {PRE.emscripten}'s emcc first on PATH "
        "(`source emsdk_env.sh`), or use the managed toolchain (drop `--toolchain system`)"
    )


def test_unknown_emcc_version_gets_no_release_hint(tmp_path):
    assert "6.0.4" not in {release.emscripten for release in MATRIX.releases.values()}
    with pytest.raises(
        ToolchainError, match=r"is Emscripten 6.0.4, [^;]*\(no stable ABI between versions\)\. Fix"
    ):
        provide(PRE, fake_toolchain(tmp_path, emcc="6.0.4"))


def test_missing_emcc_says_how_to_get_one(tmp_path):
    with pytest.raises(ToolchainError) as raised:
        provide(PRE, fake_toolchain(tmp_path, emcc=None))
    assert str(raised.value) == (
        f"emcc: not found on PATH. Fix: put Emscripten {PRE.emscripten}'s emcc first on PATH (`source "
        "emsdk_env.sh`), or use the managed toolchain (drop `--toolchain system`)"
    )


def test_old_rustc_is_refused(tmp_path):
    old = below(STABLE.rust_toolchain)
    with pytest.raises(ToolchainError) as raised:
        provide(STABLE, fake_toolchain(tmp_path, emcc=STABLE.emscripten, rustc=old))
    assert str(raised.value) == (
        f"rust: rustc {old} is older than the pinned {STABLE.rust_toolchain} ({tmp_path}/bin/rustc). Fix: "
        f"`rustup toolchain install {STABLE.rust_toolchain}` and put it first on PATH, or use the managed "
        "toolchain (drop `--toolchain system`)"
    )


def test_no_std_and_no_rust_src_is_refused(tmp_path):
    with pytest.raises(ToolchainError, match=r"no std for wasm32-unknown-emscripten and no rust-src"):
        env = fake_toolchain(tmp_path, emcc=STABLE.emscripten, rustc=STABLE.rust_toolchain, rust_src=False)
        provide(STABLE, env)


def test_wasm_eh_line_refuses_std_from_rust_src(tmp_path):
    env = fake_toolchain(tmp_path, emcc=LEGACY_2025.emscripten, **LEGACY_2025_RUSTC)
    with pytest.raises(ToolchainError, match=r"needs Pyodide's wasm-eh sysroot"):
        provide(LEGACY_2025, env)


def test_wasm_eh_line_with_its_nightly_and_sysroot(tmp_path):
    env = fake_toolchain(tmp_path, emcc=LEGACY_2025.emscripten, **LEGACY_2025_RUSTC, target_std=True)
    # A wasm std that is not Pyodide's sysroot is refused, as the doctor reports it ...
    with pytest.raises(ToolchainError, match=r"is not Pyodide's wasm-eh sysroot: mixing unwinding ABIs"):
        provide(LEGACY_2025, env)
    # ... and Pyodide's is taken: pyodide-build records where it took it from, beside it.
    record = tmp_path / "rust-sysroot/lib/rustlib/wasm32-unknown-emscripten_install-url.txt"
    record.write_text(LEGACY_2025.rust_sysroot_url + "\n")
    ready = provide(LEGACY_2025, env)
    assert not ready.build_std


@pytest.mark.parametrize(
    ("found", "pin", "problem"),
    [
        ("release: 1.93.0", "1.93.0", None),
        ("release: 1.97.1", "1.93.0", None),
        ("release: 1.92.1", "1.93.0", "older than the pinned 1.93.0"),
        ("release: 1.86.0-nightly\ncommit-date: 2025-01-31", "nightly-2025-02-01", None),
        ("release: 1.86.0-nightly\ncommit-date: 2025-02-01", "nightly-2025-02-01", None),
        (
            "release: 1.90.0-nightly\ncommit-date: 2025-07-01",
            "nightly-2025-02-01",
            "--enable-bulk-memory-opt",
        ),
        (
            "release: 1.84.0-nightly\ncommit-date: 2024-11-01",
            "nightly-2025-02-01",
            "is older than nightly-2025-02-01",
        ),
        ("release: 1.86.0\ncommit-date: 2025-01-31", "nightly-2025-02-01", "is not a nightly"),
    ],
)
def test_rust_version_against_pins(found, pin, problem):
    mismatch = system.rust_mismatch(system.parse_rustc_version(found), pin)
    assert (mismatch is None) if problem is None else (problem in mismatch)


def test_nightly_pins_map_to_their_release_train():
    # rustc's own version strings for these nightlies
    assert system.pinned_rust_version("nightly-2025-02-01") == (1, 86, 0)
    assert system.pinned_rust_version("nightly-2024-12-01") == (1, 85, 0)
    assert system.pinned_rust_version("1.93.0") == (1, 93, 0)


def test_emscripten_version_file_beside_emcc_is_read_without_starting_emcc(tmp_path):
    env = fake_toolchain(tmp_path, emcc=None, rustc=PRE.rust_toolchain)
    started = tmp_path / "emcc-started"
    write_script(tmp_path / "bin/emcc", f'echo "$@" >> {started}\necho 0.0.0\n')  # a wrong version, if run
    (tmp_path / "bin/emscripten-version.txt").write_text(f'"{PRE.emscripten}"\n')  # as emsdk writes it
    ready = provide(PRE, env)
    assert ready.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER"] == str(tmp_path / "bin/emcc")
    assert not started.exists(), f"emcc was started: {started.read_text()!r}"


def test_rustc_is_asked_once_per_binary_and_a_rustup_proxy_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(tmp_path / "cache"))
    env = fake_toolchain(
        tmp_path / "one", emcc=STABLE.emscripten, rustc=STABLE.rust_toolchain, target_std=True
    )
    rustc = tmp_path / "one" / "bin" / "rustc"
    calls = tmp_path / "calls.txt"
    script = rustc.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$@" >> {calls}\n')
    write_script(rustc, script.removeprefix("#!/bin/sh\n"))

    answers = tmp_path / "cache" / "rustc-answers.json"
    answers.parent.mkdir()
    answers.write_text('{"left by another version": {"path": 3}, "x": [1]}')  # tolerated, dropped
    for _ in range(3):
        assert not provide(STABLE, env).build_std  # the sysroot it named has the target's std
    assert len(json.loads(answers.read_text())) == 1
    assert calls.read_text().splitlines() == ["-vV", "--print sysroot"]  # asked by the first build only

    # another rustc at the same path (an upgrade): asked again, and its answer counts
    write_script(
        rustc, script.removeprefix("#!/bin/sh\n").replace(STABLE.rust_toolchain, below(STABLE.rust_toolchain))
    )
    with pytest.raises(ToolchainError, match=f"rustc {below(STABLE.rust_toolchain)} is older"):
        provide(STABLE, env)
    assert calls.read_text().splitlines()[2:] == ["-vV", "--print sysroot"]

    # rustup's proxy picks a toolchain at every call: asked every time
    write_script(rustc, script.removeprefix("#!/bin/sh\n"))
    (rustc.parent / "rustup").write_text("")
    calls.unlink()
    provide(STABLE, env)
    provide(STABLE, env)
    assert calls.read_text().splitlines() == ["-vV", "--print sysroot"] * 2
