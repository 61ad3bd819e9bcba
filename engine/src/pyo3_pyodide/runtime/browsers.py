"""The browsers `nox -s wasm_test -- --browser NAME` drives: installed ones, found here (none is downloaded).

BROWSERS is the one table of them: for each, the name `--browser` takes, the variable that names another
executable, the executables looked for on PATH, how to install it, and the npm library that drives it; the
launcher of the same name is in run_pytest.mjs's LAUNCHERS. The doctor (machine.py), the option
(sessions/web.py) and the run (suite.py) read this table, and template_tools/provision.py installs the same
programs for the template's own tests (a test keeps the two in step).

WebKit is WebKitGTK (Safari's engine, on Linux): its WebKitWebDriver starts its MiniBrowser, which has no
headless mode and so runs in an Xvfb that run_pytest.mjs starts and stops; the three are found here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pyo3_pyodide.runtime import npm
from pyo3_pyodide.runtime_info import RuntimeSetupError

# Where Debian, Ubuntu, Fedora and Arch put MiniBrowser, under the prefix WebKitWebDriver is installed in
# (multiarch lib/<triplet>/ first); a WebKit built from source keeps it beside WebKitWebDriver.
MINIBROWSER_PLACES = (
    "lib/*/webkit2gtk-4.1",
    "lib/*/webkitgtk-6.0",
    "lib/*/webkit2gtk-4.0",
    "libexec/webkit2gtk-4.1",
    "libexec/webkitgtk-6.0",
    "libexec/webkit2gtk-4.0",
    "lib/webkit2gtk-4.1",
    "lib/webkitgtk-6.0",
    "lib/webkit2gtk-4.0",
)
WEBKIT_PACKAGES = (
    "Debian 12 and Ubuntu 24.04: `apt-get install webkit2gtk-driver xvfb`; Debian 13 and later, Ubuntu 25.10 "
    "and later: `apt-get install webkitgtk-webdriver xvfb`; Fedora: `dnf install webkitgtk6.0 "
    "xorg-x11-server-Xvfb`"
)


@dataclass(frozen=True)
class Browser:
    name: str  # what `--browser` takes, and the key of run_pytest.mjs's LAUNCHERS
    title: str  # what the run calls it
    variable: str  # names another executable
    names: tuple[str, ...]  # executables looked for on PATH, in order
    what: str  # what the variable must name
    install: str  # how to install it
    library: Callable[[], Path] | None  # the npm library that drives it (installed into the cache if needed)
    helpers: Callable[[str, Mapping[str, str]], dict[str, str]] = lambda executable, env: {}

    @property
    def option(self) -> str:
        """The wasm_test option that drives it."""
        return "--browser" if self is DEFAULT else f"--browser {self.name}"

    def programs(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The installed programs a run needs ("executable", and what else it starts), or the install command."""
        env = os.environ if env is None else env
        path = env.get("PATH", os.defpath)
        chosen = env.get(self.variable)
        if chosen:
            executable = shutil.which(chosen, path=path)
            if executable is None:
                raise RuntimeSetupError(
                    f"{self.variable}={chosen!r} is not an executable program: set it to {self.what}, or "
                    f"unset it to use the first of {', '.join(self.names)} on PATH"
                )
        else:
            executable = next(filter(None, (shutil.which(name, path=path) for name in self.names)), None)
        if executable is None:
            raise RuntimeSetupError(
                f"no {self.title} on PATH (looked for {', '.join(self.names)}); `{self.option}` drives an "
                f"installed one and downloads none. Install it ({self.install}), or set {self.variable} to "
                f"{self.what}"
            )
        return {"executable": executable, **self.helpers(executable, env)}

    def job(self) -> dict[str, str]:
        """What run_pytest.mjs needs to launch it: the programs, and the folder of the npm library."""
        library = {"library": str(self.library())} if self.library else {}
        return {"browser": self.name, **self.programs(), **library}


def minibrowser(driver: str) -> Path | None:
    """The MiniBrowser of the WebKitGTK whose WebKitWebDriver is `driver`."""
    folder = Path(driver).resolve().parent
    beside = folder / "MiniBrowser"
    if beside.is_file():
        return beside
    for place in MINIBROWSER_PLACES:
        found = sorted(folder.parent.glob(f"{place}/MiniBrowser"))
        if found:
            return found[0]
    return None


def webkit_helpers(driver: str, env: Mapping[str, str]) -> dict[str, str]:
    """What WebKitWebDriver needs beside it: its MiniBrowser, and Xvfb."""
    browser = minibrowser(driver)
    if browser is None:
        raise RuntimeSetupError(
            f"found {driver}, but no MiniBrowser beside it or under {Path(driver).resolve().parent.parent}/"
            f"({', '.join(MINIBROWSER_PLACES)}); MiniBrowser comes with WebKitGTK's library package "
            f"(Debian/Ubuntu: libwebkit2gtk-4.1-0, which webkit2gtk-driver depends on). {WEBKIT_PACKAGES}"
        )
    xvfb = shutil.which("Xvfb", path=env.get("PATH", os.defpath))
    if xvfb is None:
        raise RuntimeSetupError(
            f"found {driver}, but no `Xvfb` on PATH: WebKitGTK's MiniBrowser has no headless mode, so "
            f"`--browser webkit` starts it in an Xvfb of its own. Install it (Debian/Ubuntu: `apt-get install "
            "xvfb`; Fedora: `dnf install xorg-x11-server-Xvfb`)"
        )
    return {"minibrowser": str(browser), "xvfb": xvfb}


CHROMIUM = Browser(
    name="chromium",
    title="Chromium",
    variable="PYO3_PYODIDE_CHROMIUM",
    names=("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    what="a Chrome or Chromium executable",
    install="Debian/Ubuntu: `apt-get install chromium`, macOS: `brew install --cask chromium`",
    library=npm.ensure_playwright,
)
DEFAULT = CHROMIUM  # what `--browser` alone drives
BROWSERS = {
    browser.name: browser
    for browser in (
        CHROMIUM,
        Browser(
            name="firefox",
            title="Firefox",
            variable="PYO3_PYODIDE_FIREFOX",
            names=("firefox-esr", "firefox"),
            what="a Firefox executable",
            install="Debian/Ubuntu: `apt-get install firefox-esr`, macOS: `brew install --cask firefox`",
            library=npm.ensure_puppeteer,
        ),
        Browser(
            name="webkit",
            title="WebKit",
            variable="PYO3_PYODIDE_WEBKIT",
            names=("WebKitWebDriver",),
            what="a WebKitGTK WebKitWebDriver (its MiniBrowser is found beside it or under its prefix)",
            install=WEBKIT_PACKAGES,
            library=None,  # driven over WebDriver classic with plain HTTP requests (webkit.mjs)
            helpers=webkit_helpers,
        ),
    )
}
