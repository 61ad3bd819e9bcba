"""A project rendered from this working tree gets this working tree's engine, installs it once, and runs its
Pyodide sessions from it offline afterwards, without starting an installer."""

import filecmp
import re
import shutil
import sys
from importlib.metadata import version

from pyo3_pyodide.sessions import NOX_REQUIREMENT

from template_tools import ENGINE_DIR, REPO_DIR, TEMPLATE_DIR, matrix
from tests.helpers.project import nox, output_of
from tests.helpers.pyodide import jiter_wheel

MATRIX = matrix.load()
STABLE = MATRIX.releases[MATRIX.default]
INSTALLED = f".nox/pyo3-pyodide-{sys.implementation.cache_tag}"  # this Python's


def test_the_engine_installs_once_then_every_session_runs_offline(render):
    project = render(project_name="hello")
    first = nox(project, "-s", "wasm_build", "--", "--dry-run")
    assert first.returncode == 0, output_of(first)[-3000:]
    installed = project / INSTALLED / "pyo3_pyodide"
    source = ENGINE_DIR / "src" / "pyo3_pyodide"
    for module in ("sessions/__init__.py", "wheel/tags.py", "runtime/run_pytest.mjs"):
        assert filecmp.cmp(installed / module, source / module, shallow=False), module
    record = (project / INSTALLED / "installed-from.txt").read_text()
    assert f"file://{ENGINE_DIR.parent}/engine" in record

    wheel = jiter_wheel()
    for session in (
        ["wasm_build", "--", "--dry-run"],
        ["audit", "--", str(wheel), "--pyodide", STABLE.version],
        ["doctor", "--", "--toolchain", "system"],
    ):
        result = nox(project, "-s", *session, offline=True)
        output = output_of(result)
        assert "Successfully installed" not in output and "Collecting" not in output, output[-2000:]
        assert "could not install the Pyodide sessions' engine" not in output
        if session[0] != "doctor":  # doctor fails on a machine without emcc; it must still run and report
            assert result.returncode == 0, output[-3000:]
        else:
            assert f"Pyodide {STABLE.version}: Python {STABLE.python}" in output, output[-3000:]
    assert (project / INSTALLED / "installed-from.txt").read_text() == record


def test_a_changed_engine_pin_installs_again_and_a_failed_install_says_so(render):
    project = render(project_name="hello")
    noxfile = project / "noxfile_pyodide.py"
    noxfile.write_text(engine_pin(noxfile, "pyo3-pyodide @ file:///nonexistent/engine"))
    result = nox(project, "-s", "wasm_build", "--", "--dry-run", offline=True)
    output = output_of(result)
    assert result.returncode != 0
    assert (
        "could not install the Pyodide sessions' engine (pyo3-pyodide @ file:///nonexistent/engine)" in output
    )
    assert not (project / INSTALLED / "installed-from.txt").exists()  # nothing half-installed counts


def engine_pin(noxfile, engine_reference):
    """The noxfile with its ENGINE replaced by `engine_reference`."""
    text = noxfile.read_text()
    start = text.index('ENGINE = "') + len('ENGINE = "')
    return text[:start] + engine_reference + text[text.index('"', start) :]


def test_an_engine_that_needs_a_newer_nox_says_so_once_installed_and_counts_as_not_installed(
    render, tmp_path
):
    project = render(project_name="hello")
    engine = tmp_path / "engine"
    shutil.copytree(ENGINE_DIR, engine, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    sessions = engine / "src" / "pyo3_pyodide" / "sessions" / "__init__.py"
    sessions.write_text(
        sessions.read_text().replace(f'NOX_REQUIREMENT = "{NOX_REQUIREMENT}"', 'NOX_REQUIREMENT = ">=2999"')
    )
    noxfile = project / "noxfile_pyodide.py"
    noxfile.write_text(engine_pin(noxfile, f"pyo3-pyodide @ file://{engine}"))
    result = nox(project, "-s", "wasm_build", "--", "--dry-run")  # pip fetches flit_core to build it
    output = output_of(result)
    assert result.returncode != 0
    assert f"The Pyodide sessions need nox >=2999; this is nox {version('nox')}. Upgrade it" in output, output
    assert not (project / INSTALLED / "installed-from.txt").exists()


def test_every_nox_requirement_is_the_engines():
    """The workflows, .ci/run and the bench install the nox the engine asks for (sessions.NOX_REQUIREMENT)."""
    places = [
        REPO_DIR / ".ci" / "run",
        *(REPO_DIR / "bench").glob("*.py"),
        *(REPO_DIR / ".github").rglob("*.yml"),
    ]
    places += [path for path in TEMPLATE_DIR.rglob("*") if path.is_file()]
    found = {}
    for path in places:
        for requirement in re.findall(r"\bnox(>=[\w.]+)", path.read_text(errors="replace")):
            found.setdefault(requirement, []).append(str(path.relative_to(REPO_DIR)))
    assert set(found) == {NOX_REQUIREMENT}, found
    assert len(found[NOX_REQUIREMENT]) >= 5  # .ci/run, the bench twice, the generated workflows
