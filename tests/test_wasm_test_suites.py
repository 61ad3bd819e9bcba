"""How a real suite's troubles inside Pyodide are handled (issue 19 items 4-7), for real, with jiter's
Pyodide 314 wheel from PyPI under test, in Node, Chromium, Firefox and WebKit:

- a test that crashes Pyodide (a fatal error: here a call through a null function pointer, as a Rust
  trap or the VM's stack overflowing also give) costs that test only: it is reported as crashed with the cause,
  a fresh Pyodide goes on with the tests not yet run, and the counts cover the whole suite;
- known failures from `[tool.pyodide-target] known-failures` (or a `--config` file) are strict xfails;
- `test-dir` runs pytest from a folder of the project, as `cd DIR && pytest`;
- a plugin that needs what Pyodide lacks (pytest-timeout, from PyPI: signal.setitimer) is named with the fix.
"""

import re

import pytest
from pyo3_pyodide.runtime import npm

from template_tools import matrix
from template_tools.render import render_project
from tests.helpers import engine_table
from tests.helpers.mirrors import MirrorServer
from tests.helpers.package_mirror import ENV as PACKAGE_BASE_URL_ENV
from tests.helpers.package_mirror import PackageMirror
from tests.helpers.project import nox, output_of
from tests.helpers.pyodide import TEST_CACHE, jiter_wheel

STABLE = matrix.load().releases[matrix.load().default]
SUMMARY = re.compile(
    r"^wasm_test: pytest exited with (\d+) inside Pyodide \S+ .* in (\w+).*: (.*)$", re.MULTILINE
)

PASSING = """
import jiter


def test_one():
    assert jiter.from_json(b"1") == 1


def test_two():
    assert jiter.from_json(b"[2]") == [2]
"""
# Two crashes in the middle of the suite: each costs its own test only.
CRASHING = """
import ctypes

import jiter


def test_before():
    assert jiter.from_json(b"true") is True


def test_crash():
    ctypes.CFUNCTYPE(None)(0)()  # Pyodide's fatal error: a call through a null function pointer


def test_between():
    assert jiter.from_json(b"null") is None


def test_crash_again():
    ctypes.CFUNCTYPE(None)(0)()


def test_after():
    assert jiter.from_json(b'"x"') == "x"
"""
KNOWN = """
import jiter


def test_fails_in_pyodide():
    assert jiter.from_json(b"1") == 2


def test_passes_now():
    assert jiter.from_json(b"1") == 1
"""


@pytest.fixture(scope="module")
def env():
    """The tests' shared cache, and the release's own packages from a stand-in for its CDN."""
    with MirrorServer() as server:
        mirror = PackageMirror(server)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))
            mirror.serve_release(npm.ensure_runtime(STABLE))
        yield {"PYO3_PYODIDE_CACHE": str(TEST_CACHE), PACKAGE_BASE_URL_ENV: mirror.base_url}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = render_project(tmp_path_factory.mktemp("suites") / "hello", {"project_name": "hello"})
    for name, source in (("test_a.py", PASSING), ("test_b.py", CRASHING), ("test_c.py", PASSING)):
        (project / "crashing" / name).parent.mkdir(exist_ok=True)
        (project / "crashing" / name).write_text(source)
    (project / "known").mkdir()
    (project / "known" / "test_known.py").write_text(KNOWN)
    (project / "known" / "test_crash.py").write_text(CRASHING)
    return project


def wasm_test(project, env, *arguments):
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(jiter_wheel()), *arguments, env=env)
    output = output_of(result)
    found = SUMMARY.findall(output)
    assert len(found) == 1, output[-5000:]
    code, where, counts = found[0]
    return result, output, int(code), where, {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", counts)}


BROWSERS = {
    "node": ((), "Node"),
    "chromium": (("--browser",), "Chromium"),
    "firefox": (("--browser", "firefox"), "Firefox"),
    "webkit": (("--browser", "webkit"), "WebKit"),
}
ENGINES = [name if name == "node" else pytest.param(name, marks=pytest.mark.browser) for name in BROWSERS]


@pytest.mark.network
@pytest.mark.parametrize("engine", ENGINES)
def test_a_crash_costs_one_test_and_the_suite_goes_on(project, env, engine):
    options, where = BROWSERS[engine]
    result, output, code, ran_in, counts = wasm_test(project, env, *options, "-v", "crashing")
    assert result.returncode != 0 and code == 1, output[-5000:]
    assert ran_in == where
    assert counts == {"passed": 7, "failed": 0, "crashed": 2}, output[-5000:]
    for test in ("test_crash", "test_crash_again"):
        assert (
            f"wasm_test: CRASHED crashing/test_b.py::{test}: Pyodide suffered a fatal error: TypeError"
            in output
        )
        assert f"Pyodide crashed in crashing/test_b.py::{test} (TypeError" in output
    # Every other test ran exactly once, in order, across three Pyodides.
    passed = re.findall(r"^(crashing/\S+) PASSED", output, re.MULTILINE)
    assert passed == [
        "crashing/test_a.py::test_one",
        "crashing/test_a.py::test_two",
        "crashing/test_b.py::test_before",
        "crashing/test_b.py::test_between",
        "crashing/test_b.py::test_after",
        "crashing/test_c.py::test_one",
        "crashing/test_c.py::test_two",
    ], output[-5000:]
    assert "exited with 1 (tests failed)" in output

    # -x stops at the first crash.
    result, output, code, _, counts = wasm_test(project, env, *options, "-x", "crashing")
    assert code == 1 and counts == {"passed": 3, "failed": 0, "crashed": 1}, output[-5000:]
    assert "stopping there (-x)" in output


KNOWN_FAILURES = """
[tool.pyodide-target]
known-failures = {{ "known/test_known.py::test_fails_*" = "jiter parses differently here", "known/test_known.py::test_passes_now" = "fixed upstream since", "known/test_crash.py::test_crash" = "a null function pointer", "known/test_gone.py" = "a file removed since", "known/test_crash.py::test_crash_again" = {{ reason = "known in WebKit only", engines = ["webkit"] }} }}
"""


# In Node, and in WebKit, whose crashes come through WebDriver classic (the page's code is the browsers' own).
@pytest.mark.network
@pytest.mark.parametrize("engine", [ENGINES[0], ENGINES[-1]])
def test_known_failures_are_strict_xfails_and_a_crash_among_them_is_expected(project, env, tmp_path, engine):
    config = tmp_path / "pyodide.toml"
    config.write_text(KNOWN_FAILURES.format())
    options, _ = BROWSERS[engine]
    _result, output, code, _, counts = wasm_test(
        project, env, *options, "--config", str(config), "-rxX", "known"
    )
    assert code == 1, output[-5000:]
    # test_fails_in_pyodide: xfailed; test_passes_now: XPASS(strict), a failure; test_crash crashed as
    # expected (xfailed); test_crash_again crashed, unexpectedly but in WebKit, where it is known; the rest
    # passed.
    if engine == "webkit":
        assert counts == {"passed": 3, "failed": 1, "xfailed": 3}, output[-5000:]
        assert f"5 known failures ({config.name}) mark 4 tests as strict xfails inside Pyodide" in output
        assert "wasm_test: XFAIL (a known failure) known/test_crash.py::test_crash_again" in output
    else:
        assert counts == {"passed": 3, "failed": 1, "xfailed": 2, "crashed": 1}, output[-5000:]
        assert f"4 known failures ({config.name}) mark 3 tests as strict xfails inside Pyodide" in output
    assert "the known failure 'known/test_gone.py' (pyodide.toml) matches no test collected" in output
    assert "[XPASS(strict)] known failure in Pyodide (pyodide.toml): fixed upstream since" in output
    assert "XFAIL known/test_known.py::test_fails_in_pyodide - known failure in Pyodide" in output
    assert "wasm_test: XFAIL (a known failure) known/test_crash.py::test_crash" in output


def test_a_config_file_is_checked_with_its_path_and_the_keys_it_takes(project, env, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[tool.pyodide-target]\nrelease = "314"\n')
    result = nox(project, "-s", "wasm_test", "--", "--config", str(config), env=env)
    assert result.returncode != 0
    assert (
        f"{config}'s [tool.pyodide-target] has release, which `wasm_test --config` does not take: it takes "
        "test-dir, test-requirements, known-failures" in output_of(result)
    )
    config.write_text('[tool.pyodide-target]\nknown-failures = { "a" = 1 }\n')
    assert "known-failures = {'a': 1}: expected a table of test ids" in output_of(
        nox(project, "-s", "wasm_test", "--", "--config", str(config), env=env)
    )
    config.write_text(
        '[tool.pyodide-target]\nknown-failures = { "a" = { reason = "r", engines = ["safari"] } }\n'
    )
    assert (
        "the known failure 'a' (bad.toml) names the engines safari; the engines are node, chromium"
        in output_of(nox(project, "-s", "wasm_test", "--", "--config", str(config), env=env))
    )
    result = nox(project, "-s", "wasm_test", "--", "--test-dir", "no-such-folder", env=env)
    assert "the test folder 'no-such-folder' (test-dir) is not a folder of the project" in output_of(result)


SUBFOLDER_TEST = """
from pathlib import Path

import jiter


def test_reads_a_file_relative_to_its_folder():
    assert jiter.from_json(Path("data.json").read_bytes()) == {"from": "name-py"}


def test_its_conftest_applies(answer):
    assert answer == 42
"""


@pytest.mark.network
@pytest.mark.parametrize("engine", ENGINES[:2])
def test_a_suite_rooted_in_a_subfolder_runs_from_there(project, env, engine):
    folder = project / "name-py"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "data.json").write_text('{"from": "name-py"}')
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -v\n")
    (folder / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef answer():\n    return 42\n"
    )
    (folder / "tests" / "test_sub.py").write_text(SUBFOLDER_TEST)
    options, _where = BROWSERS[engine]
    _result, output, code, _, counts = wasm_test(project, env, *options, "--test-dir", "name-py", "tests")
    assert code == 0 and counts == {"passed": 2, "failed": 0}, output[-5000:]
    assert "rootdir: /project/name-py" in output and "configfile: pytest.ini" in output
    assert (
        "tests/test_sub.py::test_reads_a_file_relative_to_its_folder PASSED" in output
    )  # addopts -v applied


PLUGIN_CONFIG = """
[tool.pyodide-target]
test-requirements = ["pytest", "pytest-timeout"]
"""


@pytest.mark.network
def test_a_plugin_that_needs_signals_is_named_with_the_fix(project, env, tmp_path):
    config = tmp_path / "timeout.toml"
    config.write_text(PLUGIN_CONFIG)
    _result, output, code, _, _ = wasm_test(
        project, env, "--config", str(config), "--timeout=30", "crashing/test_a.py"
    )
    assert code == 3, output[-5000:]
    found = re.search(r"wasm_test: the plugin pytest-timeout \S+ stopped pytest: (.*)", output)
    assert found, output[-5000:]
    assert "AttributeError: module 'signal' has no attribute 'setitimer'" in found[1]
    assert "Pyodide has no signals" in found[1]
    assert "Run without it (`nox -s wasm_test -- -p no:timeout`)" in found[1]
    assert "exited with 3 (internal error); a plugin that stopped it is named above" in output

    # The fix, as named, runs the same tests.
    _result, output, code, _, counts = wasm_test(
        project, env, "--config", str(config), "-p", "no:timeout", "crashing/test_a.py"
    )
    assert code == 0 and counts == {"passed": 2, "failed": 0}, output[-5000:]


TIMED_INI = """\
[pytest]
filterwarnings = error
timeout = 30
"""


@pytest.mark.network
def test_the_fix_named_for_a_plugin_also_works_where_warnings_are_errors(project, env, tmp_path):
    # pydantic-core's configuration: `timeout = 30`, `filterwarnings = error` and tests marked
    # `@pytest.mark.timeout(...)`. There `-p no:timeout` alone stops at "Unknown config option: timeout" and
    # "Unknown pytest.mark.timeout" (warnings turned into errors), so the fix named must ignore those
    # warnings too; and it must run the suite.
    config = tmp_path / "timeout.toml"
    config.write_text(PLUGIN_CONFIG)
    folder = project / "timed"
    folder.mkdir(exist_ok=True)
    (folder / "pytest.ini").write_text(TIMED_INI)
    marked = "import pytest\n" + PASSING.replace("def test_two", "@pytest.mark.timeout(5)\ndef test_two")
    (folder / "test_a.py").write_text(marked)
    arguments = ("--config", str(config), "--test-dir", "timed", ".")
    _result, output, code, _, _ = wasm_test(project, env, *arguments)
    assert code == 3, output[-5000:]
    found = re.search(r"wasm_test: the plugin pytest-timeout \S+ stopped pytest: (.*)", output)
    assert found, output[-5000:]
    fix = "-p no:timeout -W ignore::pytest.PytestConfigWarning -W ignore::pytest.PytestUnknownMarkWarning"
    assert f"Run without it (`nox -s wasm_test -- {fix}`)" in found[1]

    _result, output, code, _, counts = wasm_test(project, env, *arguments, *fix.split())
    assert code == 0 and counts == {"passed": 2, "failed": 0}, output[-5000:]


# Issue 19 item 11: pydantic-core's gc tests saw "coroutine 'sleep' was never awaited" in browsers only. Its
# conftest calls time.sleep after gc.collect(); Pyodide replaces time.sleep (pyodide/webloop.py,
# _initialize_event_loop) with run_sync(asyncio.sleep(t)) wherever run_sync can run: in a browser with JSPI,
# entered through runPythonAsync, as pytest once was. pytest now runs through runPython, so time.sleep is
# the blocking one in every engine, and no coroutine is left behind.
SLEEPING = """
import gc
import time

import js
import pyodide.ffi


def test_what_the_engine_offers_is_seen_from_inside():
    offered = {
        "JSPI": hasattr(js.WebAssembly, "Suspending"),
        "SharedArrayBuffer": hasattr(js, "SharedArrayBuffer"),
        "cross-origin isolated": getattr(js, "crossOriginIsolated", False) is True,
    }
    print("seen inside:", ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in offered.items()))


def test_time_sleep_blocks_and_leaves_no_coroutine():
    assert not pyodide.ffi.can_run_sync()
    started = time.monotonic()
    time.sleep(0.05)
    assert time.monotonic() - started >= 0.05
    gc.collect()
"""


@pytest.mark.network
@pytest.mark.parametrize("engine", ENGINES)
def test_time_sleep_inside_pyodide_is_the_blocking_one_in_every_engine(project, env, engine):
    folder = project / "sleeping"
    folder.mkdir(exist_ok=True)
    (folder / "test_sleep.py").write_text(SLEEPING)
    (folder / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    options, where = BROWSERS[engine]
    _result, output, code, _, counts = wasm_test(project, env, *options, "-s", "--test-dir", "sleeping", ".")
    assert code == 0 and counts == {"passed": 2, "failed": 0}, output[-5000:]
    # The run line says what the engine offers Pyodide, as the suite saw it from inside (the first three; the
    # forms of wasm exception handling follow them)
    seen = re.search(r"seen inside: (.*?)\.?$", output, re.MULTILINE)
    assert seen, output[-5000:]
    assert re.search(rf"^wasm_test: pytest exited .* in {where} [^(]*\({seen[1]}, ", output, re.MULTILINE), (
        output[-3000:]
    )
    # and the generated guide's table of engines says the same (issue 22: measured, not typed)
    engine_table.check_row((project / "docs" / "pyodide.md").read_text(), output)
