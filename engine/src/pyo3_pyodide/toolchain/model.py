"""What a build needs to know about the compilers for one release, whichever provider made them ready.

Two providers: "managed" (toolchain.managed installs exactly the pinned Rust and emsdk into a per-user
cache) and "system" (toolchain.system checks the emcc, cargo and rustc already on PATH).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import Release

PROVIDERS = ("managed", "system")
TARGET = "wasm32-unknown-emscripten"  # the Rust target of every Pyodide build


class ToolchainError(EngineError):
    """A toolchain is missing or does not match the pins; the message says what was found and the fix."""


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """Compilers ready for one release."""

    provider: str
    release: Release
    # Variables the build sets on top of the environment, e.g. PATH (emsdk first), EMSDK, EM_CONFIG,
    # RUSTUP_TOOLCHAIN. A PATH value here is the whole new PATH.
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Build std from rust-src (-Zbuild-std) because the toolchain has no prebuilt wasm32-unknown-emscripten std.
    build_std: bool = False
    # rustflags this toolchain needs on top of the release's own, e.g. a distro rustc's linker settings.
    extra_rustflags: tuple[str, ...] = ()
    # With build_std: the folder of the crates std itself depends on (cfg-if, libc, ...), rust-src's
    # library/vendor, for projects whose cargo config replaces crates.io with vendored crates.
    std_vendor: Path | None = None
