"""Helpers for the `copier update` tests: git and copier run as users run them, a git copy of this template."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from template_tools import matrix

COPIER = str(Path(sys.executable).with_name("copier"))
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **IDENTITY}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def run_copier(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """copier's own command line, no --trust; fails the test when copier fails."""
    result = subprocess.run(
        [COPIER, *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def copy_working_tree(repo: Path) -> None:
    """This checkout's files as they are now (uncommitted changes included) into `repo`."""
    listed = git(matrix.REPO_DIR, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = matrix.REPO_DIR / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)


def working_tree_repo(repo: Path, tag: str = "v1") -> Path:
    """`repo`: a git repository of this checkout's working tree, committed and tagged `tag`."""
    copy_working_tree(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", tag)
    git(repo, "tag", tag)
    return repo
