"""Pure packages that the release also serves, taken from PyPI (resolve/pyodide_packages.py).

A pure package of the release's own set (py3-none-any) comes from PyPI when the set's version does not meet
the requirement (Pyodide 315's set holds pytest 8.3.5; a project asks for pytest>=9.0.1) or when the
package base URL cannot be reached (a connection fails; an HTTP answer, even a 404, is not that). Binary
packages (numpy) still come from the set alone: the refusal and the mirror message stay.

The unit tests serve the 315 runtime's real pyodide-lock.json from 127.0.0.1 (tests/helpers/package_mirror.py) with
PyPI's wheels of what wasm_test needs at the versions that lock holds; "cannot be reached" is the same server
once closed (a refused port). The real runs render projects and run their `nox -s wasm_test` on this machine
with no mirror set: Pyodide's CDN is really out of reach here, PyPI is not.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version
from pyo3_pyodide.download import DownloadError
from pyo3_pyodide.resolve import pip, pyodide_packages
from pyo3_pyodide.runtime import npm

from template_tools import matrix, sidroot
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.adopt import adopt, commit_all
from tests.helpers.mirrors import MirrorServer
from tests.helpers.package_mirror import ENV, PackageMirror, folder_mirror
from tests.helpers.project import nox, output_of
from tests.test_pyodide_packages import CACHE_ENV, pure_wheel, shared_runtime, summary

pytestmark = pytest.mark.network

PRERELEASE = real_builds.SID_RELEASE  # 315: its set holds pytest 8.3.5
STABLE = matrix.load().releases[matrix.load().default]
UNREACHABLE = "cannot be reached"
NOT_MET = "not met by Pyodide"


@pytest.fixture(scope="module")
def runtime():
    return shared_runtime(PRERELEASE)


@pytest.fixture
def cache(runtime, monkeypatch, tmp_path):
    """An empty per-user cache with the npm runtime copied in."""
    folder = tmp_path / "cache"
    installed = runtime.folder.parents[1]
    shutil.copytree(installed, folder / "npm" / installed.name, symlinks=True)
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def mirror(runtime, cache, monkeypatch):
    """The 315 set served from 127.0.0.1 (HARNESS's wheels at the set's versions) as the package base URL."""
    server = MirrorServer().__enter__()
    packages = PackageMirror(server)
    packages.served = packages.serve_release(runtime)
    monkeypatch.setenv(ENV, packages.base_url)
    yield packages
    server.__exit__(None)


def set_version(runtime, name: str) -> str:
    return json.loads((runtime.folder / "pyodide-lock.json").read_text())["packages"][name]["version"]


def by_name(wheels: list[pip.LockedWheel]) -> dict[str, pip.LockedWheel]:
    return {wheel.name: wheel for wheel in wheels}


def assert_from_pypi(wheel: pip.LockedWheel) -> None:
    """PyPI's URL and sha256, and the cached file is that wheel."""
    assert wheel.source == pip.PYPI and wheel.url.startswith("https://files.pythonhosted.org/"), wheel
    assert wheel.url.endswith("/" + wheel.file)
    assert hashlib.sha256((pip.wheel_cache() / wheel.file).read_bytes()).hexdigest() == wheel.sha256


def test_a_pure_package_the_set_does_not_meet_comes_from_pypi(mirror, runtime, capsys):
    """pytest>=9.0.1 against 315's pytest 8.3.5: PyPI's pytest 9; its dependencies as usual: those the set
    holds at versions that fit (pluggy, iniconfig, packaging) from the set, pygments (not in it) from PyPI."""
    assert set_version(runtime, "pytest") == "8.3.5"
    source = pyodide_packages.package_source(runtime)
    locked = by_name(pyodide_packages.resolve(runtime, ["pytest>=9.0.1"], source))
    assert set(locked) == {"pytest", "pluggy", "iniconfig", "packaging", "pygments"}
    assert Version(locked["pytest"].version) >= Version("9.0.1")
    assert_from_pypi(locked["pytest"])
    assert_from_pypi(locked["pygments"])
    for name in ("pluggy", "iniconfig", "packaging"):
        assert locked[name].source == pip.PYODIDE and locked[name].url.startswith(source.base_url)
        assert locked[name].version == set_version(runtime, name)
    output = capsys.readouterr().err
    line = "pytest>=9.0.1 (the set holds 8.3.5): not met by Pyodide"
    assert output.count(line) == 1 and UNREACHABLE not in output, output
    assert "pytest-8.3.5-py3-none-any.whl" not in mirror.requested(runtime)


def test_a_binary_package_the_set_does_not_meet_is_still_refused(mirror, runtime):
    source = pyodide_packages.package_source(runtime)
    version = set_version(runtime, "numpy")
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.resolve(runtime, ["numpy>=99"], source)
    message = str(error.value)
    assert f"numpy>=99 is not met by numpy {version}, the version that Pyodide" in message
    assert "not a pure wheel: PyPI has none for Pyodide), so pip is not asked for it" in message


def test_an_unreachable_package_base_url_sends_pure_packages_to_pypi(mirror, runtime, capsys):
    """The server closed (its port refuses): the pure packages come from PyPI with one line saying why; a
    binary one still needs the URL, and its error names the settings that point elsewhere."""
    source = pyodide_packages.package_source(runtime)
    pyodide_packages.load_package_set(runtime, source)  # the set's lock, fetched and kept in the cache
    mirror.server.__exit__(None)
    assert pyodide_packages.unreachable(source) is not None
    locked = by_name(pyodide_packages.resolve(runtime, ["pytest"], source))
    assert {"pytest", "pluggy", "iniconfig", "packaging"} <= set(locked)
    for wheel in locked.values():
        assert_from_pypi(wheel)
    output = capsys.readouterr().err
    assert output.count(UNREACHABLE) == 1 and "Connection refused" in output, output
    assert f"{source.base_url} {UNREACHABLE}" in output
    numpy = json.loads((runtime.folder / "pyodide-lock.json").read_text())["packages"]["numpy"]["file_name"]
    with pytest.raises(DownloadError) as error:
        pyodide_packages.resolve(runtime, ["numpy"], source)
    message = str(error.value)
    assert f"could not download {source.base_url}{numpy}" in message
    assert pyodide_packages.BASE_URL_OPTION in message and ENV in message


def test_a_lock_made_when_the_url_answered_says_how_to_take_pypis_wheels(mirror, runtime, cache):
    """A lock that took pytest from the set, used where the set's URL refuses connections and the cache
    lacks the wheel: the error says that resolving again takes the pure wheels from PyPI."""
    source = pyodide_packages.package_source(runtime)
    locked = pyodide_packages.resolve(runtime, ["pytest"], source)
    assert {wheel.source for wheel in locked} == {pip.PYODIDE}
    mirror.server.__exit__(None)
    (cache / "pyodide-packages" / runtime.release.npm / "pytest-8.3.5-py3-none-any.whl").unlink()
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.wheel_paths(locked, runtime, source, "tests/pylock.pyodide-315.toml")
    message = str(error.value)
    assert "could not download" in message and "Connection refused" in message
    assert (
        "pytest-8.3.5-py3-none-any.whl is a pure wheel, which tests/pylock.pyodide-315.toml took" in message
    )
    assert "`nox -s wasm_test -- --relock`" in message


def test_a_missing_file_is_not_an_unreachable_url(mirror, runtime, capsys):
    """A 404 of one wheel is the mirror's fault, reported as such: pip is not asked for it instead."""
    pluggy = f"pluggy-{set_version(runtime, 'pluggy')}-py3-none-any.whl"
    del mirror.server.files[mirror.folder(runtime) + pluggy]
    source = pyodide_packages.package_source(runtime)
    assert pyodide_packages.unreachable(source) is None
    with pytest.raises(
        DownloadError, match=rf"could not download {re.escape(source.base_url + pluggy)} .*: HTTP 404"
    ):
        pyodide_packages.resolve(runtime, ["pytest"], source)
    assert UNREACHABLE not in capsys.readouterr().err


def test_a_file_url_of_no_folder_cannot_be_reached(runtime, tmp_path):
    missing = pyodide_packages.package_source(runtime, (tmp_path / "nowhere").as_uri())
    assert pyodide_packages.unreachable(missing) == f"{tmp_path / 'nowhere'} is not a folder"
    (tmp_path / "here").mkdir()
    assert (
        pyodide_packages.unreachable(pyodide_packages.package_source(runtime, (tmp_path / "here").as_uri()))
        is None
    )


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
