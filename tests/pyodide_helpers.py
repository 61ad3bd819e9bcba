"""Helpers for the tests that run a rendered project's wasm_test and serve sessions in real Pyodide runtimes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
from pyo3_pyodide.runtime import npm as runtimes

# The generated projects' per-user cache (npm runtimes, playwright-core, test wheels) for these tests: it
# outlives test runs, like a user's, so that only the first run on a machine downloads.
TEST_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pyodide-cache"
WHEEL_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pypi-wheels"
JITER = "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"  # a real PyO3 wheel for Pyodide 314
# Nothing listens on port 9 (discard) of this machine: a client pointed there fails at once.
UNREACHABLE = "http://127.0.0.1:9"
NO_NETWORK_ENV = {
    "PIP_INDEX_URL": f"{UNREACHABLE}/simple",
    "npm_config_registry": f"{UNREACHABLE}/",
    "HTTP_PROXY": UNREACHABLE,
    "HTTPS_PROXY": UNREACHABLE,
    "http_proxy": UNREACHABLE,
    "https_proxy": UNREACHABLE,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


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


def can_cut_the_network() -> bool:
    """Whether a command can run in a network namespace of its own (root, unshare and ip present)."""
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))


def nox(
    project: Path, *args: str, env: dict[str, str] | None = None, offline: bool = False, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run the project's `nox` with extra environment variables; `offline` runs it without any network:
    package indexes and proxies point at a closed local port, and where possible the command runs in a
    network namespace with nothing but loopback."""
    command = [str(Path(sys.executable).with_name("nox")), *args]
    environment = {**os.environ, **(env or {})}
    if offline:
        environment.update(NO_NETWORK_ENV)
        if can_cut_the_network():
            command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *command]
    return subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def fake_runtime(release, micropip: str) -> runtimes.Runtime:
    """A runtime description as an npm package of `release` shipping `micropip` would give (nothing runs)."""
    return runtimes.Runtime(
        release=release,
        folder=TEST_CACHE / "none",
        abi=release.abi,
        platform="emscripten_" + release.emscripten.replace(".", "_"),
        python=release.python + ".0",
        micropip=micropip,
    )
