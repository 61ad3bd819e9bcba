"""Maintainer tasks of the template repository. `inv --list` lists them."""

from pathlib import Path

from invoke import Collection, Exit, task
from rich.console import Console

from template_tools import matrix as pins
from template_tools import sidroot as sid
from template_tools.render import render_project


@task
def show(c):
    """Print the version matrix as a table."""
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


matrix = Collection("matrix", show, sync)
namespace = Collection(matrix, render, sidroot)
