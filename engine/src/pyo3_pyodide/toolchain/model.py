"""What a build needs to know about the compilers for one release, whichever provider made them ready.

Two providers (PROVIDERS): "managed" (toolchain.managed installs exactly the pinned Rust and emsdk into a
per-user cache) and "system" (toolchain.system checks the emcc, cargo and rustc already on PATH). Each is a
module with the three functions of `Provider`; `nox -s doctor` reports a provider's `checks`, the very ones
its `ensure` runs before a build.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import Release

# name -> module, imported when picked: a build with the system toolchain does not load the managed one
# (downloads, emsdk, rich tables).
PROVIDERS = {"managed": "pyo3_pyodide.toolchain.managed", "system": "pyo3_pyodide.toolchain.system"}
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


@dataclasses.dataclass(frozen=True)
class Check:
    """One finding about this machine, with its one fix; a failed blocker stops a build (and `nox -s doctor`
    exits non-zero)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocker: bool = True

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.blocker else "warn")
        fix = f" Fix: {self.fix}" if self.fix and not self.ok else ""
        detail = self.detail.removesuffix(".")  # a detail may be a whole sentence of its own
        return f"{mark} {self.name}: {detail}.{fix}"

    def error(self) -> ToolchainError:
        """What a build raises for this failed check: the doctor's line, without its mark."""
        return ToolchainError(self.line().removeprefix("FAIL "))


class Provider(Protocol):
    """What a build and the doctor ask of a toolchain provider (toolchain/managed.py, toolchain/system.py)."""

    def ensure(self, release: Release, releases: Mapping[str, Release]) -> Toolchain:
        """The toolchain ready for `release` (installed where the provider installs), else a ToolchainError
        with the first failed check's text."""

    def plan(self, release: Release) -> Toolchain:
        """The toolchain `ensure` would return, as far as it is known without installing or checking."""

    def checks(
        self, release: Release, releases: Mapping[str, Release], environ: Mapping[str, str]
    ) -> list[Check]:
        """What `ensure` checks, one Check each, without installing anything."""


def provider(name: str) -> Provider:
    """The provider of that name (one of PROVIDERS)."""
    return importlib.import_module(PROVIDERS[name])
