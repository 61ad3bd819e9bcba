"""Helpers behind this project's noxfile, one module per job.

matrix     the target Pyodide release and its pins (pyodide-matrix.toml, pyproject.toml)
toolchain  what a build needs to know of a toolchain, whichever provider made it ready
managed    the managed provider: pinned Rust, Pyodide's sysroot and patched emsdk in a per-user cache
download   verified downloads and safe unpacking for the managed provider
system     the system provider: the emcc, cargo and rustc on PATH, checked against the pins
build      the maturin command and environment for a Pyodide wheel
audit      checks of a built wheel: tags, side module, PyInit export, no threads
doctor     checks of this machine against the pins, each with its fix
sessions   the nox sessions' bodies: arguments in, calls to the modules above
"""
