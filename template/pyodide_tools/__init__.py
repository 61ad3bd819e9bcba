"""Helpers behind this project's noxfile, one module per job.

matrix     the target Pyodide release and its pins (pyodide-matrix.toml, pyproject.toml)
cache      the per-user cache all projects share: its folder, completion markers, a lock
toolchain  what a build needs to know of a toolchain, whichever provider made it ready
managed    the managed provider: pinned Rust and Pyodide's sysroot, emsdk (below), in the per-user cache
emsdk      emsdk at the pinned Emscripten, with Pyodide's patches from the release's cross-build environment
download   verified downloads (with a GitHub mirror), safe unpacking, for the managed provider
system     the system provider: the emcc, cargo and rustc on PATH, checked against the pins
build      the maturin command and environment for a Pyodide wheel
audit      checks of a built wheel: tags, side module, PyInit export, no threads
doctor     checks of this machine against the pins, each with its fix
runtime    the npm `pyodide` runtime (and playwright-core) in the per-user cache; the wheel tags it accepts
wasm_test  `nox -s wasm_test` on the host: the wheel and its tag check, the test wheels and their lock
run_pytest.mjs  runs pytest inside Pyodide: in Node, or in headless Chromium through playwright-core
serve      an HTTP server on 127.0.0.1 for Pyodide pages: browser test runs, the demo page web/, a bundle
lock       `nox -s lock`: the runtime's pyodide-lock.json plus this project's wheel and its dependencies
make_lock.mjs  runs add_wheels.py inside the target Pyodide under Node, then loads the new lock
add_wheels     the Python that make_lock.mjs runs inside Pyodide (pyodide-lock needs Python >= 3.12)
bundle     `nox -s bundle`: a folder for static hosting: demo page, runtime, lock and wheels
sessions   the build sessions' bodies (toolchain, wasm_build, audit, doctor): arguments in, calls out
web_sessions  the Pyodide sessions' bodies (wasm_test, serve, lock, bundle)
"""
