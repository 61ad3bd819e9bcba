"""The "managed" toolchain provider: exactly what the target release pins, in a per-user cache.

For one release of pyodide-matrix.toml it installs:
- Rust `rust_toolchain` through rustup (profile minimal) with rustup's wasm32-unknown-emscripten std;
  where the release names a `rust_sysroot_url` (Pyodide's wasm-eh sysroot), that prebuilt std instead,
  unpacked into the toolchain's lib/rustlib as pyodide-build does;
- emsdk (emsdk.py) at exactly the pinned Emscripten version, with Pyodide's patches to Emscripten: the
  `emsdk/patches/*.patch` of the release's cross-build environment (xbuildenv_url), applied in name
  order with `git apply` inside upstream/emscripten, as `pyodide xbuildenv install-emscripten` does.

What it keeps in the cache's areas (cache.py names them; `needed_paths` says which entries a release needs):
    emsdk/<emscripten>/                     emsdk with that Emscripten, when Pyodide patches nothing
    emsdk/<emscripten>-pyodide-<patch id>/  emsdk with Pyodide's patches (id: digest of the patches)
    xbuildenv/<sha256[:16]>/patches/        the patches of one cross-build environment tarball
    rust-sysroot/<url digest>.json          the sha256 recorded at the first download of a sysroot
                                            that has no pinned digest (see below)
    downloads/                              *.part: downloads in progress or interrupted
rustup keeps its toolchains in its own home (RUSTUP_HOME); the sysroot is unpacked there.

Every finished install writes a completion marker last, and checks it: an interrupted or damaged
install is resumed or redone, never used. A second run with everything present is local only.

Sysroot digests: Pyodide publishes no sha256 for its wasm-eh sysroot. When the matrix pins one
(rust_sysroot_sha256), it is checked. Otherwise the sha256 of the first complete download is recorded
in the cache and every later download must match it (trust on first use); the output says so.

Mirrors: PYO3_PYODIDE_GITHUB_MIRROR replaces https://github.com in the sysroot and cross-build
environment URLs; PYO3_PYODIDE_EMSDK_GIT is the emsdk git repository to clone; rustup reads
RUSTUP_DIST_SERVER itself. emsdk fetches Emscripten's binaries from its own server
(storage.googleapis.com), which no variable of emsdk redirects.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from pyo3_pyodide.cache import (
    CACHE_ENV,
    DOWNLOADS,
    EMSDK,
    RUST_SYSROOT,
    cache_dir,
    file_lock,
    read_json,
    toolchain_lock,
    write_json,
)
from pyo3_pyodide.console import console
from pyo3_pyodide.download import download, mirrored, pinned_elsewhere
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.toolchain import emsdk
from pyo3_pyodide.toolchain.model import TARGET, Check, Toolchain, ToolchainError
from pyo3_pyodide.toolchain.system import SYSROOT_MARKER
from pyo3_pyodide.toolchain.tarballs import unpack

INSTALL_RUSTUP = (
    "Install rustup from https://rustup.rs (or your package manager: `apt install rustup`, "
    "`brew install rustup`), make sure ~/.cargo/bin is on PATH, and run again"
)


def ensure_toolchain(release: Release) -> Toolchain:
    """Install what `release` pins where it is missing, and return the toolchain ready for builds."""
    started = time.monotonic()
    with file_lock(toolchain_lock()):
        _ensure_rust(release)
        if release.rust_sysroot_url:
            _ensure_rust_sysroot(release)
        emsdk_dir = emsdk.ensure_emsdk(release.emscripten, emsdk.pyodide_patches(release))
    console.print(
        f"Toolchain for Pyodide {release.version} ready ({time.monotonic() - started:.1f} s): "
        f"Rust {release.rust_toolchain}, emsdk {emsdk_dir}"
    )
    return Toolchain(provider="managed", release=release, env=toolchain_env(release, emsdk_dir))


def toolchain_env(release: Release, emsdk_dir: Path) -> dict[str, str]:
    """What a build sets to use this emsdk and Rust toolchain (emsdk_env.sh's variables)."""
    path = [emsdk_dir, emsdk_dir / "upstream" / "emscripten"]
    env = {
        "EMSDK": str(emsdk_dir),
        "EM_CONFIG": str(emsdk_dir / ".emscripten"),
        "RUSTUP_TOOLCHAIN": release.rust_toolchain,
    }
    node_dirs = sorted((emsdk_dir / "node").glob("*/bin"))
    if node_dirs:
        path.append(node_dirs[-1])
        env["EMSDK_NODE"] = str(node_dirs[-1] / "node")
    env["PATH"] = os.pathsep.join([*map(str, path), os.environ.get("PATH", "")])
    return env


# Rust, through rustup


def _rustup() -> str:
    rustup = shutil.which("rustup")
    if rustup is None:
        raise ToolchainError(
            "rustup is not on PATH: the managed toolchain installs Rust through rustup. "
            f"{INSTALL_RUSTUP}; or use the system provider with a Rust of your own."
        )
    return rustup


def _run_rustup(*args: str) -> str:
    """A rustup query. rustup installs the toolchain a rust-toolchain.toml in the current folder names as
    a side effect of queries such as `rustup toolchain list` (auto-install, on by default): never here."""
    env = {**os.environ, "RUSTUP_AUTO_INSTALL": "0"}
    result = subprocess.run([_rustup(), *args], capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise ToolchainError(f"`rustup {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def rust_status(toolchain: str) -> tuple[bool, bool]:
    """Whether rustup has `toolchain`, and whether it has rustup's wasm32-unknown-emscripten std."""
    # Installed names carry the host triple: "X.Y.Z-x86_64-unknown-linux-gnu (default)".
    names = [line.split()[0] for line in _run_rustup("toolchain", "list").splitlines() if line]
    if not any(name == toolchain or name.startswith(toolchain + "-") for name in names):
        return False, False
    targets = _run_rustup("target", "list", "--installed", "--toolchain", toolchain).split()
    return True, TARGET in targets


def _ensure_rust(release: Release) -> None:
    toolchain = release.rust_toolchain
    # With a sysroot, rustup's own std for the target would only be replaced: do not fetch it.
    needs_rustup_std = release.rust_sysroot_url is None
    has_toolchain, has_std = rust_status(toolchain)
    if not has_toolchain:
        command = ["toolchain", "install", toolchain, "--profile", "minimal"]
        command += ["--target", TARGET] if needs_rustup_std else []
    elif needs_rustup_std and not has_std:
        command = ["target", "add", TARGET, "--toolchain", toolchain]
    else:
        console.print(f"Rust {toolchain}: installed (rustup)")
        return
    console.print(f"Rust {toolchain}: $ rustup {' '.join(command)}")
    returncode, said = _run_rustup_shown(command)
    if returncode != 0:
        raise ToolchainError(_rustup_failure(command, said, toolchain))
    has_toolchain, has_std = rust_status(toolchain)
    if not has_toolchain or (needs_rustup_std and not has_std):
        raise ToolchainError(
            f"rustup reported success, but `rustup toolchain list` and `rustup target list "
            f"--installed --toolchain {toolchain}` still lack {toolchain} or its {TARGET}."
        )


def _run_rustup_shown(command: list[str]) -> tuple[int, list[str]]:
    """Run rustup with its messages shown as they come (a toolchain download takes a while), and kept."""
    said = []
    with subprocess.Popen(
        [_rustup(), *command], stderr=subprocess.PIPE, text=True, errors="replace"
    ) as process:
        for line in process.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            said.append(line.rstrip())
    return process.returncode, said


def _rustup_failure(command: list[str], said: list[str], toolchain: str) -> str:
    """What went wrong in rustup's words (its error and deepest cause), and the fix."""
    server = os.environ.get("RUSTUP_DIST_SERVER", "https://static.rust-lang.org")
    error = next((line.removeprefix("error:").strip() for line in said if line.startswith("error:")), "")
    causes = []
    if "Caused by:" in said:
        for line in said[said.index("Caused by:") + 1 :]:
            match = re.match(r"\s+\d+: (.*)", line)
            if not match:
                break
            causes.append(match.group(1))
    reason = (
        ": ".join(part for part in (error, causes[-1] if causes else "") if part) or "see its output above"
    )
    text = "\n".join(said)
    if re.search(r"status code: 404\b", text):
        fix = (
            f"{server} has no such file (HTTP 404): either no Rust {toolchain} exists (check "
            "rust_toolchain in pyodide-matrix.toml) or the mirror in RUSTUP_DIST_SERVER lacks it"
        )
    elif re.search(r"Connection refused|tcp connect error|dns error|timed out|error trying to connect", text):
        fix = (
            f"rustup could not reach {server}: check the network, or set RUSTUP_DIST_SERVER to a "
            "reachable mirror"
        )
    else:
        fix = f"rustup downloads from {server}: check the network, or set RUSTUP_DIST_SERVER to a mirror"
    return (
        f"`rustup {' '.join(command)}` failed ({reason}). {fix}, and run again; rustup installs a "
        "toolchain or target whole or not at all."
    )


# Pyodide's wasm-eh sysroot, unpacked into the toolchain's lib/rustlib


def _rustlib(toolchain: str) -> Path:
    rustc = Path(_run_rustup("which", "--toolchain", toolchain, "rustc").strip())
    return rustc.parents[1] / "lib" / "rustlib"


def _sysroot_record(url: str) -> Path:
    return RUST_SYSROOT.path / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".json")


def _expected_sysroot_digest(release: Release) -> tuple[str | None, str]:
    """The sha256 the sysroot must have, or None before its first download; and where it comes from."""
    if release.rust_sysroot_sha256:
        return release.rust_sysroot_sha256, "sha256 pinned in pyodide-matrix.toml"
    record = _sysroot_record(release.rust_sysroot_url)
    recorded = read_json(record)
    if recorded is not None:
        return recorded["sha256"], (
            f"upstream publishes no sha256; this one was recorded at the first download in {record}"
            ": delete that file to accept a new upload"
        )
    return None, f"upstream publishes no sha256; this first download's will be recorded in {record}"


def _files_and_sizes(folder: Path) -> dict[str, int]:
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _sysroot_ready(rustlib: Path, url: str, sha256: str | None) -> bool:
    installed = read_json(rustlib / SYSROOT_MARKER)
    if sha256 is None or installed is None:
        return False
    if (installed["url"], installed["sha256"]) != (url, sha256):
        return False
    # File sizes catch a rustup install over it, or files gone missing, at the cost of a few stats.
    target_dir = rustlib / TARGET
    return all(
        (target_dir / name).is_file() and (target_dir / name).stat().st_size == size
        for name, size in installed["files"].items()
    )


def _ensure_rust_sysroot(release: Release) -> None:
    url = release.rust_sysroot_url
    rustlib = _rustlib(release.rust_toolchain)
    sha256, origin = _expected_sysroot_digest(release)
    if _sysroot_ready(rustlib, url, sha256):
        console.print(f"Rust sysroot: installed in {rustlib / TARGET} ({origin})")
        return
    console.print(f"Rust sysroot: {url} -> {rustlib / TARGET} ({origin})")
    tarball = DOWNLOADS.path / url.rsplit("/", 1)[-1]
    staging = rustlib / f".{TARGET}.partial"
    try:
        what = "the Rust wasm-eh sysroot"
        elsewhere = pinned_elsewhere()
        digest = download(
            mirrored(url), tarball, what=what, sha256=sha256, sha256_origin=origin, elsewhere=elsewhere
        )
        shutil.rmtree(staging, ignore_errors=True)
        unpack(tarball, staging, source=url, top=TARGET)
        (rustlib / SYSROOT_MARKER).unlink(missing_ok=True)
        shutil.rmtree(rustlib / TARGET, ignore_errors=True)
        os.replace(staging / TARGET, rustlib / TARGET)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        tarball.unlink(missing_ok=True)
    if sha256 is None:
        write_json(_sysroot_record(url), {"url": url, "sha256": digest})
        console.print(
            f"Rust sysroot: upstream publishes no sha256; recorded this download's, {digest}, "
            "and later downloads must match it"
        )
    marker = {"url": url, "sha256": digest, "files": _files_and_sizes(rustlib / TARGET)}
    write_json(rustlib / SYSROOT_MARKER, marker)  # last: the install is complete


# Without installing: what is there, what would be installed, what the cache keeps


def planned_toolchain(release: Release) -> Toolchain:
    """The toolchain `ensure_toolchain` would return, without installing or checking anything."""
    emsdk_dir = emsdk.planned_emsdk_dir(release, emsdk.known_patches(release))
    return Toolchain(provider="managed", release=release, env=toolchain_env(release, emsdk_dir))


def installed_toolchain(release: Release) -> Toolchain | None:
    """The managed toolchain for `release` if every part is installed (local checks), else None."""
    return planned_toolchain(release) if all(check.ok for check in checks(release)) else None


# The provider (toolchain.model.Provider)


def ensure(release: Release, releases: Mapping[str, Release] | None = None) -> Toolchain:
    return ensure_toolchain(release)


def plan(release: Release) -> Toolchain:
    return planned_toolchain(release)


def checks(
    release: Release, releases: Mapping[str, Release] | None = None, environ: Mapping[str, str] | None = None
) -> list[Check]:
    """What `ensure_toolchain` looks for before it installs: each part there, or not yet (a warning: a build
    installs it); rustup missing stops a build."""
    pin = release.rust_toolchain
    fix = "`nox -s toolchain` (a build installs it too)"

    def part(name: str, ready: bool, what: str) -> Check:
        return Check(
            name, ready, f"{what}: {'installed' if ready else 'not installed yet'}", fix, blocker=False
        )

    try:
        has_toolchain, has_std = rust_status(pin)
        found = [part("rust", has_toolchain, f"Rust {pin} from rustup")]
        if release.rust_sysroot_url:
            sha256, _ = _expected_sysroot_digest(release)
            ready = has_toolchain and _sysroot_ready(_rustlib(pin), release.rust_sysroot_url, sha256)
            found.append(part("sysroot", ready, f"Pyodide's wasm-eh sysroot for {TARGET}"))
        else:
            found.append(part("std", has_std, f"{TARGET} std from rustup"))
    except ToolchainError as error:  # no rustup
        found = [Check("rustup", False, str(error))]
    patches = emsdk.known_patches(release)
    ready = patches is not None and emsdk.emsdk_ready(
        emsdk.emsdk_dir_for(release.emscripten, patches), release.emscripten, patches
    )
    return [*found, part("emsdk", ready, f"emsdk {release.emscripten} with Pyodide's patches")]


def describe_plan(release: Release) -> list[str]:
    """What `ensure_toolchain(release)` would install and where, and what is there already."""
    lines = [f"cache: {cache_dir()} (set {CACHE_ENV} to move it)"]
    std = "from rustup" if release.rust_sysroot_url is None else "from Pyodide's sysroot (below)"
    try:
        has_toolchain, has_std = rust_status(release.rust_toolchain)
        ready = has_toolchain and (has_std or release.rust_sysroot_url)
        state = "installed" if ready else "to install"
    except ToolchainError as error:
        state = f"cannot tell: {error}"
    lines.append(f"Rust {release.rust_toolchain} via rustup, {TARGET} std {std}: {state}")
    if release.rust_sysroot_url:
        sha256, origin = _expected_sysroot_digest(release)
        lines.append(
            f"Rust sysroot: {mirrored(release.rust_sysroot_url)} -> "
            f"<toolchain>/lib/rustlib/{TARGET}; sha256 {sha256 or 'unknown'} ({origin})"
        )
    patches = emsdk.known_patches(release)
    if release.xbuildenv_url:
        if patches is None:
            state = "to download"
        else:
            state = "cached: " + (", ".join(patch.name for patch in patches) or "no patches")
        lines.append(
            f"Pyodide's Emscripten patches: from {mirrored(release.xbuildenv_url)} (sha256 "
            f"{release.xbuildenv_sha256}) -> {emsdk.xbuildenv_dir(release)}: {state}"
        )
    emsdk_dir = emsdk.planned_emsdk_dir(release, patches)
    if patches is not None and emsdk.emsdk_ready(emsdk_dir, release.emscripten, patches):
        state = "installed"
    else:
        state = "unfinished: resumes" if emsdk_dir.exists() else "to install"
    # template/partials/pyodide_job.yml.jinja reads this line for the emsdk cache key: keep " -> <emsdk dir>, "
    # (tests/test_workflow.py runs it).
    lines.append(
        f"emsdk {release.emscripten}: git clone {os.environ.get(emsdk.EMSDK_GIT_ENV) or emsdk.EMSDK_GIT_DEFAULT}"
        f" -> {emsdk_dir}, `emsdk install {release.emscripten}` (over 1 GiB from "
        f"storage.googleapis.com), Pyodide's patches, `emsdk activate`: {state}"
    )
    return lines


def needed_paths(release: Release) -> set[Path]:
    """What `release`'s managed toolchain keeps in the cache (for `cache.prune`): its emsdk (every emsdk of
    its Emscripten while its patches are unknown), its patches, its sysroot's recorded digest."""
    patches = emsdk.known_patches(release)
    needed = {emsdk.planned_emsdk_dir(release, patches)}
    if patches is None:
        needed.add(emsdk.emsdk_dir_for(release.emscripten, []))
        needed.update(EMSDK.path.glob(f"{release.emscripten}-pyodide-*"))
    if release.xbuildenv_url:
        needed.add(emsdk.xbuildenv_dir(release))
    if release.rust_sysroot_url and not release.rust_sysroot_sha256:
        needed.add(_sysroot_record(release.rust_sysroot_url))
    return needed
