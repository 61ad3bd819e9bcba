"""Helpers for the tests that run a rendered project's wasm_test and serve sessions in real Pyodide npm."""

import contextlib
import json
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
from pyo3_pyodide.runtime import browsers, npm, suite

from tests.helpers.project import nox_command

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
# `const { browser, page } = await openPage(JSON.parse(job), { width, height })`, with the job that
# browser_job() gives, as `nox -s wasm_test -- --browser NAME` drives each browser: Chromium through
# playwright-core, Firefox through puppeteer-core over WebDriver BiDi, WebKit through the engine's webkit.mjs
# over WebDriver classic (its page, which offers goto and evaluate, gets the rest here). Every page offers
# goto, waitForSelector, waitForFunction, $eval, click, locator(selector).fill and screenshot.
OPEN_PAGE_JS = """
async function openPage(job, viewport) {
  const { createRequire } = await import("node:module");
  const { pathToFileURL } = await import("node:url");
  if (job.browser === "webkit") {
    const { launchWebKit } = await import(pathToFileURL(job.module).href);
    const { browser, page } = await launchWebKit(job);
    return { browser, page: withPageHelpers(page) };
  }
  const require = createRequire(`${job.library}/package.json`);
  if (job.browser === "chromium") {
    const browser = await require("playwright-core").chromium.launch({
      executablePath: job.executable,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    return { browser, page: await browser.newPage({ viewport }) };
  }
  const puppeteer = (await import(pathToFileURL(require.resolve("puppeteer-core")).href)).default;
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: job.executable,
    headless: true,
    defaultViewport: viewport,
    env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: "1" },
  });
  return { browser, page: await browser.newPage() };
}

// What Playwright's and puppeteer's pages offer beyond goto and evaluate, made of evaluate.
function withPageHelpers(page) {
  const onElement = (selector, source, arg) =>
    page.evaluate(
      ([selector, source, arg]) => {
        const element = document.querySelector(selector);
        if (!element) throw new Error(`no element matches ${selector}`);
        return (0, eval)(`(${source})`)(element, arg);
      },
      [selector, source, arg ?? null],
    );
  const waitForFunction = async (fn, arg, { timeout = 30000 } = {}) => {
    const until = Date.now() + timeout;
    while (!(await page.evaluate(fn, arg))) {
      if (Date.now() > until) throw new Error(`waited ${timeout} ms for ${fn}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return Object.assign(page, {
    waitForFunction,
    waitForSelector: (selector, options) =>
      waitForFunction((selector) => document.querySelector(selector) !== null, selector, options),
    $eval: (selector, fn) => onElement(selector, fn.toString()),
    click: (selector) => onElement(selector, "(element) => element.click()"),
    locator: (selector) => ({
      fill: (value) =>
        onElement(
          selector,
          "(element, value) => { element.value = value; element.dispatchEvent(new Event('input', { bubbles: true })); }",
          value,
        ),
    }),
  });
}
"""


def browser_job(name: str) -> str:
    """openPage's first argument for `name` (a key of browsers.BROWSERS), as JSON: the installed programs and
    the npm library that drives them (installed into the cache if needed), or WebKit's module."""
    return json.dumps({**browsers.BROWSERS[name].job(), "module": str(suite.RUNNER.with_name("webkit.mjs"))})
