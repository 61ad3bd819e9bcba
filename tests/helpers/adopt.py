"""Adopting the Pyodide layer into an existing project with the commands the README gives."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from template_tools import matrix
from tests.helpers.project import console_blocks
from tests.helpers.update import git

README = (matrix.REPO_DIR / "README.md").read_text()
SECTION = README.split("## Add Pyodide builds to an existing PyO3 project", 1)[1].split("\n## ", 1)[0]
NOX_LINE = re.search(r"`(runpy\.run_path\(.*?\))`", SECTION).group(1)


def adoption_commands() -> list[list[str]]:
    """The section's console block, the template's address replaced by this checkout."""
    [block] = console_blocks(SECTION)
    commands = [shlex.split(line) for line in block]
    for command in commands:
        if command[:2] == ["copier", "copy"]:
            command[command.index("gh:org/pyo3-pyodide-template")] = str(matrix.REPO_DIR)
            command[2:2] = ["--vcs-ref=HEAD"]  # the working tree, uncommitted changes included
            command[0] = str(Path(sys.executable).with_name("copier"))
    return commands


def adopt(project: Path) -> str:
    """Run the README's block in `project`, a committed git repository; returns `git status --short`."""
    outputs = []
    for command in adoption_commands():
        result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    return outputs[-1]


def commit_all(project: Path) -> None:
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "the project as its authors have it")


def existing_project(folder: Path, noxfile: str | None, name: str = "theirs") -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["maturin>=1.16,<2"]\nbuild-backend = "maturin"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0.0"\n'
    )
    (folder / "Cargo.toml").write_text('[package]\nname = "theirs"\nversion = "1.0.0"\nedition = "2021"\n')
    (folder / "src").mkdir()
    (folder / "src" / "lib.rs").write_text("// their crate\n")
    (folder / "README.md").write_text("# theirs\n")
    (folder / ".github" / "workflows").mkdir(parents=True)
    (folder / ".github" / "workflows" / "ci.yml").write_text("name: their CI\n")
    if noxfile is not None:
        (folder / "noxfile.py").write_text(noxfile)
    commit_all(folder)
    return folder


def adopted_project(folder: Path, name: str = "theirs") -> Path:
    """A made-up existing project (no noxfile) with the Pyodide layer adopted by the README's block."""
    project = existing_project(folder, None, name)
    adopt(project)
    return project
