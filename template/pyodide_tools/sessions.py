"""The bodies of the noxfile's build sessions (toolchain, wasm_build, audit, doctor): arguments in, calls out.

The sessions around Pyodide itself (wasm_test, serve, lock, bundle) live in web_sessions.py, so that a
build does not pay for importing what they need."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nox

from pyodide_tools import build, doctor, managed, system
from pyodide_tools.download import console
from pyodide_tools.matrix import MATRIX_FILE, MatrixError, Release, load_matrix, target_name
from pyodide_tools.toolchain import PROVIDERS, Toolchain, ToolchainError

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


def targets(
    session: nox.Session, project_dir: Path, names: list[str] | str | None
) -> list[Release]:
    """The releases the arguments name, or the project's target."""
    try:
        matrix = load_matrix(project_dir / MATRIX_FILE)
        if isinstance(names, str):
            names = [names]
        return [matrix.resolve(name) for name in names or [target_name(project_dir)]]
    except MatrixError as error:
        session.error(str(error))


def releases(project_dir: Path) -> dict[str, Release]:
    return load_matrix(project_dir / MATRIX_FILE).releases


def provide(session: nox.Session, provider: str, release: Release, project_dir: Path) -> Toolchain:
    """Make the toolchain ready (installing it for "managed") or fail with the reason and the fix."""
    try:
        if provider == "system":
            return system.system_toolchain(release, releases(project_dir))
        return managed.ensure_toolchain(release)
    except ToolchainError as error:
        session.error(str(error))


def toolchain(session: nox.Session, project_dir: Path) -> None:
    arguments = parser("toolchain", "Install or check the toolchains the target release pins.")
    add_target_options(arguments)
    arguments.add_argument(
        "--list", action="store_true", help="show the cache's contents and sizes"
    )
    arguments.add_argument(
        "--prune",
        action="store_true",
        help="remove cached toolchains no release of the matrix uses",
    )
    options = parse(session, arguments)
    if options.list:
        console.print(managed.cache_table(releases(project_dir).values()))
        return
    if options.prune:
        freed = managed.prune(releases(project_dir).values())
        session.log(f"freed {freed / 2**20:.1f} MiB")
        return
    for release in targets(session, project_dir, options.pyodide):
        ready = provide(session, options.toolchain, release, project_dir)
        session.log(
            f"{options.toolchain} toolchain ready for Pyodide {release.version}: "
            f"{' '.join(f'{k}={v}' for k, v in sorted(ready.env.items()))}"
        )


def wasm_build(session: nox.Session, project_dir: Path) -> None:
    arguments = parser("wasm_build", "Build the Pyodide wheel(s) into dist/ and audit them.")
    add_target_options(arguments)
    arguments.add_argument("--out", default="dist", help="folder for the wheels (default: dist)")
    arguments.add_argument(
        "--dry-run", action="store_true", help="print the commands and environment, build nothing"
    )
    options = parse(session, arguments)
    out_dir = (project_dir / options.out).resolve()
    try:
        build.refuse_overriding_rustflags(os.environ)
    except ToolchainError as error:
        session.error(str(error))
    for release in targets(session, project_dir, options.pyodide):
        if options.dry_run:
            session.log(
                f"Pyodide {release.version}:\n{dry_plan(options.toolchain, release, out_dir)}"
            )
            continue
        ready = provide(session, options.toolchain, release, project_dir)
        plan = build.plan_build(ready, out_dir)
        session.run(
            sys.executable,
            "-m",
            *plan.argv,
            env=build.build_environment(plan),
            include_outer_env=False,
            external=True,
        )
        wheel = build.newest_wheel(out_dir, ready)
        if wheel is None:
            session.error(f"maturin wrote no *{build.expected_wheel_suffix(ready)} into {out_dir}")
        audit_or_fail(session, [wheel], release)


def dry_plan(provider: str, release: Release, out_dir: Path) -> str:
    """The build plan without installing or checking anything."""
    if provider == "managed":
        planned = managed.planned_toolchain(release)
    else:
        planned = Toolchain(
            provider="system", release=release, env={"(checked at build time)": "..."}
        )
    return build.plan_build(planned, out_dir).describe()


def audit_or_fail(session: nox.Session, wheels: list[Path], release: Release) -> None:
    from pyodide_tools import audit

    reports = audit.audit_wheels(wheels, release)
    for report in reports:
        session.log(audit.format_report(report))
    if any(report.findings for report in reports):
        session.error("the audit found problems (see above)")


def audit_session(session: nox.Session, project_dir: Path) -> None:
    arguments = parser(
        "audit", "Check wheels against a Pyodide release's tags and side-module rules."
    )
    arguments.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    add_target_options(arguments, several=False)
    options = parse(session, arguments)
    [release] = targets(session, project_dir, options.pyodide)
    audit_or_fail(session, options.wheels, release)


def doctor_session(session: nox.Session, project_dir: Path) -> None:
    arguments = parser("doctor", "Check this machine against the target release's pins.")
    add_target_options(arguments, several=False)
    options = parse(session, arguments)
    [release] = targets(session, project_dir, options.pyodide)
    toolchain_env = dict(os.environ)
    if options.toolchain == "managed":
        installed = managed.installed_toolchain(release)
        if installed is None:
            session.log(
                f"the managed toolchain for Pyodide {release.version} is not installed "
                "(`nox -s toolchain`); checking what is on PATH instead"
            )
        else:
            toolchain_env.update(installed.env)
    checks = doctor.run_checks(
        release, releases(project_dir), project_dir, os.environ, toolchain_env
    )
    print(
        f"Pyodide {release.version}: Python {release.python}, Emscripten {release.emscripten}, "
        f"Rust {release.rust_toolchain} ({options.toolchain} toolchain)"
    )
    for check in checks:
        print(check.line())
    blockers = [check for check in checks if not check.ok and check.blocker]
    if blockers:
        session.error(f"{len(blockers)} problem(s) block a Pyodide build (FAIL lines above)")
