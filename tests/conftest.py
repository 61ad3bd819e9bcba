import importlib.util
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


def import_rendered_helper(project: Path):
    """Import a rendered project's own pyodide_tools.py (under a name of its own)."""
    name = f"pyodide_tools_{abs(hash(project))}"
    spec = importlib.util.spec_from_file_location(name, project / "pyodide_tools.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
