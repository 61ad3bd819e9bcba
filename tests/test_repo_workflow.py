"""The template repository's own GitHub workflows (.github/workflows at the root, not the generated ones).

Valid (actionlint), no security finding (zizmor, auditor persona), least privilege, actions pinned by the
commits the generated workflows use, and the Pyodide releases read from the matrix at run time: the fan-out
step's command is run here and must print the matrix's releases, and no release is typed in a workflow.
"""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from template_tools import matrix
from tests.helpers.workflow import PINNED_USES, actionlint_executable, actionlint_findings, zizmor_findings

REPO = matrix.REPO_DIR
WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
TEMPLATE_WORKFLOWS = sorted((REPO / "template/.github/workflows").glob("*.jinja"))
MATRIX = matrix.load()
NOX_SESSION = re.compile(r"\bnox -s (\w+)")
SESSIONS_PER_RELEASE = ["toolchain", "wasm_build", "wasm_test"]


def load(name: str) -> dict:
    return yaml.safe_load((REPO / ".github/workflows" / name).read_text(encoding="utf-8"))


def steps_running(job: dict, command: str) -> list[dict]:
    return [step for step in job["steps"] if command in step.get("run", "")]


def run_step(step: dict, env: dict) -> subprocess.CompletedProcess:
    """A step's `run:` script, as GitHub runs it (`bash -e`), from the repository root; this venv's tools
    (inv, nox) first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=REPO,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="session")
def actionlint():
    return actionlint_executable()


def test_the_workflows_are_there():
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "upstream.yml"]


def test_actionlint_finds_nothing(actionlint):
    status, findings, stderr = actionlint_findings(actionlint, REPO, [p.relative_to(REPO) for p in WORKFLOWS])
    assert status == 0 and findings == [], json.dumps(findings, indent=1) + stderr


def test_zizmor_finds_nothing_even_as_auditor():
    status, findings, stderr = zizmor_findings(REPO)
    assert status == 0 and findings == [], json.dumps(findings, indent=1) + stderr


def test_every_action_is_pinned_by_a_commit_the_generated_workflows_use():
    template_pins = "\n".join(path.read_text(encoding="utf-8") for path in TEMPLATE_WORKFLOWS)
    for path in WORKFLOWS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line:
                assert PINNED_USES.search(line), line
                assert line.split("uses:", 1)[1].strip() in template_pins, f"{path.name}: {line}"


def test_least_privilege_and_no_expression_in_a_shell_script():
    for path in WORKFLOWS:
        flow = load(path.name)
        assert flow["permissions"] == {}, path.name
        for name, job in flow["jobs"].items():
            assert job["permissions"] == {"contents": "read"}, (path.name, name)
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)
                assert "${{" not in step.get("run", ""), (path.name, name, step["run"])
        text = path.read_text(encoding="utf-8")
        assert "secrets." not in text and "pull_request_target" not in text


def test_no_release_is_typed_in_a_workflow():
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        typed = [version for version in MATRIX.releases if version in text]
        assert typed == [], f"{path.name} names {typed}: read them from the matrix"


def test_ci_runs_the_readmes_test_command_on_push_and_pull_request():
    flow = load("ci.yml")
    assert {"push", "pull_request"} <= set(flow[True])  # YAML 1.1 reads the key `on` as True
    assert "nox -s tests" in (REPO / "README.md").read_text(encoding="utf-8")
    (step,) = steps_running(flow["jobs"]["tests"], "nox -s tests")
    assert step["run"].startswith("sudo -E env")  # the suite provisions its sid root and Chromium as root


def test_the_fan_out_command_prints_the_matrix_releases(tmp_path):
    flow = load("ci.yml")
    job = flow["jobs"]["releases"]
    (step,) = [step for step in job["steps"] if step.get("id") == "releases"]
    assert job["outputs"] == {"releases": "${{ steps.releases.outputs.releases }}"}
    fan_out = flow["jobs"]["pyodide"]
    assert fan_out["needs"] == "releases"
    assert fan_out["strategy"]["matrix"] == {"pyodide": "${{ fromJSON(needs.releases.outputs.releases) }}"}

    output = tmp_path / "github_output"
    result = run_step(step, {"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("releases="), lines
    assert json.loads(lines[0].removeprefix("releases=")) == list(MATRIX.releases)


def test_each_release_job_runs_the_managed_sessions_with_a_cache_keyed_by_the_matrix():
    job = load("ci.yml")["jobs"]["pyodide"]
    assert job["env"] == {"PYODIDE_VERSION": "${{ matrix.pyodide }}"}
    (cache,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/cache@")]
    assert "hashFiles('template/pyodide-matrix.toml')" in cache["with"]["key"]
    assert "${{ matrix.pyodide }}" in cache["with"]["key"]
    sessions = [step for step in job["steps"] if NOX_SESSION.search(step.get("run", ""))]
    assert [NOX_SESSION.search(step["run"])[1] for step in sessions] == SESSIONS_PER_RELEASE
    for step in sessions:
        assert "--toolchain" not in step["run"]  # the default provider: managed, real downloads
        assert step["env"] == {"PYO3_PYODIDE_CACHE": cache["with"]["path"]}
    assert job["steps"].index(cache) < job["steps"].index(sessions[0])


@pytest.mark.parametrize("version", MATRIX.releases)
def test_the_render_step_makes_a_project_for_the_release(tmp_path, version):
    job = load("ci.yml")["jobs"]["pyodide"]
    (step,) = steps_running(job, "inv render")
    result = run_step(step, {"RUNNER_TEMP": str(tmp_path), "PYODIDE_VERSION": version})
    assert result.returncode == 0, result.stdout + result.stderr
    (project,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert all(str(project.name) in step["run"] for step in steps_running(job, "nox -s "))
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["pyodide-target"]["release"] == version


def test_the_rendered_project_has_the_sessions_the_jobs_call(tmp_path):
    job = load("ci.yml")["jobs"]["pyodide"]
    (step,) = steps_running(job, "inv render")
    assert run_step(step, {"RUNNER_TEMP": str(tmp_path), "PYODIDE_VERSION": MATRIX.default}).returncode == 0
    (project,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("nox")), "--list"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for session in SESSIONS_PER_RELEASE:
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout


def test_the_weekly_job_checks_upstream_for_new_releases():
    flow = load("upstream.yml")
    assert [entry["cron"] for entry in flow[True]["schedule"]]
    (job,) = flow["jobs"].values()
    (step,) = steps_running(job, "inv matrix.update")
    assert step["run"] == "inv matrix.update --check"
    result = run_step({"run": "inv --help matrix.update"}, {})
    assert result.returncode == 0 and "--check" in result.stdout, result.stdout + result.stderr
