"""A project rendered from this working tree gets this working tree's engine, installs it once, and runs its
Pyodide sessions from it offline afterwards, without starting an installer."""

import filecmp
import sys

from template_tools import ENGINE_DIR, matrix
from tests.project_helpers import nox, output_of
from tests.pyodide_helpers import jiter_wheel

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
    noxfile = project / "noxfile.py"
    text = noxfile.read_text()
    start = text.index('ENGINE = "') + len('ENGINE = "')
    end = text.index('"', start)
    broken = text[:start] + "pyo3-pyodide @ file:///nonexistent/engine" + text[end:]
    noxfile.write_text(broken)
    result = nox(project, "-s", "wasm_build", "--", "--dry-run", offline=True)
    output = output_of(result)
    assert result.returncode != 0
    assert (
        "could not install the Pyodide sessions' engine (pyo3-pyodide @ file:///nonexistent/engine)" in output
    )
    assert not (project / INSTALLED / "installed-from.txt").exists()  # nothing half-installed counts
