"""A project pinned to a Pyodide line stays on it when a template version moves that line to a newer patch
release, whether its answer names the line ("0.29") or, as answers did before lines, an exact release."""

import subprocess

import pytest
import tomlkit
import yaml

from template_tools import matrix
from tests.helpers.project import rendered_target
from tests.helpers.update import COPIER, git, run_copier, working_tree_repo

MATRIX = matrix.load()
LEGACY = next(
    release
    for release in MATRIX.releases.values()
    if release.status == "legacy" and release.version.startswith("0.29")
)
PATCHED = LEGACY.version.rsplit(".", 1)[0] + "." + str(int(LEGACY.version.rsplit(".", 1)[1]) + 1)


def matrix_with_newer_patch() -> str:
    """Today's matrix, with the 0.29 line's release replaced by the next patch release (same pins)."""
    document = tomlkit.parse(matrix.MATRIX_PATH.read_text())
    releases = document["release"]
    table = releases[LEGACY.version]
    table["npm"] = PATCHED
    rebuilt = tomlkit.table(is_super_table=True)
    for version, value in releases.items():
        rebuilt[PATCHED if version == LEGACY.version else version] = value
    document["release"] = rebuilt
    return document.as_string()


@pytest.fixture(scope="module")
def lines_repo(tmp_path_factory):
    repo = working_tree_repo(tmp_path_factory.mktemp("lines-template"))
    matrix_path = repo / "template" / "pyodide-matrix.toml"
    matrix_path.write_text(matrix_with_newer_patch())
    (repo / "copier-matrix.yml").write_text(matrix.mirror_text(matrix_path))
    git(repo, "commit", "--quiet", "-am", f"v2: {PATCHED} replaces {LEGACY.version}")
    git(repo, "tag", "v2")
    return repo


@pytest.mark.parametrize("answer", [LEGACY.version, LEGACY.line])
def test_update_keeps_the_line(lines_repo, tmp_path, answer):
    project = tmp_path / "hello"
    run_copier(
        tmp_path,
        "copy",
        "--defaults",
        "--vcs-ref=v1",
        "--data",
        "project_name=Hello",
        "--data",
        f"pyodide_version={answer}",
        str(lines_repo),
        str(project),
    )
    assert rendered_target(project)["version"] == LEGACY.version
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "made at v1")
    run_copier(project, "update", "--defaults", "--vcs-ref=v2")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["pyodide_version"] == answer
    assert rendered_target(project)["version"] == PATCHED
    ci = (project / ".github/workflows/ci.yml").read_text()
    assert f'pyodide: "{PATCHED}"' in ci and MATRIX.default not in ci
    assert f"Now: {PATCHED}." in (project / "pyproject.toml").read_text()


def test_a_line_the_template_does_not_have_is_refused(tmp_path):
    major = max(int(version.split(".")[0]) for version in MATRIX.releases)
    result = subprocess.run(
        [
            COPIER,
            "copy",
            "--defaults",
            "--vcs-ref=HEAD",
            "--data",
            "project_name=Hello",
            "--data",
            f"pyodide_version={major + 1}",
            str(matrix.REPO_DIR),
            str(tmp_path / "hello"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    lines = ", ".join(release.line for release in MATRIX.releases.values())
    assert f'"{major + 1}" is not a Pyodide line of this template: answer "stable", or one of {lines}' in (
        " ".join(result.stderr.split())
    )
    assert not (tmp_path / "hello").exists()
