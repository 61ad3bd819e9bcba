"""The bodies of the Pyodide nox sessions: one function per session, named after it.

A project's noxfile calls each in one line (`engine.wasm_build(session)`); the project is the current
directory, which nox sets to the noxfile's folder; each body reads it once, after its arguments
(`project.Project.read`), and passes that down. `target` is the release to build for when pyproject.toml
names none (`[tool.pyodide-target] release`): a project that adopted the Pyodide layer keeps it in its
noxfile. The build sessions (build.py) and the sessions around Pyodide itself (web.py) are imported only
when one of them runs, so a build never loads the web tooling.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import nox

from pyo3_pyodide.errors import EngineError

# The nox these sessions need (its API as they use it). Checked when the noxfile installs the engine, not at
# every start: `nox.needs_version` made nox look its own version up at every start, 0.09 s of a 0.7 s no-op
# build.
NOX_REQUIREMENT = ">=2026.10.20"


def check_nox() -> None:
    """Stop with the fix when the running nox is older than NOX_REQUIREMENT."""
    from importlib.metadata import version

    from packaging.specifiers import SpecifierSet

    found = version("nox")
    if not SpecifierSet(NOX_REQUIREMENT).contains(found, prereleases=True):
        sys.exit(
            f"The Pyodide sessions need nox {NOX_REQUIREMENT}; this is nox {found}. Upgrade it "
            f'(`python -m pip install --upgrade "nox{NOX_REQUIREMENT}"`, or `pipx upgrade nox`, or '
            "`uv tool upgrade nox`) and run again."
        )


def reported(body: Callable[..., None]) -> Callable[..., None]:
    """The one place where an engine error becomes nox's `session.error`: its message, no traceback."""

    @functools.wraps(body)
    def session_body(session: nox.Session, target: str | None = None) -> None:
        try:
            body(session, target)
        except EngineError as error:
            session.error(str(error))

    return session_body


@reported
def toolchain(session: nox.Session, target: str | None = None) -> None:
    """Install the Rust and Emscripten toolchains the target release pins (--list, --prune)."""
    from pyo3_pyodide.sessions import build

    build.toolchain(session, Path.cwd(), target)


@reported
def wasm_build(session: nox.Session, target: str | None = None) -> None:
    """Build the Pyodide wheel into dist/ and audit it (--pyodide, --toolchain, --debug, --dry-run)."""
    from pyo3_pyodide.sessions import build

    build.wasm_build(session, Path.cwd(), target)


@reported
def audit(session: nox.Session, target: str | None = None) -> None:
    """Check wheels: tags, side module, PyInit export, no pthreads (`-- WHEEL... [--pyodide]`)."""
    from pyo3_pyodide.sessions import build

    build.audit(session, Path.cwd(), target)


@reported
def doctor(session: nox.Session, target: str | None = None) -> None:
    """Check this machine's toolchains against the target release's pins, with a fix per problem."""
    from pyo3_pyodide.sessions import build

    build.doctor(session, Path.cwd(), target)


@reported
def wasm_test(session: nox.Session, target: str | None = None) -> None:
    """Run the tests inside Pyodide with the wheel installed (--browser, --wheel, pytest args)."""
    from pyo3_pyodide.sessions import web

    web.wasm_test(session, Path.cwd(), target)


@reported
def lock(session: nox.Session, target: str | None = None) -> None:
    """Write dist/lock/pyodide-lock.json: the runtime's lock plus the wheel (--base-url, --wheel)."""
    from pyo3_pyodide.sessions import web

    web.lock(session, Path.cwd(), target)


@reported
def bundle(session: nox.Session, target: str | None = None) -> None:
    """Write dist/bundle/: page, Pyodide runtime, lock and wheels, for static hosting (--out)."""
    from pyo3_pyodide.sessions import web

    web.bundle(session, Path.cwd(), target)


@reported
def serve(session: nox.Session, target: str | None = None) -> None:
    """Serve the demo page web/ with Pyodide and the wheel on 127.0.0.1 (--port, --bundle)."""
    from pyo3_pyodide.sessions import web

    web.serve(session, Path.cwd(), target)
