# /// script
# dependencies = [
#     "maturin>=1.16,<2",
#     "nox>=2026.10.20",
#     "packaging>=26",
#     "platformdirs>=4",
#     "requests>=2.32",
#     "rich>=13",
# ]
# ///
"""Build, lint and test this crate natively and for Pyodide. `nox -l` lists the sessions.

The block above lists what the wasm sessions and pyodide_tools/ need: nox installs it into
.nox/_nox_script_mode by itself when the environment that runs nox lacks any of it.
"""

import sys
from pathlib import Path

import nox

PROJECT_DIR = Path(__file__).parent
# The `nox` command does not put the noxfile's folder on sys.path.
sys.path.insert(0, str(PROJECT_DIR))
# The Pyodide sessions import web_sessions when they run: a build need not pay for loading it.
from pyodide_tools import sessions

PYPROJECT = nox.project.load_toml(PROJECT_DIR / "pyproject.toml")

nox.options.sessions = ["tests", "lint"]


@nox.session
def tests(session: nox.Session) -> None:
    """Build the module for this machine's Python and run the test suite."""
    session.install("maturin>=1.16,<2", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("maturin", "develop")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lints: rustfmt, clippy and ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("cargo", "fmt", "--check", external=True)
    session.run("cargo", "clippy", "--all-targets", "--", "-D", "warnings", external=True)
    session.run("ruff", "check")
    session.run("ruff", "format", "--check")


@nox.session(python=False)
def toolchain(session: nox.Session) -> None:
    """Install the Rust and Emscripten toolchains the target release pins (--list, --prune)."""
    sessions.toolchain(session, PROJECT_DIR)


@nox.session(python=False)
def wasm_build(session: nox.Session) -> None:
    """Build the Pyodide wheel into dist/ and audit it (--pyodide, --toolchain, --dry-run)."""
    sessions.wasm_build(session, PROJECT_DIR)


@nox.session(python=False)
def audit(session: nox.Session) -> None:
    """Check wheels: tags, side module, PyInit export, no pthreads (`-- WHEEL... [--pyodide]`)."""
    sessions.audit_session(session, PROJECT_DIR)


@nox.session(python=False)
def wasm_test(session: nox.Session) -> None:
    """Run the tests inside Pyodide with the wheel installed (--browser, --wheel, pytest args)."""
    from pyodide_tools import web_sessions

    web_sessions.wasm_test_session(session, PROJECT_DIR)


@nox.session(python=False)
def lock(session: nox.Session) -> None:
    """Write dist/lock/pyodide-lock.json: the runtime's lock plus the wheel (--base-url, --wheel)."""
    from pyodide_tools import web_sessions

    web_sessions.lock_session(session, PROJECT_DIR)


@nox.session(python=False)
def bundle(session: nox.Session) -> None:
    """Write dist/bundle/: page, Pyodide runtime, lock and wheels, for static hosting (--out)."""
    from pyodide_tools import web_sessions

    web_sessions.bundle_session(session, PROJECT_DIR)


@nox.session(python=False)
def serve(session: nox.Session) -> None:
    """Serve the demo page web/ with Pyodide and the wheel on 127.0.0.1 (--port, --bundle)."""
    from pyodide_tools import web_sessions

    web_sessions.serve_session(session, PROJECT_DIR)


@nox.session(python=False)
def doctor(session: nox.Session) -> None:
    """Check this machine's toolchains against the target release's pins, with a fix per problem."""
    sessions.doctor_session(session, PROJECT_DIR)
