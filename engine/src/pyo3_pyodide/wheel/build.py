"""Building the Pyodide wheel: the maturin command and the environment the target release implies."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.matrix import Release
from pyo3_pyodide.toolchain.model import TARGET, Toolchain, ToolchainError
from pyo3_pyodide.wheel import tags as wheel_tags

RUSTFLAGS_VAR = "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"
# Variables that make cargo ignore every target's rustflags, .cargo/config.toml's included.
OVERRIDING_RUSTFLAGS_VARS = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS")
# maturin takes the wheel's platform tag from the first of these it finds.
PLATFORM_VARS = ("MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")
LINKER_VAR = "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER"

# C and C++ in dependencies. The `cc` crate (and cmake-rs, which asks it) looks up each setting as
# NAME_<target>, NAME_<target with underscores>, TARGET_NAME, then NAME: a compiler from the first that is
# set; flags from the first too up to cc 1.2, from all of them (most general first) in later releases. Only
# the wasm target's names are set, so build scripts compiled for the host keep the host's compilers and flags.
# Every object linked into a side module must be position-independent: without -fPIC, wasm-ld stops
# with "relocation R_WASM_MEMORY_ADDR_SLEB cannot be used against symbol ...; recompile with -fPIC".
TARGET_SUFFIX = TARGET.replace("-", "_")
C_TOOLS = {"CC": "emcc", "CXX": "em++", "AR": "emar"}
C_FLAGS = {"CFLAGS": "-fPIC", "CXXFLAGS": "-fPIC"}

# `--debug`: a cargo profile of its own, the release profile plus the functions' names (rustc passes
# --profiling-funcs to emcc for line-tables-only debug info, so the wasm keeps its `name` section).
DEBUG_PROFILE = "wasm-debug"
DEBUG_PROFILE_SETTINGS = {"inherits": "release", "debug": "line-tables-only", "strip": False}


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


def c_compiler_env(toolchain: Toolchain) -> dict[str, str]:
    """The wasm target's C/C++ compilers, archiver and flags for the `cc` crate: the emcc, em++ and emar of
    the toolchain (beside the emcc the system provider found, in the managed emsdk, else by name on PATH)
    and -fPIC (build_environment puts it after a user's own flags)."""
    folder = None
    if toolchain.env.get(LINKER_VAR):
        folder = Path(toolchain.env[LINKER_VAR]).parent
    elif toolchain.env.get("EMSDK"):
        folder = Path(toolchain.env["EMSDK"]) / "upstream" / "emscripten"
    env = {
        f"{name}_{TARGET_SUFFIX}": str(folder / tool) if folder else tool for name, tool in C_TOOLS.items()
    }
    env.update({f"{name}_{TARGET_SUFFIX}": flags for name, flags in C_FLAGS.items()})
    return env


def debug_profile_defined(project_dir: Path) -> bool:
    """Whether the Cargo.toml that holds the build's profiles (the workspace root's) defines DEBUG_PROFILE."""
    project_dir = Path(project_dir)
    manifest = project_dir / "Cargo.toml"
    try:
        pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
        manifest = project_dir / pyproject["tool"]["maturin"]["manifest-path"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        pass
    # cargo reads profiles from the workspace root only: the first Cargo.toml upwards with [workspace],
    # else the package's own.
    manifest = manifest.resolve()
    root = None
    for candidate in [manifest, *(folder / "Cargo.toml" for folder in manifest.parents[1:])]:
        try:
            table = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if root is None or "workspace" in table:
            root = table
        if "workspace" in table:
            break
    return DEBUG_PROFILE in (root or {}).get("profile", {})


def debug_profile_toml() -> str:
    """The table to add to Cargo.toml (the workspace root's) for `--debug` builds."""
    lines = [f"[profile.{DEBUG_PROFILE}]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in DEBUG_PROFILE_SETTINGS.items()]
    return "\n".join(lines)


def _toml_value(value: str | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f'"{value}"'


def profile_env(profile: str, settings: Mapping[str, str | bool]) -> dict[str, str]:
    """cargo's variables that define `profile` with `settings` for one build (CARGO_PROFILE_<NAME>_<KEY>)."""
    name = profile.upper().replace("-", "_")
    return {
        f"CARGO_PROFILE_{name}_{key.upper()}": _toml_value(value).strip('"')
        for key, value in settings.items()
    }


def plan_build(
    toolchain: Toolchain,
    out_dir: Path,
    maturin: list[str] | None = None,
    *,
    debug: bool = False,
    debug_profile_in_cargo_toml: bool = True,
) -> BuildPlan:
    """The maturin command and environment that build a wheel for `toolchain.release`.

    `debug` builds with DEBUG_PROFILE instead of the release profile; where Cargo.toml lacks that profile
    (`debug_profile_in_cargo_toml` false), cargo gets it through its environment variables instead."""
    release = toolchain.release
    argv = [
        *(maturin or ["maturin"]),
        "build",
        *(["--profile", DEBUG_PROFILE] if debug else ["--release"]),
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
    env.update(c_compiler_env(toolchain))
    if debug and not debug_profile_in_cargo_toml:
        env.update(profile_env(DEBUG_PROFILE, DEBUG_PROFILE_SETTINGS))
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
    env = dict(plan.env)
    for name in C_TOOLS:
        # A compiler the user named for the wasm target stays (cc would take the dashed name first anyway).
        if any(environ.get(user) for user in _cc_names(name)[:3]):
            env.pop(f"{name}_{TARGET_SUFFIX}", None)
    for name in C_FLAGS:
        ours = env.pop(f"{name}_{TARGET_SUFFIX}", None)
        if ours is None:
            continue
        # After the user's own flags for the target, in the spelling they used: the dashed one is the
        # one cc up to 1.2 reads first, and later releases read last.
        spelling = f"{name}_{TARGET}" if environ.get(f"{name}_{TARGET}") else f"{name}_{TARGET_SUFFIX}"
        users = environ.get(spelling, "").split()
        env[spelling] = " ".join([*users, *(flag for flag in ours.split() if flag not in users)])
    environ.update(env)
    return environ


def _cc_names(name: str) -> tuple[str, ...]:
    """The names the `cc` crate looks a compiler up by for the wasm target; the first that is set wins."""
    return (f"{name}_{TARGET}", f"{name}_{TARGET_SUFFIX}", f"TARGET_{name}", name)


# Link failures of code compiled without -fPIC, as wasm-ld words them ("relocation R_WASM_MEMORY_ADDR_SLEB
# cannot be used against symbol `.L.str.1`; recompile with -fPIC"), and where the object came from.
NOT_PIC = re.compile(r"R_WASM_\w+ cannot be used against|recompile with -fPIC")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RLIB_MEMBER = re.compile(r"lib(\w+?)-[0-9a-f]+\.rlib\(([^)]+)\)")  # a C library bundled into a crate's rlib
BUILD_OUT = re.compile(r"/build/([\w-]+)-[0-9a-f]{16}/out\b")  # a build script's folder: package name


@dataclasses.dataclass(frozen=True)
class LinkProblem:
    """A link that failed on position-dependent code: wasm-ld's line, and the object's package if known."""

    line: str
    package: str | None = None
    member: str | None = None  # the object inside that package's archive
    rust: bool = False  # the object is Rust's own code (a codegen unit), not C

    def describe(self, debug: bool = False) -> str:
        found = f"the link failed on code that is not position-independent: wasm-ld says {self.line!r}"
        if self.rust:
            return (
                f"{found}. That object is Rust code compiled with a relocation model other than pic. "
                "Fix: remove `-C relocation-model=...` from the rustflags (`nox -s doctor` shows where it is set)"
            )
        origin = f" The object {self.member} comes from the package {self.package}." if self.package else ""
        package = self.package or "<package>"
        profile = f"--profile {DEBUG_PROFILE}" if debug else "--release"
        return (
            f"{found}.{origin} A Pyodide extension is a side module: every object in it must be "
            f"compiled with -fPIC. wasm_build passes -fPIC to the `cc` crate (CFLAGS_{TARGET_SUFFIX}, "
            f"CXXFLAGS_{TARGET_SUFFIX}), which this C code did not get: it was built by a build system of "
            "its own (cmake, make, configure, or a build.rs that calls emcc itself), as -sys crates do. "
            "Fix: give every emcc call -fPIC through Emscripten's own variable, and build that C code "
            f"again: `cargo clean -p {package} {profile} --target {TARGET}`, then "
            "`EMCC_CFLAGS=-fPIC nox -s wasm_build` (with your other arguments); or pass -fPIC in that "
            "build system (cmake: -DCMAKE_POSITION_INDEPENDENT_CODE=ON; configure, make: CFLAGS=-fPIC)"
        )


def link_problem(output: str) -> LinkProblem | None:
    """The position-dependent code that a failed build's output shows, or None."""
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in output.splitlines()]
    line = next((line for line in lines if NOT_PIC.search(line)), None)
    if line is None:
        return None
    member = RLIB_MEMBER.search(line)
    if member is None:
        return LinkProblem(line, rust=".rcgu.o" in line)
    crate, object_name = member.groups()
    if object_name.endswith(".rcgu.o"):
        return LinkProblem(line, rust=True)
    packages = [name for name in BUILD_OUT.findall(output) if name.replace("-", "_") == crate]
    return LinkProblem(line, packages[0] if packages else crate, object_name)


def build_log(project_dir: Path, release: Release) -> Path:
    """Where wasm_build keeps the output of the last build for `release` (doctor reads it)."""
    return Path(project_dir) / "target" / "pyo3-pyodide" / f"wasm_build-{release.version}.log"


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
