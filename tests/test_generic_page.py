"""The page an adopted project gets from the engine (it has no web/index.html): `serve` and `bundle` use it; in
every browser (Chromium, Firefox, WebKit) it loads the wheel, imports the module, lists what it exports and runs Python typed into its prompt."""

import json
import subprocess

import pytest
from pyo3_pyodide.apps import static_bundle
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import browsers, npm

from template_tools import matrix
from tests.helpers.adopt import adopted_project
from tests.helpers.package_mirror import folder_mirror
from tests.helpers.project import nox, output_of
from tests.helpers.pyodide import OPEN_PAGE_JS, TEST_CACHE, browser_job, jiter_wheel, serve_session

MATRIX = matrix.load()
STABLE = MATRIX.releases[MATRIX.default]

DRIVE = (
    OPEN_PAGE_JS
    + """
const [job, url] = process.argv.slice(2);
const { browser, page } = await openPage(JSON.parse(job), { width: 900, height: 600 });
try {
  await page.goto(url);
  await page.waitForSelector("#demo:not([hidden]), #status.error", { timeout: 120000 });
  const text = (selector) => page.$eval(selector, (element) => element.innerText);
  const shown = { status: await text("#status"), exports: await text("#exports") };
  await page.locator("#code").fill("import jiter\\njiter.from_json(b'[1, 2]')");
  await page.click("#prompt button");
  await page.waitForFunction(() => document.getElementById("result").textContent !== "");
  shown.result = await text("#result");
  await page.locator("#code").fill("import jiter\\njiter.from_json(b'[1,')");
  await page.click("#prompt button");
  await page.waitForFunction(() => document.getElementById("result").classList.contains("error"));
  shown.error = await text("#result");
  console.log(JSON.stringify(shown));
} finally {
  await browser.close();
}
"""
)


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch):
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))


def check_in_browser(tmp_path, project, browser, *serve_args):
    """`nox -s serve -- SERVE_ARGS` in the project, and the page driven in `browser` as a visitor uses it."""
    script = tmp_path / "drive.mjs"
    script.write_text(DRIVE)
    with serve_session(project, *serve_args) as (url, _line):
        result = subprocess.run(
            ["node", str(script), browser_job(browser), url],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["status"].endswith(f"loaded {jiter_wheel().name}"), shown
    assert "jiter.from_json: builtin_function_or_method" in shown["exports"], shown
    assert shown["result"] == "[1, 2]"
    assert shown["error"].startswith("ValueError"), shown


@pytest.mark.browser
@pytest.mark.parametrize("browser", list(browsers.BROWSERS))
def test_an_adopted_project_serves_the_generic_page(tmp_path, browser):
    project = adopted_project(tmp_path / "jiter", name="jiter")
    check_in_browser(tmp_path, project, browser, "--wheel", str(jiter_wheel()))


@pytest.mark.browser
@pytest.mark.parametrize("browser", list(browsers.BROWSERS))
def test_an_adopted_project_bundles_the_generic_page(tmp_path, browser):
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
    # the bundle, served as static hosting would, works in every browser as the page served by `serve` does
    check_in_browser(tmp_path, project, browser, "--bundle")
