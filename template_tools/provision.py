"""What `nox -s tests` needs on this machine, checked, and installed where it can be.

The root noxfile's `tests` session runs `python -m template_tools.provision` before pytest. One function per
thing the suite needs checks it and says how it is provided:

- debootstrap (and Debian's archive keyring), to make the Debian root of the wasm tests: apt-get;
- chromium, which the `browser` tests drive (any browser the engine would drive counts): apt-get;
- firefox-esr, for the browser tests that drive Firefox (likewise): apt-get;
- webkit2gtk-driver (WebKitGTK's WebKitWebDriver and MiniBrowser) and xvfb (the X server MiniBrowser needs,
  having no headless mode), for the browser tests that drive WebKit: apt-get;
- rustup's rustfmt and clippy, which a rendered project's `nox -s lint` runs: `rustup component add`;
- the Debian root with the real wasm toolchain (template_tools/sidroot.py): made once, as root.

Everything present: one line per thing and nothing else (a second run only checks; well under a second).
Something missing: as root on Debian or Ubuntu it is installed; otherwise nothing runs and one message names
what was found, what is expected, and the one command that provides it. The Rust components belong to the
user who runs the tests, so they are added first, without root; `--system` leaves them out (for that
command, which runs under sudo).

PYO3_PYODIDE_TEMPLATE_NO_PROVISION=1 skips all of this (a quick loop that runs no wasm or browser test).
This module imports only the standard library and sidroot (likewise); the matrix, which says which Debian
root fits, is read with template_tools.matrix (the `dev` group's pyyaml), as the noxfile's venv has it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from template_tools import sidroot

NO_PROVISION = "PYO3_PYODIDE_TEMPLATE_NO_PROVISION"
# The browsers the engine drives, looked up as it does (engine/src/pyo3_pyodide/runtime/npm.py; a test keeps
# the two in step): the program the variable names, else the first of the names on PATH.
CHROMIUM_ENV, CHROMIUM_NAMES = (
    "PYO3_PYODIDE_CHROMIUM",
    ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
)
FIREFOX_ENV, FIREFOX_NAMES = "PYO3_PYODIDE_FIREFOX", ("firefox-esr", "firefox")
WEBKIT_ENV, WEBKIT_NAMES = "PYO3_PYODIDE_WEBKIT", ("WebKitWebDriver",)
REPO_DIR = Path(__file__).resolve().parent.parent
RUST_COMPONENTS = ("rustfmt", "clippy")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")  # debootstrap checks sid with it
# Variables that change what is provisioned: carried into the sudo command, which starts from a clean env.
CARRIED = (
    "PYO3_PYODIDE_SIDROOT",
    "PYO3_PYODIDE_DEBIAN_MIRROR",
    sidroot.ACCEPT_NO_WASM_BUILD,
    CHROMIUM_ENV,
    FIREFOX_ENV,
    WEBKIT_ENV,
)


class ProvisionError(Exception):
    """Something the suite needs is missing and cannot be provided here; the message says what to run."""


@dataclass
class Need:
    """One thing the suite needs, as checked just now."""

    name: str
    ok: bool
    found: str  # what is there now
    expected: str  # what the suite needs
    fix: str  # the command that provides it
    provide: Callable[[], None] | None  # None: this module cannot provide it
    needs_root: bool = True
    apt_packages: tuple[str, ...] = ()

    def line(self) -> str:
        return f"{self.name}: {self.found}"

    def problem(self, fix: bool = True) -> str:
        text = f"- {self.name}: found {self.found}; expected {self.expected}"
        return f"{text}. Fix: `{self.fix}`" if fix else text


# ---- one function per thing to provision -------------------------------------------------------------


def debootstrap() -> Need:
    """debootstrap and Debian's archive keyring, which make the Debian root."""
    path = _executable("debootstrap")
    keyring = DEBIAN_KEYRING.exists()
    if path and keyring:
        found = f"{path} ({_debian_version('debootstrap')}), keyring {DEBIAN_KEYRING}"
    elif path:
        found = f"{path} but no {DEBIAN_KEYRING}"
    else:
        found = "no `debootstrap` on PATH or in /usr/sbin"
    return _apt_need(
        "debootstrap",
        path is not None and keyring,
        found,
        "debootstrap and Debian's archive keyring, to make the Debian root of the wasm tests",
        ("debootstrap", "debian-archive-keyring"),
    )


def chromium() -> Need:
    """A Chromium for the `browser` tests (playwright-core drives it); Debian's when one is installed here."""
    return _browser("chromium", CHROMIUM_ENV, CHROMIUM_NAMES, "Debian's chromium")


def firefox() -> Need:
    """A Firefox for the browser tests that drive Firefox; Debian's firefox-esr (bookworm has 153.8.0esr)."""
    return _browser("firefox-esr", FIREFOX_ENV, FIREFOX_NAMES, "Debian's firefox-esr")


def webkit() -> Need:
    """WebKitGTK's WebKitWebDriver (and the MiniBrowser it starts), for the browser tests that drive WebKit."""
    return _browser("webkit2gtk-driver", WEBKIT_ENV, WEBKIT_NAMES, "Debian's webkit2gtk-driver")


def xvfb() -> Need:
    """Xvfb: WebKitGTK's MiniBrowser has no headless mode, so the WebKit tests give it an X server of its own."""
    path = _executable("Xvfb")
    found = f"{path} ({_debian_version('xvfb')})" if path else "no `Xvfb` on PATH"
    expected = "Debian's xvfb, the X server the WebKit browser tests start"
    return _apt_need("xvfb", path is not None, found, expected, ("xvfb",))


def rust_components() -> Need:
    """rustfmt and clippy in the user's rustup toolchain: a rendered project's `nox -s lint` runs them."""
    fix = f"rustup component add {' '.join(RUST_COMPONENTS)}"
    cargo = shutil.which("cargo")
    if cargo is None:
        return Need(
            "rust components",
            False,
            "no `cargo` on PATH",
            "Rust from rustup (https://rustup.rs) with rustfmt and clippy",
            f"curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y --component {','.join(RUST_COMPONENTS)}",
            None,
            needs_root=False,
        )
    missing = [component for component in RUST_COMPONENTS if not _cargo_runs(component)]
    rustup = shutil.which("rustup")
    if missing:
        found = f"{cargo} without {', '.join(missing)}" + ("" if rustup else ", and no `rustup` on PATH")
    else:
        found = f"{cargo} with {', '.join(RUST_COMPONENTS)}"

    def provide() -> None:
        _run([rustup, "component", "add", *missing], "rustup component add")

    return Need(
        "rust components",
        not missing,
        found,
        f"cargo with {' and '.join(RUST_COMPONENTS)} (`cargo fmt`, `cargo clippy`)",
        fix,
        provide if rustup else None,
        needs_root=False,
    )


def sid_root() -> Need:
    """The Debian root with the real wasm toolchain; its Emscripten must be a matrix release's."""
    root = sidroot.ROOT_DIR
    expected = (
        f"a complete Debian root at {root} (suite {' or '.join(sidroot.SUITES)}) whose emscripten is the "
        "Emscripten of a Pyodide release in the matrix"
    )
    fix = _command()
    if not sidroot.is_ready(root):
        found = "an incomplete root, or one of another recipe (it is remade)" if root.exists() else "no root"
        return Need("Debian root", False, f"{found} at {root}", expected, fix, _make_root)
    marker = sidroot.read_marker(root) or {}
    emscripten = marker.get("emscripten")
    fitting = [release.version for release in sidroot.matrix_releases() if release.emscripten == emscripten]
    if fitting or sidroot.no_wasm_build_accepted():
        found = sidroot.summary(root)
        if not fitting:
            found += f" (accepted: {sidroot.ACCEPT_NO_WASM_BUILD}=1)"
        return Need("Debian root", True, found, expected, fix, None)
    # Made for a matrix that has changed since: the root can no longer build any release's wheel.
    return Need(
        "Debian root",
        False,
        f"{sidroot.summary(root)}, but no release of the matrix now pins emscripten {emscripten}",
        expected,
        f"rm -rf {shlex.quote(str(root))} && {fix}",
        None,
    )


# ---- running them ------------------------------------------------------------------------------------


def provision(system_only: bool = False, out: Callable[[str], object] = print) -> None:
    """Check everything; provide what is missing where this process can; raise ProvisionError otherwise."""
    checks: list[Callable[[], Need]] = [debootstrap, chromium, firefox, webkit, xvfb]
    if not system_only:
        checks.append(rust_components)
    checks.append(sid_root)  # last: making it needs debootstrap
    needs = [check() for check in checks]
    for need in needs:
        if need.ok:
            out(f"provision: ok: {need.line()}")
    missing = [need for need in needs if not need.ok]
    if not missing:
        return

    # What the user can provide without root comes first; the rest needs root and, for packages, apt-get.
    as_root = os.geteuid() == 0
    apt = shutil.which("apt-get") is not None

    def doable(need: Need) -> bool:
        if need.provide is None:
            return False
        return not need.needs_root or (as_root and (apt or not need.apt_packages))

    blocked = [need for need in missing if not doable(need)]
    doable = [need for need in missing if doable(need)]
    for need in doable:
        if not need.needs_root:
            _provide(need, checks[needs.index(need)], out)
    if blocked:
        raise ProvisionError(_blocked_message(blocked, as_root, apt))
    started = time.monotonic()
    packages = [package for need in doable for package in need.apt_packages]
    if packages:
        _apt_install(packages, out)
    for need in doable:
        if need.needs_root:
            _provide(need, checks[needs.index(need)], out, started if need.apt_packages else None)


def _provide(
    need: Need, check: Callable[[], Need], out: Callable[[str], object], started: float | None = None
) -> None:
    """Provide `need` (apt packages: already installed, since `started`), then check it again."""
    started = time.monotonic() if started is None else started
    if not need.apt_packages:
        out(f"provision: {need.name}: found {need.found}; providing it: {need.fix}")
        need.provide()
    again = check()
    if not again.ok:
        raise ProvisionError(f"After `{need.fix}`, still: {again.problem()[2:]}")
    out(f"provision: provided in {time.monotonic() - started:.0f} s: {again.line()}")


def _blocked_message(blocked: list[Need], as_root: bool, apt: bool) -> str:
    # Each need this module can provide is left to the one command below; the others name their own fix.
    problems = (need.problem(fix=need.provide is None) for need in blocked)
    lines = ["`nox -s tests` needs what this machine lacks:", *problems]
    manual = [need for need in blocked if need.provide is None]
    needs_apt = [package for need in blocked if need.provide is not None for package in need.apt_packages]
    if needs_apt and not apt:
        lines.append(
            f"This machine has no apt-get (it is not Debian or Ubuntu): install {', '.join(needs_apt)} with its "
            "own package manager."
        )
    if manual:
        lines.append("Run the fix above for " + ", ".join(need.name for need in manual) + ".")
    with_root = [need.name for need in blocked if need.provide is not None and (apt or not need.apt_packages)]
    if not as_root and with_root:
        lines.append(
            f"Providing {', '.join(with_root)} needs root (apt-get, debootstrap, chroot); run:\n"
            f"    {_command(sudo=True)}"
        )
    lines.append(
        f"Then run `nox -s tests` again. ({NO_PROVISION}=1 skips this check, for a quick loop that runs no "
        "wasm or browser test.)"
    )
    return "\n".join(lines)


def _command(sudo: bool = False) -> str:
    """The command that provisions what needs root, as typed in any folder."""
    python = shlex.quote(sys.executable)
    if not sudo:
        return f"cd {shlex.quote(str(REPO_DIR))} && {python} -m template_tools.provision"
    carried = [f"{name}={shlex.quote(os.environ[name])}" for name in CARRIED if os.environ.get(name)]
    env = f"env {' '.join(carried)} " if carried else ""
    return f"cd {shlex.quote(str(REPO_DIR))} && sudo {env}{python} -m template_tools.provision --system"


def _browser(package: str, variable: str, names: tuple[str, ...], what: str) -> Need:
    expected = f"{what} (or any of {', '.join(names)} on PATH, or ${variable}), for the browser tests"
    chosen = os.environ.get(variable)
    if chosen:
        path = shutil.which(chosen)
        found = (
            f"{path} (${variable})" if path else f"${variable}={chosen!r}, which is not an executable program"
        )
        need = _apt_need(package, path is not None, found, expected, (package,))
        if path is None:  # installing a package would not change what the variable says
            need.fix, need.provide = f"unset {variable}, or set it to a browser's executable", None
        return need
    path = next(filter(None, map(_executable, names)), None)
    # The package installs the first of `names`; another one is asked for by its own name.
    installed = package if path and Path(path).name == names[0] else path and Path(path).name
    found = f"{path} ({_debian_version(installed)})" if path else f"none of {', '.join(names)} on PATH"
    return _apt_need(package, path is not None, found, expected, (package,))


def _apt_need(name: str, ok: bool, found: str, expected: str, packages: tuple[str, ...]) -> Need:
    return Need(
        name,
        ok,
        found,
        expected,
        f"apt-get install -y {' '.join(packages)}",
        lambda: None,  # installed together with the others, by _apt_install
        apt_packages=packages,
    )


_apt_updated = False


def _apt_install(packages: list[str], out: Callable[[str], object]) -> None:
    """apt-get update (once per process) and install `packages`, non-interactively."""
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        out("provision: apt-get update")
        _run(["apt-get", "update"], "apt-get update", env)
        _apt_updated = True
    out(f"provision: apt-get install -y {' '.join(packages)}")
    _run(["apt-get", "install", "-y", *packages], f"apt-get install -y {' '.join(packages)}", env)


def _make_root() -> None:
    sidroot.ensure_root(progress=lambda line: print(f"provision: {line}", flush=True))


def _run(argv: list[str], what: str, env: dict | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise ProvisionError(f"`{what}` failed with exit code {result.returncode}:\n{tail}")


def _executable(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":" + sidroot.SBIN_PATH)


def _debian_version(package: str) -> str:
    """The installed Debian package's version, as dpkg knows it; a plain note where dpkg does not."""
    dpkg_query = shutil.which("dpkg-query")
    if dpkg_query is None:
        return "not from a Debian package"
    query = [dpkg_query, "-W", "-f", "${db:Status-Abbrev}${Version}", package]
    result = subprocess.run(query, capture_output=True, text=True, check=False)
    status, _, version = result.stdout.partition(" ")
    if result.returncode != 0 or not status.startswith("ii"):
        return "not from a Debian package"
    return f"Debian {version.strip()}"


def _cargo_runs(component: str) -> bool:
    subcommand = {"rustfmt": "fmt"}.get(component, component)
    result = subprocess.run(["cargo", subcommand, "--version"], capture_output=True, check=False)
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m template_tools.provision",
        description="Check what `nox -s tests` needs on this machine and install what is missing.",
        epilog=f"{NO_PROVISION}=1 skips everything.",
    )
    parser.add_argument(
        "--system",
        action="store_true",
        help="only what needs root (Debian packages, the Debian root): the Rust components are the user's",
    )
    options = parser.parse_args(argv)
    if os.environ.get(NO_PROVISION, "") not in ("", "0"):
        print(f"provision: skipped ({NO_PROVISION}={os.environ[NO_PROVISION]}): nothing checked")
        return 0
    try:
        provision(system_only=options.system)
    except (ProvisionError, sidroot.SidRootError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
