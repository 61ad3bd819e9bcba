"""The 314 line's move to a new patch release (issue 20: 314.0.7 -> 314.0.8, as `inv matrix.update` made it):
`copier update` brings a project made on the older release to the matrix's, whatever its answer named, and the
new release's npm runtime is the one the pins describe and boots.

The older release is the one the table's own mark says it was moved from; template v1 is today's working tree
with the 314 table at that release, v2 is today's matrix.
"""

import json
import re
import subprocess

import pytest
import tomlkit
import yaml

from template_tools import matrix, matrix_update
from tests.helpers.project import rendered_target
from tests.helpers.update import copy_working_tree, git, run_copier

MATRIX = matrix.load()
NEW = MATRIX.resolve("314")
MARK = re.compile(re.escape(matrix_update.UPDATED_MARK) + r" from (\S+) ")
[OLD] = MARK.findall(
    next(
        block.text
        for block in matrix_update.split_blocks(matrix.MATRIX_PATH.read_text())[1]
        if block.version == NEW.version
    )
)


def matrix_before_the_move() -> str:
    """Today's matrix with its 314 table at OLD, as the template had it before the update."""
    document = tomlkit.parse(matrix.MATRIX_PATH.read_text())
    rebuilt = tomlkit.table(is_super_table=True)
    for version, table in document["release"].items():
        if version == NEW.version:
            table["npm"] = OLD
        rebuilt[OLD if version == NEW.version else version] = table
    document["release"] = rebuilt
    if document["default"] == NEW.version:
        document["default"] = OLD
    return document.as_string()


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("template-314")
    copy_working_tree(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    matrix_path = repo / "template" / "pyodide-matrix.toml"
    matrix_path.write_text(matrix_before_the_move())
    (repo / "copier-matrix.yml").write_text(matrix.mirror_text(matrix_path))
    assert matrix.load(matrix_path).resolve("314").version == OLD
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"v1: the 314 line at {OLD}")
    git(repo, "tag", "v1")
    matrix_path.write_bytes(matrix.MATRIX_PATH.read_bytes())
    (repo / "copier-matrix.yml").write_bytes(matrix.MIRROR_PATH.read_bytes())
    git(repo, "commit", "--quiet", "-am", f"v2: {NEW.version} replaces {OLD}")
    git(repo, "tag", "v2")
    return repo


def test_the_update_moved_the_line_within_itself():
    assert OLD != NEW.version and OLD.startswith("314.") and NEW.version.startswith("314.")
    assert MATRIX.default == NEW.version  # the newest stable release


@pytest.mark.parametrize("answer", ["stable", "314", "exact"])
def test_copier_update_moves_a_project_on_the_older_release_to_the_new_one(template_repo, tmp_path, answer):
    answer = OLD if answer == "exact" else answer  # an exact release, as answers were before lines
    project = tmp_path / "on-314"
    run_copier(
        tmp_path,
        "copy",
        "--defaults",
        "--vcs-ref=v1",
        "--data",
        "project_name=On-314",
        "--data",
        f"pyodide_version={answer}",
        str(template_repo),
        str(project),
    )
    assert rendered_target(project)["version"] == OLD
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "made at v1")

    run_copier(project, "update", "--defaults", "--vcs-ref=v2")

    target = rendered_target(project)
    assert (target["version"], target["npm"]) == (NEW.version, NEW.npm)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"
    assert (project / "pyodide-matrix.toml").read_bytes() == matrix.MATRIX_PATH.read_bytes()
    assert f"Now: {NEW.version}." in (project / "pyproject.toml").read_text()
    for name in ("ci.yml", "release.yml"):
        flow = yaml.safe_load((project / ".github/workflows" / name).read_text())
        job = flow["jobs"]["pyodide" if name == "ci.yml" else "wheels"]
        [entry] = job["strategy"]["matrix"]["include"]
        assert (entry["pyodide"], entry["npm"]) == (NEW.version, NEW.npm), name
    # The answer is kept, as given: an exact release means its line (the engine resolved it above).
    pyproject = (project / "pyproject.toml").read_text()
    assert tomlkit.parse(pyproject)["tool"]["pyodide-target"]["release"] == answer
    for path in project.rglob("*"):
        if (
            ".git" in path.parts
            or not path.is_file()
            or path.name in ("pyodide-matrix.toml", ".copier-answers.yml")
        ):
            continue
        text = path.read_text(errors="replace").replace(f'release = "{answer}"', "")
        assert not re.search(rf"(?<![\w.]){re.escape(OLD)}(?![\w])", text), path
    assert git(project, "status", "--porcelain", "--untracked-files=no")  # the update changed tracked files


@pytest.mark.network
def test_the_new_release_s_npm_runtime_matches_its_pins_and_boots():
    from pyo3_pyodide.runtime import npm

    runtime = npm.ensure_runtime(
        NEW
    )  # npm pyodide@NEW.npm, checked against the table's ABI, platform, Python
    assert runtime.micropip == "0.11.1"
    script = (
        f"const {{ loadPyodide }} = require({json.dumps(str(runtime.folder / 'pyodide.js'))});"
        "loadPyodide().then((py) => console.log(py.version, py.runPython('import sys; sys.version.split()[0]')));"
    )
    result = subprocess.run(
        [npm.node(), "-e", script], capture_output=True, text=True, timeout=300, check=True
    )
    version, python = result.stdout.split()[-2:]
    assert version == NEW.npm and python.rsplit(".", 1)[0] == NEW.python, result.stdout
