"""The bodies of the noxfile's Pyodide sessions (wasm_test, serve, lock, bundle): arguments in, calls out."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import nox

from pyo3_pyodide.apps import pyodide_lock, static_bundle
from pyo3_pyodide.console import console
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.project import Project, TestSettings
from pyo3_pyodide.resolve import pip, pyodide_packages
from pyo3_pyodide.resolve.pylock import TEST_LOCK_FILES
from pyo3_pyodide.runtime import browsers, npm, server, suite
from pyo3_pyodide.sessions.options import add_pyodide_option, parse, parse_known, parser
from pyo3_pyodide.wheel import pick


def wasm_test_requirements(project: Project, settings: TestSettings) -> list[str]:
    """[tool.pyodide-target] test-requirements when given, else the `wasm-test` dependency group when
    pyproject.toml has one, else `test`; pytest at least."""
    groups = project.dependency_groups
    group = "wasm-test" if "wasm-test" in groups else "test"
    requirements = []
    if group in groups:  # nox resolves PEP 735's include-group
        requirements = list(nox.project.dependency_groups({"dependency-groups": groups}, group))
    if settings.requirements is not None:
        requirements = list(settings.requirements)
    if not any(pip.requirement_name(line) == "pytest" for line in requirements):
        requirements.append("pytest")
    return requirements


def add_wheel_options(
    arguments: argparse.ArgumentParser,
    wheel_help: str = "the wheel to use (default: the newest wheel of this project in dist/ that the "
    "release's runtime accepts)",
) -> None:
    add_pyodide_option(arguments)
    arguments.add_argument("--wheel", type=Path, metavar="PATH", help=wheel_help)


class BrowserOption(argparse.Action):
    """`--browser` alone means Chromium, `--browser NAME` the browser of that name (browsers.BROWSERS). A
    test path right after it (`--browser tests/test_x.py`) is pytest's: it goes back to pytest's arguments."""

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        names = tuple(browsers.BROWSERS)
        if value is not None and value not in names:
            if not Path(value.split("::")[0]).exists():
                takes = f"{', '.join(names[:-1])} or {names[-1]}"
                parser.error(f"--browser takes {takes} (alone: {self.const}), not {value!r}")
            namespace.given_back = [*namespace.given_back, value]
            value = None
        setattr(namespace, self.dest, value or self.const)


def wasm_test(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser(
        "wasm_test",
        "Run the test suite inside Pyodide, in Node or in a browser (Chromium, Firefox, WebKit). Other arguments "
        "go to pytest; a path among them replaces the default test folder, tests/.",
    )
    add_wheel_options(arguments)
    arguments.add_argument(
        "--browser",
        action=BrowserOption,
        nargs="?",
        const=browsers.DEFAULT.name,
        metavar="|".join(browsers.BROWSERS),
        help="run in a browser, the installed one: "
        + ", ".join(
            f"{browser.title} (`{browser.name}`; ${browser.variable} picks another)"
            for browser in browsers.BROWSERS.values()
        )
        + f"; alone: {browsers.DEFAULT.title}",
    )
    arguments.set_defaults(given_back=[])
    arguments.add_argument(
        "--relock",
        action="store_true",
        help=f"resolve the test wheels again and rewrite {TEST_LOCK_FILES}",
    )
    arguments.add_argument(
        "--no-snapshot",
        dest="snapshot",
        action="store_false",
        help="boot Pyodide from scratch, not from the cached memory snapshot with pytest imported",
    )
    add_package_base_url_option(arguments)
    arguments.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file whose [tool.pyodide-target] test-dir, test-requirements and known-failures "
        "replace pyproject.toml's, key by key (settings for Pyodide kept outside the project's files)",
    )
    arguments.add_argument(
        "--test-dir",
        metavar="DIR",
        help="the project folder pytest runs from, as `cd DIR && pytest` ([tool.pyodide-target] test-dir; "
        "default: the project's root); test paths are read from it",
    )
    options, pytest_args = parse_known(session, arguments)
    project = Project.read(project_dir, default_target)
    [release] = project.releases(options.pyodide)
    settings = project.test_settings(options.config, options.test_dir)
    npm.node()  # before anything is resolved or downloaded: every run needs it
    runtime = npm.ensure_runtime(release)
    plan = suite.plan(
        project,
        runtime,
        wasm_test_requirements(project, settings),
        wheel=options.wheel,
        pytest_args=[*options.given_back, *pytest_args],
        relock=options.relock,
        package_base_url=options.package_base_url,
        settings=settings,
    )
    code = suite.run(plan, project_dir, browser=options.browser, snapshot=options.snapshot)
    if code != 0:
        session.error(suite.explain_exit(code, plan))


def serve(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser(
        "serve",
        "Serve the demo page web/ with Pyodide and this project's wheel on 127.0.0.1, or (--bundle) "
        "the folder `nox -s bundle` wrote, as static hosting would serve it.",
    )
    add_wheel_options(arguments)
    arguments.add_argument(
        "--port", type=int, default=8000, help="the port (default: 8000; 0 picks a free one)"
    )
    arguments.add_argument(
        "--bundle",
        nargs="?",
        const=static_bundle.DEFAULT_OUT,
        type=Path,
        metavar="DIR",
        help=f"serve a bundle (default: {static_bundle.DEFAULT_OUT}) instead of web/",
    )
    options = parse(session, arguments)
    if options.bundle is not None:
        if options.wheel or options.pyodide:
            session.error(
                "--wheel and --pyodide do not apply to --bundle, which serves the wheels and the "
                "runtime it holds: make the bundle with them (`nox -s bundle -- --wheel PATH`)"
            )
        serve_bundle(session, project_dir, project_dir / options.bundle, options.port)
        return
    project = Project.read(project_dir, default_target)
    [release] = project.releases(options.pyodide)
    web_dir = static_bundle.page_folder(project_dir)
    runtime = npm.ensure_runtime(release)
    if options.wheel is None:
        wheel = pick.select_wheel(project, runtime)
    else:
        wheel = pick.check_wheel(options.wheel, runtime, releases=project.matrix.releases.values())
    imports = [name for name in pick.read_wheel(wheel).modules if "." not in name]
    site = server.demo_site(web_dir, runtime.folder, wheel, imports)
    what = f"{runtime.describe()} and {wheel.name}"
    serve_until_stopped(session, site, options.port, web_dir, what)


def serve_until_stopped(session: nox.Session, site: server.Site, port: int, folder: Path, what: str) -> None:
    try:
        with server.serving(site, port, log=console.print) as url:
            session.log(f"serving {folder} at {url} with {what}; Ctrl+C stops")
            threading.Event().wait()
    except OSError as error:
        session.error(
            f"cannot serve on 127.0.0.1:{port}: {error}. Pick another port: `nox -s serve -- --port 8001`"
        )


def serve_bundle(session: nox.Session, project_dir: Path, folder: Path, port: int) -> None:
    """Serve a bundle as it is; say so when dist/ holds a rebuilt wheel that it lacks."""
    config_path = folder / static_bundle.CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        wheel = folder / config["wheel"]
    except (OSError, ValueError, KeyError):
        session.error(
            f"{config_path} is missing or names no wheel: {folder} is not a bundle. Make one with "
            "`nox -s bundle`"
        )
    built = project_dir / "dist" / wheel.name
    if built.is_file() and wheel.is_file() and sha256_of(built) != sha256_of(wheel):
        session.warn(
            f"{built} differs from the bundle's copy: the bundle is older than the last build. "
            "`nox -s bundle` brings it up to date"
        )
    what = f"{config['package']} ({wheel.name}) through {config['lock']}, Pyodide {config['release']}"
    serve_until_stopped(session, server.static_site(folder), port, folder, what)


def add_package_base_url_option(arguments: argparse.ArgumentParser) -> None:
    arguments.add_argument(
        pyodide_packages.BASE_URL_OPTION,
        metavar="URL",
        help="where the release's own packages (numpy, pytest, micropip...: its pyodide-lock.json and "
        f"wheels) are fetched from (default: ${pyodide_packages.BASE_URL_ENV}, else Pyodide's CDN URL "
        "for the release, as Pyodide itself uses); `{version}` in it stands for the release's version, "
        "file:// names a folder",
    )


def add_lock_options(arguments: argparse.ArgumentParser, default_out: Path) -> None:
    add_wheel_options(
        arguments,
        "the wheel to add (default: the newest wheel of this project in dist/ built for the "
        "release, whichever spelling of its platform tag it carries)",
    )
    arguments.add_argument(
        "--out",
        type=Path,
        default=default_out,
        metavar="DIR",
        help=f"the folder to write, replacing an earlier one (default: {default_out})",
    )
    arguments.add_argument(
        "--refresh",
        action="store_true",
        help="resolve the wheels to add, and pyodide-lock, with pip again (default: reuse what an "
        "earlier run resolved, kept in the per-user cache)",
    )
    add_package_base_url_option(arguments)


def lock_target(
    session: nox.Session, project_dir: Path, options: argparse.Namespace, default_target: str | None
) -> tuple[npm.Runtime, Path]:
    """The runtime of the release the options name, and the wheel to add to its lock."""
    project = Project.read(project_dir, default_target)
    [release] = project.releases(options.pyodide)
    runtime = npm.ensure_runtime(release)
    if options.wheel is None:
        return runtime, pick.select_wheel(project, runtime, pick.release_problem)
    return runtime, pick.check_wheel(options.wheel, runtime, pick.release_problem)


def lock(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser(
        "lock",
        "Write a pyodide-lock.json: the target runtime's own lock plus this project's wheel and its "
        "runtime dependencies (copied beside it), so that an app loads the module by name.",
    )
    add_lock_options(arguments, pyodide_lock.DEFAULT_OUT)
    arguments.add_argument(
        "--base-url",
        default="",
        metavar="URL",
        help="where the wheels will be hosted, when not beside the lock (default: beside it)",
    )
    options = parse(session, arguments)
    runtime, wheel = lock_target(session, project_dir, options, default_target)
    base_url = options.base_url
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    made = pyodide_lock.write_pyodide_lock(
        runtime,
        wheel,
        project_dir / options.out,
        base_url=base_url,
        refresh=options.refresh,
        package_base_url=options.package_base_url,
    )
    session.log(
        f"wrote {made.path}: the lock of {runtime.describe()} plus "
        f"{', '.join(path.name for path in made.wheels)}"
        + (f" (to host under {base_url})" if base_url else " (beside it)")
        + f". An app started with it loads the module with "
        f'`await pyodide.loadPackage("{made.package}")`'
    )


def bundle(session: nox.Session, project_dir: Path, default_target: str | None = None) -> None:
    arguments = parser(
        "bundle",
        "Write a folder that static hosting serves as it is: the demo page web/, the Pyodide "
        "runtime, this project's pyodide-lock.json and the wheels it names.",
    )
    add_lock_options(arguments, static_bundle.DEFAULT_OUT)
    options = parse(session, arguments)
    runtime, wheel = lock_target(session, project_dir, options, default_target)
    made = static_bundle.write_bundle(
        runtime,
        wheel,
        static_bundle.page_folder(project_dir),
        project_dir / options.out,
        options.refresh,
        package_base_url=options.package_base_url,
    )
    size = static_bundle.size_of(made.folder) / 2**20
    session.log(
        f"wrote {made.folder} ({size:.1f} MiB): {runtime.describe()}, its lock plus "
        f"{', '.join(path.name for path in made.lock.wheels)}, and the demo page. "
        "Serve it on 127.0.0.1 with `nox -s serve -- --bundle`, or upload the folder as it is"
    )
    if made.micropip_problem:
        session.warn(made.micropip_problem)
    else:
        session.log(
            f"micropip.install(URL of {wheel.name}) works on Pyodide {runtime.release.version} "
            f"as well: its micropip {runtime.micropip} accepts the wheel's tag"
        )
