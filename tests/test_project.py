"""A rendered project's own sessions, run for real with nox, maturin and cargo."""

import re
import subprocess

import pytest

from tests.conftest import run_nox


def git_init(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)


@pytest.mark.native
def test_tests_and_lint_sessions_pass(render):
    project = render(project_name="Native-Check", module_name="native_check")
    git_init(project)
    result = run_nox(project, "-s", "tests", "lint")
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert re.search(r"\b5 passed\b", output), output
    assert "Session lint was successful" in output
    assert (project / "Cargo.lock").exists()


def test_wasm_test_session_says_it_is_not_implemented_yet(render):
    project = render(project_name="hello", pyodide_version="0.29.5")
    result = run_nox(project, "-s", "wasm_test")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "`nox -s wasm_test` is not implemented yet" in output
    assert "Target: Pyodide 0.29.5 (legacy): Python 3.13" in output


def test_session_list_needs_no_toolchain(render):
    project = render(project_name="hello")
    result = run_nox(project, "--list")
    assert result.returncode == 0, result.stderr
    for session in ("tests", "lint", "toolchain", "wasm_build", "audit", "wasm_test", "doctor"):
        assert re.search(rf"^[*-] {session}\b", result.stdout, re.MULTILINE), result.stdout
