"""Maintainer tasks of the template repository. `inv --list` lists them."""

import json as json_format
from pathlib import Path

from invoke import Collection, Exit, task
from rich.console import Console

from template_tools import matrix as pins
from template_tools import matrix_update
from template_tools import release as releasing
from template_tools import sidroot as sid
from template_tools.render import render_project
from template_tools.upstream import ENVIRONMENT_VARIABLES, Sources


@task(help={"json": "print only the releases, as a one-line JSON list (what CI fans out over)"})
def show(c, json=False):
    """Print the version matrix as a table, or with --json only its releases."""
    if json:
        print(json_format.dumps(list(pins.load().releases)))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a pipe or a log file: don't squeeze the table to 80 columns
    console.print(pins.table())


@task
def sync(c):
    """Rewrite copier-matrix.yml (what copier.yml reads) from template/pyodide-matrix.toml."""
    changed = pins.sync_mirror()
    print(f"{pins.MIRROR_PATH.name} {'rewritten' if changed else 'already up to date'}")


@task(
    help={
        "check": "only compare: exit 1 when npm has releases the matrix lacks (listed even where the other "
        "sources are unreachable), 3 when a source needed cannot be reached (for a scheduled CI job)",
        "npm_registry": f"npm registry base URL (or ${ENVIRONMENT_VARIABLES['npm_registry']})",
        "pyodide_source": "base URL of Pyodide's files by tag, read as BASE/TAG/Makefile.envs "
        f"(or ${ENVIRONMENT_VARIABLES['pyodide_source']})",
        "xbuildenv_metadata": "URL of pyodide-cross-build-environments.json "
        f"(or ${ENVIRONMENT_VARIABLES['xbuildenv_metadata']})",
    }
)
def update(c, check=False, npm_registry=None, pyodide_source=None, xbuildenv_metadata=None):
    """Merge new Pyodide releases from upstream into the matrix, keeping comments; print what changed and what
    was read. Exit 0 done or up to date, 1 stale (--check), 2 malformed data, 3 a source unreachable."""
    sources = Sources.from_environment(
        npm_registry=npm_registry, pyodide_source=pyodide_source, xbuildenv_metadata=xbuildenv_metadata
    )
    status = matrix_update.run(sources, check=check)
    if status:
        raise Exit(code=status)


@task(
    positional=[],
    help={
        "version": "the version to release, e.g. 1.2.0: the tag is v1.2.0",
        "skip_tests": "do not run `nox -s tests` first (only where they have just passed on this commit)",
    },
)
def release(c, version, skip_tests=False):
    """Check the tree is clean and the tests pass, file CHANGELOG.md's notes, commit and tag vVERSION."""
    try:
        releasing.release(version, run_tests=not skip_tests)
    except releasing.ReleaseError as error:
        raise Exit(f"error: {error}") from None


@task(
    iterable=["data"],
    help={
        "destination": "folder to create the project in",
        "data": "an answer as NAME=VALUE; may be given several times (defaults for the rest)",
    },
)
def render(c, destination, data=None):
    """Scaffold a project from the working tree (uncommitted changes included)."""
    answers = dict(item.split("=", 1) for item in data or [])
    answers.setdefault("project_name", Path(destination).name)
    print(render_project(Path(destination), answers))


@task
def sidroot(c):
    """Make the Debian sid build root of the real wasm tests (once; needs root) and print its toolchain."""
    try:
        print(sid.summary(sid.ensure_root()))
    except sid.SidRootError as error:
        raise Exit(f"error: {error}") from None


matrix = Collection("matrix", show, sync, update)
namespace = Collection(matrix, render, release, sidroot)
