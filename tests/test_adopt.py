"""Adoption: the README's block adds the Pyodide layer to an existing PyO3 project and changes none of its files.

The fast tests use small projects made here; the real one is jiter 0.19.0's sdist from PyPI (a Cargo workspace,
`[tool.maturin] manifest-path`, its module at the top level, its tests outside `tests/`), built for the 315
line in the Debian sid root and tested inside Pyodide in Node with its own test suite.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from pyo3_pyodide.project import Project
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.wheel import build as wheel_build

from template_tools import matrix, sidroot
from tests.helpers import real_builds
from tests.helpers.adopt import NOX_LINE, SECTION, adopt, adoption_commands, commit_all, existing_project
from tests.helpers.package_mirror import folder_mirror
from tests.helpers.project import nox, output_of
from tests.helpers.update import git, run_copier, working_tree_repo

MATRIX = matrix.load()
THEIR_NOXFILE = '''import nox


@nox.session(python=False)
def mine(session):
    """Their own session."""
'''
# As many real noxfiles have it (rpds-py's): nox then ignores python=False for every session.
THEIR_UV_NOXFILE = THEIR_NOXFILE.replace(
    "import nox\n", 'import nox\n\nnox.options.default_venv_backend = "uv"\n'
)
PYODIDE_SESSIONS = ("toolchain", "wasm_build", "audit", "wasm_test", "doctor", "serve", "lock", "bundle")
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
    for session in ("mine", *PYODIDE_SESSIONS):
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


def path_without_uv() -> str:
    """This machine's PATH without any folder that holds a `uv`."""
    folders = [
        folder for folder in os.environ["PATH"].split(os.pathsep) if not shutil.which("uv", path=folder)
    ]
    return os.pathsep.join(folders)


def test_a_noxfile_with_a_default_venv_backend_reaches_every_pyodide_session_without_uv(tmp_path):
    """`nox.options.default_venv_backend = "uv"` overrides python=False: the sessions say venv_backend="none"."""
    project = existing_project(tmp_path / "theirs", THEIR_UV_NOXFILE)
    adopt(project)
    (project / "noxfile.py").write_text(f"import pathlib\nimport runpy\n\n{NOX_LINE}\n" + THEIR_UV_NOXFILE)
    without_uv = {"PATH": path_without_uv()}
    assert shutil.which("uv", path=without_uv["PATH"]) is None
    # Every session's body parses its arguments: --help shows them and skips the session.
    helped = nox(project, "-s", *PYODIDE_SESSIONS, "--", "--help", env=without_uv)
    output = output_of(helped)
    assert helped.returncode == 0, output[-3000:]
    assert "No backends present" not in output
    for session in PYODIDE_SESSIONS:
        assert f"Session {session} skipped: help shown" in output, output[-3000:]
    dry = nox(project, "-s", "wasm_build", "--", "--dry-run", env=without_uv)
    assert dry.returncode == 0, output_of(dry)[-3000:]
    assert f"Pyodide {MATRIX.default}:" in output_of(dry)
    # No virtualenv was made for any of them.
    assert not any((project / ".nox" / session).exists() for session in PYODIDE_SESSIONS)


def test_a_project_with_its_own_noxfile_runs_the_sessions_with_nox_f_and_no_edit(tmp_path):
    project = existing_project(tmp_path / "theirs", THEIR_UV_NOXFILE)
    adopt(project)
    command = "nox -f noxfile_pyodide.py -s wasm_build"
    assert f"`{command}`" in SECTION  # the README's way, run here as written
    listed = nox(project, "-f", "noxfile_pyodide.py", "--list")
    assert listed.returncode == 0, output_of(listed)
    assert set(re.findall(r"^[*-] (\w+)", listed.stdout, re.MULTILINE)) == set(PYODIDE_SESSIONS), (
        listed.stdout
    )
    dry = nox(project, *command.split()[1:], "--", "--dry-run", env={"PATH": path_without_uv()})
    assert dry.returncode == 0, output_of(dry)[-3000:]
    assert f"Pyodide {MATRIX.default}:" in output_of(dry)
    assert (project / "noxfile.py").read_text() == THEIR_UV_NOXFILE
    assert git(project, "status", "--short", "--untracked-files=no") == ""  # none of their files changed


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(folder).parts
    }


SETUPTOOLS_PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "plain"
version = "1.0.0"
"""
HATCHLING_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "purepy"
version = "1.0.0"
"""
NOT_MATURIN = {
    "an empty folder": ({}, "Found no file at its root; no Cargo.toml there or up to three folders below."),
    "only a setuptools pyproject.toml": (
        {"pyproject.toml": SETUPTOOLS_PYPROJECT},
        "Found at its root: pyproject.toml; no Cargo.toml there or up to three folders below.",
    ),
    "a pure-Python hatchling project": (
        {
            "pyproject.toml": HATCHLING_PYPROJECT,
            "README.md": "# purepy\n",
            "src/purepy/__init__.py": "",
            "tests/test_purepy.py": "def test_it():\n    pass\n",
        },
        "Found at its root: pyproject.toml, README.md; no Cargo.toml there or up to three folders below.",
    ),
}


@pytest.mark.parametrize("case", NOT_MATURIN)
def test_adopting_a_folder_that_is_not_a_maturin_project_is_refused_and_writes_nothing(tmp_path, case):
    files, found = NOT_MATURIN[case]
    project = tmp_path / "folder"
    project.mkdir()
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    if files:
        commit_all(project)
    else:
        git(project, "init", "--quiet", "--initial-branch=main")
    before = files_in(project)
    [copy, *_] = adoption_commands()  # the README's command, as written
    result = subprocess.run(copy, cwd=project, capture_output=True, text=True, check=False)
    output = output_of(result)
    assert result.returncode != 0, output
    message = output.strip().splitlines()[-1]
    assert (
        f"project_kind=adopt needs a PyO3/maturin project, and {project.resolve()} is not one. {found}"
        in message
    )
    assert (
        'Expected: a pyproject.toml with build-backend = "maturin" in [build-system], and the crate\'s'
        in message
    )
    assert "Nothing was written." in message
    assert files_in(project) == before
    assert git(project, "status", "--short", "--untracked-files=all", "--ignored") == ""


SETUPTOOLS_RUST_PYPROJECT = """[build-system]
requires = ["setuptools>=61", "setuptools-rust>=1.9"]
build-backend = "setuptools.build_meta"

[project]
name = "theirs"
version = "1.0.0"
"""


def test_the_engine_reads_the_build_backend_that_copier_cannot(tmp_path):
    """Jinja opens no file: the build backend is the engine's to check, before it builds."""
    project = existing_project(tmp_path / "theirs", None)
    assert wheel_build.check_build_backend(Project.read(project)) is None  # build-backend = "maturin"
    (project / "pyproject.toml").write_text(SETUPTOOLS_RUST_PYPROJECT)
    with pytest.raises(wheel_build.NotAMaturinProject) as refused:
        wheel_build.check_build_backend(Project.read(project))
    assert str(refused.value).startswith(
        f'{project / "pyproject.toml"} names build-backend = "setuptools.build_meta" in [build-system]; '
        'expected build-backend = "maturin": wasm_build builds the wheel with maturin, and this template '
        "supports maturin projects only. Fix: "
    )
    (project / "pyproject.toml").unlink()
    with pytest.raises(wheel_build.NotAMaturinProject, match=r"^found no .*pyproject\.toml; expected"):
        wheel_build.check_build_backend(Project.read(project))


@pytest.mark.parametrize(
    ("pyproject", "found"),
    [
        (SETUPTOOLS_RUST_PYPROJECT, 'names build-backend = "setuptools.build_meta" in [build-system]'),
        ('[project]\nname = "theirs"\nversion = "1.0.0"\n', "names no build-backend in [build-system]"),
    ],
)
def test_a_pyo3_crate_built_by_another_backend_is_refused_by_its_first_build(tmp_path, pyproject, found):
    """Copier accepts it (a pyproject.toml, a Cargo.toml); wasm_build refuses it, naming what it found."""
    project = existing_project(tmp_path / "theirs", None)
    (project / "pyproject.toml").write_text(pyproject)
    commit_all(project)
    adopt(project)
    build = nox(project, "-s", "wasm_build", "--", "--dry-run")
    output = output_of(build)
    assert build.returncode != 0, output[-3000:]
    assert f"{project / 'pyproject.toml'} {found}" in output, output[-3000:]
    assert 'expected build-backend = "maturin"' in output
    assert "this template supports maturin projects only" in output


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory):
    """A git repository of this template's working tree, tagged v1, and v2 with a changelog line more."""
    repo = working_tree_repo(tmp_path_factory.mktemp("template-repo"))
    with (repo / "CHANGELOG.md").open("a") as changelog:
        changelog.write("\n- v2 of the adoption update test\n")
    git(repo, "commit", "--quiet", "--all", "-m", "v2")
    git(repo, "tag", "v2")
    return repo


def test_an_adopted_project_updates(tmp_path, template_repo):
    """copier update renders both versions into empty folders of its own: the folder check is not for those."""
    project = existing_project(tmp_path / "theirs", None)
    run_copier(
        project, "copy", "--vcs-ref=v1", "--defaults", "--data=project_kind=adopt", str(template_repo), "."
    )
    commit_all(project)
    run_copier(project, "update", "--defaults", "--vcs-ref=v2")
    assert "_commit: v2" in (project / ".copier-answers.yml").read_text()


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
    mirror = folder_mirror(npm.ensure_runtime(prerelease), tmp_path / "package-set")
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
