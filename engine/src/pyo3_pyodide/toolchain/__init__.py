"""Toolchain providers: the model every build reads, the managed provider (rustup, Pyodide's sysroot,
emsdk, verified downloads) and the system provider (the compilers on PATH, checked against the pins)."""
