"""`nox -s doctor`'s checks, driven with real PATH folders and real project files."""

import datetime

import pytest
from pyo3_pyodide import doctor

from template_tools import matrix
from tests.fake_tools import fake_toolchain
from tests.project_helpers import nox as run_nox

MATRIX = matrix.load()
PRE = MATRIX.releases["315.0.0-alpha.2"]


@pytest.fixture
def project(render):
    return render(project_name="doc-check", pyodide_version=PRE.version)


def checks(project, env, release=PRE, environ=None):
    return doctor.run_checks(release, MATRIX.releases, project, environ or env, env)


def failed(results):
    return {check.name: check for check in results if not check.ok}


def test_a_matching_machine_passes(tmp_path, project):
    results = checks(project, fake_toolchain(tmp_path))
    assert failed(results) == {}
    lines = [check.line() for check in results]
    assert any(line.startswith("ok   emcc:") and "Emscripten 6.0.5, as pinned" in line for line in lines)
    assert any("builds std with -Zbuild-std" in line for line in lines)


def test_wrong_emcc_names_the_release_it_fits(tmp_path, project):
    check = failed(checks(project, fake_toolchain(tmp_path, emcc="5.0.3")))["emcc"]
    assert check.blocker
    assert "is Emscripten 5.0.3, the pin is 6.0.5" in check.line()
    assert "`--pyodide 314.0.7`" in check.line() and "Fix: `nox -s toolchain`" in check.line()


def test_missing_tools(tmp_path, project):
    problems = failed(checks(project, fake_toolchain(tmp_path, emcc=None, rustc=None, node=None)))
    assert problems["emcc"].detail == "not found on PATH"
    assert problems["rust"].detail == "rustc or cargo not found on PATH"
    assert not problems["node"].blocker  # only wasm_test needs Node


def test_rustflags_variable_and_bad_flags_everywhere(tmp_path, project):
    env = fake_toolchain(tmp_path)
    environ = {**env, "RUSTFLAGS": "-C target-feature=+atomics -pthread", "EMCC_CFLAGS": "-sSIDE_MODULE=1"}
    (project / ".cargo/config.toml").write_text(
        '[target.wasm32-unknown-emscripten]\nrustflags = ["-C", "relocation-model=static"]\n'
    )
    lines = [check.line() for check in checks(project, env, environ=environ) if not check.ok]
    assert any(
        "RUSTFLAGS is set: cargo then silently ignores" in line and "`unset RUSTFLAGS`" in line
        for line in lines
    )
    assert any("$RUSTFLAGS contains -pthread" in line and "Pyodide has no threads" in line for line in lines)
    assert any(
        "$EMCC_CFLAGS contains -sSIDE_MODULE=1" in line and "Use -sSIDE_MODULE=2" in line for line in lines
    )
    assert any(".cargo/config.toml sets relocation-model=static" in line for line in lines)


def test_msrv_newer_than_the_pinned_rust(tmp_path, project):
    legacy = MATRIX.releases["0.27.8"]
    cargo_toml = project / "Cargo.toml"
    cargo_toml.write_text(cargo_toml.read_text().replace('rust-version = "1.85"', 'rust-version = "1.88"'))
    env = fake_toolchain(tmp_path, emcc="3.1.58", rustc="1.85.0", nightly=datetime.date(2024, 11, 30))
    check = failed(checks(project, env, release=legacy))["msrv"]
    assert "rust-version 1.88 is newer than the pinned Rust nightly-2024-12-01 (Rust 1.85)" in check.line()


def test_wasm_eh_line_without_pyodides_sysroot(tmp_path, project):
    legacy = MATRIX.releases["0.29.5"]
    env = fake_toolchain(
        tmp_path, emcc="4.0.9", rustc="1.86.0", nightly=datetime.date(2025, 1, 31), target_std=True
    )
    check = failed(checks(project, env, release=legacy))["sysroot"]
    assert "undefined __cpp_exception / invoke_* symbols" in check.line()


def test_old_node_is_a_warning(tmp_path, project):
    check = failed(checks(project, fake_toolchain(tmp_path, node="v16.20.0")))["node"]
    assert not check.blocker and check.line().startswith("warn node:")


def test_wasm_eh_line_with_pyodides_sysroot(tmp_path, project):
    legacy = MATRIX.releases["0.29.5"]
    env = fake_toolchain(
        tmp_path, emcc="4.0.9", rustc="1.86.0", nightly=datetime.date(2025, 1, 31), target_std=True
    )
    # pyodide-build records where it took the sysroot from; the managed provider writes its own marker.
    record = tmp_path / "rust-sysroot/lib/rustlib/wasm32-unknown-emscripten_install-url.txt"
    record.write_text(legacy.rust_sysroot_url + "\n")
    assert failed(checks(project, env, release=legacy)) == {}


def test_built_wheels_for_another_runtime_are_reported(tmp_path, project):
    (project / "dist").mkdir()
    (project / "dist/doc_check-0.1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl").write_bytes(b"")
    check = failed(checks(project, fake_toolchain(tmp_path)))["wheels"]
    assert not check.blocker
    assert (
        "no wheel in dist/ has the tags Pyodide 315.0.0-alpha.2 accepts (cp315, pyemscripten_2026_5_wasm32)"
        in check.line()
    )
    (project / "dist/doc_check-0.1.0-cp315-cp315-pyemscripten_2026_5_wasm32.whl").write_bytes(b"")
    assert "wheels" not in failed(checks(project, fake_toolchain(tmp_path / "again")))


def test_doctor_session_exits_non_zero_on_a_blocker(tmp_path, project):
    env = fake_toolchain(tmp_path, emcc="5.0.3")
    result = run_nox(project, "-s", "doctor", "--", "--toolchain", "system", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "FAIL emcc:" in output and "is Emscripten 5.0.3, the pin is 6.0.5" in output
    assert "ok   flags:" in output
    assert "1 problem(s) block a Pyodide build" in output
