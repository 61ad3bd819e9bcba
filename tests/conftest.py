import json
import subprocess
import sys
from pathlib import Path

import pytest

from template_tools.render import render_project


@pytest.fixture
def render(tmp_path):
    """Render a project into a fresh folder with the given answers; returns the project's path."""

    def _render(folder: str = "project", **answers: str) -> Path:
        return render_project(tmp_path / folder, answers)

    return _render


def rendered_target(project: Path) -> dict:
    """The target release as the rendered project's own pyodide_tools package resolves it."""
    code = "import dataclasses, json; from pyodide_tools.matrix import target_release; "
    code += "print(json.dumps(dataclasses.asdict(target_release('.'))))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def run_nox(project: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the project's own noxfile with the `nox` command a user types; output is captured as text."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("nox")), *args],
        cwd=project,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
