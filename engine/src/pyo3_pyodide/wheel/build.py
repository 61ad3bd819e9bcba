"""Building the Pyodide wheel: the maturin command and the environment the target release implies."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.cache import VENDOR_MERGED, file_lock
from pyo3_pyodide.files import staged_folder
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.project import Project
from pyo3_pyodide.toolchain.model import TARGET, Toolchain, ToolchainError
from pyo3_pyodide.wheel import tags as wheel_tags

RUSTFLAGS_VAR = "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"
# Variables that make cargo ignore every target's rustflags, .cargo/config.toml's included.
OVERRIDING_RUSTFLAGS_VARS = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS")
# maturin takes the wheel's platform tag from the first of these it finds.
PLATFORM_VARS = ("MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")
LINKER_VAR = "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER"
# std from rust-src, with both panic runtimes: a profile with `panic = "abort"` (orjson's release profile)
# links panic_abort, and without it in the list rustc stops with "can't find crate for `panic_abort`".
BUILD_STD = "-Zbuild-std=std,panic_abort,panic_unwind"

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

# Vendored crates (`cargo vendor`): a cargo config that replaces crates.io with a folder of crates. With
# -Zbuild-std cargo resolves std's own dependencies (cfg-if, libc, ...) through that replacement too, and
# the project's folder lacks them ("no matching package named `cfg-if` found"); rust-src keeps them in
# library/vendor. Such a build gets a folder in the cache that links the crates of both.
REGISTRY = "crates-io"


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """One maturin run: the command, the variables it sets on top of the environment, the ones it removes."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    unset: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what the build does differently from a plain maturin run, one line each

    def describe(self) -> str:
        lines = [f"# {note}" for note in self.notes]
        lines += [f"unset {name}" for name in self.unset]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(self.env.items())]
        return "\n".join([*lines, shlex.join(self.argv)])


class NotAMaturinProject(ToolchainError):
    """The project is not built by maturin: what its pyproject.toml says, and what this template supports."""


def check_build_backend(project: Project) -> None:
    """wasm_build builds with maturin: refuse a project whose pyproject.toml names another build backend, or
    none. (Adoption checked only that pyproject.toml and a Cargo.toml exist: copier's Jinja reads no file.)"""
    path = project.pyproject
    backend = project.build_backend
    if backend == "maturin":
        return
    if not project.has_pyproject:
        found = f"found no {path}"
    elif backend is None:
        found = f"{path} names no build-backend in [build-system] (pip would build it with setuptools)"
    else:
        found = f"{path} names build-backend = {json.dumps(backend)} in [build-system]"
    raise NotAMaturinProject(
        f'{found}; expected build-backend = "maturin": wasm_build builds the wheel with maturin, and this '
        "template supports maturin projects only. Fix: for a PyO3 crate built another way (setuptools-rust, "
        'for one), make maturin its build backend: [build-system] requires = ["maturin>=1.16,<2"], '
        'build-backend = "maturin"'
    )


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


def debug_profile_defined(project: Project) -> bool:
    """Whether the Cargo.toml that holds the build's profiles (the workspace root's) defines DEBUG_PROFILE."""
    return DEBUG_PROFILE in project.workspace_root().get("profile", {})


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


@dataclasses.dataclass(frozen=True)
class VendoredSource:
    """The folder of crates that a cargo config puts in the place of crates.io."""

    name: str  # the replacing source's name, e.g. "vendored-sources"
    directory: Path
    config: Path  # the file that says where the folder is


def cargo_config_files(start: Path, environ: Mapping[str, str]) -> list[Path]:
    """The config files cargo reads when run in `start`, highest precedence first: `.cargo/config.toml` in
    `start` and in each folder above it, then CARGO_HOME's (cargo reads `config` where both exist)."""
    start = Path(start).resolve()
    cargo_home = Path(environ.get("CARGO_HOME") or Path.home() / ".cargo").resolve()
    folders = [folder / ".cargo" for folder in (start, *start.parents)]
    found = []
    for folder in [*folders, *([cargo_home] if cargo_home not in folders else [])]:
        config = next(
            (folder / name for name in ("config", "config.toml") if (folder / name).is_file()), None
        )
        if config is not None:
            found.append(config)
    return found


def vendored_source(start: Path, environ: Mapping[str, str] | None = None) -> VendoredSource | None:
    """The folder of crates that replaces crates.io for cargo run in `start`, or None (no replacement,
    or one by a registry, which serves std's dependencies as crates.io would)."""
    environ = os.environ if environ is None else environ
    sources = []  # (file, its [source] table), highest precedence first
    for config in cargo_config_files(start, environ):
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8")).get("source")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # cargo itself says what is wrong with it
        if isinstance(table, dict):
            sources.append((config, table))

    def first(source: str, key: str) -> tuple[Path, object] | None:
        for config, table in sources:
            entry = table.get(source)
            if isinstance(entry, dict) and key in entry:
                return config, entry[key]
        return None

    replacement = first(REGISTRY, "replace-with")
    if replacement is None or not isinstance(replacement[1], str):
        return None
    directory = first(replacement[1], "directory")
    if directory is None or not isinstance(directory[1], str):
        return None
    config, folder = directory
    # cargo reads a relative path from the folder that holds the config's `.cargo` folder.
    return VendoredSource(replacement[1], (config.parent.parent / folder).resolve(), config)


def merged_vendor(project: Path, std: Path) -> Path:
    """A folder in the cache that links every crate folder of `project` and of `std` (the project's where
    both have one of that name); made once for each pair of listings, whole or not at all."""
    crates = {}
    for folder in (std, project):
        for entry in sorted(Path(folder).iterdir()):
            if entry.is_dir() and not entry.name.startswith("."):
                crates[entry.name] = entry.resolve()
    import hashlib  # only such builds need it

    listing = "\n".join(f"{name} {target}" for name, target in sorted(crates.items()))
    final = VENDOR_MERGED.path / hashlib.sha256(listing.encode()).hexdigest()[:16]
    with file_lock(VENDOR_MERGED.lock_of(final)):
        if not final.is_dir():
            with staged_folder(final) as staging:
                for name, target in crates.items():
                    (staging / name).symlink_to(target, target_is_directory=True)
    return final


def vendored_build(toolchain: Toolchain, project_dir: Path) -> tuple[list[str], str] | None:
    """For a build of std from source in a project whose cargo config replaces crates.io with vendored
    crates: maturin's arguments that give cargo the merged folder instead, for this build only, and the
    line that says so. None for any other build."""
    if not toolchain.build_std or toolchain.std_vendor is None:
        return None
    source = vendored_source(project_dir)
    if source is None or not source.directory.is_dir():
        return None  # without its folder the build stops on cargo's own words
    if not toolchain.std_vendor.is_dir():
        raise ToolchainError(
            f"{source.config} replaces crates.io with the vendored crates in {source.directory}, and std "
            f"is built from rust-src, whose dependencies (cfg-if, libc, ...) must then come from a folder "
            f"too; found no {toolchain.std_vendor}. Fix: a rust-src that vendors them (Debian's "
            f"rust-src does), or a toolchain with std for {TARGET} (`rustup target add {TARGET}`)"
        )
    merged = merged_vendor(source.directory, toolchain.std_vendor)
    setting = f"source.{json.dumps(source.name)}.directory={json.dumps(str(merged))}"
    note = (
        f"vendored crates: {source.config} replaces crates.io with {source.directory}; for this build "
        f"(std built from source) cargo reads {merged} instead, the project's crates and std's "
        f"({toolchain.std_vendor}) linked together (--config {setting})"
    )
    return ["--config", setting], note


def plan_build(
    toolchain: Toolchain,
    out_dir: Path,
    maturin: list[str] | None = None,
    *,
    debug: bool = False,
    debug_profile_in_cargo_toml: bool = True,
    project_dir: Path | None = None,
) -> BuildPlan:
    """The maturin command and environment that build a wheel for `toolchain.release`.

    `debug` builds with DEBUG_PROFILE instead of the release profile; where Cargo.toml lacks that profile
    (`debug_profile_in_cargo_toml` false), cargo gets it through its environment variables instead.
    `project_dir`, the folder maturin runs in, is where cargo's config is read from (vendored crates)."""
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
    notes = []
    if toolchain.build_std:
        argv.append(BUILD_STD)
        vendored = vendored_build(toolchain, project_dir) if project_dir is not None else None
        if vendored is not None:
            argv += vendored[0]
            notes.append(vendored[1])
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
    return BuildPlan(argv=tuple(argv), env=env, unset=tuple(unset), notes=tuple(notes))


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
