"""A rendered project's own sessions, run for real with nox, maturin and cargo."""

import os
import re
import subprocess

import pytest

from tests.helpers.project import nox as run_nox


def git_init(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)


@pytest.mark.native
def test_tests_and_lint_sessions_pass(render):
    project = render(project_name="Native-Check", module_name="native_check")
    git_init(project)
    result = run_nox(project, "-s", "tests", "lint", "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    # cargo test's unit tests first, then pytest's suite, none failing ("0 failed" is cargo's summary).
    assert re.search(r"test result: ok\. 3 passed; 0 failed", output), output
    assert re.search(r"\b\d+ passed\b", output) and not re.search(r"\b[1-9]\d* failed\b", output), output
    assert "test_add_raises_overflow_error_instead_of_wrapping PASSED" in output, output
    assert "Session lint was successful" in output
    assert (project / "Cargo.lock").exists()


@pytest.mark.native
def test_cargo_test_links_and_passes_without_nox(render):
    """The Rust unit tests run with a plain `cargo test` (no deprecated `extension-module` feature)."""
    project = render(project_name="hello")
    environment = {key: value for key, value in os.environ.items() if key != "PYO3_BUILD_EXTENSION_MODULE"}
    result = subprocess.run(
        ["cargo", "test"], cwd=project, env=environment, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    for test in ("parses_a_fraction", "refuses_text_that_is_not_a_fraction", "refuses_a_zero_denominator"):
        assert f"test tests::{test} ... ok" in output, output[-5000:]


def test_session_list_needs_no_toolchain(render):
    project = render(project_name="hello")
    result = run_nox(project, "--list")
    assert result.returncode == 0, result.stderr
    for session in ("tests", "lint", "toolchain", "wasm_build", "audit", "wasm_test", "doctor"):
        assert re.search(rf"^[*-] {session}\b", result.stdout, re.MULTILINE), result.stdout


def test_the_template_s_sessions_run_alone_from_their_own_file(render):
    project = render(project_name="hello")
    result = run_nox(project, "-f", "noxfile_pyodide.py", "--list")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^[*-] (\w+)", result.stdout, re.MULTILINE)
    assert listed == ["toolchain", "wasm_build", "audit", "wasm_test", "lock", "bundle", "serve", "doctor"]
    dry_run = run_nox(project, "-f", "noxfile_pyodide.py", "-s", "wasm_build", "--", "--dry-run")
    assert dry_run.returncode == 0, (dry_run.stdout + dry_run.stderr)[-3000:]
    assert "maturin build" in dry_run.stdout + dry_run.stderr
