"""The demo page web/ and `nox -s serve`: the server's headers, and the page in headless Chromium and Firefox
with the wheel that the Debian sid root built."""

import json
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from packaging.version import Version
from pyo3_pyodide.runtime import browsers, server

from template_tools import matrix
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.pyodide import OPEN_PAGE_JS, TEST_CACHE, browser_job, get, jiter_wheel, serve_session
from tests.helpers.real_builds import SID_ANSWERS, SID_RELEASE

CACHE_ENV = "PYO3_PYODIDE_CACHE"
STABLE = matrix.load().releases[matrix.load().default]


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(TEST_CACHE))


def test_server_types_headers_and_limits(tmp_path):
    web = tmp_path / "web"
    (web / "sub").mkdir(parents=True)
    (web / "index.html").write_text("<p>home</p>")
    (web / "sub" / "index.html").write_text("<p>sub</p>")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    (runtime / "pyodide.mjs").write_text("export {};")
    (tmp_path / "secret.txt").write_text("not served")
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    site = server.demo_site(web, runtime, wheel, ["demo"])
    with server.serving(site) as url:
        status, headers, body = get(url)
        assert (status, headers["Content-Type"], body) == (200, "text/html; charset=utf-8", b"<p>home</p>")
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert get(url + "sub/")[2] == b"<p>sub</p>"
        assert get(url + "pyodide/pyodide.asm.wasm")[1]["Content-Type"] == "application/wasm"
        assert get(url + "pyodide/pyodide.mjs")[1]["Content-Type"] == "text/javascript; charset=utf-8"
        assert json.loads(get(url + "demo-config.json")[2]) == {
            "pyodide": "pyodide/",
            "wheel": f"wheels/{wheel.name}",
            "imports": ["demo"],
        }
        assert get(url + f"wheels/{wheel.name}")[2] == b"PK"
        for outside in ("../secret.txt", "%2e%2e/secret.txt", "pyodide/../../secret.txt", "//etc/passwd"):
            assert get(url + outside)[0] == 404, outside
        assert get(url + "pyodide/")[0] == 404  # no listings
        head = urllib.request.Request(url + "pyodide/pyodide.mjs", method="HEAD")
        with urllib.request.urlopen(head, timeout=30) as response:
            assert response.status == 200 and response.read() == b""


def request(url, method, body=None):
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, method=method), timeout=30
        ) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_server_writes_and_deletes_only_the_uploads_it_names(tmp_path):
    """wasm_test's browser runs keep their snapshot on the server (runtime/snapshots.py)."""
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    target = tmp_path / "cache" / "snapshot.bin"
    site = server.Site(files={"/demo.whl": wheel}, uploads={"/snapshot.bin": target})
    with server.serving(site) as url:
        assert get(url + "snapshot.bin")[0] == 404  # nothing written yet
        assert request(url + "snapshot.bin", "PUT", b"first") == 201
        assert get(url + "snapshot.bin")[2] == b"first" == target.read_bytes()
        for other in ("demo.whl", "other.bin", "cache/snapshot.bin"):
            assert request(url + other, "PUT", b"x") == 405, other
            assert request(url + other, "DELETE") == 405, other
        assert wheel.read_bytes() == b"PK"
        # an upload cut short leaves the last whole one, and no partial file
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(b"PUT /snapshot.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
            connection.shutdown(socket.SHUT_WR)
            assert connection.recv(1024) == b""  # the server closed it without an answer: its handler is done
        assert target.read_bytes() == b"first" and list(target.parent.iterdir()) == [target]
        assert request(url + "snapshot.bin", "DELETE") == 204
        assert not target.exists() and get(url + "snapshot.bin")[0] == 404


def test_serve_session_serves_the_page_the_runtime_and_the_wheel(tmp_path):
    project = render_project(tmp_path / "hello", {"project_name": "hello"})
    jiter = jiter_wheel()
    with serve_session(project, "--wheel", str(jiter)) as (url, line):
        assert f"with Pyodide {STABLE.version} (npm pyodide@{STABLE.npm}" in line
        assert jiter.name in line and "Ctrl+C stops" in line
        status, headers, body = get(url)
        assert status == 200 and b"hello.add(2, 3)" in body
        assert headers["Access-Control-Allow-Origin"] == "*"
        config = json.loads(get(url + "demo-config.json")[2])
        assert config == {"pyodide": "pyodide/", "wheel": f"wheels/{jiter.name}", "imports": ["jiter"]}
        assert get(url + config["wheel"])[2] == jiter.read_bytes()
        status, headers, _ = get(url + "pyodide/pyodide.asm.wasm")
        assert (status, headers["Content-Type"]) == (200, "application/wasm")
        assert get(url + "pyodide/pyodide-lock.json")[0] == 200


DRIVE_PAGE = (
    OPEN_PAGE_JS
    + """
const [job, url, screenshot] = process.argv.slice(2);
const { browser, page } = await openPage(JSON.parse(job), { width: 900, height: 600 });
try {
  await page.goto(url);
  await page.waitForSelector("#demo:not([hidden])", { timeout: 120000 });
  const text = (selector) => page.$eval(selector, (element) => element.innerText);
  const shown = { status: await text("#status"), first: await text("#demo") };
  await page.locator("#fraction").fill("three quarters");
  await page.click("#fraction-form button");
  shown.parseError = await text("#fraction-result");
  await page.click("#bump");
  await page.click("#bump");
  shown.counter = await text("#counter");
  await page.click("#panic");
  shown.panic = await text("#panic-result");
  shown.after = await text("#status");
  shown.bumpDisabled = await page.$eval("#bump", (element) => element.disabled);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(shown));
} finally {
  await browser.close();
}
"""
)


@pytest.mark.wasm
@pytest.mark.browser
@pytest.mark.parametrize("browser", list(browsers.BROWSERS))
def test_demo_page_shows_the_modules_results_in_a_browser(sid_built_project, tmp_path, browser):
    project, build = sid_built_project
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    script = tmp_path / "drive_page.mjs"
    script.write_text(DRIVE_PAGE)
    screenshot = tmp_path / "demo.png"
    with serve_session(project) as (url, line):
        assert real_builds.wheel_name(SID_ANSWERS["project_name"]) in line
        result = subprocess.run(
            ["node", str(script), browser_job(browser), url, str(screenshot)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        shown["status"]
        == f"Pyodide {Version(SID_RELEASE.version)} loaded {real_builds.wheel_name(SID_ANSWERS['project_name'])}"
    )
    assert "wasmdemo.add(2, 3) = 5" in shown["first"]
    assert "= 0.75" in shown["first"], shown["first"]  # parse_fraction("3/4"), called when the page loads
    assert shown["parseError"] == 'ValueError: not a fraction like "3/4": "three quarters"'
    assert shown["counter"] == "2"
    # In WebKit a Rust panic aborts Pyodide 315 (test_wasm_test.KNOWN_CRASHES_IN): the page says that Pyodide is
    # gone and must be reloaded, and offers no more calls; elsewhere the module goes on
    if browser == "webkit":
        assert "Unreachable code should not be executed" in shown["panic"], shown
        assert shown["panic"].endswith("(a fatal error: Pyodide must be reloaded)"), shown
        assert (
            shown["after"].startswith("Pyodide suffered a fatal error (")
            and "Unreachable code" in shown["after"]
        )
        assert (
            shown["after"].endswith("cannot run Python any more: reload the page") and shown["bumpDisabled"]
        )
    else:
        assert (
            shown["panic"] == "pyo3_runtime.PanicException: boom (and the module still works: add(1, 1) = 2)"
        )
        assert shown["after"] == shown["status"] and not shown["bumpDisabled"]
    assert screenshot.stat().st_size > 10_000
