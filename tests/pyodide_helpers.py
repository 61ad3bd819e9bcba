"""Helpers for the tests that run a rendered project's wasm_test and serve sessions in real Pyodide npm."""

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import platformdirs
import pytest
from pyo3_pyodide.runtime import browsers, npm

from tests.project_helpers import nox_command

# The generated projects' per-user cache (npm runtimes, playwright-core, test wheels) for these tests: it
# outlives test runs, like a user's, so that only the first run on a machine downloads.
TEST_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pyodide-cache"
WHEEL_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pypi-wheels"
JITER = "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"  # a real PyO3 wheel for Pyodide 314


def jiter_wheel() -> Path:
    """jiter's Pyodide 314 wheel from PyPI, downloaded once into a cache that outlives test runs."""
    wheel = WHEEL_CACHE / JITER
    if not wheel.is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            + ["--platform", "pyemscripten_2026_0_wasm32", "--python-version", "314"]
            + ["--implementation", "cp", "--abi", "cp314", "-d", str(WHEEL_CACHE), "jiter==0.19.0"],
            check=True,
        )
    return wheel


def fake_runtime(release, micropip: str) -> npm.Runtime:
    """A runtime description as an npm package of `release` shipping `micropip` would give (nothing runs)."""
    return npm.Runtime(
        release=release,
        folder=TEST_CACHE / "none",
        abi=release.abi,
        platform="emscripten_" + release.emscripten.replace(".", "_"),
        python=release.python + ".0",
        micropip=micropip,
    )


SERVING = re.compile(r"serving (\S+) at (http://127\.0\.0\.1:\d+/) with (.*)")


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@contextlib.contextmanager
def serve_session(project: Path, *args: str):
    """Run `nox -s serve -- --port 0 ARGS` in the project; yields (base URL, the line that names it)."""
    process = subprocess.Popen(
        [*nox_command(), "-s", "serve", "--", "--port", "0", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C must reach it as in a terminal, also when the tests run under nox (which ignores SIGINT).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 (no locks taken)
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=300)
            seen.append(line)
            found = SERVING.search(line)
            if found:
                break
            assert process.poll() is None, "".join(seen)
        yield found.group(2), found.group(0)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("`nox -s serve` did not stop within 30 s of Ctrl-C")
        # Ctrl-C ends the session as nox ends an interrupted one: a non-zero exit, no traceback of ours.
        assert process.returncode != 0
        rest = []
        while True:
            try:
                rest.append(lines.get(timeout=1))
            except queue.Empty:
                break
        assert "Traceback" not in "".join(rest), "".join(rest)


# A test script that drives a page in a browser starts with these lines and then calls
# `const { browser, page } = await openPage(name, driver, executable, { width, height })`, with the
# arguments browser_arguments() gives: Chromium through playwright-core, or Firefox through puppeteer-core
# over WebDriver BiDi, as `nox -s wasm_test -- --browser [firefox]` drives them. Both pages offer goto,
# waitForSelector, $eval, click, locator(selector).fill and screenshot.
OPEN_PAGE_JS = """
async function openPage(name, driver, executable, viewport) {
  const { createRequire } = await import("node:module");
  const { pathToFileURL } = await import("node:url");
  const require = createRequire(`${driver}/package.json`);
  if (name === "chromium") {
    const browser = await require("playwright-core").chromium.launch({
      executablePath: executable,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    return { browser, page: await browser.newPage({ viewport }) };
  }
  const puppeteer = (await import(pathToFileURL(require.resolve("puppeteer-core")).href)).default;
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: executable,
    headless: true,
    defaultViewport: viewport,
    env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: "1" },
  });
  return { browser, page: await browser.newPage() };
}
"""


def browser_arguments(name: str) -> list[str]:
    """openPage's first three arguments for `name` ("chromium", "firefox"): the name, the folder of the npm
    library that drives it (installed into the cache if needed) and the installed browser."""
    browser = browsers.BROWSERS[name]
    return [name, str(browser.library()), browser.programs()["executable"]]
