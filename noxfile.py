"""Sessions of the template repository itself. `nox -l` lists them."""

import nox

PYPROJECT = nox.project.load_toml("pyproject.toml")

nox.options.sessions = ["tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the template's test suite: renders projects and runs their own sessions for real.

    First provisions what the suite needs on this machine (template_tools/provision.py: Debian packages,
    rustup components, the Debian root of the wasm tests), or stops saying what to run;
    PYO3_PYODIDE_TEMPLATE_NO_PROVISION=1 skips that.
    """
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"))
    session.run("python", "-m", "template_tools.provision")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check this repository's Python code; check the engine's layers (import-linter)."""
    session.install("ruff>=0.17.6", "import-linter>=2.17")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", "engine/pyproject.toml", env={"PYTHONPATH": "engine/src"})


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Measure the template's costs side by side (needs root for the Debian sid root); prints a table."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"))
    session.run("python", "-m", "bench.run")


@nox.session(default=False)
def corpus(session: nox.Session) -> None:
    """Adopt, build (Debian root, 315) and test real PyO3 projects from PyPI (corpus/projects.toml), inside
    Pyodide and natively; writes corpus/results.json and prints the README's table. Names pick projects."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"))
    session.run("python", "-m", "corpus", *session.posargs, env={"PYTHONPATH": ".:engine/src"})
