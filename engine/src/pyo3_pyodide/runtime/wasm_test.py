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
Firefox (puppeteer-core, over WebDriver BiDi), with everything served from 127.0.0.1 by serve.py. It loads
every wheel at once with pyodide.loadPackage (their tags were checked here against the rules of the
release's own micropip, so micropip itself need not start), checks the installed versions and imports, and
runs pytest. Pyodide starts from a cached memory snapshot with pytest already imported (snapshot.py;
`--no-snapshot` boots it from scratch).
With warm caches and an unchanged lock, nothing touches the network.
"""

from __future__ import annotations

import dataclasses
import email.parser
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyo3_pyodide.console import console
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.resolve.test_lock import dependency_wheels
from pyo3_pyodide.runtime import npm as runtimes
from pyo3_pyodide.runtime import serve
from pyo3_pyodide.runtime import snapshot as snapshots
from pyo3_pyodide.runtime.npm import Runtime
from pyo3_pyodide.wheel import tags as wheel_tags

DEFAULT_TEST_PATH = "tests"
RUNNER = Path(__file__).with_name("run_pytest.mjs")
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
SKIPPED_FOLDERS = {"__pycache__", ".pytest_cache"}


class WasmTestError(Exception):
    """Something keeps the tests from running; the message says what was found and the fix."""


# The wheel under test


def tag_problem(wheel: Path, runtime: Runtime, releases: Iterable[Release]) -> str | None:
    """Why `runtime` would not accept `wheel`, or None when one of its tags fits."""
    try:
        if wheel_tags.fits(wheel.name, runtime.python_tag, runtime.platform_tags()):
            return None
    except wheel_tags.BadWheelName as error:
        return str(error)
    release = runtime.release
    built_for = [
        other.version
        for other in releases
        if wheel_tags.fits(wheel.name, other.python_tag, other.accepted_platform_tags())
    ]
    advice = f"Rebuild it for this runtime: `nox -s wasm_build -- --pyodide {release.version}`"
    if built_for:
        advice = (
            f"It was built for Pyodide {' or '.join(built_for)}: test it there "
            f"(`nox -s wasm_test -- --pyodide {built_for[0]} --wheel {wheel}`), or rebuild it for "
            f"this one (`nox -s wasm_build -- --pyodide {release.version}`)"
        )
    return (
        f"{wheel.name} does not fit {runtime.describe()}: it is tagged {wheel_tags.spelled(wheel.name)}, while "
        f"this runtime accepts {runtime.python_tag} (or abi3, or pure Python) wheels for "
        f"{' or '.join(runtime.platform_tags())}; Pyodide would load it without complaint and fail "
        f"only at import. {advice}"
    )


def project_name(project_dir: Path) -> str:
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
    return canonicalize_name(pyproject["project"]["name"])


def project_wheels(project_dir: Path) -> list[Path]:
    """This project's wheels in dist/, whatever their tags."""
    name = project_name(project_dir)
    return [
        wheel
        for wheel in sorted((project_dir / "dist").glob("*.whl"))
        if canonicalize_name(wheel.name.split("-")[0]) == name
    ]


def no_fitting_wheel(project_dir: Path, runtime: Runtime, wheels: list[Path], platforms: list[str]) -> str:
    """Why no wheel in dist/ fits `runtime`, and the commands that fix it."""
    found = ", ".join(wheel.name for wheel in wheels) or "none"
    return (
        f"{project_dir / 'dist'} holds no wheel of {project_name(project_dir)} for "
        f"{runtime.describe()}, i.e. tagged {runtime.python_tag} with one of {', '.join(platforms)}; "
        f"found: {found}. Build one with `nox -s wasm_build -- --pyodide {runtime.release.version}`, "
        "or name a wheel with `--wheel PATH`"
    )


def newest(wheels: list[Path]) -> Path:
    return max(wheels, key=lambda wheel: wheel.stat().st_mtime)


def select_wheel(project_dir: Path, runtime: Runtime) -> Path:
    """The newest wheel of this project in dist/ that `runtime` accepts."""
    wheels = project_wheels(project_dir)
    fitting = [wheel for wheel in wheels if tag_problem(wheel, runtime, ()) is None]
    if not fitting:
        raise WasmTestError(no_fitting_wheel(project_dir, runtime, wheels, runtime.platform_tags()))
    return newest(fitting)


def check_wheel(wheel: Path, runtime: Runtime, releases: Iterable[Release]) -> Path:
    if not wheel.is_file():
        raise WasmTestError(f"{wheel}: no such file; expected a wheel (`nox -s wasm_build`)")
    problem = tag_problem(wheel, runtime, releases)
    if problem:
        raise WasmTestError(problem)
    return wheel.resolve()


@dataclasses.dataclass(frozen=True)
class WheelMetadata:
    name: str  # as its METADATA spells it
    version: str  # as its METADATA spells it, which is what importlib.metadata reports
    requires: tuple[str, ...]  # Requires-Dist, without those of extras
    modules: tuple[str, ...]  # its top-level packages and every extension module, dotted


def read_wheel(wheel: Path) -> WheelMetadata:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata_name = next(name for name in names if PurePosixPath(name).match("*.dist-info/METADATA"))
            metadata = email.parser.BytesParser().parsebytes(archive.read(metadata_name))
    except (OSError, zipfile.BadZipFile, StopIteration) as error:
        raise WasmTestError(
            f"{wheel} is not a readable wheel with a *.dist-info/METADATA ({error!r}); "
            "build or download it again"
        ) from None
    requires = []
    for line in metadata.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or "extra" not in str(requirement.marker):
            requires.append(str(requirement))
    modules = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) > 1 or parts[0].endswith(".py"):
            modules.add(parts[0].removesuffix(".py"))
        if name.endswith(".so"):
            modules.add(".".join([*parts[:-1], parts[-1].split(".")[0]]))
    return WheelMetadata(
        name=metadata["Name"],
        version=metadata["Version"],
        requires=tuple(requires),
        modules=tuple(sorted(modules)),
    )


# Running the tests


def pytest_arguments(project_dir: Path, arguments: list[str]) -> tuple[list[str], list[str]]:
    """pytest's arguments as seen from the project folder inside Pyodide, and the test paths in them
    (the default test folder when none is given)."""
    project = project_dir.resolve()
    result, paths = [], []
    for argument in arguments:
        path_part = argument.split("::")[0]
        if argument.startswith("-") or not (project / path_part).exists():
            result.append(argument)
            continue
        path = (project / path_part).resolve()
        if not path.is_relative_to(project):
            raise WasmTestError(
                f"{argument} is outside the project folder {project}, the only folder that "
                "Pyodide sees: move the tests into it"
            )
        relative = path.relative_to(project).as_posix()
        result.append(relative + argument[len(path_part) :])
        paths.append(relative)
    if not paths:
        result.append(DEFAULT_TEST_PATH)
        paths.append(DEFAULT_TEST_PATH)
    if sys.stdout.isatty() and not any(argument.startswith("--color") for argument in arguments):
        result.append("--color=yes")
    return [*result, "-p", "no:cacheprovider"], paths


def project_files(project_dir: Path, test_paths: list[str]) -> list[str]:
    """The files a browser run copies into Pyodide: pytest's configuration and the test paths."""
    project = project_dir.resolve()
    files = {name for name in PYTEST_CONFIG_FILES if (project / name).is_file()}
    for test_path in test_paths:
        path = project / test_path
        candidates = path.rglob("*") if path.is_dir() else [path]
        for candidate in candidates:
            relative = candidate.relative_to(project)
            if candidate.is_file() and not SKIPPED_FOLDERS & set(relative.parts):
                files.add(relative.as_posix())
        # conftest.py files of the folders above a test path apply to it too
        for parent in path.relative_to(project).parents:
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
    test_paths: list[str]


def plan(
    project_dir: Path,
    runtime: Runtime,
    releases: Iterable[Release],
    requirements: list[str],
    wheel: Path | None = None,
    pytest_args: Iterable[str] = (),
    relock: bool = False,
    package_base_url: str | None = None,
) -> Plan:
    """Pick and check the wheel, get the test wheels, and sort out pytest's arguments."""
    if wheel is None:
        wheel = select_wheel(project_dir, runtime)
    wheel = check_wheel(Path(wheel), runtime, releases)
    tested = read_wheel(wheel)
    args, test_paths = pytest_arguments(project_dir, list(pytest_args))
    wheels = dependency_wheels(
        project_dir, runtime, [*requirements, *tested.requires], relock, package_base_url
    )
    others = [*wheels, wheel]
    distributions = {}
    for path in others:
        metadata = read_wheel(path)
        distributions[metadata.name] = metadata.version
    return Plan(
        runtime=runtime,
        wheel=wheel,
        wheels=others,
        distributions=distributions,
        imports=list(tested.modules),
        pytest_args=args,
        test_paths=test_paths,
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
        "pytestArgs": plan.pytest_args,
        "columns": shutil.get_terminal_size().columns,
    }


TEST_PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>wasm_test</title>
<p>nox -s wasm_test -- --browser: the test run is driven from outside this page.</p>
"""


def browser_site(plan: Plan, project_dir: Path, snapshot: Path | None = None) -> tuple[serve.Site, dict]:
    """What the server offers a browser run, and the job the page runs (URLs relative to it)."""
    files = project_files(project_dir, plan.test_paths)
    site = serve.Site(
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
        "pytestArgs": plan.pytest_args,
        "columns": shutil.get_terminal_size().columns,
    }
    return site, page_job


def run_node(job: dict, cwd: Path) -> int:
    """Run run_pytest.mjs on `job`, its output going where ours goes; its exit code."""
    with tempfile.TemporaryDirectory() as folder:
        job_path = Path(folder) / "job.json"
        job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
        sys.stdout.flush()
        sys.stderr.flush()
        command = [runtimes.node(), str(RUNNER), str(job_path)]
        return subprocess.run(command, cwd=cwd, check=False).returncode


# The browsers `--browser` drives: name -> (the name shown, the installed program, the npm library that
# drives it, installed into the cache). Both are driven the same way by run_pytest.mjs.
BROWSERS = {
    "chromium": ("Chromium", runtimes.chromium, runtimes.ensure_playwright),
    "firefox": ("Firefox", runtimes.firefox, runtimes.ensure_puppeteer),
}


def run(plan: Plan, project_dir: Path, browser: str | None = None, snapshot: bool = True) -> int:
    """Run the tests in Node, or in the browser named (a key of BROWSERS); pytest's exit code
    (SETUP_FAILED: no run). `snapshot`: boot Pyodide from the cached memory snapshot (snapshot.py)."""
    where, find_browser, ensure_driver = BROWSERS[browser] if browser else ("Node", None, None)
    console.print(
        f"testing {plan.wheel.name} in {plan.runtime.describe()} in {where}: "
        f"pytest {' '.join(plan.pytest_args)}"
    )
    snapshot_file = snapshots.snapshot_file(plan.runtime, plan.wheels) if snapshot else None
    if not browser:
        return run_node(node_job(plan, project_dir, snapshot_file), project_dir)
    executable = find_browser()
    driver = ensure_driver()
    site, page_job = browser_site(plan, project_dir, snapshot_file)
    with serve.serving(site) as url:
        job = {
            "mode": "browser",
            "browser": browser,
            "executable": executable,
            "driver": str(driver),
            "url": url,
            "page": page_job,
        }
        return run_node(job, project_dir)


def explain_exit(code: int, plan: Plan) -> str:
    if code == SETUP_FAILED:
        return f"Pyodide could not be set up for the tests of {plan.wheel.name} (see above)"
    meaning = PYTEST_EXIT_CODES.get(code, "unknown exit code")
    return f"pytest inside {plan.runtime.describe()} exited with {code} ({meaning})"
