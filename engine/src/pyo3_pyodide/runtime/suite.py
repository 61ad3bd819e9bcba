"""`nox -s wasm_test`: the project's pytest suite inside Pyodide, in Node or in headless Chromium or Firefox.

On the host, before Pyodide starts:
1. the runtime: the npm `pyodide` package that the release pins (runtime.py);
2. the wheel: `--wheel`, else the newest wheel of this project in dist/ that the runtime accepts. Its
   tags are checked against the runtime's own word (pyodide-lock.json's `info` and the micropip version
   it names): Pyodide loads a wheel built for another release without complaint and fails only at
   import, so a mismatch stops here;
3. the test wheels: the `wasm-test` dependency group (else `test`) plus the wheel's own requirements,
   Those the release's own package set holds (its pyodide-lock.json: numpy, pytest...) come from it, with their `depends`, fetched from its package base URL
   (`--package-base-url`, $PYO3_PYODIDE_PACKAGE_BASE_URL, else Pyodide's CDN; resolve/pyodide_packages.py);
   pip resolves the rest for the runtime's Python and platform tags (pure wheels, and pyemscripten wheels
   where PyPI has them). The resolution is written to tests/pylock.pyodide-<line>.toml (PEP 751, one file
   per release line) and made again only when its inputs change (or with `--relock`). The wheels live in
   the per-user cache and are checked against the lock's sha256 at every run; a missing one is fetched again
   by its URL (Pyodide's) or by pip with --require-hashes (PyPI's).
Then run_pytest.mjs: in Node, with the project folder mounted; or driving Chromium (playwright-core) or
Firefox (puppeteer-core, over WebDriver BiDi), with everything served from 127.0.0.1 by server.py. It loads
every wheel at once with pyodide.loadPackage (their tags were checked here against the rules of the
release's own micropip, so micropip itself need not start), checks the installed versions and imports, and
runs pytest through pytest_inside.py (known failures as strict xfails, each test's progress, plugin
failures named), from the test folder ([tool.pyodide-target] test-dir). A test that crashes Pyodide costs
that test only: the runner goes on with the tests not yet run in a fresh Pyodide. Pyodide starts from a
cached memory snapshot with pytest already imported (snapshot.py; `--no-snapshot` boots it from scratch).
With warm caches and an unchanged lock, nothing touches the network.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pyo3_pyodide.console import console
from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.project import Project, TestSettings
from pyo3_pyodide.resolve.pylock import dependency_wheels
from pyo3_pyodide.runtime import browsers, npm, server, snapshots
from pyo3_pyodide.runtime_info import Runtime
from pyo3_pyodide.wheel import pick

DEFAULT_TEST_PATH = "tests"
RUNNER = Path(__file__).with_name("run_pytest.mjs")
# The Python that runs inside Pyodide: before pytest, and around it.
INSIDE = [Path(__file__).with_name(name) for name in ("inside_pyodide.py", "pytest_inside.py")]
SNAPSHOT_URL = "/snapshot.bin"  # where a browser run reads and writes its memory snapshot
SETUP_FAILED = 100  # run_pytest.mjs's exit code when the suite never ran
PYTEST_EXIT_CODES = {
    1: "tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}
# pytest reads these from the project's root folder; the browser gets them with the tests.
PYTEST_CONFIG_FILES = ("pyproject.toml", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg")
# Folders a browser run does not copy (besides hidden ones): build output, caches, environments.
SKIPPED_FOLDERS = {"__pycache__", "target", "dist", "build", "node_modules", "venv"}


class WasmTestError(EngineError):
    """Something keeps the tests from running; the message says what was found and the fix."""


# Running the tests


def pytest_arguments(
    project_dir: Path, arguments: list[str], test_dir: str = "."
) -> tuple[list[str], list[str]]:
    """pytest's arguments as seen from the test folder inside Pyodide, and the test paths in them, relative
    to the project (the default test folder when none is given). A path is read from the test folder, else
    from the project folder (where nox runs)."""
    project = project_dir.resolve()
    base = (project / test_dir).resolve()
    result, paths = [], []
    for argument in arguments:
        path_part = argument.split("::")[0]
        found = next(
            (folder / path_part for folder in (base, project) if (folder / path_part).exists()), None
        )
        if argument.startswith("-") or found is None:
            result.append(argument)
            continue
        path = found.resolve()
        if not path.is_relative_to(project):
            raise WasmTestError(
                f"{argument} is outside the project folder {project}, the only folder that "
                "Pyodide sees: move the tests into it"
            )
        result.append(Path(os.path.relpath(path, base)).as_posix() + argument[len(path_part) :])
        paths.append(path.relative_to(project).as_posix())
    if not paths:
        result.append(DEFAULT_TEST_PATH)
        paths.append((base / DEFAULT_TEST_PATH).relative_to(project).as_posix())
    if sys.stdout.isatty() and not any(argument.startswith("--color") for argument in arguments):
        result.append("--color=yes")
    return [*result, "-p", "no:cacheprovider"], paths


def copied(relative: Path) -> bool:
    """Whether a browser run copies this file of the project: not in a hidden folder nor in a folder of
    build output, caches or virtual environments."""
    folders = relative.parts[:-1]
    return not any(folder.startswith(".") or folder in SKIPPED_FOLDERS for folder in folders)


def project_files(project_dir: Path, test_paths: list[str], test_dir: str = ".") -> list[str]:
    """The files a browser run copies into Pyodide, where Node sees the whole project folder: the test
    folder's files (the data its tests read by relative paths included), the test paths, and pytest's
    configuration and conftest.py files in the folders above them."""
    project = project_dir.resolve()
    base = (project / test_dir).resolve().relative_to(project)
    files = {
        (folder / name).as_posix()
        for folder in (base, *base.parents)
        for name in PYTEST_CONFIG_FILES
        if (project / folder / name).is_file()
    }
    for top in (base, *map(Path, test_paths)):
        path = project / top
        for candidate in path.rglob("*") if path.is_dir() else [path]:
            relative = candidate.relative_to(project)
            if candidate.is_file() and copied(
                relative.relative_to(top) if path.is_dir() else Path(relative.name)
            ):
                files.add(relative.as_posix())
        for parent in top.parents:  # conftest.py files of the folders above apply too
            if (project / parent / "conftest.py").is_file():
                files.add((parent / "conftest.py").as_posix())
    return sorted(files)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the runner needs, checked on the host."""

    runtime: Runtime
    wheel: Path
    wheels: list[Path]  # the test wheels, then the wheel under test
    distributions: dict[str, str]  # name -> version that must be installed
    imports: list[str]
    pytest_args: list[str]
    test_paths: list[str]  # relative to the project
    settings: TestSettings = dataclasses.field(default_factory=TestSettings)


def plan(
    project: Project,
    runtime: Runtime,
    requirements: list[str],
    wheel: Path | None = None,
    pytest_args: Iterable[str] = (),
    relock: bool = False,
    package_base_url: str | None = None,
    settings: TestSettings | None = None,
) -> Plan:
    """Pick and check the wheel, get the test wheels, and sort out pytest's arguments; `settings` are the
    project's test settings with the session's options over them (default: pyproject.toml's)."""
    project_dir = project.folder
    settings = settings or project.tests
    check_engines(settings)
    if wheel is None:
        wheel = pick.select_wheel(project, runtime)
    wheel = pick.check_wheel(Path(wheel), runtime, releases=project.matrix.releases.values())
    tested = pick.read_wheel(wheel)
    args, test_paths = pytest_arguments(project_dir, list(pytest_args), settings.test_dir)
    wheels = dependency_wheels(
        project_dir, runtime, [*requirements, *tested.requires], relock, package_base_url
    )
    others = [*wheels, wheel]
    distributions = {}
    for path in others:
        metadata = pick.read_wheel(path)
        distributions[metadata.name] = metadata.version
    return Plan(
        runtime=runtime,
        wheel=wheel,
        wheels=others,
        distributions=distributions,
        imports=list(tested.modules),
        pytest_args=args,
        test_paths=test_paths,
        settings=settings,
    )


def snapshot_job(plan: Plan, source) -> dict:
    """What the runner needs to make a snapshot: the wheels it holds (the pure test wheels), each with its
    `source`, and the runtime's ES module, whose memory the runner grows before restoring one."""
    module = "pyodide.asm.mjs"
    return {
        "module": module if (plan.runtime.folder / module).is_file() else None,
        "wheels": [
            {"file": path.name, "source": source(path)} for path in plan.wheels if snapshots.is_pure(path)
        ],
    }


def inside_sources() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in INSIDE}


ENGINES = ("node", *browsers.BROWSERS)  # where a known failure may be said to fail


def check_engines(settings: TestSettings) -> None:
    """Refuse a known failure that names an engine wasm_test does not run in."""
    for test, known in settings.known_failures.items():
        unknown = [name for name in known.engines if name not in ENGINES]
        if unknown:
            raise WasmTestError(
                f"the known failure {test!r} ({settings.known_failures_from}) names the engines "
                f"{', '.join(unknown)}; the engines are {', '.join(ENGINES)}"
            )


def known_failures_in(plan: Plan, engine: str) -> dict[str, str]:
    """The known failures that apply in `engine` ("node" or a browser's name): test id or pattern -> why."""
    return {
        test: known.reason for test, known in plan.settings.known_failures.items() if known.applies_in(engine)
    }


def suite_job(plan: Plan, engine: str) -> dict:
    """What both modes' runner needs to run the suite in `engine`: pytest's arguments and folder, the known
    failures there, and the Python that runs around pytest inside Pyodide."""
    return {
        "pytestArgs": plan.pytest_args,
        "testDir": plan.settings.test_dir,
        "knownFailures": known_failures_in(plan, engine),
        "knownFailuresFrom": plan.settings.known_failures_from,
        "inside": inside_sources(),
        "columns": shutil.get_terminal_size().columns,
    }


def node_job(plan: Plan, project_dir: Path, snapshot: Path | None = None) -> dict:
    """The runner's job in Node; `snapshot`: the cache file of the memory snapshot to use or make."""
    return {
        "mode": "node",
        "runtime": str(plan.runtime.folder),
        "snapshot": snapshot and {"file": str(snapshot), **snapshot_job(plan, str)},
        "wheels": [{"file": path.name, "source": str(path)} for path in plan.wheels],
        "distributions": plan.distributions,
        "imports": plan.imports,
        "project": str(project_dir.resolve()),
        **suite_job(plan, "node"),
    }


TEST_PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>wasm_test</title>
<p>nox -s wasm_test -- --browser: the test run is driven from outside this page.</p>
"""


def browser_site(
    plan: Plan, project_dir: Path, browser: str, snapshot: Path | None = None
) -> tuple[server.Site, dict]:
    """What the server offers a run in `browser`, and the job the page runs (URLs relative to it)."""
    files = project_files(project_dir, plan.test_paths, plan.settings.test_dir)
    site = server.Site(
        folders={"/pyodide/": plan.runtime.folder},
        files={
            "/run_pytest.mjs": RUNNER,
            **{f"/wheels/{path.name}": path for path in plan.wheels},
            **{f"/project/{name}": project_dir / name for name in files},
        },
        documents={"/": TEST_PAGE},
        uploads={SNAPSHOT_URL: snapshot} if snapshot else {},
    )
    page_job = {
        "runtime": "/pyodide/",
        "snapshot": snapshot
        and {
            "url": SNAPSHOT_URL,
            "exists": snapshot.is_file(),
            **snapshot_job(plan, lambda path: f"/wheels/{path.name}"),
        },
        "wheels": [{"file": path.name, "source": f"/wheels/{path.name}"} for path in plan.wheels],
        "distributions": plan.distributions,
        "imports": plan.imports,
        "files": files,
        "filesURL": "/project/",
        **suite_job(plan, browser),
    }
    return site, page_job


def run_node(job: dict, cwd: Path) -> int:
    """Run run_pytest.mjs on `job`, its output going where ours goes; its exit code."""
    with tempfile.TemporaryDirectory() as folder:
        job_path = Path(folder) / "job.json"
        job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
        sys.stdout.flush()
        sys.stderr.flush()
        command = [npm.node(), str(RUNNER), str(job_path)]
        return subprocess.run(command, cwd=cwd, check=False).returncode


def run(plan: Plan, project_dir: Path, browser: str | None = None, snapshot: bool = True) -> int:
    """Run the tests in Node, or in the browser named (a key of browsers.BROWSERS); pytest's exit code
    (SETUP_FAILED: no run). `snapshot`: boot Pyodide from the cached memory snapshot (snapshot.py)."""
    where = browsers.BROWSERS[browser].title if browser else "Node"
    folder = "" if plan.settings.test_dir == "." else f" from {plan.settings.test_dir}/"
    console.print(
        f"testing {plan.wheel.name} in {plan.runtime.describe()} in {where}{folder}: "
        f"pytest {' '.join(plan.pytest_args)}"
    )
    snapshot_file = snapshots.snapshot_file(plan.runtime, plan.wheels) if snapshot else None
    if not browser:
        return run_node(node_job(plan, project_dir, snapshot_file), project_dir)
    launch = browsers.BROWSERS[browser].job()
    site, page_job = browser_site(plan, project_dir, browser, snapshot_file)
    with server.serving(site) as url:
        job = {"mode": "browser", **launch, "url": url, "page": page_job}
        return run_node(job, project_dir)


def explain_exit(code: int, plan: Plan) -> str:
    if code == SETUP_FAILED:
        return f"Pyodide could not be set up for the tests of {plan.wheel.name} (see above)"
    meaning = PYTEST_EXIT_CODES.get(code, "unknown exit code")
    explained = f"pytest inside {plan.runtime.describe()} exited with {code} ({meaning})"
    if code == 3:
        explained += (
            "; a plugin that stopped it is named above with the fix (Pyodide has no threads, subprocesses, "
            "signals or sockets)"
        )
    return explained
