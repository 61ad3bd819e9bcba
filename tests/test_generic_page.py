"""The page an adopted project gets from the engine (it has no web/index.html): `serve` and `bundle` use it; in
Chromium it loads the wheel, imports the module, lists what it exports and runs Python typed into its prompt."""

import json
import subprocess

import pytest
from pyo3_pyodide.apps import static_bundle
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import browsers, npm

from template_tools import matrix
from tests.adopt_helpers import adopted_project
from tests.package_mirror import folder_mirror
from tests.project_helpers import nox, output_of
from tests.pyodide_helpers import TEST_CACHE, jiter_wheel, serve_session

MATRIX = matrix.load()
STABLE = MATRIX.releases[MATRIX.default]

DRIVE = """
const { createRequire } = await import("node:module");
const [playwright, chromium, url] = process.argv.slice(2);
const { chromium: launcher } = createRequire(`${playwright}/package.json`)("playwright-core");
const browser = await launcher.launch({
  executablePath: chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector("#demo:not([hidden]), #status.error", { timeout: 120000 });
  const text = (selector) => page.locator(selector).innerText();
  const shown = { status: await text("#status"), exports: await text("#exports") };
  await page.fill("#code", "import jiter\\njiter.from_json(b'[1, 2]')");
  await page.click("#prompt button");
  await page.waitForFunction(() => document.getElementById("result").textContent !== "");
  shown.result = await text("#result");
  await page.fill("#code", "import jiter\\njiter.from_json(b'[1,')");
  await page.click("#prompt button");
  await page.waitForFunction(() => document.getElementById("result").classList.contains("error"));
  shown.error = await text("#result");
  console.log(JSON.stringify(shown));
} finally {
  await browser.close();
}
"""


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch):
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))


@pytest.mark.browser
def test_an_adopted_project_serves_the_generic_page(tmp_path):
    project = adopted_project(tmp_path / "jiter", name="jiter")
    wheel = jiter_wheel()
    script = tmp_path / "drive.mjs"
    script.write_text(DRIVE)
    with serve_session(project, "--wheel", str(wheel)) as (url, line):
        assert wheel.name in line
        result = subprocess.run(
            [
                "node",
                str(script),
                str(npm.ensure_playwright()),
                browsers.CHROMIUM.programs()["executable"],
                url,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["status"].endswith(f"loaded {wheel.name}"), shown
    assert "jiter.from_json: builtin_function_or_method" in shown["exports"], shown
    assert shown["result"] == "[1, 2]"
    assert shown["error"].startswith("ValueError"), shown


def test_an_adopted_project_bundles_the_generic_page(tmp_path):
    project = adopted_project(tmp_path / "jiter", name="jiter")
    mirror = folder_mirror(npm.ensure_runtime(STABLE), tmp_path / "package-set")  # micropip, from the set
    made = nox(
        project,
        "-s",
        "bundle",
        "--",
        "--wheel",
        str(jiter_wheel()),
        "--pyodide",
        STABLE.line,
        env={pyodide_packages.BASE_URL_ENV: mirror},
    )
    assert made.returncode == 0, output_of(made)[-3000:]
    folder = project / static_bundle.DEFAULT_OUT
    assert (folder / "index.html").read_bytes() == (static_bundle.GENERIC_PAGE / "index.html").read_bytes()
    assert json.loads((folder / static_bundle.CONFIG_FILE).read_text())["imports"] == ["jiter"]
