"""Pure packages that the release also serves, taken from PyPI (resolve/pyodide_packages.py).

A pure package of the release's own set (py3-none-any) comes from PyPI when the set's version does not meet
the requirement (Pyodide 315's set holds pytest 8.3.5; a project asks for pytest>=9.0.1) or when the
package base URL cannot be reached (a connection fails; an HTTP answer, even a 404, is not that). Binary
packages (numpy) still come from the set alone: the refusal and the mirror message stay.

The host-side tests of these rules, against the 315 set served from 127.0.0.1, are in
engine/tests/test_resolve_pyodide_packages.py. The real runs here render projects and run their
`nox -s wasm_test` on this machine with no mirror set: Pyodide's CDN is really out of reach here, PyPI is not.
"""

import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm

from template_tools import matrix, sidroot
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.adopt import adopt, commit_all
from tests.helpers.package_mirror import ENV, folder_mirror
from tests.helpers.package_sets import UNREACHABLE, pure_wheel
from tests.helpers.project import nox, output_of
from tests.test_pyodide_packages import summary

pytestmark = pytest.mark.network

PRERELEASE = real_builds.SID_RELEASE  # 315: its set holds pytest 8.3.5
STABLE = matrix.load().releases[matrix.load().default]
NOT_MET = "not met by Pyodide"


# Real runs, no mirror set: Pyodide's CDN is out of reach on this machine


def lock_packages(project: Path, release) -> dict[str, dict]:
    path = project / "tests" / f"pylock.pyodide-{release.line.replace('.', '_')}.toml"
    return {package["name"]: package for package in tomllib.loads(path.read_text())["packages"]}


def assert_cdn_out_of_reach(release) -> None:
    runtime = npm.ensure_runtime(release)
    source = pyodide_packages.package_source(runtime)
    assert source.own and pyodide_packages.unreachable(source) is not None, (
        "this test proves a run where Pyodide's CDN cannot be reached; here it can"
    )


def test_a_rendered_project_tests_with_pypis_wheels_when_the_cdn_is_out_of_reach(tmp_path, monkeypatch):
    """A freshly rendered project (stable target, its `test` group as generated), a pure stand-in of its
    wheel: `nox -s wasm_test` with no mirror set takes every test wheel from PyPI and passes."""
    monkeypatch.delenv(ENV, raising=False)
    assert_cdn_out_of_reach(STABLE)
    project = render_project(tmp_path / "hello", {"project_name": "hello"})
    (project / "pkg_tests").mkdir()
    (project / "pkg_tests" / "test_add.py").write_text(
        "import hello\n\n\ndef test_add():\n    assert hello.add(2, 3) == 5\n"
    )
    wheel = pure_wheel(project / "dist", "hello", "0.1.0", "def add(a, b):\n    return a + b\n")
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests")
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    assert summary(output) == (0, {"passed": 1, "failed": 0})
    assert output.count(UNREACHABLE) == 1 and "could not download" not in output
    packages = lock_packages(project, STABLE)
    assert "pytest" in packages
    for package in packages.values():
        [entry] = package["wheels"]
        assert package["tool"]["pyo3-pyodide"]["source"] == "pypi"
        assert (
            entry["url"].startswith("https://files.pythonhosted.org/")
            and len(entry["hashes"]["sha256"]) == 64
        )


@pytest.mark.wasm
def test_the_sid_built_project_tests_with_pypis_pytest_9(sid_built_project, tmp_path, monkeypatch):
    """The project built for 315 in the Debian root: its own suite inside Pyodide 315 with no mirror set
    (every pure wheel from PyPI), then with its `wasm-test` group asking pytest>=9.0.1 and the 315 set
    reachable (a file:// folder): PyPI's pytest 9, the set's pluggy, and the suite passes."""
    built, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    monkeypatch.delenv(ENV, raising=False)
    assert_cdn_out_of_reach(PRERELEASE)
    project = tmp_path / built.name
    shutil.copytree(built, project, symlinks=True, ignore=shutil.ignore_patterns(".nox", "target"))
    result = nox(project, "-s", "wasm_test")
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    code, counts = summary(output)
    assert code == 0 and counts["passed"] > 0 and counts["failed"] == 0, output[-3000:]
    assert output.count(UNREACHABLE) == 1
    assert {p["tool"]["pyo3-pyodide"]["source"] for p in lock_packages(project, PRERELEASE).values()} == {
        "pypi"
    }

    mirror = folder_mirror(npm.ensure_runtime(PRERELEASE), tmp_path / "package-set")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'lint = ["ruff>=0.6"]' in text
    pyproject.write_text(
        text.replace('lint = ["ruff>=0.6"]', 'lint = ["ruff>=0.6"]\nwasm-test = ["pytest>=9.0.1"]')
    )
    result = nox(project, "-s", "wasm_test", env={ENV: mirror})
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    code, counts = summary(output)
    assert code == 0 and counts["passed"] > 0 and counts["failed"] == 0, output[-3000:]
    assert output.count("pytest>=9.0.1 (the set holds 8.3.5): " + NOT_MET) == 1 and UNREACHABLE not in output
    packages = lock_packages(project, PRERELEASE)
    assert packages["pytest"]["tool"]["pyo3-pyodide"]["source"] == "pypi"
    assert Version(packages["pytest"]["version"]) >= Version("9.0.1")
    assert packages["pluggy"]["tool"]["pyo3-pyodide"]["source"] == "pyodide"
    assert packages["pluggy"]["wheels"][0]["url"].startswith(mirror)


RPDS = "rpds-py==2026.9.1"  # its `test` group asks for pytest>=9.0.1 (and pytest-run-parallel)


@pytest.mark.wasm
def test_rpds_from_pypi_passes_its_suite_with_pypis_pytest_9(tmp_path, monkeypatch):
    """rpds-py's sdist, adopted with the README's block and built for 315 in the Debian root (through
    noxfile_pyodide.py: its own noxfile sets uv as nox's default backend). Its `test` group asks for
    pytest>=9.0.1, which 315's set does not meet: with the set at hand (a file:// folder) pytest comes from
    PyPI and the rest from the set; with no mirror set (the CDN is out of reach here) all from PyPI. Both
    pass its whole suite inside Pyodide 315."""

    monkeypatch.delenv(ENV, raising=False)
    root = real_builds.usable_root(PRERELEASE)
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "-d"]
    subprocess.run([*download, str(tmp_path / "sdist"), RPDS], check=True, capture_output=True)
    [sdist] = (tmp_path / "sdist").glob("rpds_py-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    project = tmp_path / sdist.name.removesuffix(".tar.gz")
    assert (
        "pytest>=9.0.1"
        in tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]["test"]
    )
    commit_all(project)
    adopt(project)
    sessions = ["nox", "-f", "noxfile_pyodide.py", "-s"]
    build = sidroot.run(
        root,
        [*sessions, "wasm_build", "--", "--pyodide", PRERELEASE.line, "--toolchain", "system"],
        cwd=str(project),
        bind=project,
    )
    real_builds.record_build(f"{RPDS} (sdist from PyPI)", PRERELEASE, root, build)
    assert build.returncode == 0, (build.stdout + build.stderr)[-5000:]
    # at least one test per `def test_` of its suite (some are parametrized)
    functions = sum(path.read_text().count("\ndef test_") for path in (project / "tests").glob("test_*.py"))
    mirror = folder_mirror(npm.ensure_runtime(PRERELEASE), tmp_path / "package-set")
    for env, line in (({ENV: mirror}, NOT_MET), ({}, UNREACHABLE)):
        result = nox(
            project,
            *sessions[1:],
            "wasm_test",
            "--",
            "--pyodide",
            PRERELEASE.line,
            "--relock",
            "tests",
            env=env,
        )
        output = output_of(result)
        assert result.returncode == 0, output[-5000:]
        code, counts = summary(output)
        assert code == 0 and counts["failed"] == 0 and counts["passed"] >= functions > 100, output[-3000:]
        assert output.count(line) == 1, output[-5000:]
        packages = lock_packages(project, PRERELEASE)
        pytest_entry = packages["pytest"]
        assert pytest_entry["tool"]["pyo3-pyodide"]["source"] == "pypi"
        assert Version(pytest_entry["version"]) >= Version("9.0.1")
        sources = {package["tool"]["pyo3-pyodide"]["source"] for package in packages.values()}
        assert sources == ({"pypi", "pyodide"} if env else {"pypi"}), packages
        print(f"{RPDS} in Pyodide {PRERELEASE.version}, pytest {pytest_entry['version']} from PyPI: {counts}")
