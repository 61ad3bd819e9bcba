"""The system provider: real executables on PATH, checked against the pins."""

import datetime

import pytest
from pyo3_pyodide.toolchain import system
from pyo3_pyodide.toolchain.model import ToolchainError

from template_tools import matrix
from tests.fake_tools import fake_toolchain

MATRIX = matrix.load()
PRE = MATRIX.releases["315.0.0-alpha.2"]
STABLE = MATRIX.releases["314.0.7"]
LEGACY_2025 = MATRIX.releases["0.29.5"]


def provide(release, env):
    return system.system_toolchain(release, MATRIX.releases, env)


def test_debian_like_toolchain_builds_std_from_rust_src(tmp_path):
    ready = provide(PRE, fake_toolchain(tmp_path, emcc="6.0.5", rustc="1.97.1"))
    assert ready.build_std
    assert ready.env["RUSTC_BOOTSTRAP"] == "1"
    assert ready.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER"] == str(tmp_path / "bin/emcc")
    assert ready.extra_rustflags == ("-C", "link-self-contained=no")


def test_prebuilt_std_needs_no_build_std(tmp_path):
    ready = provide(STABLE, fake_toolchain(tmp_path, emcc="5.0.3", rustc="1.95.0", target_std=True))
    assert not ready.build_std and "RUSTC_BOOTSTRAP" not in ready.env


def test_wrong_emcc_is_refused_naming_found_wanted_and_fix(tmp_path):
    with pytest.raises(ToolchainError) as raised:
        provide(PRE, fake_toolchain(tmp_path, emcc="5.0.3"))
    message = str(raised.value)
    assert "is Emscripten 5.0.3, but Pyodide 315.0.0-alpha.2 needs exactly 6.0.5" in message
    assert "`--pyodide 314.0.7`" in message  # the release that the installed emcc does fit


def test_unknown_emcc_version_gets_no_release_hint(tmp_path):
    with pytest.raises(ToolchainError, match=r"is Emscripten 6.0.4, .*drop `--toolchain system`\)\.$"):
        provide(PRE, fake_toolchain(tmp_path, emcc="6.0.4"))


def test_missing_emcc_says_how_to_get_one(tmp_path):
    with pytest.raises(ToolchainError, match=r"emcc not found on PATH; .*needs Emscripten 6.0.5"):
        provide(PRE, fake_toolchain(tmp_path, emcc=None))


def test_old_rustc_is_refused(tmp_path):
    with pytest.raises(
        ToolchainError, match=r"rustc 1.92.0 is older than the pinned 1.93.0 .*rustup toolchain"
    ):
        provide(STABLE, fake_toolchain(tmp_path, emcc="5.0.3", rustc="1.92.0"))


def test_no_std_and_no_rust_src_is_refused(tmp_path):
    with pytest.raises(ToolchainError, match=r"no std for wasm32-unknown-emscripten and no rust-src"):
        provide(STABLE, fake_toolchain(tmp_path, emcc="5.0.3", rustc="1.95.0", rust_src=False))


def test_wasm_eh_line_refuses_std_from_rust_src(tmp_path):
    env = fake_toolchain(tmp_path, emcc="4.0.9", rustc="1.86.0", nightly=datetime.date(2025, 1, 31))
    with pytest.raises(ToolchainError, match=r"needs Pyodide's wasm-eh sysroot"):
        provide(LEGACY_2025, env)


def test_wasm_eh_line_with_its_nightly_and_sysroot(tmp_path):
    env = fake_toolchain(
        tmp_path, emcc="4.0.9", rustc="1.86.0", nightly=datetime.date(2025, 1, 31), target_std=True
    )
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
    env = fake_toolchain(tmp_path, emcc="0.0.0")  # -dumpversion would say 0.0.0
    (tmp_path / "bin/emscripten-version.txt").write_text('"6.0.5"\n')  # as emsdk writes it
    assert provide(PRE, env).provider == "system"
