"""`nox -s wasm_build` for real: the dry plan for every release, and a real wheel built in the Debian sid root."""

import re
import shlex

import pytest
from pyo3_pyodide.wheel import audit

from template_tools import matrix
from tests.project_helpers import nox as run_nox

MATRIX = matrix.load()
SID_TARGET = MATRIX.releases["315.0.0-alpha.2"]


def test_dry_plan_for_every_release(render):
    project = render(project_name="plan-check")
    arguments = [argument for version in MATRIX.releases for argument in ("--pyodide", version)]
    result = run_nox(project, "-s", "wasm_build", "--", "--dry-run", *arguments)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for version, release in MATRIX.releases.items():
        section = output.split(f"Pyodide {version}:")[1].split("Pyodide ")[0]
        flags = shlex.join(release.rustflags)
        assert f"export CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS={shlex.quote(flags)}" in section
        assert (
            f"maturin build --release --target wasm32-unknown-emscripten -i python{release.python}" in section
        )
        assert ("export MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION=" + release.abi in section) == (
            release.pep783_platform_version is not None
        )
        assert "unset PYODIDE_ABI_VERSION" in section
    assert not (project / "dist").exists()


def test_rustflags_variable_stops_the_build_before_anything_runs(render, monkeypatch):
    project = render(project_name="flags-check")
    monkeypatch.setenv("RUSTFLAGS", "-C target-cpu=native")
    result = run_nox(project, "-s", "wasm_build", "--", "--toolchain", "system")
    assert result.returncode != 0
    assert "RUSTFLAGS='-C target-cpu=native' is set: cargo would then ignore" in result.stdout + result.stderr


@pytest.mark.wasm
def test_real_wheel_from_the_sid_root(sid_built_project):
    project, result = sid_built_project
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    wheels = sorted(path.name for path in (project / "dist").glob("*.whl"))
    assert wheels == ["wasm_demo-0.1.0-cp315-cp315-pyemscripten_2026_5_wasm32.whl"], output[-3000:]
    assert re.search(
        r"wasm_demo-0\.1\.0-cp315-cp315-pyemscripten_2026_5_wasm32\.whl: [\d,]+ bytes .*: ok", output
    )
    report = audit.audit_wheel(project / "dist" / wheels[0], SID_TARGET)
    assert report.findings == []
    assert [module.member for module in report.extension_modules] == [
        "wasmdemo/_core.cpython-315-wasm32-emscripten.so"
    ]
