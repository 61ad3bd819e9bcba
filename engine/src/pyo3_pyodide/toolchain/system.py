"""The "system" toolchain provider: the emcc, cargo and rustc already on PATH, checked against the pins.

Its checks (`inspect`) are what a build with `--toolchain system` runs and what `nox -s doctor` reports.

For a distro's, conda's or a CI image's compilers. When the target's std is not installed but rust-src is,
std is built from source with -Zbuild-std (as Debian's rustc needs: it ships no wasm32-unknown-emscripten std).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.cache import EM_CACHE, RUSTC_ANSWERS, read_json, write_json
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.toolchain.model import TARGET, Check, Toolchain, ToolchainError

# Rust ships a release every six weeks since 1.0 (2015-05-15); a nightly of a given date is that train's
# next version. Only used to compare a nightly pin with a crate's rust-version.
RUST_1_0 = datetime.date(2015, 5, 15)


@dataclasses.dataclass(frozen=True)
class RustVersion:
    """What `rustc -vV` says of itself."""

    version: tuple[int, int, int]
    channel: str  # "stable", "beta" or "nightly"
    commit_date: datetime.date | None

    def __str__(self) -> str:
        text = ".".join(map(str, self.version))
        return text if self.channel == "stable" else f"{text}-{self.channel} ({self.commit_date})"


def run_text(argv: list[str], env: Mapping[str, str] | None = None) -> str:
    """A command's standard output, or a ToolchainError naming the command and its error."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=60)
    except OSError as error:
        raise ToolchainError(f"`{' '.join(argv)}` could not run: {error}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ToolchainError(f"`{' '.join(argv)}` failed: {detail[-1] if detail else result.returncode}")
    return result.stdout.strip()


def find(program: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(program, path=env.get("PATH", os.defpath))


def emcc_version(emcc: str, env: Mapping[str, str]) -> str:
    """The Emscripten version of an emcc, as "X.Y.Z"."""
    # Emscripten keeps its version beside emcc (emsdk writes it quoted); reading it saves
    # starting emcc's Python, a tenth of a second on every build.
    version_file = Path(emcc).resolve().parent / "emscripten-version.txt"
    if version_file.is_file():
        return version_file.read_text(encoding="utf-8").strip().strip('"')
    return run_text([emcc, "-dumpversion"], env)


def parse_rustc_version(verbose: str) -> RustVersion:
    """Read `rustc -vV` output."""
    release = re.search(r"^release: (\d+)\.(\d+)\.(\d+)(?:-(\w+))?", verbose, re.MULTILINE)
    if not release:
        raise ToolchainError(f"cannot read the version from `rustc -vV`: {verbose!r}")
    date = re.search(r"^commit-date: (\d{4}-\d{2}-\d{2})", verbose, re.MULTILINE)
    return RustVersion(
        version=tuple(int(part) for part in release.group(1, 2, 3)),
        channel=release.group(4) or "stable",
        commit_date=datetime.date.fromisoformat(date.group(1)) if date else None,
    )


def nightly_date(pin: str) -> datetime.date | None:
    """The date of a nightly-YYYY-MM-DD pin, None for a stable pin."""
    if pin.startswith("nightly-"):
        return datetime.date.fromisoformat(pin.removeprefix("nightly-"))
    return None


def pinned_rust_version(pin: str) -> tuple[int, int, int]:
    """The version number a rust_toolchain pin stands for (a nightly counts as its train's version)."""
    date = nightly_date(pin)
    if date is None:
        return tuple(int(part) for part in pin.split("."))
    return (1, (date - RUST_1_0).days // 42 + 2, 0)


def rust_mismatch(found: RustVersion, pin: str) -> str | None:
    """Why `found` cannot build for a release pinned to `pin`, or None when it can."""
    date = nightly_date(pin)
    if date is None:
        # Pyodide asks for "this Rust or later" on the stable lines.
        if found.version < pinned_rust_version(pin):
            return f"rustc {found} is older than the pinned {pin}"
        return None
    # A nightly pin goes with a sysroot and flags made for that nightly; a nightly is dated the day
    # after its commit, so accept commits from the two days before the pinned date.
    if found.channel != "nightly" or found.commit_date is None:
        return f"rustc {found} is not a nightly, and this release needs {pin}"
    if found.commit_date > date:
        # Newer nightlies carry an LLVM whose options the pinned emcc does not know, and from
        # 2025-10-01 on they use wasm exception handling for this target.
        return (
            f"rustc {found} is newer than {pin}: expect `Unknown option '--enable-bulk-memory-opt'` "
            "from the pinned emcc, or an unwinding ABI that does not match"
        )
    if date - found.commit_date > datetime.timedelta(days=2):
        return f"rustc {found} is older than {pin}"
    return None


def matching_releases(releases: Mapping[str, Release], emscripten: str) -> list[str]:
    return [version for version, release in releases.items() if release.emscripten == emscripten]


def rust_sysroot(rustc: str, env: Mapping[str, str]) -> Path:
    return Path(run_text([rustc, "--print", "sysroot"], env))


ANSWER_KEYS = {"path", "-vV", "sysroot"}


def is_rustup_proxy(rustc: str) -> bool:
    """Whether `rustc` is rustup's proxy (a link to or copy of rustup, beside it), which picks a
    toolchain at every call from the environment, the folder and rustup's settings."""
    resolved = Path(rustc).resolve()
    return (
        resolved.name.startswith("rustup")
        or resolved.stat().st_nlink > 1
        or any((folder / "rustup").exists() for folder in (Path(rustc).parent, resolved.parent))
    )


def rustc_answers(rustc: str, env: Mapping[str, str]) -> tuple[RustVersion, Path]:
    """What `rustc -vV` and `rustc --print sysroot` say, asked once per rustc binary and then remembered
    in the cache under its path, size, mtime and inode (a build checks them every time; asking costs
    a tenth of a second). A rustup proxy answers for whichever toolchain it picks: it is asked every
    time."""
    if is_rustup_proxy(rustc):
        return parse_rustc_version(run_text([rustc, "-vV"], env)), rust_sysroot(rustc, env)
    resolved = Path(rustc).resolve()
    stat = resolved.stat()
    key = f"{resolved} {stat.st_size} {stat.st_mtime_ns} {stat.st_ino}"
    answers_file = RUSTC_ANSWERS.path
    answers = read_json(answers_file)
    answers = {
        known: entry  # of compilers still there, in the shape written below: the rest is dropped
        for known, entry in (answers.items() if isinstance(answers, dict) else ())
        if isinstance(entry, dict) and ANSWER_KEYS <= entry.keys() and Path(str(entry["path"])).exists()
    }
    if key not in answers:
        asked = {"path": str(resolved), "-vV": run_text([rustc, "-vV"], env)}
        asked["sysroot"] = str(rust_sysroot(rustc, env))
        answers[key] = asked
        write_json(answers_file, answers)
    return parse_rustc_version(str(answers[key]["-vV"])), Path(str(answers[key]["sysroot"]))


def has_target_std(sysroot: Path) -> bool:
    return (sysroot / "lib" / "rustlib" / TARGET / "lib").is_dir()


def rust_library(sysroot: Path) -> Path:
    """rust-src's copy of the standard library's workspace."""
    return sysroot / "lib" / "rustlib" / "src" / "rust" / "library"


def has_rust_src(sysroot: Path) -> bool:
    return (rust_library(sysroot) / "std").is_dir()


def em_cache_dir(release: Release) -> Path:
    """A writable Emscripten cache per version (a distro's default cache folder is often read-only)."""
    return EM_CACHE.path / release.emscripten


USE_MANAGED = "use the managed toolchain (drop `--toolchain system`)"
# The managed provider's record of the sysroot it installed, next to it in lib/rustlib.
SYSROOT_MARKER = f"{TARGET}.pyo3-pyodide.json"


def sysroot_from_pyodide(rustlib: Path, url: str) -> bool:
    """Whether the wasm std in `rustlib` is Pyodide's sysroot from `url`: installed by the managed provider
    (its SYSROOT_MARKER), or by pyodide-build (which records the URL beside it)."""
    ours = read_json(rustlib / SYSROOT_MARKER)
    if ours is not None and ours.get("url") == url:
        return True
    theirs = rustlib / f"{TARGET}_install-url.txt"
    return theirs.is_file() and theirs.read_text(encoding="utf-8").strip() == url


def emcc_check(
    emcc: str | None, release: Release, releases: Mapping[str, Release], env: Mapping[str, str]
) -> Check:
    fix = (
        f"put Emscripten {release.emscripten}'s emcc first on PATH (`source emsdk_env.sh`), or {USE_MANAGED}"
    )
    if not emcc:
        return Check("emcc", False, "not found on PATH", fix)
    try:
        found = emcc_version(emcc, env)
    except ToolchainError as error:
        return Check("emcc", False, str(error), fix)
    if found != release.emscripten:
        others = matching_releases(releases, found)
        also = f"; it matches Pyodide {', '.join(others)} (`--pyodide {others[0]}`)" if others else ""
        return Check(
            "emcc",
            False,
            f"{emcc} is Emscripten {found}, Pyodide {release.version} pins {release.emscripten} "
            f"(no stable ABI between versions){also}",
            fix,
        )
    return Check("emcc", True, f"{emcc} is Emscripten {found}, as pinned")


def std_check(rustc: str, sysroot: Path, release: Release) -> Check:
    """Whether `sysroot` has the wasm std the release needs, or rust-src to build one where it may."""
    sysroot_fix = f"{USE_MANAGED}: it installs Pyodide's sysroot"
    if has_target_std(sysroot):
        if not release.rust_sysroot_url:
            return Check("std", True, f"{TARGET} std installed in {sysroot}")
        if sysroot_from_pyodide(sysroot / "lib" / "rustlib", release.rust_sysroot_url):
            return Check("sysroot", True, f"Pyodide's wasm-eh sysroot is installed in {sysroot}")
        return Check(
            "sysroot",
            False,
            f"the {TARGET} std in {sysroot} is not Pyodide's wasm-eh sysroot: mixing unwinding ABIs ends in "
            "undefined __cpp_exception / invoke_* symbols",
            sysroot_fix,
        )
    if release.rust_sysroot_url:
        return Check(
            "sysroot",
            False,
            f"no {TARGET} std in {sysroot}: Pyodide {release.version} needs Pyodide's wasm-eh sysroot there "
            "(std built from rust-src would use the wrong unwinding ABI)",
            sysroot_fix,
        )
    if has_rust_src(sysroot):
        return Check(
            "std",
            True,
            f"no prebuilt {TARGET} std, but rust-src is there: wasm_build builds std with -Zbuild-std",
        )
    return Check(
        "std",
        False,
        f"{rustc} has no std for {TARGET} and no rust-src to build one ({sysroot})",
        f"`rustup target add {TARGET}`, or install rust-src (Debian: `apt install rust-src`)",
    )


def inspect(
    release: Release, releases: Mapping[str, Release], env: Mapping[str, str] | None = None
) -> tuple[list[Check], Toolchain | None]:
    """Every check of the compilers on PATH against `release`'s pins, and the toolchain they make when
    no blocker failed (None otherwise)."""
    env = dict(os.environ if env is None else env)
    emcc, cargo, rustc = (find(program, env) for program in ("emcc", "cargo", "rustc"))
    checks = [emcc_check(emcc, release, releases, env)]
    pin = release.rust_toolchain
    rust_fix = f"`rustup toolchain install {pin}` and put it first on PATH, or {USE_MANAGED}"
    if not cargo or not rustc:
        missing = " and ".join(name for name, path in (("rustc", rustc), ("cargo", cargo)) if not path)
        return [*checks, Check("rust", False, f"{missing} not found on PATH", rust_fix)], None
    try:
        found_rust, sysroot = rustc_answers(rustc, env)
    except ToolchainError as error:
        return [*checks, Check("rust", False, str(error), rust_fix)], None
    mismatch = rust_mismatch(found_rust, pin)
    checks.append(
        Check(
            "rust",
            not mismatch,
            f"{mismatch} ({rustc})" if mismatch else f"{rustc} is rustc {found_rust}, fits the pin {pin}",
            rust_fix,
        )
    )
    checks.append(std_check(rustc, sysroot, release))
    if any(not check.ok and check.blocker for check in checks):
        return checks, None
    build_std = not has_target_std(sysroot)
    extra_env = {
        # A distro's rustc asks for a self-contained linker it does not ship: name emcc explicitly.
        "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER": emcc,
        "EM_CACHE": str(em_cache_dir(release)),
    }
    if build_std and found_rust.channel != "nightly":
        extra_env["RUSTC_BOOTSTRAP"] = "1"  # -Zbuild-std is a nightly flag
    return checks, Toolchain(
        provider="system",
        release=release,
        env=extra_env,
        build_std=build_std,
        extra_rustflags=("-C", "link-self-contained=no"),
        std_vendor=rust_library(sysroot) / "vendor" if build_std else None,
    )


# The provider (toolchain.model.Provider)


def ensure(
    release: Release, releases: Mapping[str, Release], env: Mapping[str, str] | None = None
) -> Toolchain:
    """The compilers on PATH, checked against `release`'s pins; a ToolchainError names the first problem."""
    found, toolchain = inspect(release, releases, env)
    if toolchain is None:
        raise next(check for check in found if not check.ok and check.blocker).error()
    return toolchain


def plan(release: Release) -> Toolchain:
    return Toolchain(provider="system", release=release, env={"(checked at build time)": "..."})


def checks(release: Release, releases: Mapping[str, Release], environ: Mapping[str, str]) -> list[Check]:
    return inspect(release, releases, environ)[0]
