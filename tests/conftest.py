from pathlib import Path

import pytest

from template_tools.render import render_project
from tests import real_builds
from tests.real_builds import SID_ANSWERS


@pytest.fixture
def render(tmp_path):
    """Render a project into a fresh folder with the given answers; returns the project's path."""

    def _render(folder: str = "project", **answers: str) -> Path:
        return render_project(tmp_path / folder, answers)

    return _render


@pytest.fixture(scope="session")
def sid_built_project(tmp_path_factory):
    """A project with non-default answers for the 315 prerelease, built by its own `nox -s wasm_build
    -- --toolchain system` inside the Debian sid root (once per test run): (project, nox result).

    Fails, with the fix, when the root's emcc is not the Emscripten of the release the project targets;
    skips instead where PYO3_PYODIDE_ACCEPT_NO_WASM_BUILD=1 accepts that. Either way the run's last line
    says which real builds were made (tests/real_builds.py).
    """
    from template_tools import matrix, sidroot

    releases = matrix.load().releases
    release = real_builds.SID_RELEASE
    try:
        root = sidroot.ensure_root()
        emcc = sidroot.emcc_version(root)
    except Exception as error:
        real_builds.RUN.not_made.append(f"the Debian root is unusable: {str(error).splitlines()[0]}")
        raise
    real_builds.require_emscripten(emcc, release, releases.values())
    project = render_project(tmp_path_factory.mktemp("sid") / "Wasm-Demo", SID_ANSWERS)
    argv = ["nox", "-s", "wasm_build", "--", "--toolchain", "system"]
    result = sidroot.run(root, argv, cwd=str(project), bind=project)
    real_builds.record_build(SID_ANSWERS["project_name"], release, root, result)
    return project, result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    """Print which real wasm builds this run made, as the run's very last line.

    A wrapper around pytest_sessionfinish rather than a pytest_terminal_summary hook: pytest prints its own
    "N passed in Xs" line after every terminal summary, in its reporter's pytest_sessionfinish; the outermost
    wrapper (tryfirst) finishes after that.
    """
    result = yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(real_builds.RUN.summary_line())
    return result
