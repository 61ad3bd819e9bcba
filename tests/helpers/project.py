"""Running a rendered project as its owner does: its own `nox` command, with or without a network."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from template_tools import ENGINE_DIR

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


def nox_command() -> list[str]:
    """The `nox` command a user types, from the environment running the tests."""
    return [str(Path(sys.executable).with_name("nox"))]


def can_cut_the_network() -> bool:
    """Whether a command can run in a network namespace of its own (root, unshare and ip present)."""
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))


def nox(
    project: Path, *args: str, env: dict[str, str] | None = None, offline: bool = False, timeout: int = 1800
) -> subprocess.CompletedProcess:
    """Run the project's `nox` with extra environment variables; `offline` runs it without any network:
    package indexes and proxies point at a closed local port, and where possible the command runs in a
    network namespace with nothing but loopback."""
    command = [*nox_command(), *args]
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


def rendered_target(project: Path) -> dict:
    """The target release as the engine resolves it in the rendered project."""
    code = "import dataclasses, json; from pyo3_pyodide.project import target_release; "
    code += "print(json.dumps(dataclasses.asdict(target_release('.'))))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ENGINE_DIR / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def console_blocks(markdown: str) -> list[list[str]]:
    """The commands of each ```console block, comments dropped."""
    blocks = re.findall(r"```console\n(.*?)```", markdown, re.DOTALL)
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]
