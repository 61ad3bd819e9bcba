"""The Pyodide runtime that tests run in: the npm `pyodide` package at a release's pinned version.

npm packages are installed once into the per-user cache (cache.NPM: $PYO3_PYODIDE_CACHE, else
platformdirs' user cache folder "pyo3-pyodide"), each in a folder of its own with npm's package-lock.json:
    npm/pyodide-<version>/          node_modules/pyodide: the runtime, python_stdlib.zip, pyodide-lock.json
    npm/playwright-core-<version>/  the library that drives the system's Chromium for `--browser`
    npm/puppeteer-core-<version>/   the library that drives the system's Firefox for `--browser firefox`
Each folder is built under a temporary name and renamed when npm has finished and a completion marker is
written, so a folder that exists is complete; later runs use it with no npm call and no network.

The npm package holds no wheels of its own (they live on Pyodide's CDN), but its pyodide-lock.json is the
runtime's word on its platform (`info`: abi_version, platform, python) and names the micropip it ships,
whose version decides which wheel tags the runtime accepts (runtime_info.Runtime.micropip_platform_tags).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.cache import MARKER, NPM, file_lock, write_json
from pyo3_pyodide.console import console
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.runtime_info import Runtime, RuntimeSetupError

PLAYWRIGHT_CORE = "1.65.1"  # drives an installed Chromium; it downloads no browser of its own
# drives an installed, stock Firefox over WebDriver BiDi (playwright-core drives only its own patched
# Firefox); it downloads no browser of its own
PUPPETEER_CORE = "25.16.0"
NODE_HELP = "Install Node.js >= 18 (https://nodejs.org, or your package manager) and run again"


def find_program(name: str, fix: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeSetupError(f"`{name}` is not on PATH. {fix}")
    return path


def node() -> str:
    return find_program("node", NODE_HELP)


def package_folder(name: str, version: str) -> Path:
    """The cache folder of node_modules/<name> at exactly `version` (which may not be installed yet)."""
    return NPM.path / f"{name}-{version}"


def npm_package(name: str, version: str) -> Path:
    """The cache folder holding node_modules/<name> at exactly `version`; installed by npm the first time."""
    folder = package_folder(name, version)
    if (folder / MARKER).is_file():
        return folder
    npm = find_program("npm", f"npm comes with Node.js. {NODE_HELP}")
    with file_lock(NPM.lock_of(folder)):
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
