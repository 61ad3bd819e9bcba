"""`nox -s wasm_test` for real: a project's pytest suite inside Pyodide, in Node and in Chromium, Firefox and
WebKit (WebKitGTK).

The runtimes are the npm `pyodide` packages the matrix pins; the wheels under test are real: jiter 0.19.0
from PyPI (PyO3, built for Pyodide 314) and the cp315 wheel that the Debian sid root builds from a rendered
project (fixture `sid_built_project`). Every count checked here is the one pytest reports from inside
Pyodide, not only the exit code.
"""

import re
import shutil
import time
import zipfile

import pytest
from packaging.version import Version
from pyo3_pyodide.resolve import pylock
from pyo3_pyodide.runtime import browsers, npm, snapshots, suite
from pyo3_pyodide.runtime_info import RuntimeSetupError
from pyo3_pyodide.wheel import pick

from template_tools import matrix
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.mirrors import MirrorServer
from tests.helpers.package_mirror import ENV as PACKAGE_BASE_URL_ENV
from tests.helpers.package_mirror import PackageMirror, harness_wheels
from tests.helpers.project import can_cut_the_network, nox, output_of
from tests.helpers.pyodide import TEST_CACHE, jiter_wheel
from tests.helpers.real_builds import SID_ANSWERS, SID_RELEASE

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]
PRERELEASE = RELEASES["315.0.0-alpha.2"]
CACHE_ENV = "PYO3_PYODIDE_CACHE"

JITER_PASSING = """
import jiter
import pytest


def test_parses_json():
    assert jiter.from_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_rust_error_arrives_as_value_error():
    with pytest.raises(ValueError, match="EOF while parsing"):
        jiter.from_json(b'{"a": ')
"""
JITER_FAILING = """
import jiter


def test_parses_a_list():
    assert jiter.from_json(b"[1, 2]") == [1, 2]


def test_with_a_wrong_expectation():
    assert jiter.from_json(b"[1, 2]") == [2, 1], "deliberately wrong"
"""


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(TEST_CACHE))


@pytest.fixture(scope="module")
def package_mirror():
    """pytest and micropip are the releases' own packages, served from Pyodide's CDN, which these machines
    cannot reach: a stand-in on 127.0.0.1 serves them (tests/helpers/package_mirror.py) for the releases tested here."""
    with MirrorServer() as server:
        mirror = PackageMirror(server)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(CACHE_ENV, str(TEST_CACHE))
            for release in (STABLE, PRERELEASE):
                mirror.serve_release(npm.ensure_runtime(release))
        yield mirror


@pytest.fixture(autouse=True)
def package_base_url(package_mirror, monkeypatch):
    monkeypatch.setenv(PACKAGE_BASE_URL_ENV, package_mirror.base_url)


@pytest.fixture(scope="module")
def jiter():
    return jiter_wheel()


def jiter_project(folder):
    """A default project (target: the stable release, 314) with two test folders for jiter's wheel."""
    project = render_project(folder, {"project_name": "hello"})
    for name, source in (("jiter_pass", JITER_PASSING), ("jiter_fail", JITER_FAILING)):
        (project / name).mkdir()
        (project / name / "test_jiter.py").write_text(source)
    return project


@pytest.fixture(scope="module")
def project_314(tmp_path_factory):
    return jiter_project(tmp_path_factory.mktemp("jiter") / "hello")


def pyodide_summary(output):
    """The counts pytest reported inside Pyodide, from run_pytest.mjs's closing line."""
    found = re.findall(
        r"^wasm_test: pytest exited with (\d+) inside Pyodide (\S+) .* in (\w+) .*: (.*)$",
        output,
        re.MULTILINE,
    )
    assert len(found) == 1, output[-4000:]
    code, version, where, counts = found[0]
    return int(code), version, where, {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", counts)}


# Real runs (the host-side rules alone are tested beside the engine: engine/tests/test_wheel_pick.py,
# test_runtime_npm.py, test_runtime_snapshots.py, test_runtime_suite.py, test_runtime_browsers.py)


def test_help_and_session_list(project_314):
    result = nox(project_314, "-s", "wasm_test", "--", "--help")
    for option in ("--pyodide VERSION", "--wheel PATH", "--browser", "--relock"):
        assert option in result.stdout, output_of(result)
    listed = nox(project_314, "--list").stdout
    assert re.search(r"^- serve\b", listed, re.MULTILINE) and re.search(
        r"^- wasm_test\b", listed, re.MULTILINE
    ), listed


def test_jiter_in_node_passing_and_failing_folders(project_314, jiter):
    passing = nox(project_314, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass")
    output = output_of(passing)
    assert passing.returncode == 0, output[-4000:]
    assert pyodide_summary(output) == (0, STABLE.version, "Node", {"passed": 2, "failed": 0})
    assert "jiter_pass/test_jiter.py .." in output
    assert f"Python {STABLE.python}." in output

    failing = nox(project_314, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_fail")
    output = output_of(failing)
    assert failing.returncode != 0, output[-4000:]
    assert pyodide_summary(output) == (1, STABLE.version, "Node", {"passed": 1, "failed": 1})
    assert "FAILED jiter_fail/test_jiter.py::test_with_a_wrong_expectation" in output
    assert "AssertionError: deliberately wrong" in output
    assert f"pytest inside Pyodide {STABLE.version} (npm pyodide@{STABLE.npm}" in output
    assert "exited with 1 (tests failed)" in output


# How each browser is asked for: `--browser` alone (and before a test path) and `--browser chromium`
# mean Chromium; `--browser firefox` means Firefox, `--browser webkit` WebKit.
BROWSER_RUNS = {
    "chromium": ("Chromium", ["--browser", "jiter_pass"], ["--browser", "chromium", "jiter_fail"]),
    "firefox": ("Firefox", ["--browser", "firefox", "jiter_pass"], ["--browser", "firefox", "jiter_fail"]),
    "webkit": ("WebKit", ["--browser", "webkit", "jiter_pass"], ["--browser", "webkit", "jiter_fail"]),
}


@pytest.mark.browser
@pytest.mark.parametrize("browser", list(BROWSER_RUNS))
def test_jiter_in_a_browser_passing_and_failing_folders(project_314, jiter, browser):
    where, passing_args, failing_args = BROWSER_RUNS[browser]
    snapshots = snapshots_of(STABLE)
    passing = nox(project_314, "-s", "wasm_test", "--", "--wheel", str(jiter), *passing_args)
    output = output_of(passing)
    assert passing.returncode == 0, output[-4000:]
    assert (
        SAVED in output and len(list(snapshots.glob("*.bin"))) == 1
    )  # the page made it, the server wrote it
    assert f"in {where}: pytest jiter_pass" in output
    assert pyodide_summary(output) == (0, STABLE.version, where, {"passed": 2, "failed": 0})
    assert "jiter_pass/test_jiter.py .." in output  # whole lines, not one line per progress dot

    # warm now (runtime, driver library, test wheels, lock): the failing run has no network at all
    failing = nox(project_314, "-s", "wasm_test", "--", "--wheel", str(jiter), *failing_args, offline=True)
    output = output_of(failing)
    assert failing.returncode != 0, output[-4000:]
    assert pyodide_summary(output) == (1, STABLE.version, where, {"passed": 1, "failed": 1})
    assert "FAILED jiter_fail/test_jiter.py::test_with_a_wrong_expectation" in output
    assert "AssertionError: deliberately wrong" in output
    assert "installing npm" not in output and "resolving " not in output
    assert SAVED not in output and REFUSED not in output and RESTORED in output  # the one just made


REACHES_OUT = """
from pyodide.http import open_url


def test_fetches_from_a_cdn():
    try:
        open_url("https://cdn.jsdelivr.net/pyodide/v314.0.7/full/pyodide-lock.json")
    except Exception:
        pass  # the test passes either way: the run must fail all the same
"""


@pytest.mark.browser
@pytest.mark.parametrize("browser", list(BROWSER_RUNS))
def test_a_request_off_127_0_0_1_fails_the_browser_run(project_314, jiter, browser):
    (project_314 / "reaches_out").mkdir(exist_ok=True)
    (project_314 / "reaches_out" / "test_cdn.py").write_text(REACHES_OUT)
    result = nox(
        project_314, "-s", "wasm_test", "--", "--browser", browser, "--wheel", str(jiter), "reaches_out"
    )
    output = output_of(result)
    assert result.returncode != 0, output[-4000:]
    # WebKit's refusing proxy sees an https request's host only (the browser asks it to CONNECT there)
    path = "" if browser == "webkit" else r"pyodide/v314\.0\.7/full/pyodide-lock\.json"
    assert re.search(
        rf"the page asked for files outside http://127\.0\.0\.1:\d+: https://cdn\.jsdelivr\.net/{path}(,|$)",
        output,
        re.MULTILINE,
    ), output[-4000:]
    assert f"Pyodide could not be set up for the tests of {jiter.name}" in output


@pytest.mark.parametrize("name", list(browsers.BROWSERS))
def test_a_browser_run_without_its_browser_says_how_to_get_one(
    project_314, jiter, tmp_path, monkeypatch, name
):
    browser = browsers.BROWSERS[name]
    env = {browser.variable: "/nonexistent/browser"}
    args = ["--browser", name, "--wheel", str(jiter), "jiter_pass"]
    result = nox(project_314, "-s", "wasm_test", "--", *args, env=env)
    assert result.returncode != 0
    assert f"{browser.variable}='/nonexistent/browser' is not an executable program" in output_of(result)
    assert "inside Pyodide" not in output_of(result)
    # none on PATH at all: the message names the package and the variable
    monkeypatch.delenv(browser.variable, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeSetupError) as error:
        browser.programs()
    message = str(error.value)
    assert f"no {browser.title} on PATH (looked for {', '.join(browser.names)})" in message
    assert f"set {browser.variable}" in message
    assert {
        "chromium": "`apt-get install chromium`",
        "firefox": "`apt-get install firefox-esr`",
        "webkit": "Debian 12 and Ubuntu 24.04: `apt-get install webkit2gtk-driver xvfb`",
    }[name] in message


def test_browser_option_refuses_a_word_that_is_no_browser_and_no_test_path(project_314, jiter):
    result = nox(project_314, "-s", "wasm_test", "--", "--wheel", str(jiter), "--browser", "firefx")
    assert result.returncode != 0
    assert "--browser takes chromium, firefox or webkit (alone: chromium), not 'firefx'" in output_of(result)


def test_wheel_for_another_release_is_refused_before_pyodide_starts(render, jiter):
    project = render(project_name="hello", pyodide_version=PRERELEASE.version)
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter))
    output = output_of(result)
    assert result.returncode != 0, output
    assert (
        f"{jiter.name} does not fit Pyodide {PRERELEASE.version} (npm pyodide@{PRERELEASE.npm}: "
        f"Python 3.15.0rc1, ABI {PRERELEASE.abi}, emscripten_6_0_5, micropip 0.11.1): it is tagged "
        f"cp314-cp314-pyemscripten_2026_0_wasm32, while this runtime accepts cp315" in output
    )
    assert f"It was built for Pyodide {STABLE.version}: test it there" in output
    assert f"`nox -s wasm_build -- --pyodide {PRERELEASE.version}`" in output
    assert "testing " not in output and "inside Pyodide" not in output  # neither Node nor pytest ran
    assert not list((project / "tests").glob("pylock.*.toml"))


def test_no_wheel_in_dist_says_how_to_build_one(render):
    project = render(project_name="hello")
    result = nox(project, "-s", "wasm_test")
    assert result.returncode != 0
    assert f"holds no wheel of hello for Pyodide {STABLE.version}" in output_of(result)
    assert f"`nox -s wasm_build -- --pyodide {STABLE.version}`" in output_of(result)


def rewritten(wheel, target, edit):
    """A copy of `wheel` at `target` with each member's bytes passed through edit(name, data)."""
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            copy.writestr(info, edit(info.filename, source.read(info)))
    return target


@pytest.mark.parametrize(
    ("member", "damage", "reported"),
    [
        # Pyodide loads a wheel's shared libraries while loadPackage installs it
        (
            ".so",
            lambda data: data[: len(data) // 2],
            ["the wheels did not load", "CompileError"],
        ),
        # and the import check catches what only fails when imported
        (
            "__init__.py",
            lambda data: b"raise ImportError('broken on purpose')\n" + data,
            ["the wheels did not install cleanly", "import jiter failed", "ImportError: broken on purpose"],
        ),
    ],
    ids=["truncated-extension", "failing-import"],
)
def test_a_wheel_that_cannot_load_stops_before_pytest(tmp_path, jiter, member, damage, reported):
    project = jiter_project(tmp_path / "broken")
    broken = rewritten(
        jiter, tmp_path / jiter.name, lambda name, data: damage(data) if name.endswith(member) else data
    )
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(broken), "jiter_pass")
    output = output_of(result)
    assert result.returncode != 0, output
    for text in reported:
        assert text in output, output[-4000:]
    assert "test session starts" not in output
    assert f"Pyodide could not be set up for the tests of {jiter.name}" in output


def test_cold_run_then_warm_run_without_network(tmp_path, monkeypatch, jiter):
    """The first run fills an empty cache and writes the lock; the second works with no network at all."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    project = jiter_project(tmp_path / "hello")
    started = time.monotonic()
    # npm's and pip's own caches empty too: everything comes from the registry and the package base URL
    no_caches = {"npm_config_cache": str(tmp_path / "npm-cache"), "PIP_NO_CACHE_DIR": "1"}
    cold = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass", env=no_caches)
    cold_seconds = time.monotonic() - started
    output = output_of(cold)
    assert cold.returncode == 0, output[-4000:]
    assert f"installing npm pyodide@{STABLE.npm}" in output and "resolving " in output
    lock_path = project / pylock.lock_file(STABLE.version)
    lock = pylock.read_test_lock(lock_path)
    micropip = npm.ensure_runtime(STABLE).micropip  # the version the runtime's own lock names
    assert lock.inputs["micropip"] == micropip and lock.inputs["python"] == STABLE.python
    # micropip is not installed: the runner loads the wheels with pyodide.loadPackage (its tags are
    # checked on the host by the rules of the release's micropip, whose version is an input of the lock)
    assert lock.inputs["requirements"] == ["pytest>=8"]
    wheels = {wheel.name: wheel for wheel in lock.wheels}
    assert "micropip" not in wheels
    harness = {"pytest", "pluggy", "iniconfig", "packaging"}
    assert set(wheels) >= harness
    assert {wheels[name].source for name in harness} == {"pyodide"}  # the release's own packages
    assert (tmp_path / "cache" / "npm" / f"pyodide-{STABLE.npm}" / "package-lock.json").is_file()
    lock_text = lock_path.read_text()

    started = time.monotonic()
    warm = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass", offline=True)
    warm_seconds = time.monotonic() - started
    output = output_of(warm)
    assert warm.returncode == 0, output[-4000:]
    assert pyodide_summary(output)[3] == {"passed": 2, "failed": 0}
    assert "installing npm" not in output and "resolving " not in output
    assert lock_path.read_text() == lock_text
    network = (
        "no network namespace" if not can_cut_the_network() else "a network namespace with loopback only"
    )
    print(f"wasm_test cold {cold_seconds:.1f} s, warm {warm_seconds:.1f} s (warm run in {network})")

    # A clone with the committed lock and an empty or damaged cache: exactly the locked files are fetched.
    cached = tmp_path / "cache" / "pyodide-packages" / STABLE.npm
    (cached / wheels["pytest"].file).write_bytes(b"damaged")
    (cached / wheels["pluggy"].file).unlink()
    refetched = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass")
    assert refetched.returncode == 0, output_of(refetched)[-4000:]
    assert "resolving " not in output_of(refetched) and lock_path.read_text() == lock_text


def test_test_dependencies_come_from_the_wasm_test_group_and_the_lock_follows_them(tmp_path, jiter):
    project = jiter_project(tmp_path / "hello")
    # tabulate: pure, on PyPI, not one of the release's own packages (tests/test_pyodide_packages.py and
    # engine/tests/test_resolve_pyodide_packages.py cover those)
    (project / "jiter_pass" / "test_tabulate.py").write_text(
        "import tabulate\n\n\ndef test_tabulate_is_installed():\n    assert tabulate.tabulate([[1]])\n"
    )
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass")
    assert result.returncode != 0  # the `test` group has no tabulate
    assert "ModuleNotFoundError: No module named 'tabulate'" in output_of(result)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'lint = ["ruff>=0.6"]', 'lint = ["ruff>=0.6"]\nwasm-test = ["pytest>=8", "tabulate"]'
        )
    )
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "jiter_pass")
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    assert pyodide_summary(output)[3] == {"passed": 3, "failed": 0}
    lock = pylock.read_test_lock(project / pylock.lock_file(STABLE.version))
    assert lock.inputs["requirements"] == ["pytest>=8", "tabulate"]
    assert {wheel.name: wheel.source for wheel in lock.wheels}["tabulate"] == "pypi"
    relocked = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter), "--relock", "jiter_pass")
    output = output_of(relocked)
    assert relocked.returncode == 0 and "resolving pytest>=8, tabulate for Pyodide" in output


# The memory snapshot (runtime/snapshots.py): made once, restored after; every check holds on that path

SAVED = "wasm_test: saved a snapshot of Pyodide with pytest imported"
REFUSED = "wasm_test: Pyodide refused its cached snapshot"
RESTORED = ", restored from a memory snapshot"  # in the runner's last line


def snapshots_of(release):
    """The snapshot folder of `release` in the tests' cache, emptied: the next run makes one."""
    folder = TEST_CACHE / "snapshots" / release.version
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def test_the_snapshot_is_made_once_then_restored_and_every_check_still_fails_what_it_should(tmp_path, jiter):
    folder = snapshots_of(STABLE)
    project = jiter_project(tmp_path / "hello")

    def run(*args):
        return nox(project, "-s", "wasm_test", "--", "--wheel", *args)

    made = run(str(jiter), "jiter_pass")
    output = output_of(made)
    assert made.returncode == 0 and SAVED in output, output[-4000:]
    [snapshot] = folder.glob("*.bin")

    # restored from now on: a failing test, a wheel that does not load, a test whose module is missing
    failing = output_of(run(str(jiter), "jiter_fail"))
    assert pyodide_summary(failing) == (1, STABLE.version, "Node", {"passed": 1, "failed": 1}), failing
    assert "AssertionError: deliberately wrong" in failing
    truncated = rewritten(
        jiter,
        tmp_path / jiter.name,
        lambda name, data: data[: len(data) // 2] if name.endswith(".so") else data,
    )
    broken = output_of(run(str(truncated), "jiter_pass"))
    assert "the wheels did not load" in broken and "CompileError" in broken, broken[-4000:]
    (project / "jiter_pass" / "test_tabulate.py").write_text("import tabulate\n\n\ndef test_x():\n    pass\n")
    missing = output_of(run(str(jiter), "jiter_pass"))
    assert "ModuleNotFoundError: No module named 'tabulate'" in missing, missing[-4000:]
    (project / "jiter_pass" / "test_tabulate.py").unlink()
    for output in (failing, broken, missing):
        assert SAVED not in output and REFUSED not in output
    assert RESTORED in failing
    # pytest imports `random`: each restored run still draws its own numbers
    (project / "jiter_pass" / "test_random.py").write_text(
        "import random\n\n\ndef test_draw():\n    print('drew', random.random())\n"
    )
    draws = [re.search(r"drew (\S+)", output_of(run(str(jiter), "-s", "jiter_pass"))) for _ in range(2)]
    assert draws[0] and draws[1] and draws[0].group(1) != draws[1].group(1)
    (project / "jiter_pass" / "test_random.py").unlink()
    assert list(folder.glob("*.bin")) == [snapshot]

    # a damaged snapshot is refused, deleted, and the run goes on from scratch; the next run makes another
    snapshot.write_bytes(snapshot.read_bytes()[:1001])
    refused = run(str(jiter), "jiter_pass")
    output = output_of(refused)
    assert refused.returncode == 0 and REFUSED in output and RESTORED not in output, output[-4000:]
    assert pyodide_summary(output)[3] == {"passed": 2, "failed": 0}
    assert not snapshot.exists()
    assert SAVED in output_of(run(str(jiter), "jiter_pass")) and snapshot.is_file()

    # --no-snapshot neither reads nor writes one
    snapshot.write_bytes(b"not a snapshot")
    fresh = run(str(jiter), "--no-snapshot", "jiter_pass")
    output = output_of(fresh)
    assert fresh.returncode == 0 and SAVED not in output and REFUSED not in output, output[-4000:]
    assert RESTORED not in output
    assert snapshot.read_bytes() == b"not a snapshot"
    snapshot.unlink()


@pytest.mark.parametrize("version", list(RELEASES))
def test_every_release_in_the_matrix_makes_and_restores_a_snapshot(version, tmp_path, capfd):
    """The runner's snapshot path on each release's own runtime: made by the first run, restored by the
    second, whose tests see pytest imported already; release by release, so a release that stops taking
    snapshots shows here (it would still pass its tests, booted from scratch)."""
    runtime = npm.ensure_runtime(RELEASES[version])
    wheels = [wheel for wheel in harness_wheels(runtime) if snapshots.is_pure(wheel)]
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_snapshot.py").write_text(
        "import pytest\n\n\ndef test_pytest_is_there():\n    assert pytest.main\n"
    )
    plan = suite.Plan(
        runtime=runtime,
        wheel=wheels[0],
        wheels=wheels,
        distributions={pick.read_wheel(wheel).name: pick.read_wheel(wheel).version for wheel in wheels},
        imports=[],
        pytest_args=["tests", "-p", "no:cacheprovider"],
        test_paths=["tests"],
    )
    snapshot = tmp_path / "cache" / "snapshot.bin"
    job = suite.node_job(plan, project, snapshot)
    assert suite.run_node(job, project) == 0
    made = capfd.readouterr().out
    assert SAVED in made and RESTORED in made and snapshot.is_file(), made[-3000:]
    assert suite.run_node(job, project) == 0
    restored = capfd.readouterr().out
    assert SAVED not in restored and REFUSED not in restored, restored[-3000:]
    assert f"{RESTORED}: 1 passed" in restored


# The wheel that the Debian sid root built (real_builds.SID_RELEASE)

SID_TESTS = (
    "test_add",
    "test_add_raises_overflow_error_instead_of_wrapping",
    "test_parse_fraction",
    "test_rust_errors_become_python_exceptions",
    "test_counter",
    "test_panic_becomes_panic_exception_and_module_survives",
)


# Found with WebKitGTK 2.50.6 (issue 22): where a Rust panic unwinds, Pyodide 315 aborts in WebKit
# ("Aborted()", then RuntimeError: Unreachable code should not be executed: JavaScriptCore's in-place wasm
# interpreter, tests/test_webkit_panic.py), where Node, Chromium and Firefox raise PanicException. The
# generated pyproject.toml lists that test as a known failure in WebKit only, so the crash counts as the
# expected one (xfailed) and the run passes; a WebKit that unwinds makes it XPASS(strict), a failure.
PANIC_TEST = "test_panic_becomes_panic_exception_and_module_survives"
KNOWN_CRASHES_IN = {"WebKit": (PANIC_TEST,)}


def check_sid_run(result, where):
    output = output_of(result)
    known = KNOWN_CRASHES_IN.get(where, ())
    assert result.returncode == 0, output[-6000:]
    # Every test passes but the trap test, which asks to be run alone (it ends the runtime).
    passing = [test for test in SID_TESTS if test not in known]
    counts = {
        "passed": len(passing),
        "failed": 0,
        "skipped": 1,
        **({"xfailed": len(known)} if known else {}),
    }
    assert pyodide_summary(output) == (0, str(Version(SID_RELEASE.version)), where, counts)
    assert real_builds.wheel_name(SID_ANSWERS["project_name"]) in output
    for test in passing:
        assert f"tests/test_wasmdemo.py::{test} PASSED" in output, output[-6000:]
    for test in known:
        assert f"wasm_test: XFAIL (a known failure) tests/test_wasmdemo.py::{test}" in output, output[-6000:]
    assert f"{len(passing)} passed" in output


@pytest.mark.wasm
def test_sid_wheel_passes_the_projects_own_tests_in_node(sid_built_project):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    check_sid_run(nox(project, "-s", "wasm_test", "--", "-v"), "Node")


@pytest.mark.wasm
@pytest.mark.browser
@pytest.mark.parametrize("browser", list(BROWSER_RUNS))
def test_sid_wheel_passes_the_projects_own_tests_in_a_browser(sid_built_project, browser):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    where = BROWSER_RUNS[browser][0]
    check_sid_run(nox(project, "-s", "wasm_test", "--", "--browser", browser, "-v"), where)


@pytest.mark.wasm
@pytest.mark.parametrize(
    "options",
    [
        pytest.param((), id="node"),
        pytest.param(("--browser",), id="chromium", marks=pytest.mark.browser),
        pytest.param(("--browser", "firefox"), id="firefox", marks=pytest.mark.browser),
        pytest.param(("--browser", "webkit"), id="webkit", marks=pytest.mark.browser),
    ],
)
def test_a_rust_trap_in_the_middle_of_the_suite_costs_that_test_only(sid_built_project, options):
    """The example's trap() (a WebAssembly `unreachable`, Pyodide's fatal error) run first: it is reported as
    crashed with the cause, and the tests after it run in a fresh Pyodide."""
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    trap = "tests/test_wasmdemo.py::test_trap_ends_pyodide_with_a_stack"
    after = ["tests/test_wasmdemo.py::test_add", "tests/test_wasmdemo.py::test_counter"]
    result = nox(
        project, "-s", "wasm_test", "--", *options, "-v", "-k", "trap or add or counter", trap, *after
    )
    output = output_of(result)
    assert result.returncode != 0, output[-6000:]
    code, _, _, counts = pyodide_summary(output)
    assert (code, counts) == (1, {"passed": 2, "failed": 0, "crashed": 1}), output[-6000:]
    # V8 and SpiderMonkey say "unreachable", JavaScriptCore "Unreachable code should not be executed"
    assert re.search(
        rf"wasm_test: CRASHED {re.escape(trap)}: Pyodide suffered a fatal error: RuntimeError: [Uu]nreachable",
        output,
    ), output[-6000:]
    for test in after:
        assert f"{test} PASSED" in output, output[-6000:]
