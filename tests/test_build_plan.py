"""The maturin command and environment that `nox -s wasm_build` runs, for every release of the matrix."""

import shlex
from pathlib import Path

import pytest
from pyo3_pyodide.toolchain.model import Toolchain, ToolchainError
from pyo3_pyodide.wheel import build

from template_tools import matrix

MATRIX = matrix.load()
[PRERELEASE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]


@pytest.mark.parametrize("version", list(MATRIX.releases))
def test_plan_for_every_release(version):
    release = MATRIX.releases[version]
    toolchain = Toolchain(provider="managed", release=release, env={"EMSDK": "/cache/emsdk"})
    plan = build.plan_build(toolchain, Path("/p/dist"))
    assert plan.argv == (
        "maturin", "build", "--release", "--target", "wasm32-unknown-emscripten",
        "-i", f"python{release.python}", "--out", "/p/dist",
    )  # fmt: skip
    assert shlex.split(plan.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"]) == list(
        release.rustflags
    )
    assert "RUSTFLAGS" not in plan.env
    assert plan.env["EMSDK"] == "/cache/emsdk"
    if release.platform_tag.startswith("pyemscripten_"):
        assert plan.env["MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION"] == release.abi
        assert plan.unset == ("PYODIDE_ABI_VERSION",)
    else:
        # Without a PEP 783 platform version maturin writes the emscripten_X_Y_Z tag this release's micropip takes.
        assert "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION" not in plan.env
        assert plan.unset == ("MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")
    assert build.expected_tags(toolchain).startswith(f"{release.python_tag}-{release.python_tag} (or abi3)")


def test_build_std_and_toolchain_flags_are_added():
    release = PRERELEASE
    toolchain = Toolchain("system", release, {"RUSTC_BOOTSTRAP": "1"}, True, ("-C", "link-self-contained=no"))
    plan = build.plan_build(toolchain, Path("dist"))
    assert plan.argv[-1] == "-Zbuild-std=std,panic_unwind"
    assert plan.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"] == "-C link-self-contained=no"
    described = plan.describe()
    assert f"export MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION={release.abi}" in described
    assert described.splitlines()[-1].startswith("maturin build --release")


def test_environment_removes_stale_platform_variables_and_refuses_rustflags():
    # A release with a pre-PEP 783 tag: maturin must see neither variable.
    release = next(release for release in MATRIX.releases.values() if release.pep783_platform_version is None)
    plan = build.plan_build(Toolchain("managed", release), Path("dist"))
    environ = {
        "PATH": "/bin",
        "PYODIDE_ABI_VERSION": "2026_0",
        "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION": "2026_0",
    }
    env = build.build_environment(plan, environ)
    assert "PYODIDE_ABI_VERSION" not in env and "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION" not in env
    with pytest.raises(ToolchainError, match=r"RUSTFLAGS='-C opt-level=3' is set: cargo would then ignore"):
        build.build_environment(plan, {"RUSTFLAGS": "-C opt-level=3"})
