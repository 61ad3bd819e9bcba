"""`nox -s lock`, `nox -s bundle` and `nox -s serve -- --bundle` for real: the custom pyodide-lock.json loads
the module by name in Node with no network, the bundle works in Chromium from 127.0.0.1 and from another
origin only thanks to its CORS headers, and micropip's tag rules per release are told in the project's words.

The wheels are real where it matters: the cp315 module the Debian sid root builds (`sid_built_project`),
and jiter 0.19.0 from PyPI as a PyO3 dependency (a package of the 314 release's own, as a stand-in
of its package base URL serves it: tests/helpers/package_mirror.py). Small hand-made wheels stand in where only
the file name counts (a 2025_0 wheel that 0.28.3's micropip refuses) and as a project that requires jiter.
"""

import contextlib
import hashlib
import http.server
import json
import subprocess
import threading
from functools import partial
from pathlib import Path
from typing import ClassVar

import pytest
from packaging.version import Version
from pyo3_pyodide.runtime import browsers, npm

from template_tools import matrix
from tests.helpers import real_builds
from tests.helpers.mirrors import MirrorServer
from tests.helpers.package_mirror import ENV as PACKAGE_BASE_URL_ENV
from tests.helpers.package_mirror import PackageMirror
from tests.helpers.package_sets import one_module_wheel
from tests.helpers.project import can_cut_the_network, nox, output_of
from tests.helpers.pyodide import TEST_CACHE, get, jiter_wheel, serve_session
from tests.helpers.real_builds import SID_ANSWERS, SID_RELEASE

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]
SID_WHEEL = real_builds.wheel_name(SID_ANSWERS["project_name"])
SID_PYODIDE = str(Version(SID_RELEASE.version))  # as Pyodide spells its own version
CACHE_ENV = "PYO3_PYODIDE_CACHE"

# A stand-in project module for the pages and scripts below, in Python; Rust only where the sid root builds.
FAKE_MODULE = """
def add(a, b):
    return a + b


def parse_fraction(text):
    top, bottom = text.split("/")
    return int(top) / int(bottom)


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count
"""
USES_JITER = """
import jiter


def parse(text):
    return jiter.from_json(text.encode())
"""


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(TEST_CACHE))


@pytest.fixture(scope="module")
def package_mirror():
    """The releases' own packages (micropip for the bundles; jiter, which the 314 release provides) come
    from their package base URL, Pyodide's CDN, out of reach here: a stand-in on 127.0.0.1 serves them
    (tests/helpers/package_mirror.py), jiter as its 0.19.0 from PyPI. Returns (mirror, the locks it serves)."""
    with MirrorServer() as server:
        mirror = PackageMirror(server)
        served = {}
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(CACHE_ENV, str(TEST_CACHE))
            for version in (STABLE.version, SID_RELEASE.version, "0.28.3"):
                extra = [jiter_wheel()] if version == STABLE.version else []
                served[version] = mirror.serve_release(npm.ensure_runtime(RELEASES[version]), extra)
        yield mirror, served


@pytest.fixture(autouse=True)
def package_base_url(package_mirror, monkeypatch):
    monkeypatch.setenv(PACKAGE_BASE_URL_ENV, package_mirror[0].base_url)


def fake_wheel(folder: Path, name: str, tag: str, source: str, requires: tuple[str, ...] = ()) -> Path:
    """A wheel of `name` 0.1.0 with one module, `name`/__init__.py, tagged `tag` whatever it holds."""
    return one_module_wheel(folder, name, "0.1.0", tag, source, requires)


def offline(command: list[str]) -> list[str]:
    """`command` in a network namespace with nothing but loopback, where the machine allows one."""
    if not can_cut_the_network():
        return command
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *command]


def runtime_lock(release) -> dict:
    folder = npm.ensure_runtime(release).folder
    return json.loads((folder / "pyodide-lock.json").read_text())


# Node: Pyodide started with the lock, as an app starts it. argv: runtime folder, lock file, what to load
# (a package name, or "" to load from the imports of CODE), then CODE whose value is printed.
LOAD_WITH_LOCK = """
const { pathToFileURL } = await import("node:url");
const [runtime, lockFileURL, name, code] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(`${runtime}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ lockFileURL });
const messages = [], errors = [];
const callbacks = { messageCallback: (m) => messages.push(m), errorCallback: (m) => errors.push(m) };
if (name) await pyodide.loadPackage(name, callbacks);
else await pyodide.loadPackagesFromImports(code, callbacks);
const value = errors.length ? null : pyodide.runPython(code);
console.log(JSON.stringify({ version: pyodide.version, messages, errors, value }));
"""


def load_with_lock(tmp_path, runtime_folder: Path, lock_file: Path, name: str, code: str) -> dict:
    """Run LOAD_WITH_LOCK in Node with no network; what it printed."""
    script = tmp_path / "load_with_lock.mjs"
    script.write_text(LOAD_WITH_LOCK)
    command = offline(["node", str(script), str(runtime_folder), str(lock_file), name, code])
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_lock_without_a_wheel_names_the_build_command(render):
    project = render(project_name="hello")
    result = nox(project, "-s", "lock")
    assert result.returncode != 0
    assert f"holds no wheel of hello for Pyodide {STABLE.version}" in output_of(result)
    assert f"Build one with `nox -s wasm_build -- --pyodide {STABLE.version}`" in output_of(result)
    listed = nox(project, "--list").stdout
    assert "- lock " in listed and "- bundle " in listed, listed


# Node, no sid build needed: a project wheel that requires a real PyO3 wheel from PyPI


def test_lock_adds_the_wheel_and_its_dependencies_and_loads_by_name_offline(render, tmp_path, package_mirror):
    project = render(project_name="hello")
    wheel = fake_wheel(
        project / "dist", "hello", f"cp314-cp314-{STABLE.platform_tag}", USES_JITER, ("jiter==0.19.0",)
    )
    result = nox(project, "-s", "lock")
    output = output_of(result)
    assert result.returncode == 0, output[-4000:]
    assert f"Pyodide {STABLE.version} loaded hello by name with the new lock and imported hello" in output
    assert 'loads the module with `await pyodide.loadPackage("hello")`' in output

    folder = project / "dist" / "lock"
    written = json.loads((folder / "pyodide-lock.json").read_text())
    own = package_mirror[1][STABLE.version]  # the release's lock, as its package base URL serves it
    assert written["info"] == own["info"] == runtime_lock(STABLE)["info"]
    jiter_file = "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["pyodide-lock.json", wheel.name, jiter_file]
    )
    hello = written["packages"]["hello"]
    assert hello["file_name"] == wheel.name
    assert hello["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (hello["version"], hello["imports"], hello["depends"]) == ("0.1.0", ["hello"], ["jiter"])
    jiter = written["packages"]["jiter"]
    assert jiter["file_name"] == jiter_file
    assert jiter["sha256"] == hashlib.sha256((folder / jiter_file).read_bytes()).hexdigest()
    # jiter is one of the release's own packages: its entry stays the release's, its wheel goes beside
    assert {name: written["packages"][name] for name in own["packages"]} == own["packages"]

    loaded = load_with_lock(
        tmp_path,
        npm.ensure_runtime(STABLE).folder,
        folder / "pyodide-lock.json",
        "hello",
        "import hello; repr(hello.parse('{\"rust\": [1, 2.5]}'))",
    )
    assert loaded["errors"] == [] and loaded["value"] == "{'rust': [1, 2.5]}", loaded
    assert "Loaded hello, jiter" in loaded["messages"], loaded  # jiter came by `depends`

    # Wheels to host elsewhere: absolute file names, and the check loads the local copies meanwhile.
    # A second run reuses the cached resolutions, so it needs no network at all.
    hosted = nox(
        project, "-s", "lock", "--", "--base-url", "https://example.org/w", "--out", "hosted", offline=True
    )
    output = output_of(hosted)
    assert hosted.returncode == 0, output[-4000:]
    assert "resolving " not in output
    assert "(its wheels from the local copies, not yet from https://example.org/w/)" in output
    packages = json.loads((project / "hosted" / "pyodide-lock.json").read_text())["packages"]
    assert packages["hello"]["file_name"] == f"https://example.org/w/{wheel.name}"
    assert packages["jiter"]["file_name"] == f"https://example.org/w/{jiter_file}"


def test_lock_refuses_a_wheel_built_for_another_release(render, tmp_path):
    project = render(project_name="hello", pyodide_version=SID_RELEASE.line)
    wheel = fake_wheel(tmp_path, "hello", f"cp314-cp314-{STABLE.platform_tag}", FAKE_MODULE)
    result = nox(project, "-s", "lock", "--", "--wheel", str(wheel))
    assert result.returncode != 0
    assert f"{wheel.name} was not built for Pyodide {SID_RELEASE.version}" in output_of(result)
    assert f"`nox -s wasm_build -- --pyodide {SID_RELEASE.version}`" in output_of(result)
    assert not (project / "dist" / "lock").exists()


# The module that the Debian sid root built (real_builds.SID_RELEASE)


@pytest.mark.wasm
def test_sid_module_loads_by_name_from_the_lock_in_node_offline(sid_built_project, tmp_path):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    result = nox(project, "-s", "lock")
    assert result.returncode == 0, output_of(result)[-4000:]
    lock_file = project / "dist" / "lock" / "pyodide-lock.json"
    entry = json.loads(lock_file.read_text())["packages"]["wasm-demo"]
    assert entry["file_name"] == SID_WHEEL and entry["imports"] == ["wasmdemo"]
    assert entry["sha256"] == hashlib.sha256((project / "dist" / SID_WHEEL).read_bytes()).hexdigest()
    runtime_folder = npm.ensure_runtime(SID_RELEASE).folder
    code = "import wasmdemo; f'{wasmdemo.add(2, 3)} {wasmdemo.parse_fraction(\"3/4\")}'"
    by_name = load_with_lock(tmp_path, runtime_folder, lock_file, "wasm-demo", code)
    assert (by_name["version"], by_name["errors"], by_name["value"]) == (SID_PYODIDE, [], "5 0.75")
    by_import = load_with_lock(tmp_path, runtime_folder, lock_file, "", code)  # the module's name
    assert (by_import["errors"], by_import["value"]) == ([], "5 0.75")
    assert "Loaded wasm-demo" in by_import["messages"]


# Chromium: the bundle served by `nox -s serve -- --bundle`, from its own origin and from another one

DRIVE_PAGES = """
const { createRequire } = await import("node:module");
const [playwright, chromium, urlsJson] = process.argv.slice(2);
const { chromium: launcher } = createRequire(`${playwright}/package.json`)("playwright-core");
const browser = await launcher.launch({
  executablePath: chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const shown = {};
try {
  for (const url of JSON.parse(urlsJson)) {
    const page = await browser.newPage();
    const consoleMessages = [];
    page.on("console", (message) => consoleMessages.push(message.text()));
    await page.goto(url);
    await page.waitForFunction(() => !document.querySelector("#status").textContent.startsWith("Loading"),
                               null, { timeout: 120000 });
    const demo = page.locator("#demo");
    shown[url] = {
      status: await page.locator("#status").innerText(),
      demo: (await demo.count()) && (await demo.isVisible()) ? await demo.innerText() : null,
      console: consoleMessages,
    };
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(shown));
"""

# A page of some other app, on an origin of its own, that loads the module from a bundle hosted elsewhere.
APP_PAGE = """<!doctype html>
<meta charset="utf-8">
<p id="status">Loading…</p>
<script type="module">
const status = document.getElementById("status");
const bundle = new URLSearchParams(location.search).get("bundle");
try {
  const indexURL = `${bundle}pyodide/`;
  const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
  const pyodide = await loadPyodide({ indexURL });  // its pyodide-lock.json is the project's
  const errors = [];
  await pyodide.loadPackage("wasm-demo", { errorCallback: (message) => errors.push(message) });
  if (errors.length) throw new Error(errors.join("; "));
  status.textContent = `add(2, 3) = ${pyodide.pyimport("wasmdemo").add(2, 3)}`;
} catch (error) {
  status.textContent = `failed: ${error}`;
}
</script>
"""


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Plain static hosting: right content types, and none of the headers `nox -s serve` adds."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
    }

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def plain_server(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(StaticHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def drive_pages(tmp_path, urls: list[str]) -> dict:
    script = tmp_path / "drive_pages.mjs"
    script.write_text(DRIVE_PAGES)
    command = [
        "node",
        str(script),
        str(npm.ensure_playwright()),
        browsers.CHROMIUM.programs()["executable"],
        json.dumps(urls),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.wasm
@pytest.mark.browser
def test_sid_bundle_in_chromium_three_ways_and_with_cors_only_from_elsewhere(sid_built_project, tmp_path):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    made = nox(project, "-s", "bundle")
    output = output_of(made)
    assert made.returncode == 0, output[-4000:]
    assert (
        "micropip.install(URL of " + SID_WHEEL + ") works on Pyodide " + SID_RELEASE.version + " as well"
        in output
    )
    bundle = project / "dist" / "bundle"
    config = json.loads((bundle / "demo-config.json").read_text())
    assert config["lock"] == "pyodide/pyodide-lock.json" and config["package"] == "wasm-demo"
    assert {"pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip", SID_WHEEL} <= {
        path.name for path in (bundle / "pyodide").iterdir()
    }
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text(APP_PAGE)
    with (
        serve_session(project, "--bundle") as (bundle_url, line),
        plain_server(bundle) as no_cors_url,
        plain_server(app) as app_url,
    ):
        assert f"with wasm-demo ({SID_WHEEL}) through pyodide/pyodide-lock.json" in line
        status, headers, _ = get(bundle_url + "pyodide/pyodide.mjs")
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, "*")
        status, headers, _ = get(no_cors_url + "pyodide/pyodide.mjs")
        assert status == 200 and "Access-Control-Allow-Origin" not in headers
        with_cors, without_cors = f"{app_url}?bundle={bundle_url}", f"{app_url}?bundle={no_cors_url}"
        urls = [bundle_url, bundle_url + "?via=micropip", bundle_url + "?via=url", with_cors, without_cors]
        shown = drive_pages(tmp_path, urls)

    by_lock = shown[bundle_url]
    assert (
        by_lock["status"]
        == f"Pyodide {SID_PYODIDE} loaded wasm-demo by name through pyodide/pyodide-lock.json"
    )
    assert "wasmdemo.add(2, 3) = 5" in by_lock["demo"] and "= 0.75" in by_lock["demo"], by_lock
    by_micropip = shown[bundle_url + "?via=micropip"]
    assert by_micropip["status"] == f"Pyodide {SID_PYODIDE} loaded {SID_WHEEL} with micropip.install(url)"
    assert "wasmdemo.add(2, 3) = 5" in by_micropip["demo"]
    by_url = shown[bundle_url + "?via=url"]
    assert by_url["status"] == f"Pyodide {SID_PYODIDE} loaded {SID_WHEEL}"
    assert "wasmdemo.add(2, 3) = 5" in by_url["demo"]

    assert shown[with_cors]["status"] == "add(2, 3) = 5", shown[with_cors]
    refused = shown[without_cors]
    assert refused["status"] == (
        f"failed: TypeError: Failed to fetch dynamically imported module: {no_cors_url}pyodide/pyodide.mjs"
    ), refused
    blocked = (
        f"Access to script at '{no_cors_url}pyodide/pyodide.mjs' from origin '{app_url.rstrip('/')}' has "
        "been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested "
        "resource."
    )
    assert blocked in refused["console"], refused["console"]


# Pyodide 0.28.3, whose micropip (0.10.1) predates PEP 783 tags: the lock loads the wheel, micropip would not


MICROPIP_AND_LOCK = """
const { pathToFileURL } = await import("node:url");
const { readFile } = await import("node:fs/promises");
const [indexURL, wheel] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(`${indexURL}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ indexURL });  // the bundle's pyodide/: its lock is the project's
const errors = [];
const quiet = { messageCallback: () => {}, errorCallback: (m) => errors.push(m) };
await pyodide.loadPackage(["micropip", "hello"], quiet);
const name = wheel.split("/").pop();
pyodide.FS.writeFile(`/tmp/${name}`, await readFile(wheel));
let micropip = "installed";
try {
  await pyodide.runPythonAsync(`import micropip\\nawait micropip.install("emfs:/tmp/${name}")`);
} catch (error) {
  micropip = error.message.trim().split("\\n").pop();
}
const add = pyodide.runPython("import hello; hello.add(2, 3)");
console.log(JSON.stringify({ errors, micropip, add }));
"""


@pytest.mark.browser
def test_a_wheel_that_the_releases_micropip_refuses_gets_the_projects_message(render, tmp_path):
    project = render(project_name="hello", pyodide_version="0.28.3")
    wheel = fake_wheel(project / "dist", "hello", "cp313-cp313-pyemscripten_2025_0_wasm32", FAKE_MODULE)
    made = nox(project, "-s", "bundle")
    output = output_of(made)
    assert made.returncode == 0, output[-4000:]
    expected = (
        f"micropip.install(url) refuses {wheel.name} on Pyodide 0.28.3: the micropip it ships (0.10.1) "
        "accepts cp313 wheels tagged pyodide_2025_0_wasm32 or emscripten_4_0_9_wasm32, and this one is "
        "tagged cp313-cp313-pyemscripten_2025_0_wasm32 (micropip knows PEP 783's pyemscripten_* tags from "
        "0.11.1 on). pyodide.loadPackage(url) and this project's pyodide-lock.json load it all the same: "
        "they check no tag. For micropip on this release, host a wheel tagged emscripten_4_0_9_wasm32, "
        "which `nox -s wasm_build -- --pyodide 0.28.3` builds (pyodide-matrix.toml's platform_tag)"
    )  # written out here, not computed by the code under test
    assert expected in " ".join(output.split()), output[-3000:]
    bundle = project / "dist" / "bundle"
    assert json.loads((bundle / "demo-config.json").read_text())["micropip"] == {
        "version": "0.10.1",
        "refused": expected,
    }

    # The verdict is micropip's own (0.10.1 does refuse the file), and the lock loads the wheel all the same.
    script = tmp_path / "micropip_and_lock.mjs"
    script.write_text(MICROPIP_AND_LOCK)
    command = offline(["node", str(script), str(bundle / "pyodide"), str(wheel)])
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    node = json.loads(result.stdout.strip().splitlines()[-1])
    assert node["errors"] == [] and node["add"] == 5, node
    micropips_own = "Wheel was built with Emscripten vpyemscripten.2025.0 but Pyodide was built with"
    assert micropips_own in node["micropip"], node  # true, and of no help

    with serve_session(project, "--bundle") as (url, _):
        shown = drive_pages(tmp_path, [url + "?via=micropip", url])
    refused = shown[url + "?via=micropip"]
    assert refused["status"] == f"Could not load the demo: {expected}", refused
    assert micropips_own not in refused["status"] and refused["demo"] is None
    by_lock = shown[url]
    assert by_lock["status"] == "Pyodide 0.28.3 loaded hello by name through pyodide/pyodide-lock.json"
    assert "hello.add(2, 3) = 5" in by_lock["demo"], by_lock
