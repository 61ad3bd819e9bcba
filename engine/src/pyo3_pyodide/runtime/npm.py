"""The Pyodide runtime that tests run in: the npm `pyodide` package at a release's pinned version.

npm packages are installed once into the per-user cache (cache.cache_dir(): $PYO3_PYODIDE_CACHE, else
platformdirs' user cache folder "pyo3-pyodide"), each in a folder of its own with npm's package-lock.json:
    npm/pyodide-<version>/          node_modules/pyodide: the runtime, python_stdlib.zip, pyodide-lock.json
    npm/playwright-core-<version>/  the library that drives the system's Chromium for `--browser`
    npm/puppeteer-core-<version>/   the library that drives the system's Firefox for `--browser firefox`
Each folder is built under a temporary name and renamed when npm has finished and a completion marker is
written, so a folder that exists is complete; later runs use it with no npm call and no network.

The npm package holds no wheels of its own (they live on Pyodide's CDN), but its pyodide-lock.json is the
runtime's word on its platform (`info`: abi_version, platform, python) and names the micropip it ships,
whose version decides which wheel tags the runtime accepts (see `platform_tags`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from packaging.version import Version

from pyo3_pyodide import files
from pyo3_pyodide.cache import MARKER, cache_dir, file_lock, write_json
from pyo3_pyodide.console import console
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.wheel import tags as wheel_tags

PLAYWRIGHT_CORE = "1.65.1"  # drives an installed Chromium; it downloads no browser of its own
# drives an installed, stock Firefox over WebDriver BiDi (playwright-core drives only its own patched
# Firefox); it downloads no browser of its own
PUPPETEER_CORE = "25.16.0"
# micropip accepts pyemscripten_<abi> tags (PEP 783) from this version on; older ones only pyodide_<abi>
# and emscripten_X_Y_Z (read in micropip's _utils.sys_tags of each version).
MICROPIP_PEP783 = Version("0.11.1")
NODE_HELP = "Install Node.js >= 18 (https://nodejs.org, or your package manager) and run again"
CHROMIUM_ENV = "PYO3_PYODIDE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FIREFOX_ENV = "PYO3_PYODIDE_FIREFOX"
FIREFOX_NAMES = ("firefox-esr", "firefox")


class RuntimeSetupError(Exception):
    """Node, npm or a runtime package is missing or wrong; the message says what was found and the fix."""


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One installed Pyodide runtime, as its pyodide-lock.json describes itself."""

    release: Release
    folder: Path  # node_modules/pyodide
    abi: str  # info.abi_version, YYYY_N
    platform: str  # info.platform, e.g. emscripten_5_0_3
    python: str  # info.python, e.g. 3.14.2
    micropip: str  # the version of the micropip package the lock names

    @property
    def python_tag(self) -> str:
        major, minor = self.python.split(".")[:2]
        return f"cp{major}{minor}"

    def platform_tags(self) -> list[str]:
        """The wheel platform tags this runtime's micropip accepts, best first (as its sys_tags)."""
        extra = [f"pyodide_{self.abi}_wasm32"]
        if Version(self.micropip) >= MICROPIP_PEP783:
            extra.insert(0, f"pyemscripten_{self.abi}_wasm32")
        return [*extra, f"{self.platform}_wasm32"]

    def accepted_tags(self) -> list[wheel_tags.Tag]:
        """Every wheel tag micropip accepts here: CPython's tags for the platform tags, then pure ones."""
        return wheel_tags.runtime_tags(self.python_tag, self.platform_tags())

    def describe(self) -> str:
        return (
            f"Pyodide {self.release.version} (npm pyodide@{self.release.npm}: Python {self.python}, "
            f"ABI {self.abi}, {self.platform}, micropip {self.micropip})"
        )

    def package_base_url(self) -> str:
        """The URL this release's own packages (the wheels its pyodide-lock.json names) are served from,
        as Pyodide itself computes it: loadPyodide() in the npm package's pyodide.mjs sets
        `cdnUrl = packageBaseUrl ?? `https://cdn.jsdelivr.net/pyodide/v${version}/full/``, and in Node
        its package manager downloads from cdnUrl what packageCacheDir lacks (read in pyodide.mjs and
        pyodide.asm.mjs of the 0.28, 314 and 315 lines; `cdnUrl`, `packageBaseUrl` in
        pyodide.d.ts). `version` is pyodide.mjs's own (PEP 440's spelling of a prerelease, not
        npm's); the template is read from the file, so a release that moves it is followed."""
        script = self.folder / "pyodide.mjs"
        try:
            text = script.read_text(encoding="utf-8")
        except OSError as error:
            raise RuntimeSetupError(
                f"{script} is unreadable ({error}); delete {self.folder.parents[1]}"
            ) from None
        template = re.search(r"`(https://[^`$]*)\$\{[\w$]+\}(/[^`$]*)`", text)
        version = str(Version(self.release.npm))
        if template is None or f'"{version}"' not in text:
            raise RuntimeSetupError(
                f"{script} holds no CDN URL template (`https://...${{version}}/...`) or no version "
                f"{version}: this npm package is not laid out like the ones this engine knows. Name the "
                "folder that serves the release's packages with --package-base-url (or "
                "PYO3_PYODIDE_PACKAGE_BASE_URL)"
            )
        return f"{template.group(1)}{version}{template.group(2)}"


def find_program(name: str, fix: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeSetupError(f"`{name}` is not on PATH. {fix}")
    return path


def node() -> str:
    return find_program("node", NODE_HELP)


def npm_package(name: str, version: str) -> Path:
    """The cache folder holding node_modules/<name> at exactly `version`; installed by npm the first time."""
    folder = cache_dir() / "npm" / f"{name}-{version}"
    if (folder / MARKER).is_file():
        return folder
    npm = find_program("npm", f"npm comes with Node.js. {NODE_HELP}")
    with file_lock(cache_dir() / "npm" / ".lock"):
        if (folder / MARKER).is_file():  # another process installed it meanwhile
            return folder
        with files.staged_folder(folder) as staging:
            manifest = {"private": True, "dependencies": {name: version}}
            (staging / "package.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact"]
            console.print(f"installing npm {name}@{version} into {folder}")
            result = subprocess.run(command, cwd=staging, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                registry = os.environ.get("npm_config_registry") or "https://registry.npmjs.org"
                raise RuntimeSetupError(
                    f"`npm install {name}@{version}` failed:\n{result.stderr.strip()}\n"
                    f"npm downloads from {registry}: check the network (or npm's registry setting) "
                    "and run again"
                )
            write_json(staging / MARKER, {"package": name, "version": version})
    return folder


def installed_browser(
    variable: str, names: tuple[str, ...], env: Mapping[str, str] | None = None
) -> str | None:
    """The program $`variable` names (which must exist), else the first of `names` on PATH, else None."""
    env = os.environ if env is None else env
    path = env.get("PATH", os.defpath)
    chosen = env.get(variable)
    if chosen:
        found = shutil.which(chosen, path=path)
        if found is None:
            raise RuntimeSetupError(
                f"{variable}={chosen!r} is not an executable program: set it to the browser's executable, "
                f"or unset it to use the first of {', '.join(names)} on PATH"
            )
        return found
    return next(filter(None, (shutil.which(name, path=path) for name in names)), None)


def chromium(env: Mapping[str, str] | None = None) -> str:
    """The Chromium (or Chrome) that `--browser` drives: $PYO3_PYODIDE_CHROMIUM, else the first on PATH."""
    found = installed_browser(CHROMIUM_ENV, CHROMIUM_NAMES, env)
    if found:
        return found
    raise RuntimeSetupError(
        f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}); `--browser` drives an "
        "installed one and downloads none. Install it (Debian/Ubuntu: `apt-get install chromium`, "
        f"macOS: `brew install --cask chromium`), or set {CHROMIUM_ENV} to a Chrome or Chromium "
        "executable"
    )


def firefox(env: Mapping[str, str] | None = None) -> str:
    """The Firefox that `--browser firefox` drives: $PYO3_PYODIDE_FIREFOX, else the first on PATH."""
    found = installed_browser(FIREFOX_ENV, FIREFOX_NAMES, env)
    if found:
        return found
    raise RuntimeSetupError(
        f"no Firefox on PATH (looked for {', '.join(FIREFOX_NAMES)}); `--browser firefox` drives an "
        "installed one and downloads none. Install it (Debian/Ubuntu: `apt-get install firefox-esr`, "
        f"macOS: `brew install --cask firefox`), or set {FIREFOX_ENV} to a Firefox executable"
    )


def ensure_runtime(release: Release) -> Runtime:
    """The npm `pyodide` package that `release` pins, installed if needed, and its own description."""
    folder = npm_package("pyodide", release.npm) / "node_modules" / "pyodide"
    return read_runtime(release, folder)


def read_runtime(release: Release, folder: Path) -> Runtime:
    """Read a runtime's pyodide-lock.json, and check it against the release's pins."""
    lock_path = folder / "pyodide-lock.json"
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        info, micropip = lock["info"], lock["packages"]["micropip"]["version"]
        runtime = Runtime(
            release=release,
            folder=folder,
            abi=info["abi_version"],
            platform=info["platform"],
            python=info["python"],
            micropip=micropip,
        )
    except (OSError, ValueError, KeyError) as error:
        raise RuntimeSetupError(
            f"{lock_path} is missing or lacks info.abi_version/platform/python or a micropip "
            f"package ({error!r}); expected the npm pyodide@{release.npm} package's lock. "
            f"Delete {folder.parents[1]} to install it again"
        ) from None
    expected_platform = "emscripten_" + release.emscripten.replace(".", "_")
    found = (runtime.abi, runtime.platform, ".".join(runtime.python.split(".")[:2]))
    if found != (release.abi, expected_platform, release.python):
        raise RuntimeSetupError(
            f"npm pyodide@{release.npm} says ABI {found[0]}, {found[1]}, Python {found[2]}, but "
            f"pyodide-matrix.toml pins ABI {release.abi}, {expected_platform}, Python "
            f"{release.python} for Pyodide {release.version}: fix the matrix (`copier update` "
            "brings corrected pins)"
        )
    return runtime


def ensure_playwright() -> Path:
    """The folder from which `require("playwright-core")` works (installed into the cache if needed)."""
    return npm_package("playwright-core", PLAYWRIGHT_CORE)


def ensure_puppeteer() -> Path:
    """The folder from which `require.resolve("puppeteer-core")` works (installed into the cache if needed)."""
    return npm_package("puppeteer-core", PUPPETEER_CORE)
