"""The build sessions (toolchain, wasm_build, audit, doctor): arguments in, calls out.

The sessions around Pyodide itself (wasm_test, serve, lock, bundle) live in web.py, so that a build does
not pay for importing what they need."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import nox

from pyo3_pyodide.matrix import Release
from pyo3_pyodide.project import Project
from pyo3_pyodide.sessions.options import add_target_options, parse, parser, releases
from pyo3_pyodide.toolchain.model import Provider, provider
from pyo3_pyodide.wheel import build as wheel_build


def managed_provider():
    """The managed provider (its cache and install plan), imported when a session uses it: a build with the
    system toolchain (and a no-op one) does not pay for loading it (downloads, emsdk, rich tables)."""
    return provider("managed")


def toolchain(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser("toolchain", "Install or check the toolchains the target release pins.")
    add_target_options(arguments)
    arguments.add_argument(
        "--list", action="store_true", help="show every area of the cache: what it holds, its entries, sizes"
    )
    arguments.add_argument(
        "--prune",
        action="store_true",
        help="remove what no release of the matrix needs (toolchains, runtimes, snapshots, packages) and "
        "leftovers of interrupted runs; what any project may reuse (wheels, resolutions) stays",
    )
    arguments.add_argument(
        "--dry-run", action="store_true", help="say what is installed and what would be, install nothing"
    )
    options = parse(session, arguments)
    project = Project.read(project_dir, default_target)
    if options.dry_run:
        for release in project.releases(options.pyodide):
            session.log(
                f"Pyodide {release.version}:\n" + "\n".join(managed_provider().describe_plan(release))
            )
        return
    if options.list or options.prune:
        from pyo3_pyodide import cache_upkeep  # only these two need it
        from pyo3_pyodide.cache import format_size
        from pyo3_pyodide.console import console

        if options.list:
            console.print(*cache_upkeep.listing(releases(project_dir).values()))
        else:
            session.log(f"freed {format_size(cache_upkeep.prune(releases(project_dir).values()))}")
        return
    for release in project.releases(options.pyodide):
        ready = provider(options.toolchain).ensure(release, project.matrix.releases)
        session.log(
            f"{options.toolchain} toolchain ready for Pyodide {release.version}: "
            f"{' '.join(f'{k}={v}' for k, v in sorted(ready.env.items()))}"
        )


def wasm_build(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser("wasm_build", "Build the Pyodide wheel(s) into dist/ and audit them.")
    add_target_options(arguments)
    arguments.add_argument("--out", default="dist", help="folder for the wheels (default: dist)")
    arguments.add_argument(
        "--debug",
        action="store_true",
        help=f"build with the cargo profile {wheel_build.DEBUG_PROFILE} (the release profile keeping the "
        "functions' names, so a trap's stack names Rust functions) instead of the release profile",
    )
    arguments.add_argument(
        "--dry-run", action="store_true", help="print the commands and environment, build nothing"
    )
    options = parse(session, arguments)
    out_dir = (project_dir / options.out).resolve()
    wheel_build.refuse_overriding_rustflags(os.environ)
    project = Project.read(project_dir, default_target)
    wheel_build.check_build_backend(project)
    profile_in_cargo_toml = not options.debug or debug_profile_check(session, project)
    toolchains = provider(options.toolchain)
    for release in project.releases(options.pyodide):
        if options.dry_run:
            planned = dry_plan(toolchains, release, out_dir, options.debug, profile_in_cargo_toml)
            session.log(f"Pyodide {release.version}:\n{planned}")
            continue
        ready = toolchains.ensure(release, project.matrix.releases)
        plan = wheel_build.plan_build(
            ready,
            out_dir,
            wheel_build.maturin_command(),
            debug=options.debug,
            debug_profile_in_cargo_toml=profile_in_cargo_toml,
            project_dir=project_dir,
        )
        run_maturin(session, plan, wheel_build.build_log(project_dir, release), options.debug)
        wheel = wheel_build.newest_wheel(out_dir, ready)
        if wheel is None:
            session.error(f"maturin wrote no wheel tagged {wheel_build.expected_tags(ready)} into {out_dir}")
        audit_or_fail(session, [wheel], release, project)


def debug_profile_check(session: nox.Session, project: Project) -> bool:
    """Whether Cargo.toml defines the --debug profile; where it does not, say so and how to add it."""
    if wheel_build.debug_profile_defined(project):
        return True
    variables = wheel_build.profile_env(wheel_build.DEBUG_PROFILE, wheel_build.DEBUG_PROFILE_SETTINGS)
    session.warn(
        f"Cargo.toml has no [profile.{wheel_build.DEBUG_PROFILE}]: this build defines it through cargo's "
        f"variables ({', '.join(f'{name}={value}' for name, value in variables.items())}), which apply to "
        "this build only. To keep it, and to tune it, add it to the Cargo.toml of the workspace root "
        f"(where cargo reads profiles):\n\n{wheel_build.debug_profile_toml()}\n"
    )
    return False


def run_maturin(session: nox.Session, plan: wheel_build.BuildPlan, log: Path, debug: bool = False) -> None:
    """Run maturin with its output shown as it comes and kept in `log`; when it fails, say why if the
    output shows a known cause (code compiled without -fPIC)."""
    env = wheel_build.build_environment(plan)
    if sys.stdout.isatty():
        env.setdefault("CARGO_TERM_COLOR", "always")  # cargo colours only a terminal, not our pipe
    for note in plan.notes:
        session.log(note)
    session.log(shlex.join(plan.argv))
    sys.stdout.flush()
    output = []
    process = subprocess.Popen(
        plan.argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            output.append(line)
        code = process.wait()
    except BaseException:  # Ctrl-C: stop maturin too
        process.kill()
        process.wait()
        raise
    text = "".join(output)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {shlex.join(plan.argv)}\nexit code {code}\n{text}", encoding="utf-8")
    if code != 0:
        problem = wheel_build.link_problem(text)
        reason = problem.describe(debug) if problem else "see its output above"
        session.error(f"maturin failed with exit code {code}: {reason}")


def dry_plan(
    toolchains: Provider,
    release: Release,
    out_dir: Path,
    debug: bool = False,
    profile_in_cargo_toml: bool = True,
) -> str:
    """The build plan without installing or checking anything."""
    planned = toolchains.plan(release)
    plan = wheel_build.plan_build(
        planned, out_dir, debug=debug, debug_profile_in_cargo_toml=profile_in_cargo_toml
    )
    return plan.describe()


def audit_or_fail(
    session: nox.Session, wheels: list[Path], release: Release, project: Project, sizes: bool = False
) -> None:
    from pyo3_pyodide.wheel import audit as wheel_audit

    reports = wheel_audit.audit_wheels(wheels, release, project.size_budget)
    for report in reports:
        session.log(wheel_audit.format_report(report, sizes=sizes))
    if any(report.findings for report in reports):
        session.error("the audit found problems (see above)")


def audit(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser(
        "audit",
        "Check wheels against a Pyodide release's tags and side-module rules, and each extension "
        "module against pyproject.toml's [tool.pyodide-target] max-extension-bytes.",
    )
    arguments.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    arguments.add_argument(
        "--sizes",
        action="store_true",
        help="list each extension module's largest functions and its sections (always shown over budget)",
    )
    add_target_options(arguments, several=False)
    options = parse(session, arguments)
    project = Project.read(project_dir, default_target)
    [release] = project.releases(options.pyodide)
    audit_or_fail(session, options.wheels, release, project, options.sizes)


def doctor(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser("doctor", "Check this machine against the target release's pins.")
    add_target_options(arguments, several=False)
    options = parse(session, arguments)
    project = Project.read(project_dir, default_target)
    [release] = project.releases(options.pyodide)
    from pyo3_pyodide import machine

    checks = machine.run_checks(release, project, os.environ, provider(options.toolchain))
    print(
        f"Pyodide {release.version}: Python {release.python}, Emscripten {release.emscripten}, "
        f"Rust {release.rust_toolchain} ({options.toolchain} toolchain)"
    )
    for check in checks:
        print(check.line())
    blockers = [check for check in checks if not check.ok and check.blocker]
    if blockers:
        session.error(f"{len(blockers)} problem(s) block a Pyodide build (FAIL lines above)")
