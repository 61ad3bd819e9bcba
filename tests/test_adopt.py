"""Adoption: the README's block adds the Pyodide layer to an existing PyO3 project and changes none of its files.

The fast tests use small projects made here; the real one is jiter 0.19.0's sdist from PyPI (a Cargo workspace,
`[tool.maturin] manifest-path`, its module at the top level, its tests outside `tests/`), built for the 315
line in the Debian sid root and tested inside Pyodide in Node with its own test suite.
"""

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm as runtimes

from template_tools import matrix, sidroot
from tests import real_builds
from tests.adopt_helpers import NOX_LINE, adopt, commit_all, existing_project
from tests.package_mirror import folder_mirror
from tests.project_helpers import nox, output_of
from tests.update_helpers import git

MATRIX = matrix.load()
THEIR_NOXFILE = '''import nox


@nox.session(python=False)
def mine(session):
    """Their own session."""
'''
NEW_FILES = {
    "pyodide-matrix.toml",
    "noxfile_pyodide.py",
    ".github/workflows/pyodide.yml",
    ".copier-answers.yml",
}


def new_files(status: str) -> set[str]:
    assert all(line.startswith("?? ") for line in status.splitlines()), status  # nothing of theirs changed
    return {line[3:] for line in status.splitlines()}


def test_a_project_with_its_own_noxfile_keeps_it_and_adds_one_line(tmp_path):
    project = existing_project(tmp_path / "theirs", THEIR_NOXFILE)
    status = adopt(project)
    assert new_files(git(project, "status", "--short", "--untracked-files=all")) == NEW_FILES, status
    assert (project / "noxfile.py").read_text() == THEIR_NOXFILE
    # The one line the README asks for, added by hand as a user would.
    (project / "noxfile.py").write_text(f"import pathlib\nimport runpy\n\n{NOX_LINE}\n" + THEIR_NOXFILE)
    listed = nox(project, "--list")
    assert listed.returncode == 0, output_of(listed)
    for session in (
        "mine",
        "toolchain",
        "wasm_build",
        "audit",
        "wasm_test",
        "doctor",
        "serve",
        "lock",
        "bundle",
    ):
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout


def test_a_project_without_a_noxfile_gets_one(tmp_path):
    project = existing_project(tmp_path / "theirs", None)
    adopt(project)
    assert new_files(git(project, "status", "--short", "--untracked-files=all")) == NEW_FILES | {"noxfile.py"}
    assert NOX_LINE in (project / "noxfile.py").read_text()
    dry = nox(project, "-s", "wasm_build", "--", "--dry-run")
    assert dry.returncode == 0, output_of(dry)[-3000:]
    # The target is the answer kept in noxfile_pyodide.py: stable, the matrix's default.
    assert f"Pyodide {MATRIX.default}:" in output_of(dry)


JITER_SDIST = "jiter-0.19.0.tar.gz"
JITER_TESTS = "crates/jiter-python/tests"


def jiter_sdist(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary=:all:",
            "-d",
            str(folder),
            "jiter==0.19.0",
        ],
        check=True,
        capture_output=True,
    )
    return folder / JITER_SDIST


@pytest.mark.wasm
def test_jiter_from_pypi_adopts_builds_in_the_sid_root_and_passes_its_tests_in_pyodide(tmp_path):
    prerelease = real_builds.SID_RELEASE
    root = real_builds.usable_root(prerelease)
    with tarfile.open(jiter_sdist(tmp_path / "sdist")) as sdist:
        sdist.extractall(tmp_path, filter="data")
    project = tmp_path / "jiter-0.19.0"
    commit_all(project)
    adopt(project)
    assert new_files(git(project, "status", "--short", "--untracked-files=all")) == NEW_FILES | {"noxfile.py"}
    # The README's line for wasm test dependencies (jiter's suite uses dirty-equals, a pure wheel).
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[dependency-groups]\nwasm-test = ["pytest", "dirty-equals"]\n')
    build = sidroot.run(
        root,
        ["nox", "-s", "wasm_build", "--", "--pyodide", prerelease.line, "--toolchain", "system"],
        cwd=str(project),
        bind=project,
    )
    real_builds.record_build("jiter 0.19.0 (sdist from PyPI)", prerelease, root, build)
    assert build.returncode == 0, (build.stdout + build.stderr)[-5000:]
    [wheel] = (project / "dist").glob("jiter-0.19.0-*.whl")
    assert wheel.name.endswith(f"-{prerelease.platform_tag}.whl")
    # Pyodide's own packages (pytest, micropip) come from the release's package set, whose CDN this machine
    # cannot reach: a local folder stands in for it (GitHub's runners use the real one).
    mirror = folder_mirror(runtimes.ensure_runtime(prerelease), tmp_path / "package-set")
    result = nox(
        project,
        "-s",
        "wasm_test",
        "--",
        "--pyodide",
        prerelease.line,
        JITER_TESTS,
        "-q",
        "-rs",
        env={pyodide_packages.BASE_URL_ENV: mirror},
    )
    output = output_of(result)
    assert result.returncode == 0, output[-5000:]
    counts = {
        kind: int(number) for number, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", output)
    }
    # Every test of jiter's own suite passes, but the one its authors skip on Emscripten (threads).
    tests = sum(
        text.count("\ndef test_") for text in map(Path.read_text, (project / JITER_TESTS).glob("test_*.py"))
    )
    assert counts == {"passed": tests - 1, "skipped": 1, "failed": 0}, output[-3000:]
    assert "threads not supported on pyodide" in output
    print(f"jiter 0.19.0 in Pyodide {prerelease.version}: {counts}")
