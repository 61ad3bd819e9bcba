from pathlib import Path

import pytest

from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.real_builds import SID_ANSWERS


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
    says which real builds were made (tests/helpers/real_builds.py).
    """
    from template_tools import sidroot

    release = real_builds.SID_RELEASE
    root = real_builds.usable_root(release)
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


@pytest.fixture(scope="module")
def sid_root():
    """The Debian root of the real wasm builds, checked against the release it builds for."""
    return real_builds.usable_root()


@pytest.fixture(scope="module")
def sid_test_env():
    """wasm_test's environment for the root's release: the tests' shared cache, and Pyodide's own packages
    (pytest, micropip) from a stand-in for its CDN on 127.0.0.1 (tests/helpers/package_mirror.py)."""
    from pyo3_pyodide.runtime import npm

    from tests.helpers.mirrors import MirrorServer
    from tests.helpers.package_mirror import ENV, PackageMirror
    from tests.helpers.pyodide import TEST_CACHE

    with MirrorServer() as server:
        mirror = PackageMirror(server)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))
            mirror.serve_release(npm.ensure_runtime(real_builds.SID_RELEASE))
        yield {"PYO3_PYODIDE_CACHE": str(TEST_CACHE), ENV: mirror.base_url}
