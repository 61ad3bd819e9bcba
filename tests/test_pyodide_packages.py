"""Pyodide's own packages as test dependencies: the release's package set first, PyPI for the rest.

A 127.0.0.1 server stands in for the release's package base URL (tests/helpers/package_sets.py): it serves a copy
of the 314 runtime's real pyodide-lock.json in which `greeting` (a pure wheel built here) and jiter 0.19.0
(a real PyO3 wheel for Pyodide 314, from PyPI) are Pyodide packages, and the packages wasm_test needs itself
(pytest, micropip...) are PyPI's wheels at the versions the release's lock holds. The resolution, the
download, the sha256 check and the install are the engine's own: `nox -s wasm_test` of a rendered project
imports them inside Pyodide in Node. The test lock it writes is read back with packaging.pylock (PEP 751).
"""

import hashlib
import json
import re
import time
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock
from packaging.version import Version
from pyo3_pyodide.resolve import pip

from template_tools import matrix
from template_tools.render import render_project
from tests.helpers.package_sets import (
    empty_user_cache,
    greeting_and_jiter,
    own_lock,
    pure_wheel,
    served_set,
    shared_runtime,
)
from tests.helpers.project import can_cut_the_network, nox, output_of

pytestmark = pytest.mark.network

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]
JITER = "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"

TESTS = """
import greeting
import jiter


def test_pyodide_packages_import_and_work():
    assert greeting.greet("wasm") == "hello, wasm"
    assert jiter.from_json(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
"""


@pytest.fixture(scope="module")
def runtime():
    return shared_runtime(STABLE)


@pytest.fixture
def mirror(runtime, monkeypatch, tmp_path):
    """The stand-in package base URL, greeting and jiter added to the set (greeting's pure wheel and jiter's
    binary one), and an empty per-user cache (the npm runtime copied in)."""
    empty_user_cache(runtime, tmp_path / "cache", monkeypatch)
    with served_set(runtime, monkeypatch, greeting_and_jiter(tmp_path / "greeting")) as packages:
        yield packages


def project_with_tests(folder: Path, group: list[str]) -> tuple[Path, Path]:
    """A rendered project (stable target) whose `wasm-test` group is `group`, a test folder importing
    greeting and jiter, and a pure wheel of the project itself to test (requires nothing)."""
    project = render_project(folder, {"project_name": "hello"})
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'lint = ["ruff>=0.6"]' in text
    pyproject.write_text(
        text.replace('lint = ["ruff>=0.6"]', f'lint = ["ruff>=0.6"]\nwasm-test = {json.dumps(group)}')
    )
    (project / "pkg_tests").mkdir()
    (project / "pkg_tests" / "test_packages.py").write_text(TESTS)
    wheel = pure_wheel(project / "dist", "hello", "0.1.0", "def add(a, b):\n    return a + b\n")
    return project, wheel


def summary(output: str) -> tuple[int, dict[str, int]]:
    found = re.findall(r"^wasm_test: pytest exited with (\d+) inside Pyodide .*: (.*)$", output, re.MULTILINE)
    assert len(found) == 1, output[-4000:]
    code, counts = found[0]
    return int(code), {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", counts)}


# Real runs: nox -s wasm_test in a rendered project (the host side alone:
# engine/tests/test_resolve_pyodide_packages.py)


def test_pyodide_packages_install_and_import_in_node_then_offline(mirror, runtime, tmp_path):
    project, wheel = project_with_tests(tmp_path / "hello", ["pytest>=8", "jiter", "greeting"])
    args = ["-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests"]
    started = time.monotonic()
    cold = nox(project, *args)
    cold_seconds = time.monotonic() - started
    output = output_of(cold)
    assert cold.returncode == 0, output[-4000:]
    assert summary(output) == (0, {"passed": 1, "failed": 0})
    assert "greeting, jiter, pytest from its own package set" in output
    assert "none with pip" in output  # everything here is the release's

    lock_path = project / "tests" / "pylock.pyodide-314.toml"
    data = tomllib.loads(lock_path.read_text())
    Pylock.from_dict(data)  # a valid PEP 751 lock
    by_name = {package["name"]: package for package in data["packages"]}
    served = mirror.served["packages"]
    base = mirror.base_url.format(version=Version(STABLE.npm))
    assert "micropip" not in by_name  # the runner loads the wheels without micropip
    for name in ("greeting", "jiter", "pytest"):
        [entry] = by_name[name]["wheels"]
        assert entry["url"] == base + served[name]["file_name"]
        assert entry["hashes"]["sha256"] == served[name]["sha256"]
        assert by_name[name]["version"] == served[name]["version"]
        assert by_name[name]["tool"]["pyo3-pyodide"]["source"] == "pyodide"
    assert by_name["jiter"]["wheels"][0]["name"] == JITER
    tool = data["tool"]["pyo3-pyodide"]
    assert tool["release"] == STABLE.version and tool["package-base-url"] == base
    assert tool["micropip"] == own_lock(runtime)["packages"]["micropip"]["version"]
    cache = tmp_path / "cache" / "pyodide-packages" / STABLE.npm
    assert (cache / JITER).is_file() and (cache / "greeting-1.2.0-py3-none-any.whl").is_file()

    started = time.monotonic()
    warm = nox(project, *args, offline=True)
    warm_seconds = time.monotonic() - started
    output = output_of(warm)
    assert warm.returncode == 0, output[-4000:]
    assert summary(output) == (0, {"passed": 1, "failed": 0})
    assert "resolving " not in output and "downloading " not in output and "fetching " not in output
    network = (
        "no network namespace" if not can_cut_the_network() else "a network namespace with loopback only"
    )
    print(
        f"wasm_test with Pyodide packages: cold {cold_seconds:.1f} s, warm offline {warm_seconds:.1f} s ({network})"
    )

    # --relock resolves again (the package set fetched again too), and the lock comes out the same
    text = lock_path.read_text()
    relocked = nox(project, *args[:3], "--relock", *args[3:])
    assert relocked.returncode == 0, output_of(relocked)[-4000:]
    assert "fetching Pyodide" in output_of(relocked) and lock_path.read_text() == text


def test_a_tampered_wheel_fails_and_leaves_nothing_in_the_cache(mirror, runtime, tmp_path):
    project, wheel = project_with_tests(tmp_path / "hello", ["pytest>=8", "jiter", "greeting"])
    folder = mirror.folder(runtime)
    greeting = "greeting-1.2.0-py3-none-any.whl"
    genuine = mirror.server.files[folder + greeting]
    tampered = genuine.replace(b"hello, ", b"HACKED ")  # same size, other bytes (stored uncompressed)
    assert tampered != genuine
    mirror.server.serve(folder + greeting, tampered)
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests")
    output = output_of(result)
    assert result.returncode != 0, output[-4000:]
    expected = mirror.served["packages"]["greeting"]["sha256"]
    lock = f"{mirror.base_url.format(version=Version(STABLE.npm))}pyodide-lock.json"
    assert (
        f"({greeting}, which {lock} names): the file has sha256 {hashlib.sha256(tampered).hexdigest()}"
        in output
    )
    assert f"but {expected} was expected (its sha256 there). Nothing was kept" in output
    cache = tmp_path / "cache" / "pyodide-packages" / STABLE.npm
    assert not list(cache.glob("greeting*")), sorted(cache.iterdir())
    assert "inside Pyodide" not in output and not (project / "tests" / "pylock.pyodide-314.toml").exists()


def test_a_version_conflict_stops_before_pyodide_starts(mirror, runtime, tmp_path):
    project, wheel = project_with_tests(tmp_path / "hello", ["pytest>=8", "jiter>=1", "greeting"])
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests")
    output = output_of(result)
    assert result.returncode != 0
    version = mirror.served["packages"]["jiter"]["version"]
    assert (
        f"jiter>=1 is not met by jiter {version}, the version that Pyodide {STABLE.version}'s own package set holds"
        in output
    ), output[-4000:]
    assert "inside Pyodide" not in output


def test_the_old_test_lock_is_converted_once_then_resolved_again(mirror, runtime, tmp_path):
    """A project with tests/wasm_test.lock (the format before PEP 751): its sections become the lines'
    pylock files (pip finds the wheels' URLs), it is removed, and the target's file is resolved again
    under today's rules (its inputs now include the release and the package base URL)."""
    project, wheel = project_with_tests(tmp_path / "hello", ["pytest>=8", "jiter", "greeting"])
    old = pip.resolve(runtime, ["iniconfig"])  # what the old format held: pip's wheels, no URLs
    other = next(release for release in RELEASES.values() if release.line not in (STABLE.line,))
    wheels = ", ".join(
        f'{{ name = "{w.name}", version = "{w.version}", file = "{w.file}", sha256 = "{w.sha256}" }}'
        for w in old
    )
    sections = ""
    for release in (STABLE, other):
        sections += (
            f'[release."{release.version}"]\npython = "{STABLE.python}"\n'
            f'platforms = {json.dumps(runtime.micropip_platform_tags())}\nmicropip = "{runtime.micropip}"\n'
            f'requirements = ["iniconfig"]\nwheels = [\n    {wheels},\n]\n\n'
        )
    legacy = project / "tests" / "wasm_test.lock"
    legacy.write_text("# the old format\n" + sections)

    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests")
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    assert "converted" in output and "tests/wasm_test.lock (the test lock's old format)" in output
    assert not legacy.exists()
    converted = project / "tests" / f"pylock.pyodide-{other.line.replace('.', '_')}.toml"
    data = tomllib.loads(converted.read_text())
    Pylock.from_dict(data)
    [package] = data["packages"]
    [entry] = package["wheels"]
    assert (package["name"], entry["name"], entry["hashes"]["sha256"]) == (
        old[0].name,
        old[0].file,
        old[0].sha256,
    )
    assert entry["url"].endswith("/" + old[0].file) and entry["url"].startswith("https://")
    assert data["tool"]["pyo3-pyodide"]["converted-from"] == "tests/wasm_test.lock"
    # the target's line was resolved again at once, from today's inputs
    target = tomllib.loads((project / "tests" / "pylock.pyodide-314.toml").read_text())
    assert target["tool"]["pyo3-pyodide"]["release"] == STABLE.version
    assert "converted-from" not in target["tool"]["pyo3-pyodide"]
    assert "greeting" in {package["name"] for package in target["packages"]}
    again = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "pkg_tests", offline=True)
    assert again.returncode == 0 and "converted" not in output_of(again), output_of(again)[-3000:]
