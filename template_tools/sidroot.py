"""A Debian sid build root: the real wasm toolchain that the template's wasm tests build with.

rustup's targets and emsdk cannot be downloaded on the machines this template is tested on, but Debian
packages a toolchain that matches a Pyodide release exactly (emscripten, rustc, cargo, rust-src, pythonX.Y).
Debian moves, so the suite is chosen, not assumed: `choose_suite()` reads each candidate suite's package index
on the mirror (sid first, then testing) and takes the first whose `emscripten` is the Emscripten of a release
in the matrix, before anything is installed. When none is, making the root fails and says what each suite has
and what each release needs, unless PYO3_PYODIDE_ACCEPT_NO_WASM_BUILD=1 says this machine is known to lack it
(then the root is made from the first suite, and the real wasm builds are skipped, in so many words).
`ensure_root()` debootstraps the chosen suite into ROOT_DIR once, installs that toolchain and a venv with
maturin and nox, and writes a completion marker last, recording the suite and the versions it holds; later
calls only check the marker. `run()` runs one command inside it.

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
import gzip
import json
import lzma
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent.parent / "engine"
ROOT_DIR = Path(os.environ.get("PYO3_PYODIDE_SIDROOT", "/var/cache/pyo3-pyodide-template/sid-root"))

# The Debian archive debootstrap and apt use, and whose package indexes choose the suite.
MIRROR = os.environ.get("PYO3_PYODIDE_DEBIAN_MIRROR", "http://deb.debian.org/debian").rstrip("/")
SUITES = ("sid", "testing")  # tried in this order
# Set to 1 on a machine known to have no Debian suite with a matrix release's Emscripten: the root is then made
# anyway and the tests that need a real wasm build skip, saying so, instead of failing.
ACCEPT_NO_WASM_BUILD = "PYO3_PYODIDE_ACCEPT_NO_WASM_BUILD"
DEBIAN_PACKAGES = (
    "emscripten",  # brings clang, lld, binaryen and nodejs
    "rustc",
    "cargo",
    "rust-src",  # Debian ships no prebuilt std for wasm32-unknown-emscripten: -Zbuild-std compiles it
    "nodejs",
    "git",
)  # and pythonX.Y, pythonX.Y-venv for the Python of the releases the suite's emscripten fits
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
RECIPE = {"suites": list(SUITES), "debian": list(DEBIAN_PACKAGES), "venv": list(VENV_PACKAGES)}

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


def no_wasm_build_accepted() -> bool:
    """Whether ACCEPT_NO_WASM_BUILD is set (to anything but empty or 0)."""
    return os.environ.get(ACCEPT_NO_WASM_BUILD, "") not in ("", "0")


@dataclass(frozen=True)
class Suite:
    """What one suite of the mirror offers: its codename and each package's Debian version."""

    name: str
    codename: str
    versions: dict[str, str]

    def upstream(self, package: str) -> str | None:
        """The upstream part of the package's version ("X.Y.Z" for "X.Y.Z+dfsg-2"); None when absent."""
        return upstream_version(self.versions[package]) if package in self.versions else None


@dataclass(frozen=True)
class SuiteChoice:
    """The suite a root is made from, and why: the releases whose Emscripten it has (none when accepted)."""

    suite: Suite
    releases: tuple[str, ...]
    pythons: tuple[str, ...]  # "3.15" for python3.15; "3" (Debian's default python3) when no release fits
    found: tuple[str, ...] = field(default=())  # one line per suite looked at, this one last

    @property
    def emscripten(self) -> str:
        return self.suite.upstream("emscripten") or "none"

    @property
    def python_command(self) -> str:
        return f"python{self.pythons[0]}"

    @property
    def packages(self) -> tuple[str, ...]:
        return (
            *DEBIAN_PACKAGES,
            *(name for py in self.pythons for name in (f"python{py}", f"python{py}-venv")),
        )

    def describe(self) -> str:
        versions = ", ".join(
            f"{package} {self.suite.upstream(package)}"
            for package in ("emscripten", "rustc", self.python_command)
        )
        fits = (
            f"Pyodide {', '.join(self.releases)}"
            if self.releases
            else (f"no Pyodide release of the matrix (accepted: {ACCEPT_NO_WASM_BUILD}=1)")
        )
        return f"Debian {self.suite.name} ({self.suite.codename}): {versions}; its emscripten fits {fits}"


def upstream_version(debian_version: str) -> str:
    """A Debian version's upstream part: no epoch, no revision, no +dfsg or ~rc suffix."""
    match = re.match(r"(?:\d+:)?(\d+(?:\.\d+)*)", debian_version)
    return match.group(1) if match else debian_version


def debian_architecture() -> str:
    """This machine's Debian architecture name (amd64, arm64, ...)."""
    dpkg = shutil.which("dpkg")
    if dpkg:
        result = subprocess.run([dpkg, "--print-architecture"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "armv7l": "armhf"}.get(machine, machine)


def _wanted(package: str) -> bool:
    return package in DEBIAN_PACKAGES or re.fullmatch(r"python3(\.\d+)?(-venv)?", package) is not None


def read_suite(name: str, mirror: str | None = None, arch: str | None = None) -> Suite:
    """Read `name`'s Release file and main package index from the mirror (about 11 MB for sid)."""
    mirror = (mirror or MIRROR).rstrip("/")
    arch = arch or debian_architecture()
    release = _download(f"{mirror}/dists/{name}/Release").decode("utf-8", "replace")
    codename = re.search(r"^Codename: *(\S+)", release, re.MULTILINE)
    errors = []
    for suffix, decompress in ((".xz", lzma.decompress), (".gz", gzip.decompress), ("", bytes)):
        url = f"{mirror}/dists/{name}/main/binary-{arch}/Packages{suffix}"
        try:
            index = decompress(_download(url))
        except (SidRootError, lzma.LZMAError, OSError, EOFError) as error:
            errors.append(str(error))
            continue
        versions = {}
        for stanza in index.decode("utf-8", "replace").split("\n\n"):
            package = re.match(r"Package: *(\S+)", stanza)
            version = re.search(r"^Version: *(\S+)", stanza, re.MULTILINE)
            if package and version and _wanted(package.group(1)):
                versions.setdefault(package.group(1), version.group(1))
        return Suite(name, codename.group(1) if codename else name, versions)
    raise SidRootError(f"No package index of Debian {name} for {arch} could be read: {'; '.join(errors)}")


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise SidRootError(f"GET {url} failed ({error})") from None


def choose_suite(
    releases: Iterable,
    *,
    mirror: str | None = None,
    suites: Iterable[str] = SUITES,
    arch: str | None = None,
) -> SuiteChoice:
    """The first suite whose emscripten is the Emscripten of one of `releases` (matrix releases: each with
    .version, .emscripten, .python) and that has the rest of the toolchain and that release's Python.

    Checked on the mirror's package index, before anything is installed. When no suite fits: SidRootError
    naming what each suite has, what each release needs and the fix, unless no_wasm_build_accepted(); then
    the first suite that has the toolchain at all, fitting no release.
    """
    releases = list(releases)
    found: list[str] = []
    fallback: Suite | None = None
    for name in suites:
        try:
            suite = read_suite(name, mirror, arch)
        except SidRootError as error:
            found.append(f"{name}: unreadable: {error}")
            continue
        emscripten = suite.upstream("emscripten")
        if emscripten is None:
            found.append(f"{name} ({suite.codename}): no emscripten package")
            continue
        fitting = [release for release in releases if release.emscripten == emscripten]
        pythons = tuple(dict.fromkeys(release.python for release in fitting))
        lacking = [
            package
            for package in SuiteChoice(suite, (), pythons or ("3",)).packages
            if package not in suite.versions
        ]
        line = f"{name} ({suite.codename}): emscripten {emscripten} (Debian {suite.versions['emscripten']})"
        if fitting:
            line += f", the Emscripten of Pyodide {', '.join(release.version for release in fitting)}"
        if lacking:
            line += f", but no {', '.join(lacking)}"
        found.append(line)
        if fitting and not lacking:
            return SuiteChoice(suite, tuple(release.version for release in fitting), pythons, tuple(found))
        if fallback is None and not [package for package in DEBIAN_PACKAGES if package not in suite.versions]:
            fallback = suite
    if no_wasm_build_accepted() and fallback is not None:
        return SuiteChoice(fallback, (), ("3",), tuple(found))
    needs = "; ".join(
        f"Pyodide {release.version}: emscripten {release.emscripten} and python{release.python}"
        for release in releases
    )
    raise SidRootError(
        "No Debian suite has the Emscripten of a Pyodide release in the matrix, so the real wasm builds "
        f"cannot be made.\nFound on {mirror or MIRROR}:\n  "
        + "\n  ".join(found)
        + f"\nThe matrix needs one of: {needs}."
        "\nFix: add a release whose Emscripten Debian has to the matrix (`inv matrix.update`), or point "
        "PYO3_PYODIDE_DEBIAN_MIRROR at a mirror or snapshot (e.g. snapshot.debian.org) that has a fitting "
        f"emscripten; on a machine known to lack one, set {ACCEPT_NO_WASM_BUILD}=1 to make the root anyway "
        "and skip the real wasm builds."
    )


def read_marker(root: Path) -> dict | None:
    """The root's completion marker, or None when there is none (or it is unreadable)."""
    try:
        marker = json.loads((Path(root) / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_ready(root: Path) -> bool:
    """Whether `root` is a complete root made with the current recipe (its marker says so)."""
    marker = read_marker(root)
    return marker is not None and marker.get("recipe") == RECIPE


def matrix_releases() -> list:
    """The releases of the template's matrix (imported here: the rest of this module is stdlib only)."""
    from template_tools import matrix

    return list(matrix.load().releases.values())


def ensure_root(progress: Callable[[str], object] = print, releases: Iterable | None = None) -> Path:
    """Make the sid root at ROOT_DIR unless it is complete already; returns its path.

    The suite is chosen with choose_suite() against `releases` (default: the matrix's). An incomplete root
    (interrupted, or made with another recipe) is wiped and made again. The first time takes a minute or
    two and 2.3 GB; once the root is complete, well under a millisecond.
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
        choice = choose_suite(matrix_releases() if releases is None else releases)
        for line in choice.found:
            progress(f"sid root: on {MIRROR}, {line}")
        progress(f"sid root: chosen {choice.describe()}")
        _wipe(root, progress)
        try:
            _make(root, choice, progress)
        except SidRootError as error:
            raise SidRootError(f"{error}\nThe root {root} is incomplete; running again remakes it.") from None
        progress(f"sid root ready in {time.monotonic() - started:.0f} s: {summary(root)}")
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


def _make(root: Path, choice: SuiteChoice, progress: Callable[[str], object]) -> None:
    root.mkdir(parents=True)
    (root / OWNER_STAMP).write_text("made by template_tools/sidroot.py; deleting this folder is safe\n")
    suite = choice.suite.name

    progress(f"sid root: debootstrap {suite} into {root} (under a minute)")
    debootstrap = [_host_tool("debootstrap"), "--variant=minbase", "--include=ca-certificates", suite]
    # In namespaces of its own: the /proc and /sys that debootstrap mounts in the root vanish with it.
    _host_checked(_namespaced([*debootstrap, str(root), MIRROR]), "debootstrap")
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf", follow_symlinks=True)
    _copy_host_ca_bundle(root)

    progress(f"sid root: apt-get install {' '.join(choice.packages)} (a minute or so)")
    # The mirror's sid Release file may be past its Valid-Until date.
    _checked(root, ["apt-get", "-o", "Acquire::Check-Valid-Until=false", "update"], timeout=900)
    apt_install = ["apt-get", "install", "-y", "--no-install-recommends", *choice.packages]
    _checked(root, apt_install, timeout=3600)
    _checked(root, ["apt-get", "clean"])
    # Package scripts (update-ca-certificates) rewrite the bundle: copy the host's once more, last.
    _copy_host_ca_bundle(root)
    emscripten = emcc_version(root)
    if emscripten != choice.emscripten:  # the suite moved between reading its index and installing
        raise SidRootError(
            f"Debian {suite}'s index offered emscripten {choice.emscripten}, but {emscripten} was installed."
        )

    progress(f"sid root: venv {VENV_DIR} with {' '.join(VENV_PACKAGES)}")
    _checked(root, [choice.python_command, "-m", "venv", VENV_DIR])
    _checked(root, [f"{VENV_DIR}/bin/python", "-m", "pip", "install", "--no-input", *VENV_PACKAGES])
    for folder in (EM_CACHE, CARGO_HOME):
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)

    python = _output(root, [choice.python_command, "-c", "import platform; print(platform.python_version())"])
    marker = {
        "recipe": RECIPE,
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "mirror": MIRROR,
        "suite": suite,
        "codename": choice.suite.codename,
        "releases": list(choice.releases),  # the matrix releases whose Emscripten this is; [] when accepted
        "emscripten": emscripten,
        "rustc": rustc_version(root),
        "python": python.strip(),
        "python_command": choice.python_command,
        "found": list(choice.found),
        "debian": _installed_debian_versions(root, choice.packages),
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


def _installed_debian_versions(root: Path, packages: Iterable[str]) -> dict[str, str]:
    query = ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *packages]
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
    """One line from the root's marker: where it is, its suite and the toolchain it holds."""
    marker = read_marker(root) or {}
    if marker.get("recipe") != RECIPE:
        return f"no complete Debian root at {root}"
    releases = marker.get("releases") or []
    fits = f"Pyodide {', '.join(releases)}" if releases else "no Pyodide release of the matrix"
    return (
        f"Debian {marker.get('suite')} root {root}: emscripten {marker.get('emscripten')}, "
        f"rustc {marker.get('rustc')}, python {marker.get('python')}; real wasm builds for {fits}"
    )


def main() -> None:
    """Make the root if needed, then print its summary line."""
    try:
        print(summary(ensure_root()))
    except SidRootError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
