"""The generated GitHub workflows: valid (actionlint), no security finding (zizmor), pins from the matrix.

The tools run as tests/workflow_tools.py says (actionlint built with `go install`, zizmor from PyPI).
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from template_tools import matrix
from tests.project_helpers import nox as run_nox
from tests.workflow_tools import PINNED_USES, actionlint_executable, actionlint_findings, zizmor_findings

MATRIX = matrix.load()
WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/release.yml")
PIN_KEYS = ("python", "emscripten", "platform_tag", "rust_toolchain", "npm")
NOX_SESSION = re.compile(r"\bnox -s (\w+)")


@pytest.fixture(scope="session")
def actionlint():
    return actionlint_executable()


# A stable-or-legacy line older than the default one, for the project that builds for two lines.
OLDER = next(
    release
    for release in MATRIX.releases.values()
    if release.status == "legacy" and release.pep783_platform_version is not None
)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """release -> a project rendered for it; "two lines" -> one that builds for an older line too."""
    from template_tools.render import render_project

    folder = tmp_path_factory.mktemp("workflows")
    rendered = {
        version: render_project(folder / version, {"project_name": "Flow-Check", "pyodide_version": version})
        for version in MATRIX.releases
    }
    rendered["two lines"] = render_project(
        folder / "two-lines",
        {
            "project_name": "Flow-Check",
            "pyodide_extra_versions": [OLDER.line, MATRIX.releases[MATRIX.default].line],
        },
    )
    rendered["adopted"] = render_project(
        folder / "adopted", {"project_kind": "adopt", "project_name": "Flow-Check"}
    )
    return rendered


def workflow(project: Path, name: str) -> dict:
    return yaml.safe_load((project / ".github/workflows" / name).read_text())


def include_of(job: dict) -> list[dict]:
    return job["strategy"]["matrix"]["include"]


def expected_entry(version: str) -> dict:
    release = MATRIX.releases[version]
    entry = {"pyodide": version, **{key: getattr(release, key) for key in PIN_KEYS}}
    entry["xbuildenv_sha256"] = release.xbuildenv_sha256 or "none"
    return entry


CASES = [*MATRIX.releases, "two lines", "adopted"]


def workflow_files(project: Path) -> list[str]:
    return sorted(str(path.relative_to(project)) for path in (project / ".github/workflows").glob("*.yml"))


@pytest.mark.parametrize("case", CASES)
def test_actionlint_finds_nothing(actionlint, projects, case):
    project = projects[case]
    code, findings, stderr = actionlint_findings(actionlint, project, workflow_files(project))
    assert code == 0 and findings == [], json.dumps(findings, indent=1) + stderr


@pytest.mark.parametrize("case", CASES)
def test_zizmor_finds_nothing_even_as_auditor(projects, case):
    code, findings, stderr = zizmor_findings(projects[case])
    assert code == 0 and findings == [], json.dumps(findings, indent=1) + stderr


@pytest.mark.parametrize("version", MATRIX.releases)
def test_each_job_carries_the_pins_of_its_release(projects, version):
    project = projects[version]
    assert include_of(workflow(project, "ci.yml")["jobs"]["pyodide"]) == [expected_entry(version)]
    assert include_of(workflow(project, "release.yml")["jobs"]["wheels"]) == [expected_entry(version)]
    text = (project / ".github/workflows/ci.yml").read_text()
    assert "key: emsdk-${{ matrix.emscripten }}-${{ matrix.xbuildenv_sha256 }}" in text
    assert "key: cargo-wasm-${{ matrix.rust_toolchain }}-${{ matrix.emscripten }}-" in text
    assert "key: npm-pyodide-${{ matrix.npm }}-" in text


def test_two_lines_get_one_job_each_target_first(projects):
    project = projects["two lines"]
    expected = [expected_entry(MATRIX.default), expected_entry(OLDER.version)]
    assert include_of(workflow(project, "ci.yml")["jobs"]["pyodide"]) == expected
    assert include_of(workflow(project, "release.yml")["jobs"]["wheels"]) == expected


def test_the_publish_job_alone_may_get_a_token(projects):
    project = projects[MATRIX.default]
    for name in ("ci.yml", "release.yml"):
        flow = workflow(project, name)
        assert flow["permissions"] == {}
        for job_name, job in flow["jobs"].items():
            if (name, job_name) == ("release.yml", "pypi"):
                assert job["permissions"] == {"id-token": "write"}
                assert job["environment"]["name"] == "pypi"
            else:
                assert job["permissions"] == {"contents": "read"}, (name, job_name)
        text = (project / ".github/workflows" / name).read_text()
        assert "secrets." not in text and "password:" not in text
    release = workflow(project, "release.yml")
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    publish_steps = release["jobs"]["pypi"]["steps"]
    assert publish_steps[-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert publish_steps[-1]["with"] == {"packages-dir": "upload/"}
    assert "dist/*-pyemscripten_*_wasm32.whl" in publish_steps[-2]["run"]


def test_the_release_workflow_builds_without_caches(projects):
    text = (projects[MATRIX.default] / ".github/workflows/release.yml").read_text()
    assert "actions/cache" not in text and not re.search(r"(?<![\w-])cache:", text)
    assert "package-manager-cache: false" in text


def test_every_action_is_pinned_by_commit(projects):
    project = projects[MATRIX.default]
    for name in WORKFLOWS:
        for line in (project / name).read_text().splitlines():
            if "uses:" in line:
                assert PINNED_USES.search(line), line


def test_the_workflows_call_sessions_the_noxfile_has(projects):
    project = projects[MATRIX.default]
    called = set()
    for name in WORKFLOWS:
        called |= set(NOX_SESSION.findall((project / name).read_text()))
    assert called == {"tests", "lint", "toolchain", "wasm_build", "wasm_test"}
    listed = run_nox(project, "--list")
    assert listed.returncode == 0, listed.stderr
    for session in called:
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout


def test_an_adopted_project_gets_the_same_pyodide_job_in_a_workflow_of_its_own(projects):
    adopted = projects["adopted"]
    assert workflow_files(adopted) == [".github/workflows/pyodide.yml"]
    generated = workflow(projects[MATRIX.default], "ci.yml")["jobs"]["pyodide"]
    assert workflow(adopted, "pyodide.yml")["jobs"] == {"pyodide": generated}
    listed = run_nox(adopted, "--list")
    assert listed.returncode == 0, listed.stderr
    for session in set(NOX_SESSION.findall((adopted / ".github/workflows/pyodide.yml").read_text())):
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout
