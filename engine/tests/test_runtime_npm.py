"""runtime/npm.py: the npm `pyodide` runtime, installed whole or not at all."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from pyo3_pyodide.cache import MARKER
from pyo3_pyodide.runtime import npm

from template_tools import matrix

STABLE = matrix.load().releases[matrix.load().default]


@pytest.mark.network
def test_ctrl_c_during_npm_install_leaves_nothing_and_a_rerun_installs(tmp_path, monkeypatch):
    from pyo3_pyodide.runtime import npm

    stable = matrix.load().releases[matrix.load().default]
    cache = tmp_path / "cache"
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
        "sys.path[:0] = sys.argv[1:3];"
        "from template_tools import matrix; from pyo3_pyodide.runtime import npm;"
        "npm.ensure_runtime(matrix.load().releases[sys.argv[3]])"
    )
    with socket.socket() as silent:  # a registry that takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {
            **os.environ,
            "PYO3_PYODIDE_CACHE": str(cache),
            "npm_config_registry": f"http://127.0.0.1:{silent.getsockname()[1]}/",
            "npm_config_cache": str(tmp_path / "npm-cache"),
        }
        engine = str(matrix.REPO_DIR / "engine" / "src")
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(matrix.REPO_DIR), engine, stable.version],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        staging = cache / "npm" / f"pyodide-{stable.npm}.partial" / "package.json"
        deadline = time.monotonic() + 60
        while not staging.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert staging.exists(), "npm install never started"
        time.sleep(1)  # npm is waiting for the registry now
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr, stderr[-2000:]
    assert sorted(path.name for path in (cache / "npm").iterdir() if not path.name.startswith(".")) == []

    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(cache))
    runtime = npm.ensure_runtime(stable)  # the rerun, with the real registry
    assert (runtime.folder / "pyodide-lock.json").is_file()
    assert (cache / "npm" / f"pyodide-{stable.npm}" / MARKER).is_file()


def test_runtime_lock_that_contradicts_the_matrix_is_refused(tmp_path):
    lock = {"info": {"abi_version": "1999_0", "platform": "emscripten_1_2_3", "python": "3.14.2"}}
    lock["packages"] = {"micropip": {"version": "0.11.1"}}
    (tmp_path / "pyodide-lock.json").write_text(json.dumps(lock))
    with pytest.raises(npm.RuntimeSetupError, match=r"says ABI 1999_0, emscripten_1_2_3, Python 3.14, but"):
        npm.read_runtime(STABLE, tmp_path)
    (tmp_path / "pyodide-lock.json").write_text("{}")
    with pytest.raises(npm.RuntimeSetupError, match="lacks info.abi_version/platform/python"):
        npm.read_runtime(STABLE, tmp_path)
