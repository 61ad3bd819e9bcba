"""Provisioning for `nox -s tests` (template_tools/provision.py), on a machine made of stand-ins.

What a test cannot do to this machine is played by executables on PATH that record their arguments: an
`apt-get` that "installs" a package by creating its files, `dpkg-query` answering from that record, `cargo`
and `rustup` sharing a list of installed components. The Debian root is a folder with a completion marker
written from the matrix's own values; where the root would really be made, a mirror on 127.0.0.1 stands in
for Debian's. Being root or not is os.geteuid, patched. The README's command runs through real nox.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from template_tools import matrix, provision, sidroot
from tests.helpers.mirrors import MirrorServer

RELEASES = list(matrix.load().releases.values())
REPO_DIR = Path(__file__).resolve().parent.parent
BROWSER_PACKAGES = ("chromium", "firefox-esr", "webkit2gtk-driver", "xvfb")

FAKE_APT_GET = """\
import json, os, sys
from pathlib import Path
machine = Path(os.environ["FAKE_MACHINE"])
with open(machine / "apt-get.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_APT_FAILS") and sys.argv[1] == "install":
    print("E: Unable to locate package " + sys.argv[-1])
    sys.exit(100)
files = json.loads((machine / "packages.json").read_text())
installed = machine / "installed.json"
state = json.loads(installed.read_text()) if installed.exists() else {}
if sys.argv[1] == "install":
    for package in sys.argv[3:]:
        path = Path(files[package])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\\nexit 0\\n")
        path.chmod(0o755)
        state[package] = "1.0-fake1"
    installed.write_text(json.dumps(state))
"""
FAKE_DPKG_QUERY = """\
import json, os, sys
from pathlib import Path
installed = Path(os.environ["FAKE_MACHINE"]) / "installed.json"
state = json.loads(installed.read_text()) if installed.exists() else {}
if sys.argv[-1] not in state:
    sys.exit("dpkg-query: no packages found matching " + sys.argv[-1])
print("ii " + state[sys.argv[-1]], end="")
"""
FAKE_CARGO = """\
import os, sys
from pathlib import Path
components = Path(os.environ["FAKE_MACHINE"]) / "components"
have = components.read_text().split() if components.exists() else []
sys.exit(0 if {"fmt": "rustfmt"}.get(sys.argv[1], sys.argv[1]) in have else 1)
"""
FAKE_RUSTUP = """\
import json, os, sys
from pathlib import Path
machine = Path(os.environ["FAKE_MACHINE"])
with open(machine / "rustup.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
with open(machine / "components", "a") as components:
    components.write(" ".join(sys.argv[3:]) + "\\n")
"""


class Machine:
    """A stand-in machine: PATH holds only its bin folder, /usr/sbin is its sbin folder."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder, self.bin, self.sbin = folder, folder / "bin", folder / "sbin"
        self.keyring = folder / "keyrings/debian-archive-keyring.gpg"
        self.root = folder / "debian-root"
        for path in (self.bin, self.sbin):
            path.mkdir(parents=True)
        packages = {
            "debootstrap": str(self.sbin / "debootstrap"),
            "debian-archive-keyring": str(self.keyring),
            "chromium": str(self.bin / "chromium"),
            "firefox-esr": str(self.bin / "firefox-esr"),
            "webkit2gtk-driver": str(self.bin / "WebKitWebDriver"),
            "xvfb": str(self.bin / "Xvfb"),
        }
        (folder / "packages.json").write_text(json.dumps(packages))
        for name, code in (
            ("apt-get", FAKE_APT_GET),
            ("dpkg-query", FAKE_DPKG_QUERY),
            ("cargo", FAKE_CARGO),
            ("rustup", FAKE_RUSTUP),
        ):
            self.tool(name, code)
        monkeypatch.setenv("FAKE_MACHINE", str(folder))
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setattr(sidroot, "SBIN_PATH", str(self.sbin))
        monkeypatch.setattr(provision, "DEBIAN_KEYRING", self.keyring)
        monkeypatch.setattr(sidroot, "ROOT_DIR", self.root)
        monkeypatch.setattr(provision, "_apt_updated", False)
        for name in (provision.NO_PROVISION, sidroot.ACCEPT_NO_WASM_BUILD, *provision.CARRIED):
            monkeypatch.delenv(name, raising=False)
        self.user(0, monkeypatch)

    def tool(self, name: str, code: str) -> None:
        path = self.bin / name
        path.write_text(f"#!{sys.executable}\n{code}")
        path.chmod(0o755)

    def user(self, uid: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(os, "geteuid", lambda: uid)

    def install(self, *packages: str) -> None:
        """What apt-get would have installed before."""
        env = {**os.environ, "FAKE_MACHINE": str(self.folder)}
        subprocess.run([self.bin / "apt-get", "install", "-y", *packages], check=True, env=env)
        (self.folder / "apt-get.log").unlink()

    def add_components(self, *components: str) -> None:
        with open(self.folder / "components", "a") as file:
            file.write(" ".join(components) + "\n")

    def make_root(self, emscripten: str) -> None:
        """A complete Debian root as its marker describes it."""
        self.root.mkdir()
        fitting = [release for release in RELEASES if release.emscripten == emscripten]
        marker = {
            "recipe": sidroot.RECIPE,
            "suite": "sid",
            "releases": [release.version for release in fitting],
            "emscripten": emscripten,
            "rustc": "1.2.3",
            "python": f"{fitting[0].python}.1" if fitting else "3.99.0",
        }
        (self.root / sidroot.COMPLETE_MARKER).write_text(json.dumps(marker), encoding="utf-8")

    def calls(self, tool: str) -> list[list[str]]:
        log = self.folder / f"{tool}.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def machine(tmp_path, monkeypatch):
    return Machine(tmp_path / "machine", monkeypatch)


def everything(machine: Machine) -> None:
    machine.install("debootstrap", "debian-archive-keyring", *BROWSER_PACKAGES)
    machine.add_components("rustfmt", "clippy")
    machine.make_root(RELEASES[0].emscripten)


def provision_main(capsys, *args: str) -> tuple[int, list[str], str]:
    code = provision.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_with_everything_there_it_only_checks(machine, capsys):
    everything(machine)
    started = time.monotonic()
    code, lines, err = provision_main(capsys)
    assert time.monotonic() - started < 5  # a handful of lookups, no install
    assert (code, err) == (0, "")
    release = RELEASES[0]
    assert lines == [
        f"provision: ok: debootstrap: {machine.sbin}/debootstrap (Debian 1.0-fake1), keyring {machine.keyring}",
        f"provision: ok: chromium: {machine.bin}/chromium (Debian 1.0-fake1)",
        f"provision: ok: firefox-esr: {machine.bin}/firefox-esr (Debian 1.0-fake1)",
        f"provision: ok: webkit2gtk-driver: {machine.bin}/WebKitWebDriver (Debian 1.0-fake1)",
        f"provision: ok: xvfb: {machine.bin}/Xvfb (Debian 1.0-fake1)",
        f"provision: ok: rust components: {machine.bin}/cargo with rustfmt, clippy",
        (
            f"provision: ok: Debian root: Debian sid root {machine.root}: emscripten {release.emscripten}, "
            f"rustc 1.2.3, python {release.python}.1; real wasm builds for "
            f"Pyodide {', '.join(r.version for r in RELEASES if r.emscripten == release.emscripten)}"
        ),
    ]
    assert machine.calls("apt-get") == machine.calls("rustup") == []


def test_as_root_it_installs_what_is_missing_then_a_second_run_only_checks(machine, capsys):
    machine.make_root(RELEASES[0].emscripten)

    code, lines, err = provision_main(capsys)

    assert (code, err) == (0, "")
    assert machine.calls("apt-get") == [
        ["update"],
        ["install", "-y", "debootstrap", "debian-archive-keyring", *BROWSER_PACKAGES],
    ]
    assert machine.calls("rustup") == [["component", "add", "rustfmt", "clippy"]]
    provided = [line for line in lines if line.startswith("provision: provided in ")]
    assert [line.split(" s: ", 1)[1].split(":")[0] for line in provided] == [
        "rust components",
        "debootstrap",
        "chromium",
        "firefox-esr",
        "webkit2gtk-driver",
        "xvfb",
    ]

    code, lines, err = provision_main(capsys)
    assert (code, err) == (0, "")
    assert all(line.startswith("provision: ok: ") for line in lines) and len(lines) == 7
    assert len(machine.calls("apt-get")) == 2 and len(machine.calls("rustup")) == 1  # nothing more ran


def test_not_root_it_stops_before_anything_with_the_one_command_to_run(machine, capsys, monkeypatch):
    machine.user(1000, monkeypatch)
    machine.install("debootstrap", "debian-archive-keyring")
    monkeypatch.setenv("PYO3_PYODIDE_SIDROOT", str(machine.root))  # carried into the sudo command

    code, _, err = provision_main(capsys)

    assert code == 1
    assert machine.calls("apt-get") == [] and not machine.root.exists()
    assert machine.calls("rustup") == [["component", "add", "rustfmt", "clippy"]]  # the user's own: done
    chromium = ", ".join(provision.CHROMIUM_NAMES)
    assert (
        f"- chromium: found none of {chromium} on PATH; expected Debian's chromium (or any of {chromium}"
        in err
    )
    firefox = ", ".join(provision.FIREFOX_NAMES)
    assert f"- firefox-esr: found none of {firefox} on PATH; expected Debian's firefox-esr (or any of" in err
    assert (
        "- webkit2gtk-driver: found none of WebKitWebDriver on PATH; expected Debian's webkit2gtk-driver"
        in err
    )
    assert (
        "- xvfb: found no `Xvfb` on PATH; expected Debian's xvfb, the X server the WebKit browser tests"
        in err
    )
    assert f"- Debian root: found no root at {machine.root}; expected a complete Debian root" in err
    command = (
        f"cd {shlex.quote(str(REPO_DIR))} && sudo env PYO3_PYODIDE_SIDROOT={shlex.quote(str(machine.root))} "
        f"{shlex.quote(sys.executable)} -m template_tools.provision --system"
    )
    providing = "Providing chromium, firefox-esr, webkit2gtk-driver, xvfb, Debian root needs root (apt-get, debootstrap, chroot); run:"
    assert f"{providing}\n    {command}\n" in err
    assert "Fix:" not in err  # the one command is the fix
    assert err.rstrip().endswith(
        f"({provision.NO_PROVISION}=1 skips this check, for a quick loop that runs no wasm or browser test.)"
    )


def test_the_sudo_command_provisions_what_needs_root_and_leaves_rust_to_the_user(machine, capsys):
    machine.make_root(RELEASES[0].emscripten)
    code, lines, err = provision_main(capsys, "--system")
    assert (code, err) == (0, "")
    assert len(machine.calls("apt-get")) == 2 and machine.calls("rustup") == []
    assert not [line for line in lines if "rust components" in line]


def test_without_apt_get_it_names_the_packages_to_install_otherwise(machine, capsys, monkeypatch):
    (machine.bin / "apt-get").unlink()  # and nothing installed
    machine.add_components("rustfmt", "clippy")
    machine.make_root(RELEASES[0].emscripten)
    code, _, err = provision_main(capsys)
    assert code == 1
    assert (
        "This machine has no apt-get (it is not Debian or Ubuntu): install debootstrap, "
        "debian-archive-keyring, chromium, firefox-esr, webkit2gtk-driver, xvfb with its own package manager."
        in err
    )
    assert "sudo" not in err  # this process is root already
    machine.user(1000, monkeypatch)
    code, _, err = provision_main(capsys)
    assert code == 1 and "This machine has no apt-get" in err
    assert "sudo" not in err  # as root it could not install them either


def test_a_failing_apt_get_stops_with_its_own_words(machine, capsys, monkeypatch):
    machine.install("debootstrap", "debian-archive-keyring", "chromium", "webkit2gtk-driver", "xvfb")
    machine.add_components("rustfmt", "clippy")
    machine.make_root(RELEASES[0].emscripten)
    monkeypatch.setenv("FAKE_APT_FAILS", "1")
    code, _, err = provision_main(capsys)
    assert code == 1
    assert machine.calls("apt-get") == [["update"], ["install", "-y", "firefox-esr"]]
    assert err == (
        "error: `apt-get install -y firefox-esr` failed with exit code 100:\n"
        "E: Unable to locate package firefox-esr\n"
    )


def test_rust_components_without_rustup_name_the_fix(machine, capsys):
    everything(machine)
    (machine.folder / "components").unlink()
    (machine.bin / "rustup").unlink()
    code, _, err = provision_main(capsys)
    assert code == 1
    assert (
        f"- rust components: found {machine.bin}/cargo without rustfmt, clippy, and no `rustup` on PATH; "
        "expected cargo with rustfmt and clippy (`cargo fmt`, `cargo clippy`). "
        "Fix: `rustup component add rustfmt clippy`"
    ) in err


def test_a_browser_the_engine_would_drive_counts(machine, capsys, monkeypatch):
    everything(machine)
    for package in ("chromium", "firefox-esr"):
        (machine.bin / package).unlink()
    machine.tool("google-chrome", "")  # what GitHub's Ubuntu runners carry
    machine.tool("my-firefox", "")
    monkeypatch.setenv(provision.FIREFOX_ENV, "my-firefox")
    (machine.bin / "WebKitWebDriver").rename(machine.bin / "my-webkit-driver")  # a WebKit built from source
    monkeypatch.setenv(provision.WEBKIT_ENV, "my-webkit-driver")
    code, lines, err = provision_main(capsys)
    assert (code, err) == (0, "")
    assert f"provision: ok: chromium: {machine.bin}/google-chrome (not from a Debian package)" in lines
    assert f"provision: ok: firefox-esr: {machine.bin}/my-firefox (${provision.FIREFOX_ENV})" in lines
    assert (
        f"provision: ok: webkit2gtk-driver: {machine.bin}/my-webkit-driver (${provision.WEBKIT_ENV})" in lines
    )
    assert machine.calls("apt-get") == []

    monkeypatch.setenv(provision.FIREFOX_ENV, "no-such-firefox")  # a package would not help: say so
    code, _, err = provision_main(capsys)
    assert code == 1 and machine.calls("apt-get") == []
    assert f"${provision.FIREFOX_ENV}='no-such-firefox', which is not an executable program" in err
    assert f"Fix: `unset {provision.FIREFOX_ENV}, or set it to a browser's executable`" in err


@pytest.mark.parametrize(
    ("name", "looked_up"),
    [
        ("chromium", (provision.CHROMIUM_ENV, provision.CHROMIUM_NAMES)),
        ("firefox", (provision.FIREFOX_ENV, provision.FIREFOX_NAMES)),
        ("webkit", (provision.WEBKIT_ENV, provision.WEBKIT_NAMES)),
    ],
)
def test_each_browser_is_looked_up_as_the_engine_looks_it_up(name, looked_up):
    from pyo3_pyodide.runtime import browsers

    assert looked_up == (browsers.BROWSERS[name].variable, browsers.BROWSERS[name].names)
    assert set(browsers.BROWSERS) == {"chromium", "firefox", "webkit"}  # a new browser is provisioned too


def unpinned_emscripten() -> str:
    pinned = {release.emscripten for release in RELEASES}
    return next(f"0.0.{n}" for n in range(1, 1000) if f"0.0.{n}" not in pinned)


def test_a_root_made_for_another_matrix_is_reported_with_the_fix(machine, capsys, monkeypatch):
    everything(machine)
    shutil.rmtree(machine.root)
    machine.make_root(unpinned_emscripten())
    code, lines, err = provision_main(capsys)
    assert code == 1
    assert f"but no release of the matrix now pins emscripten {unpinned_emscripten()}" in err
    assert f"Fix: `rm -rf {machine.root} && cd {REPO_DIR} && " in err

    monkeypatch.setenv(sidroot.ACCEPT_NO_WASM_BUILD, "1")  # a machine known to lack a fitting suite
    code, lines, err = provision_main(capsys)
    assert (code, err) == (0, "")
    assert lines[-1].endswith(
        f"real wasm builds for no Pyodide release of the matrix (accepted: {sidroot.ACCEPT_NO_WASM_BUILD}=1)"
    )


def test_as_root_the_root_is_made_only_from_a_suite_that_fits(machine, capsys, monkeypatch):
    everything(machine)
    shutil.rmtree(machine.root)
    for tool in ("unshare", "chroot"):  # the host tools making a root needs; here they must never run
        machine.tool(tool, "import sys; sys.exit('ran')")
    with MirrorServer() as mirror:
        for suite in sidroot.SUITES:
            mirror.serve(f"/debian/dists/{suite}/Release", f"Suite: {suite}\nCodename: {suite}\n".encode())
            index = f"Package: emscripten\nVersion: {unpinned_emscripten()}+dfsg-1\n"
            mirror.serve(f"/debian/dists/{suite}/main/binary-amd64/Packages", index.encode())
        monkeypatch.setattr(sidroot, "MIRROR", mirror.url("/debian"))
        monkeypatch.setattr(sidroot, "debian_architecture", lambda: "amd64")
        code, _, err = provision_main(capsys)
    assert code == 1 and not machine.root.exists()
    assert err.startswith("error: No Debian suite has the Emscripten of a Pyodide release in the matrix")
    assert f"sid (sid): emscripten {unpinned_emscripten()} (Debian {unpinned_emscripten()}+dfsg-1)" in err


def test_the_skip_variable_checks_nothing(machine, capsys, monkeypatch):
    monkeypatch.setenv(provision.NO_PROVISION, "1")
    code, lines, err = provision_main(capsys)
    assert (code, lines, err) == (
        0,
        [f"provision: skipped ({provision.NO_PROVISION}=1): nothing checked"],
        "",
    )
    assert machine.calls("apt-get") == machine.calls("rustup") == []


def nox_tests(tmp_path: Path, machine: Machine, **env: str) -> subprocess.CompletedProcess:
    """The README's `nox -s tests` with this repository's noxfile, in a copy whose suite is one test that
    leaves a file behind; no venv or install (this environment has the dev group already). It runs on the
    stand-in machine's PATH and root; the rest (being root, /usr/sbin) is this machine's own."""
    for name in ("noxfile.py", "pyproject.toml"):
        shutil.copy(REPO_DIR / name, tmp_path / name)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests/test_ran.py").write_text("def test_ran(tmp_path):\n    open('ran', 'w').close()\n")
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / "nox"), "-s", "tests", "--no-venv", "--no-install", "--", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{machine.bin}:{bin_dir}",
            "PYTHONPATH": str(REPO_DIR),
            "PYO3_PYODIDE_SIDROOT": str(machine.root),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_readmes_command_provisions_before_any_test(machine, tmp_path):
    machine.make_root(unpinned_emscripten())  # a root no release fits: provisioning must stop the run
    result = nox_tests(tmp_path, machine)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "nox > python -m template_tools.provision" in output
    assert f"no release of the matrix now pins emscripten {unpinned_emscripten()}" in output
    assert not (tmp_path / "ran").exists() and "nox > pytest" not in output

    result = nox_tests(tmp_path, machine, **{provision.NO_PROVISION: "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"provision: skipped ({provision.NO_PROVISION}=1): nothing checked" in output
    assert (tmp_path / "ran").exists()


@pytest.mark.wasm
def test_this_machine_provisioned_twice_the_second_run_only_checks():
    """For real: this machine's packages, rustup and Debian root (made here if the suite has not yet)."""
    env = {name: value for name, value in os.environ.items() if name != provision.NO_PROVISION}
    argv = [sys.executable, "-m", "template_tools.provision"]
    first = subprocess.run(
        argv, check=False, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=3600
    )
    assert first.returncode == 0, first.stdout + first.stderr
    started = time.monotonic()
    second = subprocess.run(
        argv, check=False, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    elapsed = time.monotonic() - started
    assert (second.returncode, second.stderr) == (0, ""), second.stdout
    names = [
        "debootstrap",
        "chromium",
        "firefox-esr",
        "webkit2gtk-driver",
        "xvfb",
        "rust components",
        "Debian root",
    ]
    assert [line.split(": ")[2] for line in second.stdout.splitlines()] == names
    assert all(line.startswith("provision: ok: ") for line in second.stdout.splitlines())
    assert elapsed < 5, f"a run with everything there took {elapsed:.1f} s"


def test_the_readme_says_what_the_suite_needs_with_every_marker_and_variable():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Working on the template")
    section = readme[start : readme.index("\n## ", start)]
    config = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    markers = dict(line.split(": ", 1) for line in config["tool"]["pytest"]["ini_options"]["markers"])
    table = section[section.index("### Test markers") :].split("```")[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", table, re.MULTILINE))
    assert list(rows) == list(markers)  # the markers table: each declared marker, in order
    assert rows["network"] == markers["network"] == "needs Node, npm and the package registries"
    quick_loop = " and ".join(f"not {marker}" for marker in markers)
    assert f'{provision.NO_PROVISION}=1 nox -s tests -- -m "{quick_loop}"' in section
    for variable in (provision.NO_PROVISION, sidroot.ACCEPT_NO_WASM_BUILD, *provision.CARRIED):
        assert re.search(rf"^\| (`\w+=\w+`, )*`{variable}=", section, re.MULTILINE), variable
    # .ci/run runs the README's command and nothing else after installing nox
    commands = [line for line in (REPO_DIR / ".ci/run").read_text().splitlines() if line and line[0] != "#"]
    assert commands[-2:] == ['python3 -m pip install --quiet "nox>=2026.10.20"', "nox -s tests"]
    assert "\nnox -s tests " in readme.split("```console", 2)[1]
