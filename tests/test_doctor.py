"""`nox -s doctor`'s checks, driven with real PATH folders and real project files."""

import datetime
import os

import pytest
from pyo3_pyodide import machine
from pyo3_pyodide.project import Project
from pyo3_pyodide.toolchain import system
from pyo3_pyodide.toolchain.model import ToolchainError

from template_tools import matrix
from tests.helpers.fake_tools import fake_toolchain, write_script
from tests.helpers.project import nox as run_nox

MATRIX = matrix.load()
[PRE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]
STABLE = MATRIX.resolve("stable")
LEGACY_NIGHTLY = MATRIX.resolve("0.27")  # a dated nightly with rustup's own std
LEGACY_WASM_EH = MATRIX.resolve("0.29")  # a dated nightly with Pyodide's wasm-eh sysroot


MINIBROWSER = "lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"


@pytest.fixture
def project(render):
    return render(project_name="doc-check", pyodide_version=PRE.version)


def tools(folder, release=PRE, **changes):
    """Stand-in emcc, rustc and cargo that report what `release` pins, with `changes` on top. A nightly pin
    is reported as rustc does (its commit date the day before the pinned date): give its `rustc` version."""
    pinned = {"emcc": release.emscripten, "rustc": release.rust_toolchain}
    if release.rust_toolchain.startswith("nightly-"):
        day = datetime.date.fromisoformat(release.rust_toolchain.removeprefix("nightly-"))
        pinned = {"emcc": release.emscripten, "nightly": day - datetime.timedelta(days=1)}
    env = fake_toolchain(folder, **{**pinned, **changes})
    # installed, as wasm_test's browsers are: WebKitGTK's MiniBrowser where Debian puts it, under the prefix
    for program in ("bin/chromium", "bin/firefox-esr", "bin/WebKitWebDriver", "bin/Xvfb", MINIBROWSER):
        (folder / program).parent.mkdir(parents=True, exist_ok=True)
        write_script(folder / program, "exit 0\n")
    return env


def checks(project, env, release=PRE, environ=None):
    """The doctor's checks with `--toolchain system`."""
    return machine.run_checks(release, Project.read(project), environ or env, system)


def failed(results):
    return {check.name: check for check in results if not check.ok}


def test_a_matching_machine_passes(tmp_path, project):
    results = checks(project, tools(tmp_path))
    assert failed(results) == {}
    lines = [check.line() for check in results]
    assert f"ok   emcc: {tmp_path}/bin/emcc is Emscripten {PRE.emscripten}, as pinned." in lines
    assert any("builds std with -Zbuild-std" in line for line in lines)


def test_wrong_emcc_names_the_release_it_fits(tmp_path, project):
    check = failed(checks(project, tools(tmp_path, emcc=STABLE.emscripten)))["emcc"]
    assert check.blocker
    assert check.line() == (
        f"FAIL emcc: {tmp_path}/bin/emcc is Emscripten {STABLE.emscripten}, Pyodide {PRE.version} pins "
        f"{PRE.emscripten} (no stable ABI between versions); it matches Pyodide {STABLE.version} (`--pyodide "
        f"{STABLE.version}`). Fix: put Emscripten {PRE.emscripten}'s emcc first on PATH (`source "
        "emsdk_env.sh`), or use the managed toolchain (drop `--toolchain system`)"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"emcc": STABLE.emscripten},
        {"emcc": None},
        {"rustc": None},
        {"rustc": "1.50.0"},
        {"rust_src": False},
    ],
)
def test_the_doctor_reports_the_check_that_stops_the_build_with_its_text(tmp_path, project, changes):
    """One check, one text: a build with `--toolchain system` fails with the doctor's first FAIL line."""
    env = tools(tmp_path, **changes)
    with pytest.raises(ToolchainError) as raised:
        system.ensure(PRE, MATRIX.releases, env)
    first = next(check for check in checks(project, env) if not check.ok and check.blocker)
    assert first.line() == f"FAIL {raised.value}"


def test_missing_tools(tmp_path, project):
    problems = failed(checks(project, fake_toolchain(tmp_path, emcc=None, rustc=None, node=None)))
    assert problems["emcc"].detail == "not found on PATH"
    assert problems["rust"].detail == "rustc and cargo not found on PATH"
    assert not problems["node"].blocker  # only wasm_test needs Node


def test_rustflags_variable_and_bad_flags_everywhere(tmp_path, project):
    env = tools(tmp_path)
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
    legacy = LEGACY_NIGHTLY
    cargo_toml = project / "Cargo.toml"
    cargo_toml.write_text(cargo_toml.read_text().replace('rust-version = "1.85"', 'rust-version = "1.88"'))
    env = tools(tmp_path, legacy, rustc="1.85.0")
    check = failed(checks(project, env, release=legacy))["msrv"]
    # What rustc a nightly of the pinned date is (1.85 for 0.27's nightly-2024-12-01) is written here, not computed.
    assert (
        f"rust-version 1.88 is newer than the pinned Rust {legacy.rust_toolchain} (Rust 1.85)" in check.line()
    )


def test_wasm_eh_line_without_pyodides_sysroot(tmp_path, project):
    legacy = LEGACY_WASM_EH
    env = tools(tmp_path, legacy, rustc="1.86.0", target_std=True)
    check = failed(checks(project, env, release=legacy))["sysroot"]
    assert "undefined __cpp_exception / invoke_* symbols" in check.line()


def test_old_node_is_a_warning(tmp_path, project):
    check = failed(checks(project, tools(tmp_path, node="v16.20.0")))["node"]
    assert not check.blocker and check.line().startswith("warn node:")


def test_browsers_are_found_on_path_or_named_and_a_missing_one_is_a_warning(tmp_path, project):
    env = tools(tmp_path)
    bin_dir = tmp_path / "bin"
    (bin_dir / "firefox-esr").unlink()
    results = {check.name: check for check in checks(project, env)}
    assert (
        results["chromium"].ok
        and f"{bin_dir}/chromium, for `nox -s wasm_test -- --browser`" in results["chromium"].line()
    )
    firefox = results["firefox"]
    assert not firefox.ok and not firefox.blocker
    assert "no Firefox on PATH (looked for firefox-esr, firefox)" in firefox.line()
    assert "`apt-get install firefox-esr`" in firefox.line() and "PYO3_PYODIDE_FIREFOX" in firefox.line()
    # WebKit beside them: the driver, the MiniBrowser it starts and the X server it runs in
    assert results["webkit"].line() == (
        f"ok   webkit: {bin_dir}/WebKitWebDriver, {tmp_path}/{MINIBROWSER}, {bin_dir}/Xvfb, for "
        "`nox -s wasm_test -- --browser webkit`."
    )
    (bin_dir / "Xvfb").unlink()
    webkit = failed(checks(project, env))["webkit"]
    assert not webkit.blocker and "no `Xvfb` on PATH" in webkit.line()
    assert "`apt-get install xvfb`" in webkit.line()

    named = {
        **env,
        "PYO3_PYODIDE_FIREFOX": str(bin_dir / "chromium"),
        "PYO3_PYODIDE_CHROMIUM": "no-such-browser",
    }
    results = {check.name: check for check in checks(project, named)}
    assert results["firefox"].ok
    assert (
        "PYO3_PYODIDE_CHROMIUM='no-such-browser' is not an executable program" in results["chromium"].line()
    )
    assert "unset it to use the first of chromium, " in results["chromium"].line()


def test_wasm_eh_line_with_pyodides_sysroot(tmp_path, project):
    legacy = LEGACY_WASM_EH
    env = tools(tmp_path, legacy, rustc="1.86.0", target_std=True)
    # pyodide-build records where it took the sysroot from; the managed provider writes its own marker.
    record = tmp_path / "rust-sysroot/lib/rustlib/wasm32-unknown-emscripten_install-url.txt"
    record.write_text(legacy.rust_sysroot_url + "\n")
    assert failed(checks(project, env, release=legacy)) == {}


def test_built_wheels_for_another_runtime_are_reported(tmp_path, project):
    (project / "dist").mkdir()
    other = f"doc_check-0.1.0-{STABLE.python_tag}-{STABLE.python_tag}-{STABLE.platform_tag}.whl"
    (project / "dist" / other).write_bytes(b"")
    check = failed(checks(project, tools(tmp_path)))["wheels"]
    assert not check.blocker
    assert check.line() == (
        f"warn wheels: no wheel in dist/ has the tags Pyodide {PRE.version} accepts ({PRE.python_tag}, "
        f"{PRE.platform_tag}); found {other}. Fix: `nox -s wasm_build -- --pyodide {PRE.version}`"
    )
    fitting = f"doc_check-0.1.0-{PRE.python_tag}-{PRE.python_tag}-{PRE.platform_tag}.whl"
    (project / "dist" / fitting).write_bytes(b"")
    assert "wheels" not in failed(checks(project, tools(tmp_path / "again")))


def test_with_the_managed_toolchain_the_doctor_reports_what_it_has_yet_to_install(
    tmp_path, project, monkeypatch
):
    """The managed provider's own checks, not the compilers on PATH: without rustup (which its build needs)
    a blocker, with the message its build stops on; its emsdk not installed yet, a warning (a build installs
    it). (Installed parts: engine/tests/test_toolchain_managed.py, where installed_toolchain is these checks
    all passing.)"""
    from pyo3_pyodide.toolchain import managed

    monkeypatch.setenv("PATH", tools(tmp_path)["PATH"])  # a matching emcc and rustc, but no rustup
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(tmp_path / "cache"))
    results = machine.run_checks(LEGACY_WASM_EH, Project.read(project), dict(os.environ), managed)
    problems = failed(results)
    assert "emcc" not in problems and "rust" not in problems  # PATH's compilers are not the managed ones
    with pytest.raises(ToolchainError) as raised:
        managed.ensure(LEGACY_WASM_EH)
    assert problems["rustup"].blocker and problems["rustup"].line() == f"FAIL rustup: {raised.value}"
    assert not problems["emsdk"].blocker
    assert problems["emsdk"].line() == (
        f"warn emsdk: emsdk {LEGACY_WASM_EH.emscripten} with Pyodide's patches: not installed yet. "
        "Fix: `nox -s toolchain` (a build installs it too)"
    )


def test_doctor_session_exits_non_zero_on_a_blocker(tmp_path, project):
    env = tools(tmp_path, emcc=STABLE.emscripten)
    result = run_nox(project, "-s", "doctor", "--", "--toolchain", "system", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert (
        f"FAIL emcc: {tmp_path}/bin/emcc is Emscripten {STABLE.emscripten}, Pyodide {PRE.version} pins "
        f"{PRE.emscripten}" in output
    )
    assert "ok   flags:" in output
    assert "1 problem(s) block a Pyodide build" in output


# `nox -s doctor -- --toolchain system` inside the Debian root, against its real emcc, rustc and cargo.


@pytest.fixture(scope="module")
def sid_root():
    """The Debian root, its emcc and rustc as they report themselves, and where its PATH finds them."""
    from template_tools import sidroot

    root = sidroot.ensure_root()
    emcc, rustc = sidroot.emcc_version(root), sidroot.rustc_version(root)
    marker = sidroot.read_marker(root) or {}
    assert (marker.get("emscripten"), marker.get("rustc")) == (emcc, rustc), (
        f"the root's marker records {marker.get('emscripten')}/{marker.get('rustc')}, its tools report "
        f"{emcc}/{rustc}: remake the root ({root})"
    )
    found = sidroot.run(root, ["sh", "-c", "command -v emcc; command -v rustc"], cwd="/")
    emcc_path, rustc_path = found.stdout.split()
    return root, emcc, rustc, emcc_path, rustc_path


def sid_doctor(root, project):
    from template_tools import sidroot

    argv = ["nox", "-s", "doctor", "--", "--toolchain", "system"]
    result = sidroot.run(root, argv, cwd=str(project), bind=project, timeout=900)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.wasm
def test_doctor_in_the_debian_root_passes_for_the_release_of_its_emscripten(render, sid_root):
    from tests.helpers import real_builds

    root, emcc, rustc, emcc_path, rustc_path = sid_root
    [prerelease] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]
    real_builds.require_emscripten(emcc, prerelease, MATRIX.releases.values())  # fails, with the fix, if not
    project = render("sid-doctor-match", project_name="doc-sid", pyodide_version=prerelease.line)

    returncode, output = sid_doctor(root, project)

    assert returncode == 0, output
    lines = output.splitlines()
    assert (
        f"Pyodide {prerelease.version}: Python {prerelease.python}, Emscripten {prerelease.emscripten}, "
        f"Rust {prerelease.rust_toolchain} (system toolchain)"
    ) in lines
    assert f"ok   emcc: {emcc_path} is Emscripten {emcc}, as pinned." in lines
    assert f"ok   rust: {rustc_path} is rustc {rustc}, fits the pin {prerelease.rust_toolchain}." in lines
    assert (
        "ok   std: no prebuilt wasm32-unknown-emscripten std, but rust-src is there: wasm_build builds std "
        "with -Zbuild-std."
    ) in lines
    # the root has no browsers (the suite drives the host's): those are warnings, nothing else is
    warnings = [line for line in lines if line.startswith(("FAIL", "warn"))]
    assert [line.split(":")[0] for line in warnings] == ["warn chromium", "warn firefox", "warn webkit"], (
        output
    )
    assert all("apt-get install" in line for line in warnings)


@pytest.mark.wasm
def test_doctor_in_the_debian_root_fails_for_a_release_of_another_emscripten(render, sid_root):
    root, emcc, _, emcc_path, _ = sid_root
    default = MATRIX.releases[MATRIX.default]
    others = [release for release in MATRIX.releases.values() if release.emscripten != emcc]
    assert others, f"every release of the matrix pins the root's Emscripten {emcc}: nothing to mismatch"
    release = default if default in others else others[0]
    fitting = [other.version for other in MATRIX.releases.values() if other.emscripten == emcc]
    project = render("sid-doctor-mismatch", project_name="doc-sid", pyodide_version=release.line)

    returncode, output = sid_doctor(root, project)

    assert returncode != 0, output
    also = f"; it matches Pyodide {', '.join(fitting)} (`--pyodide {fitting[0]}`)" if fitting else ""
    assert (
        f"FAIL emcc: {emcc_path} is Emscripten {emcc}, Pyodide {release.version} pins {release.emscripten} "
        f"(no stable ABI between versions){also}. Fix: put Emscripten {release.emscripten}'s emcc first on "
        "PATH (`source emsdk_env.sh`), or use the managed toolchain (drop `--toolchain system`)"
    ) in output.splitlines()
    assert "problem(s) block a Pyodide build (FAIL lines above)" in output
