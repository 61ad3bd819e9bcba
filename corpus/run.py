"""Run one corpus project as a user would, recording what happened at each step.

1. its sdist from PyPI (`pip download --no-deps --no-binary=:all: NAME==VERSION`), unpacked and committed;
2. the README's adoption block, as written (tests/helpers/adopt.py);
3. `nox -s wasm_build -- --pyodide LINE --toolchain system` in the Debian root (the 315 prerelease);
4. `nox -s wasm_test -- --pyodide LINE --config FILE PATHS` on this machine, Pyodide's own packages from a
   local copy of the release's package set (tests/helpers/package_mirror.py), FILE written from projects.toml;
5. the same suite natively with the root's python3.15: the project installed with pip, then pytest.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm

from corpus.projects import Project
from template_tools import sidroot
from tests.helpers import real_builds
from tests.helpers.adopt import adopt, commit_all
from tests.helpers.package_mirror import folder_mirror
from tests.helpers.project import nox, output_of

RELEASE = real_builds.SID_RELEASE  # the release the Debian root builds for
WASM_TEST_LINE = re.compile(r"^wasm_test: pytest exited with (\d+) inside .*?: (.*)$", re.MULTILINE)
PYTEST_LINE = re.compile(r"^=+ (.*?) in ([\d.]+)s(?: \(.*\))? =+$", re.MULTILINE)
COUNT = re.compile(r"(\d+) (\w+)")


@dataclass
class Suite:
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # pytest's words: passed, failed, xfailed, ...
    seconds: float | None = None  # the whole command's wall time
    known_failures: int = 0  # entries given to wasm_test (inside Pyodide only)
    tail: str = ""  # the output's last lines, when something went wrong


@dataclass
class Result:
    project: str
    version: str
    covers: list[str]
    build_seconds: float | None = None
    build_ok: bool = False
    pyodide: Suite = field(default_factory=Suite)
    native: Suite = field(default_factory=Suite)
    browsers: dict[str, Suite] = field(default_factory=dict)  # the same suite in Pyodide in a browser
    blocked: list[str] = field(default_factory=list)  # what stops a step, and which fix it waits for

    def as_dict(self) -> dict:
        return asdict(self)


OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "crashed")


def counts_of(text: str) -> dict[str, int]:
    """The tests' outcomes in pytest's summary ("3 passed, 1 failed, 2 xfailed, 5 warnings"), by outcome;
    'errors' is spelt 'error', and warnings are no outcome."""
    counts = {("error" if kind == "errors" else kind): int(n) for n, kind in COUNT.findall(text)}
    return {kind: n for kind, n in counts.items() if kind in OUTCOMES}


def wasm_test_counts(output: str) -> tuple[int, dict[str, int]] | None:
    """wasm_test's last line: pytest's exit code and counts inside Pyodide, or None when there is none."""
    found = WASM_TEST_LINE.findall(output)
    if not found:
        return None
    code, counts = found[-1]
    return int(code), counts_of(counts)


def pytest_counts(output: str) -> dict[str, int] | None:
    found = PYTEST_LINE.findall(output)
    return counts_of(found[-1][0]) if found else None


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def sdist(project: Project, folder: Path) -> Path:
    """The project's sdist from PyPI, downloaded once into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = f"{project.name}-{project.version}.tar.gz".lower().replace("-", "_")
    for attempt in range(2):
        found = [path for path in folder.glob("*.tar.gz") if path.name.lower().replace("-", "_") == wanted]
        if found:
            return found[0]
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary=:all:",
            "-d",
            str(folder),
        ]
        subprocess.run([*command, project.pin], check=True, capture_output=True, text=True)
    raise RuntimeError(f"pip download {project.pin} wrote no {wanted} into {folder}")


def unpack(archive: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as opened:
        [top] = {Path(name).parts[0] for name in opened.getnames()}
        if (folder / top).exists():
            subprocess.run(["rm", "-rf", str(folder / top)], check=True)
        opened.extractall(folder, filter="data")
    return folder / top


def failure(step: str, output: str) -> str:
    """`step failed: ` and the output's last line that says something, then its last lines."""
    lines = [line for line in output.splitlines() if line.strip()]
    said = next((line for line in reversed(lines) if "rror" in line), lines[-1] if lines else "no output")
    return f"{step} failed: {said.strip()}\n" + tail(output)


def run_project(project: Project, work: Path, root: Path | None = None, log=print) -> Result:
    """Adopt, build, and test `project` inside Pyodide and natively; `work` holds its files."""
    result = Result(project.name, project.version, list(project.covers))
    root = root or real_builds.usable_root(RELEASE)
    checkout = unpack(sdist(project, work / "sdists"), work / "projects")
    # A project with its own noxfile keeps it unedited: the sessions are run from the adopted file.
    noxfile = ["-f", "noxfile_pyodide.py"] if (checkout / "noxfile.py").exists() else []
    commit_all(checkout)
    adopt(checkout)
    log(
        f"corpus: {project.pin}: adopted in {checkout}; building for Pyodide {RELEASE.version} in the Debian root"
    )
    started = time.monotonic()
    build = sidroot.run(
        root,
        ["nox", *noxfile, "-s", "wasm_build", "--", "--pyodide", RELEASE.line, "--toolchain", "system"],
        cwd=str(checkout),
        bind=checkout,
        env={"CARGO_BUILD_JOBS": "1"},
    )
    result.build_seconds = round(time.monotonic() - started, 1)
    result.build_ok = build.returncode == 0
    if not result.build_ok:
        result.blocked.append(failure("wasm_build", build.stdout + build.stderr))
    else:
        result.pyodide = pyodide_suite(project, checkout, noxfile, work, result, log)
        for browser in project.browsers:
            result.browsers[browser] = pyodide_suite(project, checkout, noxfile, work, result, log, browser)
    native_suite(project, checkout, root, result, log)
    return result


def pyodide_suite(
    project: Project, checkout: Path, noxfile: list[str], work: Path, result: Result, log, browser: str = ""
) -> Suite:
    """`nox -s wasm_test` of the project's suite, in Node or in `browser`."""
    settings = []
    if project.needs_config():
        config = work / "configs" / f"{project.name}.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(project.pyodide_config())
        settings = ["--config", str(config)]
    mirror = folder_mirror(npm.ensure_runtime(RELEASE), work / "package-set")
    arguments = [
        "--pyodide",
        RELEASE.line,
        *settings,
        *(["--browser", browser] if browser else []),
        *project.test_paths,
        *project.pytest_args,
    ]
    log(f"corpus: {project.pin}: nox -s wasm_test -- {shlex.join(arguments)}")
    started = time.monotonic()
    run = nox(
        checkout,
        *noxfile,
        "-s",
        "wasm_test",
        "--",
        *arguments,
        env={pyodide_packages.BASE_URL_ENV: mirror},
        timeout=7200,
    )
    suite = Suite(seconds=round(time.monotonic() - started, 1), known_failures=len(project.known_failures))
    found = wasm_test_counts(output_of(run))
    if found is None:
        suite.exit_code = run.returncode
        suite.tail = tail(output_of(run))
        where = f"browsers.{browser}" if browser else "pyodide"
        result.blocked.append(
            f"wasm_test{' in ' + browser if browser else ''} gave no counts (see {where}.tail)"
        )
        return suite
    suite.exit_code, suite.counts = found
    if suite.exit_code not in (0, 1):
        suite.tail = tail(output_of(run))
    return suite


NATIVE_VENV = "/var/tmp/pyo3-pyodide-corpus-venv"


def native_suite(project: Project, checkout: Path, root: Path, result: Result, log) -> None:
    """pip-install the project natively into a fresh python3.15 venv in the root, then its pytest run."""
    venv = f"{NATIVE_VENV}/{project.name}"
    install = (
        f"rm -rf {venv} && python3.15 -m venv {venv} && "
        f"{venv}/bin/pip install -q {shlex.quote(str(checkout))} {shlex.join(project.test_requirements)}"
    )
    log(f"corpus: {project.pin}: installing natively for python3.15 in the Debian root")
    installed = sidroot.run(
        root, ["sh", "-ec", install], cwd=str(checkout), bind=checkout, env={"CARGO_BUILD_JOBS": "1"}
    )
    if installed.returncode != 0:
        result.blocked.append(failure("native install", installed.stdout + installed.stderr))
        return
    test_dir = str((checkout / project.test_dir).resolve())
    pytest = [
        f"{venv}/bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *project.test_paths,
        *project.pytest_args,
    ]
    started = time.monotonic()
    run = sidroot.run(root, pytest, cwd=test_dir, bind=checkout)
    suite = result.native
    suite.seconds = round(time.monotonic() - started, 1)
    suite.exit_code = run.returncode
    suite.counts = pytest_counts(run.stdout + run.stderr) or {}
    if run.returncode not in (0, 1) or not suite.counts:
        suite.tail = tail(run.stdout + run.stderr)
