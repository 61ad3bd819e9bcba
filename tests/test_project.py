"""A rendered project's own sessions, run for real with nox, maturin and cargo."""

import re
import subprocess

import pytest

from tests.project_helpers import nox as run_nox


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
    assert re.search(r"\b\d+ passed\b", output) and not re.search(r"\b\d+ failed\b", output), output
    assert "Session lint was successful" in output
    assert (project / "Cargo.lock").exists()


def test_session_list_needs_no_toolchain(render):
    project = render(project_name="hello")
    result = run_nox(project, "--list")
    assert result.returncode == 0, result.stderr
    for session in ("tests", "lint", "toolchain", "wasm_build", "audit", "wasm_test", "doctor"):
        assert re.search(rf"^[*-] {session}\b", result.stdout, re.MULTILINE), result.stdout
