from pathlib import Path

import pytest

from template_tools.render import render_project


@pytest.fixture
def render(tmp_path):
    """Render a project into a fresh folder with the given answers; returns the project's path."""

    def _render(folder: str = "project", **answers: str) -> Path:
        return render_project(tmp_path / folder, answers)

    return _render


SID_ANSWERS = {
    "project_name": "Wasm-Demo",
    "module_name": "wasmdemo",
    "license": "BSD-3-Clause",
    "author_name": "Grace Hopper",
    "pyodide_version": "315.0.0-alpha.2",
}


@pytest.fixture(scope="session")
def sid_built_project(tmp_path_factory):
    """A project with non-default answers for the 315 prerelease, built by its own `nox -s wasm_build
    -- --toolchain system` inside the Debian sid root (once per test run): (project, nox result).

    Skips, in one line, when sid's emcc no longer matches the release the project targets.
    """
    from template_tools import matrix, sidroot

    release = matrix.load().releases[SID_ANSWERS["pyodide_version"]]
    root = sidroot.ensure_root()
    emcc = sidroot.emcc_version(root)
    if emcc != release.emscripten:
        fitting = [v for v, other in matrix.load().releases.items() if other.emscripten == emcc]
        pytest.skip(
            f"Debian sid's emcc is now {emcc}, not {release.emscripten} (Pyodide {release.version}); "
            f"it fits {', '.join(fitting) or 'no release'} of the matrix"
        )
    project = render_project(tmp_path_factory.mktemp("sid") / "Wasm-Demo", SID_ANSWERS)
    argv = ["nox", "-s", "wasm_build", "--", "--toolchain", "system"]
    return project, sidroot.run(root, argv, cwd=str(project), bind=project)
