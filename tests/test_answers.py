"""Bad answers: each gets a clear message and leaves no project folder behind."""

import subprocess
import sys
from pathlib import Path

import pytest

from template_tools import matrix
from template_tools.render import render_project


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "-leading-dash"}, "is not a valid distribution name"),
        ({"project_name": "has space"}, "is not a valid distribution name"),
        ({"project_name": "ok", "module_name": "my-module"}, "is not a Python identifier"),
        ({"project_name": "ok", "module_name": "2fast"}, "is not a Python identifier"),
        ({"project_name": "ok", "module_name": "class"}, "is a Python keyword"),
        ({"project_name": "class"}, "is a Python keyword"),
        ({"project_name": "ok", "author_email": "nobody"}, "is not an email address"),
        ({"project_name": "ok", "repository_url": "github.com/x"}, "is not an http(s) URL"),
        (
            {"project_name": "ok", "pyodide_version": "0.99.0"},
            '"0.99.0" is not a Pyodide line of this template',
        ),
        ({"project_name": "ok", "license": "WTFPL"}, "Invalid choice for 'license'"),
    ],
)
def test_bad_answer_is_refused_and_leaves_nothing(tmp_path, answers, message):
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_project(destination, answers)
    assert not destination.exists()


def test_unknown_pyodide_version_lists_the_lines(tmp_path):
    with pytest.raises(ValueError) as raised:
        render_project(tmp_path / "project", {"project_name": "ok", "pyodide_version": "0.99.0"})
    lines = ", ".join(release.line for release in matrix.load().releases.values())
    assert f'answer "stable", or one of {lines}' in " ".join(str(raised.value).split())


def test_command_line_reports_the_bad_answer(tmp_path):
    copier = Path(sys.executable).with_name("copier")
    destination = tmp_path / "project"
    result = subprocess.run(
        [
            copier,
            "copy",
            "--defaults",
            "--vcs-ref=HEAD",
            "--data",
            "module_name=import",
            "--data",
            "project_name=ok",
            str(matrix.REPO_DIR),
            str(destination),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert '"import" is a Python keyword' in result.stderr
    assert not destination.exists()


# pyodide_extra_versions: lines of the matrix, as a YAML list.

LINES = [release.line for release in matrix.load().releases.values()]


@pytest.mark.parametrize("extra", [["0.99"], ["0.29", "0.99"], [""]], ids=["unknown", "one-unknown", "empty"])
def test_an_extra_version_that_is_no_line_is_refused_and_leaves_nothing(tmp_path, extra):
    destination = tmp_path / "project"
    bad = next(name for name in extra if name not in LINES)
    with pytest.raises(ValueError) as raised:
        render_project(destination, {"project_name": "ok", "pyodide_extra_versions": extra})
    message = f'"{bad}" is not a Pyodide line of this template: use some of {", ".join(LINES)}.'
    assert message in " ".join(str(raised.value).split())
    assert not destination.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["0.99"]', f'"0.99" is not a Pyodide line of this template: use some of {", ".join(LINES)}.'),
        # the list's brackets forgotten
        ("0.29", f'"0.29" is not a list of Pyodide lines: write it as a YAML list, e.g. ["{LINES[-1]}"]'),
    ],
)
def test_command_line_reports_a_bad_extra_version(tmp_path, value, message):
    copier = Path(sys.executable).with_name("copier")
    destination = tmp_path / "project"
    result = subprocess.run(
        [copier, "copy", "--defaults", "--vcs-ref=HEAD", "--data", "project_name=ok"]
        + ["--data", f"pyodide_extra_versions={value}", str(matrix.REPO_DIR), str(destination)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert message in " ".join(result.stderr.split()), result.stderr[-2000:]
    assert not destination.exists()


def test_extra_versions_repeating_a_line_or_the_target_give_one_ci_job_each(tmp_path):
    releases = matrix.load().releases
    target, other = list(releases.values())[:2]
    project = render_project(
        tmp_path / "project",
        {
            "project_name": "ok",
            "pyodide_version": target.line,
            "pyodide_extra_versions": [other.line, target.line, other.line],
        },
    )
    ci = (project / ".github/workflows/ci.yml").read_text()
    assert f"Releases: {target.version}, {other.version}." in " ".join(ci.split())
