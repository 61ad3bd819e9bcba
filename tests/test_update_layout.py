"""`copier update` from the previous template layout, which vendored the engine as pyodide_tools/ into every
project, to this one, where the noxfile installs the engine package: the old folder goes away, unless the
user edited it, in which case the edit shows as conflict markers and nothing is lost.

The old template is this repository's own history: the last commit that still had template/pyodide_tools/.
"""

import subprocess

import pytest
import yaml

from template_tools import matrix
from tests.helpers.update import copy_working_tree, git, run_copier

OLD_LAYOUT_FILE = "template/pyodide_tools/__init__.py"


def last_commit_with_vendored_engine() -> str:
    """The parent of the commit that removed template/pyodide_tools/ (this checkout's history)."""
    removed = git(
        matrix.REPO_DIR, "log", "--format=%H", "--diff-filter=D", "-1", "--", OLD_LAYOUT_FILE
    ).strip()
    if not removed:
        pytest.fail(f"no commit removes {OLD_LAYOUT_FILE}: this checkout lacks the history (clone it whole)")
    return git(matrix.REPO_DIR, "rev-parse", f"{removed}^").strip()


@pytest.fixture(scope="module")
def layout_repo(tmp_path_factory):
    """A template repository tagged v1 (the vendored layout, from history) and v2 (this working tree)."""
    repo = tmp_path_factory.mktemp("layout-template")
    archive = subprocess.run(
        ["git", "archive", last_commit_with_vendored_engine()],
        cwd=matrix.REPO_DIR,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "vendored engine")
    git(repo, "tag", "v1")
    git(repo, "rm", "-r", "--quiet", ".")
    copy_working_tree(repo)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "engine package")
    git(repo, "tag", "v2")
    return repo


def project_at_v1(layout_repo, folder):
    run_copier(
        folder.parent,
        "copy",
        "--defaults",
        "--vcs-ref=v1",
        "--data",
        "project_name=Hello",
        str(layout_repo),
        str(folder),
    )
    assert (folder / "pyodide_tools" / "audit.py").is_file()  # the old layout, as users have it
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "made at v1")
    return folder


def test_update_removes_the_vendored_engine(layout_repo, tmp_path):
    project = project_at_v1(layout_repo, tmp_path / "hello")
    run_copier(project, "update", "--defaults", "--vcs-ref=v2")
    assert not (project / "pyodide_tools").exists()
    noxfile = (project / "noxfile_pyodide.py").read_text()
    assert f'ENGINE = "pyo3-pyodide @ file://{layout_repo}/engine"' in noxfile
    assert f'ENGINE_COMMIT = "{git(layout_repo, "rev-parse", "v2").strip()}"' in noxfile
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"
    assert "<<<<<<<" not in noxfile and "<<<<<<<" not in (project / "noxfile.py").read_text()


def test_an_edited_vendored_module_stays_recoverable(layout_repo, tmp_path):
    """copier 9.19 drops a user's hunks in a file the new template no longer has (its `git apply --reject`
    finds no file to patch, and writes no .rej): no conflict markers are possible without --trust. What the
    user has instead, and the README says: the deletion of their edited file is an uncommitted change that
    `git status` lists, and `git restore` brings the file back with their edit."""
    project = project_at_v1(layout_repo, tmp_path / "hello")
    audit = project / "pyodide_tools" / "audit.py"
    audit.write_text(audit.read_text() + "\n# our local fix\n")
    git(project, "commit", "--quiet", "-am", "our fix in the vendored engine")
    run_copier(project, "update", "--defaults", "--vcs-ref=v2")
    assert " D pyodide_tools/audit.py" in git(project, "status", "--porcelain").splitlines()
    git(project, "restore", "pyodide_tools/audit.py")
    assert audit.read_text().endswith("# our local fix\n")
