"""The sessions' shared command-line options: --pyodide and --toolchain, argparse's exits as nox's."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nox

from pyo3_pyodide.matrix import MATRIX_FILE, Release, load_matrix
from pyo3_pyodide.toolchain.model import PROVIDERS

T = TypeVar("T")


def parser(session_name: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"nox -s {session_name} --", description=description)


def add_pyodide_option(arguments: argparse.ArgumentParser, several: bool = False) -> None:
    arguments.add_argument(
        "--pyodide",
        action="append" if several else "store",
        metavar="VERSION",
        help=f"a release of {MATRIX_FILE} or 'stable' (default: pyproject.toml's target)"
        + ("; may be given several times" if several else ""),
    )


def add_target_options(arguments: argparse.ArgumentParser, several: bool = True) -> None:
    add_pyodide_option(arguments, several)
    arguments.add_argument(
        "--toolchain",
        choices=PROVIDERS,
        default="managed",
        help="managed: install the pinned toolchains into a per-user cache (default); "
        "system: use the emcc, cargo and rustc on PATH, checked against the pins",
    )


def parse(session: nox.Session, arguments: argparse.ArgumentParser) -> argparse.Namespace:
    return run_parser(session, arguments.parse_args)


def run_parser(session: nox.Session, parse_args: Callable[[list[str]], T]) -> T:
    """`parse_args(session.posargs)`, turning argparse's exit (help or an error) into nox's."""
    try:
        return parse_args(session.posargs)
    except SystemExit as exit:
        if exit.code:
            session.error("bad arguments (see above)")
        session.skip("help shown")


def releases(project_dir: Path) -> dict[str, Release]:
    """The matrix's releases, for `nox -s toolchain -- --list/--prune`, which need no project."""
    return load_matrix(project_dir / MATRIX_FILE).releases


def parse_known(
    session: nox.Session, arguments: argparse.ArgumentParser
) -> tuple[argparse.Namespace, list[str]]:
    """The session's options, and the other arguments as they were given (a first "--" dropped)."""
    arguments.allow_abbrev = False  # so that pytest's options are never taken for abbreviated ours
    options, rest = run_parser(session, arguments.parse_known_args)
    if "--" in rest:
        rest.remove("--")
    return options, rest
