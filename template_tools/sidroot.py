"""A Debian sid build root: the real wasm toolchain that the template's wasm tests build with.

rustup's targets and emsdk cannot be downloaded on the machines this template is tested on, but Debian sid
packages a toolchain that matches a Pyodide release exactly (emscripten, rustc, cargo, rust-src, python3.15).
`ensure_root()` debootstraps sid into ROOT_DIR once, installs that toolchain and a venv with maturin and nox,
and writes a completion marker last; later calls only check the marker. `run()` runs one command inside it.

Everything here needs root (debootstrap, chroot, mount). Each `run()` gets mount and PID namespaces of its
own (`unshare`): /proc, /dev, the host's resolv.conf and the bound folder are mounted there, and the mounts
and every process the command started end with it, however it ends. Nothing is ever mounted on the host,
so concurrent calls cannot disturb each other. The bound host folder appears at the same path inside the root, so paths in
commands and in error messages read the same on both sides.

To rebuild the root from scratch (e.g. to follow sid), delete ROOT_DIR; `python -m template_tools.sidroot`
makes it again and prints its toolchain versions.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent.parent / "engine"
ROOT_DIR = Path(os.environ.get("PYO3_PYODIDE_SIDROOT", "/var/cache/pyo3-pyodide-template/sid-root"))

MIRROR = "http://deb.debian.org/debian"  # debootstrap's default mirror, named here to check it is reachable
DEBIAN_PACKAGES = (
    "emscripten",  # brings clang, lld, binaryen and nodejs
    "rustc",
    "cargo",
    "rust-src",  # Debian ships no prebuilt std for wasm32-unknown-emscripten: -Zbuild-std compiles it
    "python3.15",
    "python3.15-venv",
    "nodejs",
    "git",
)
VENV_DIR = "/opt/venv"
VENV_PACKAGES = (
    "nox>=2026.10.20",
    "maturin>=1.16.0",
    "requests>=2.34.2",
    "rich>=15.0.0",
    "platformdirs>=4.14.8",
    "packaging>=26.4",
    "pytest>=9.2.0",
)
# What a root is made of; a root whose marker records another recipe is rebuilt.
RECIPE = {"suite": "sid", "debian": list(DEBIAN_PACKAGES), "venv": list(VENV_PACKAGES)}

# Written into the root when the folder is created, so a partial root is recognised as ours and may be wiped.
OWNER_STAMP = ".pyo3-pyodide-sidroot-owner"
# Written into the root LAST: its presence, with the current recipe, means the root is complete.
COMPLETE_MARKER = ".pyo3-pyodide-sidroot-complete.json"

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_BUNDLE_IN_ROOT = "etc/ssl/certs/ca-certificates.crt"
EM_CACHE = "/var/cache/emscripten"  # emscripten's libc build cache: kept between runs
CARGO_HOME = "/var/cache/cargo"  # crates.io index and downloaded crates: kept between runs
BASE_ENV = {
    "HOME": "/root",
    "PATH": f"{VENV_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "EM_CACHE": EM_CACHE,
    "CARGO_HOME": CARGO_HOME,
    "DEBIAN_FRONTEND": "noninteractive",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
    # pip, cargo and node read these; the root's bundle is the host's (see _copy_host_ca_bundle)
    "SSL_CERT_FILE": "/" + CA_BUNDLE_IN_ROOT,
    "PIP_CERT": "/" + CA_BUNDLE_IN_ROOT,
}
# Host variables passed into the root: a proxy the machine needs applies inside as well.
PASSED_THROUGH = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"  # debootstrap and chroot live there; a user's PATH may lack it


class SidRootError(Exception):
    """The sid root cannot be made or used; the message says why and what to run."""


def is_ready(root: Path) -> bool:
    """Whether `root` is a complete root made with the current recipe (its marker says so)."""
    try:
        marker = json.loads((Path(root) / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("recipe") == RECIPE


def ensure_root(progress: Callable[[str], object] = print) -> Path:
    """Make the sid root at ROOT_DIR unless it is complete already; returns its path.

    An incomplete root (interrupted, or made with another recipe) is wiped and made again. The first time
    takes a minute or two and 2.3 GB; once the root is complete, well under a millisecond.
    """
    root = ROOT_DIR
    if is_ready(root):
        return root
    _check_host()
    root.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(root.parent, os.O_RDONLY)  # the parent folder itself is the lock: no lock file to leave
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be making the root right now: wait for it
        if is_ready(root):
            return root
        started = time.monotonic()
        _wipe(root, progress)
        try:
            _make(root, progress)
        except SidRootError as error:
            raise SidRootError(f"{error}\nThe root {root} is incomplete; running again remakes it.") from None
        progress(f"sid root ready in {time.monotonic() - started:.0f} s: {root}")
    finally:
        os.close(lock)  # closing releases the lock
    return root


def emcc_version(root: Path) -> str:
    """The Emscripten version installed in the root, as "X.Y.Z"."""
    return _output(root, ["emcc", "-dumpversion"]).strip()


def rustc_version(root: Path) -> str:
    """The rustc version installed in the root, as "X.Y.Z"."""
    text = _output(root, ["rustc", "--version"])
    match = re.match(r"rustc (\S+)", text)
    if not match:
        raise SidRootError(f"`rustc --version` in {root} printed {text!r}; expected 'rustc X.Y.Z ...'")
    return match.group(1)


def run(
    root: Path,
    argv: list[str],
    *,
    cwd: str,
    env: dict[str, str] | None = None,
    bind: Path | None = None,
    timeout: float = 3600,
) -> subprocess.CompletedProcess:
    """Run `argv` inside the root as root, in `cwd` (a path inside the root); output is captured as text.

    The environment is BASE_ENV (venv first on PATH, EM_CACHE and CARGO_HOME kept in the root), the host's
    proxy variables, then `env`; nothing else leaks in from the host (a host RUSTFLAGS would change builds).
    `bind`, a host folder, is mounted read-write at the same path inside the root for the call.
    On timeout everything the command started is killed and subprocess.TimeoutExpired is raised.
    """
    root = Path(root)
    _check_root_user()
    if not (root / "usr/bin/env").exists():
        raise SidRootError(
            f"{root} holds no Debian root; make it first with `python3 -m template_tools.sidroot`."
        )
    script = [
        f"mount -t proc proc {_quoted(root / 'proc')}",
        f"mount --rbind /dev {_quoted(root / 'dev')}",
    ]
    resolv_conf = root / "etc/resolv.conf"
    if Path("/etc/resolv.conf").exists() and resolv_conf.is_file() and not resolv_conf.is_symlink():
        script.append(f"mount --bind /etc/resolv.conf {_quoted(resolv_conf)}")  # follow the host's network
    if bind is not None:
        bind = Path(bind).resolve()
        script.append(f"mount --bind {_quoted(bind)} {_quoted(_mount_point(root, bind))}")
    # Projects rendered from this checkout install their engine from its engine/ folder (a file:// URL).
    script.append(f"mount --bind {_quoted(ENGINE_DIR)} {_quoted(_mount_point(root, ENGINE_DIR))}")
    # `env --chdir` inside the root: chroot itself cannot change directory. Not exec'd: the shell stays the
    # namespace's PID 1, so the command gets ordinary signal handling.
    script.append(f'chroot {_quoted(root)} /usr/bin/env --chdir={shlex.quote(cwd)} -- "$@"')
    full_env = dict(BASE_ENV)
    full_env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    full_env.update(env or {})
    command = _namespaced(["sh", "-ec", "\n".join(script), "sh", *argv])
    process = subprocess.Popen(
        command,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:  # a timeout, Ctrl-C: killing unshare ends everything in its namespaces
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _make(root: Path, progress: Callable[[str], object]) -> None:
    root.mkdir(parents=True)
    (root / OWNER_STAMP).write_text("made by template_tools/sidroot.py; deleting this folder is safe\n")
    _check_mirror()

    progress(f"sid root: debootstrap sid into {root} (under a minute)")
    debootstrap = [_host_tool("debootstrap"), "--variant=minbase", "--include=ca-certificates", "sid"]
    # In namespaces of its own: the /proc and /sys that debootstrap mounts in the root vanish with it.
    _host_checked(_namespaced([*debootstrap, str(root)]), "debootstrap")
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf", follow_symlinks=True)
    _copy_host_ca_bundle(root)

    progress(f"sid root: apt-get install {' '.join(DEBIAN_PACKAGES)} (a minute or so)")
    # The mirror's sid Release file may be past its Valid-Until date.
    _checked(root, ["apt-get", "-o", "Acquire::Check-Valid-Until=false", "update"], timeout=900)
    apt_install = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
    _checked(root, apt_install, timeout=3600)
    _checked(root, ["apt-get", "clean"])
    # Package scripts (update-ca-certificates) rewrite the bundle: copy the host's once more, last.
    _copy_host_ca_bundle(root)

    progress(f"sid root: venv {VENV_DIR} with {' '.join(VENV_PACKAGES)}")
    _checked(root, ["python3.15", "-m", "venv", VENV_DIR])
    _checked(root, [f"{VENV_DIR}/bin/python", "-m", "pip", "install", "--no-input", *VENV_PACKAGES])
    for folder in (EM_CACHE, CARGO_HOME):
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)

    marker = {
        "recipe": RECIPE,
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "emcc": emcc_version(root),
        "rustc": rustc_version(root),
        "debian": _installed_debian_versions(root),
        "venv": _output(root, [f"{VENV_DIR}/bin/python", "-m", "pip", "freeze"]).split(),
    }
    text = json.dumps(marker, indent=2) + "\n"
    (root / f"{COMPLETE_MARKER}.tmp").write_text(text, encoding="utf-8")
    os.replace(root / f"{COMPLETE_MARKER}.tmp", root / COMPLETE_MARKER)  # last, and all at once


def _wipe(root: Path, progress: Callable[[str], object]) -> None:
    """Remove an incomplete root, after checking it is ours and that nothing is mounted in it."""
    if not root.exists():
        return
    if any(root.iterdir()) and not (root / OWNER_STAMP).exists():
        raise SidRootError(
            f"{root} exists but was not made by template_tools/sidroot.py (no {OWNER_STAMP} in it), "
            "so it is left alone. Remove it yourself, or point PYO3_PYODIDE_SIDROOT at another folder."
        )
    mounted = _mounts_under(root)
    for mount_point in sorted(mounted, reverse=True):  # innermost first
        subprocess.run(["umount", "--lazy", mount_point], check=False, capture_output=True)
    if _mounts_under(root):
        raise SidRootError(
            f"{root} is incomplete and must be remade, but these are still mounted in it: "
            f"{', '.join(_mounts_under(root))}. Unmount them (`umount -R PATH`) and run again."
        )
    progress(f"sid root: removing the incomplete root {root}")
    shutil.rmtree(root)


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or under `root` in this mount namespace (an interrupted debootstrap leaves some)."""
    prefix = str(root.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # The kernel writes spaces and the like as octal escapes (\040).
        mount_point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), line.split()[4])
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(mount_point)
    return found


def _check_root_user() -> None:
    if os.geteuid() != 0:
        raise SidRootError(
            "Making and using the Debian sid root needs root (debootstrap, chroot, mount); this process "
            f"runs as uid {os.geteuid()}. Run it as root, e.g. `sudo python3 -m template_tools.sidroot`."
        )


def _check_host() -> None:
    _check_root_user()
    for tool, package in (("debootstrap", "debootstrap"), ("unshare", "util-linux"), ("chroot", "coreutils")):
        _host_tool(tool, package)


def _check_mirror() -> None:
    url = f"{MIRROR}/dists/sid/Release"
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30).close()
    except (urllib.error.URLError, OSError) as error:
        raise SidRootError(
            f"The Debian archive is unreachable: HEAD {url} failed ({error}). debootstrap needs it to make "
            "the sid root; check this machine's network or proxy (http_proxy), then run again."
        ) from None


def _host_tool(name: str, package: str | None = None) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN_PATH)
    if path is None:
        raise SidRootError(
            f"`{name}` was not found on this machine (looked in PATH and {SBIN_PATH}); "
            f"the sid root needs it. Install it with `apt-get install {package or name}`."
        )
    return path


def _copy_host_ca_bundle(root: Path) -> None:
    # HTTPS inside the root (pip, cargo) fails with CERTIFICATE_VERIFY_FAILED on machines whose network adds
    # its own certificate authority; the host's bundle has it.
    if HOST_CA_BUNDLE.exists():
        shutil.copyfile(HOST_CA_BUNDLE, root / CA_BUNDLE_IN_ROOT)


def _installed_debian_versions(root: Path) -> dict[str, str]:
    query = ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *DEBIAN_PACKAGES]
    return dict(line.split(" ", 1) for line in _output(root, query).splitlines())


def _namespaced(argv: list[str]) -> list[str]:
    """`argv` in new mount and PID namespaces: its mounts and every process it starts end with it.

    --kill-child: when unshare itself is killed (a timeout), the kernel kills all the rest.
    """
    return [
        _host_tool("unshare"),
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
        *argv,
    ]


def _mount_point(root: Path, bind: Path) -> Path:
    """Where `bind` appears inside the root (the same path); created empty, never over the root's files."""
    if not bind.is_dir():
        raise SidRootError(f"Cannot bind {bind} into the sid root: it is not a folder on this machine.")
    inside = root / bind.relative_to("/")
    if inside.exists() and (not inside.is_dir() or any(inside.iterdir())):
        raise SidRootError(
            f"Cannot bind {bind} into the sid root: {inside} is part of the root itself. "
            "Bind a folder whose path the root does not use (e.g. one under /tmp or /work)."
        )
    inside.mkdir(parents=True, exist_ok=True)
    return inside


def _quoted(path: Path) -> str:
    return shlex.quote(str(path))


def _checked(root: Path, argv: list[str], timeout: float = 1800) -> subprocess.CompletedProcess:
    result = run(root, argv, cwd="/", timeout=timeout)
    if result.returncode != 0:
        raise SidRootError(_failure(f"`{shlex.join(argv)}` in the sid root {root}", result))
    return result


def _host_checked(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
    if result.returncode != 0:
        raise SidRootError(_failure(what, result))


def _output(root: Path, argv: list[str]) -> str:
    return _checked(root, argv, timeout=300).stdout


def _failure(what: str, result: subprocess.CompletedProcess) -> str:
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
    return f"{what} failed with exit code {result.returncode}:\n{tail}"


def summary(root: Path) -> str:
    """One line: where the root is and the toolchain it holds."""
    return f"Debian sid root {root}: emcc {emcc_version(root)}, rustc {rustc_version(root)}"


def main() -> None:
    """Make the root if needed, then print its summary line."""
    try:
        print(summary(ensure_root()))
    except SidRootError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
