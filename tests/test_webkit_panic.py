"""Why a Rust panic aborts Pyodide in WebKit (issue 22), for real, with the wheel the Debian sid root builds.

In WebKitGTK 2.50.6 the panic test of the rendered project crashes Pyodide 315 ("Aborted()", then "RuntimeError:
Unreachable code should not be executed"; tests/test_wasm_test.py KNOWN_CRASHES_IN), though the engine validates both
forms of wasm exceptions (the run's last line). The fault is JavaScriptCore's in-place wasm interpreter (IPInt):
with it turned off (JSC_useWasmIPInt=false, JSC's own option, read from the environment) the same test passes,
where turning off its compilers (JSC_useBBQJIT=false JSC_useOMGJIT=false) changed nothing. The guide
(docs/pyodide.md, "A Rust panic in Safari") says so. The generated pyproject.toml lists the test as a known
failure in WebKit, so here, where it passes, it is XPASS(strict): what a WebKit that fixes IPInt will show.
"""

import pytest

from tests.helpers.project import nox, output_of
from tests.test_wasm_test import PANIC_TEST

RUN_LINE = "wasm_test: pytest exited with 1 inside Pyodide"


@pytest.mark.wasm
@pytest.mark.browser
def test_a_rust_panic_becomes_panic_exception_in_webkit_without_its_in_place_interpreter(sid_built_project):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    result = nox(
        project,
        "-s",
        "wasm_test",
        "--",
        "--browser",
        "webkit",
        "-v",
        "-k",
        PANIC_TEST,
        env={"JSC_useWasmIPInt": "false"},
    )
    output = output_of(result)
    assert result.returncode == 1, output[-5000:]
    assert f"tests/test_wasmdemo.py::{PANIC_TEST} FAILED" in output, output[-5000:]
    assert "[XPASS(strict)] known failure in Pyodide (pyproject.toml): WebKit 2.50's in-place wasm" in output
    assert RUN_LINE in output and "in WebKit " in output and ": 0 passed, 1 failed" in output, output[-3000:]
