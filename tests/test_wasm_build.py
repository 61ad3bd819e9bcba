"""`nox -s wasm_build` for real: the dry plan for every release, and a real wheel built in the Debian sid root."""

import re
import shlex

import pytest
from pyo3_pyodide.wheel import audit

from template_tools import matrix
from tests.helpers.project import nox as run_nox

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


# A broken pyodide-matrix.toml or an unknown --pyodide, through the project's own nox: each stops the session
# before anything is built, with its message, and the session works again once the cause is gone.


@pytest.fixture(scope="module")
def matrix_project(tmp_path_factory):
    from template_tools.render import render_project

    project = render_project(
        tmp_path_factory.mktemp("matrix-faults") / "matrix-check", {"project_name": "matrix-check"}
    )
    return project, (project / "pyodide-matrix.toml").read_text()


def broken_toml(text: str) -> tuple[str, str]:
    line = text.splitlines().index(f'default = "{MATRIX.default}"') + 1
    return text.replace(
        f'default = "{MATRIX.default}"', f"default = {MATRIX.default}", 1
    ), f"at line {line}, "


@pytest.mark.parametrize("fault", ["not TOML", "a release lacks emscripten", "deleted"])
def test_a_broken_matrix_stops_the_session_and_a_restored_one_works(matrix_project, fault):
    project, good = matrix_project
    path = project / "pyodide-matrix.toml"
    default = MATRIX.releases[MATRIX.default]
    if fault == "not TOML":
        text, where = broken_toml(good)
        path.write_text(text)
        expected = f"{path} is not valid TOML: "
    elif fault == "a release lacks emscripten":
        pin = f'emscripten = "{default.emscripten}"\n'
        start = good.index(f'[release."{default.version}"]')
        path.write_text(good[:start] + good[start:].replace(pin, "", 1))
        expected = f'pyodide-matrix.toml: [release."{default.version}"] lacks emscripten'
    else:
        path.unlink()
        expected = (
            f"{path} not found: this project's pins live there; restore it with `git checkout -- {path}`"
        )
    try:
        result = run_nox(project, "-s", "wasm_build", "--", "--dry-run")
    finally:
        path.write_text(good)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"Session wasm_build aborted: {expected}" in output, output[-2000:]
    if fault == "not TOML":
        assert where in output.split(expected)[1].splitlines()[0]
    assert "maturin build" not in output and not (project / "dist").exists()

    again = run_nox(project, "-s", "wasm_build", "--", "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"-i python{default.python}" in again.stdout + again.stderr


@pytest.mark.parametrize("session", ["wasm_build", "doctor"])
def test_an_unknown_pyodide_is_refused_naming_the_known_ones(matrix_project, session):
    project, _ = matrix_project
    lines = ", ".join(release.line for release in MATRIX.releases.values())
    assert "0.99" not in lines.split(", ")
    extra = ["--dry-run"] if session == "wasm_build" else []
    result = run_nox(project, "-s", session, "--", *extra, "--pyodide", "0.99")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert (
        f"Session {session} aborted: Pyodide release '0.99' is not in pyodide-matrix.toml; known: stable, "
        f"{lines}, {', '.join(MATRIX.releases)}. Pick one of those, or run `copier update` to get newer "
        "releases."
    ) in output, output[-2000:]
    assert not (project / "dist").exists()
