"""Building the Pyodide wheel: the maturin command and the environment the target release implies."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.toolchain.model import TARGET, Toolchain, ToolchainError
from pyo3_pyodide.wheel import tags as wheel_tags

RUSTFLAGS_VAR = "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"
# Variables that make cargo ignore every target's rustflags, .cargo/config.toml's included.
OVERRIDING_RUSTFLAGS_VARS = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS")
# maturin takes the wheel's platform tag from the first of these it finds.
PLATFORM_VARS = ("MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """One maturin run: the command, the variables it sets on top of the environment, the ones it removes."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    unset: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"unset {name}" for name in self.unset]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(self.env.items())]
        return "\n".join([*lines, shlex.join(self.argv)])


def refuse_overriding_rustflags(environ: Mapping[str, str]) -> None:
    """RUSTFLAGS would silently replace the target's rustflags (maturin's and .cargo/config.toml's)."""
    for name in OVERRIDING_RUSTFLAGS_VARS:
        if environ.get(name):
            raise ToolchainError(
                f"{name}={environ[name]!r} is set: cargo would then ignore the wasm target's rustflags "
                f"from pyodide-matrix.toml and .cargo/config.toml. Fix: `unset {name}`, or put host "
                f"flags in CARGO_TARGET_<HOST_TRIPLE>_RUSTFLAGS."
            )


def maturin_command() -> list[str]:
    """How to start maturin: the one installed beside this package (a project's `.nox/pyo3-pyodide/bin`
    holds it, as pip's --target installs put scripts there), else the one on PATH, else the module."""
    beside = Path(__file__).resolve().parents[2] / "bin" / "maturin"
    if beside.is_file():
        return [str(beside)]
    on_path = shutil.which("maturin")
    return [on_path] if on_path else [sys.executable, "-m", "maturin"]


def plan_build(toolchain: Toolchain, out_dir: Path, maturin: list[str] | None = None) -> BuildPlan:
    """The maturin command and environment that build a wheel for `toolchain.release`."""
    release = toolchain.release
    argv = [
        *(maturin or ["maturin"]),
        "build",
        "--release",
        "--target",
        TARGET,
        "-i",
        f"python{release.python}",
    ]
    argv += ["--out", str(out_dir)]
    if toolchain.build_std:
        argv.append("-Zbuild-std=std,panic_unwind")
    env = dict(toolchain.env)
    # Target-scoped, so build scripts and proc-macros compiled for the host are not cross-flagged.
    env[RUSTFLAGS_VAR] = " ".join((*release.rustflags, *toolchain.extra_rustflags))
    unset = list(PLATFORM_VARS)
    if release.pep783_platform_version:
        env[PLATFORM_VARS[0]] = release.pep783_platform_version
        unset.remove(PLATFORM_VARS[0])
    return BuildPlan(argv=tuple(argv), env=env, unset=tuple(unset))


def build_environment(plan: BuildPlan, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full environment for running `plan`, starting from `environ` (default: this process's)."""
    environ = dict(os.environ if environ is None else environ)
    refuse_overriding_rustflags(environ)
    for name in plan.unset:
        environ.pop(name, None)
    environ.update(plan.env)
    return environ


def expected_tags(toolchain: Toolchain) -> str:
    release = toolchain.release
    return f"{release.python_tag}-{release.python_tag} (or abi3) and {release.platform_tag}"


def newest_wheel(out_dir: Path, toolchain: Toolchain) -> Path | None:
    """The newest wheel in `out_dir` that fits `toolchain`'s release (what maturin just wrote)."""
    release = toolchain.release
    wheels = [
        path
        for path in out_dir.glob("*.whl")
        if wheel_tags.fits(path.name, release.python_tag, [release.platform_tag])
    ]
    return max(wheels, key=lambda path: path.stat().st_mtime, default=None)
