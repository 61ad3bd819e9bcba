"""The Debian sid build root (template_tools/sidroot.py): the real toolchain of the wasm tests.

Which Debian suite the root is made from is checked against a stand-in mirror on 127.0.0.1 serving package
indexes written here from the matrix's own values; the root itself is made for real (marker `wasm`).
"""

import gzip
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

from template_tools import matrix, sidroot
from tests.helpers import real_builds
from tests.helpers.mirrors import MirrorServer

RELEASES = list(matrix.load().releases.values())


def write_marker(root: Path, recipe: dict) -> None:
    (root / sidroot.COMPLETE_MARKER).write_text(json.dumps({"recipe": recipe}), encoding="utf-8")


def test_a_root_is_ready_only_with_a_marker_of_the_current_recipe(tmp_path):
    assert not sidroot.is_ready(tmp_path / "absent")
    assert not sidroot.is_ready(tmp_path)  # a folder without the marker: interrupted, or not ours
    (tmp_path / sidroot.COMPLETE_MARKER).write_text('{"recipe": ', encoding="utf-8")
    assert not sidroot.is_ready(tmp_path)
    write_marker(tmp_path, {**sidroot.RECIPE, "debian": ["emscripten"]})
    assert not sidroot.is_ready(tmp_path)  # made with another package list: remade
    write_marker(tmp_path, sidroot.RECIPE)
    assert sidroot.is_ready(tmp_path)


def unpinned_emscripten() -> str:
    """An Emscripten version that no release of the matrix pins."""
    pinned = {release.emscripten for release in RELEASES}
    return next(f"0.0.{n}" for n in range(1, 1000) if f"0.0.{n}" not in pinned)


def debian_toolchain(emscripten: str, pythons=()) -> dict[str, str]:
    """A suite's packages (Debian versions) around an emscripten, with Python X.Y for each of `pythons`."""
    packages = {
        "emscripten": f"{emscripten}+dfsg+~1.41.5-2",
        "rustc": "1.2.3+dfsg1-1",
        "cargo": "1.2.3+dfsg1-1",
        "rust-src": "1.2.3+dfsg1-1",
        "nodejs": "24.0.0+dfsg-1",
        "git": "1:2.50.0-1",
        "python3": "3.99.0-1",
        "python3-venv": "3.99.0-1",
        "hello": "2.10-3",  # a package the root does not want
    }
    for python in pythons:
        packages[f"python{python}"] = packages[f"python{python}-venv"] = f"{python}.1-1"
    return packages


def serve_suite(mirror: MirrorServer, suite: str, codename: str, packages: dict, compression: str = "xz"):
    mirror.serve(f"/debian/dists/{suite}/Release", f"Suite: {suite}\nCodename: {codename}\n".encode())
    stanzas = "\n".join(
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nDescription: stand-in\n"
        for name, version in packages.items()
    )
    compress = {"xz": lzma.compress, "gz": gzip.compress, "": bytes}[compression]
    suffix = f".{compression}" if compression else ""
    mirror.serve(f"/debian/dists/{suite}/main/binary-amd64/Packages{suffix}", compress(stanzas.encode()))


@pytest.fixture
def mirror(monkeypatch):
    monkeypatch.delenv(sidroot.ACCEPT_NO_WASM_BUILD, raising=False)
    with MirrorServer() as server:
        yield server


def choose(mirror: MirrorServer) -> sidroot.SuiteChoice:
    return sidroot.choose_suite(RELEASES, mirror=mirror.url("/debian"), arch="amd64")


def test_the_suite_is_the_first_whose_emscripten_a_release_pins(mirror):
    release = RELEASES[0]
    serve_suite(mirror, "sid", "sid", debian_toolchain(unpinned_emscripten(), [release.python]))
    serve_suite(mirror, "testing", "forky", debian_toolchain(release.emscripten, [release.python]))

    choice = choose(mirror)

    assert (choice.suite.name, choice.suite.codename, choice.emscripten) == (
        "testing",
        "forky",
        release.emscripten,
    )
    fitting = [other.version for other in RELEASES if other.emscripten == release.emscripten]
    assert choice.releases == tuple(fitting)
    assert choice.python_command == f"python{release.python}"
    assert {f"python{release.python}", f"python{release.python}-venv", "emscripten", "rust-src"} <= set(
        choice.packages
    )
    assert "hello" not in choice.suite.versions
    assert choice.found[0].startswith(f"sid (sid): emscripten {unpinned_emscripten()} ")
    assert f"Pyodide {release.version}" in choice.describe() and "rustc 1.2.3" in choice.describe()
    # Only the package indexes were read: nothing was installed to find out.
    assert mirror.requests == [
        "/debian/dists/sid/Release",
        "/debian/dists/sid/main/binary-amd64/Packages.xz",
        "/debian/dists/testing/Release",
        "/debian/dists/testing/main/binary-amd64/Packages.xz",
    ]


def test_sid_is_taken_when_it_fits_and_testing_is_not_read(mirror):
    release = RELEASES[-1]
    serve_suite(mirror, "sid", "sid", debian_toolchain(release.emscripten, [release.python]))
    choice = choose(mirror)
    assert (choice.suite.name, choice.emscripten) == ("sid", release.emscripten)
    assert release.version in choice.releases
    assert not [path for path in mirror.requests if "/testing/" in path]


def test_a_suite_without_the_releases_python_is_passed_over(mirror):
    release = RELEASES[0]
    serve_suite(mirror, "sid", "sid", debian_toolchain(release.emscripten, []))
    serve_suite(mirror, "testing", "forky", debian_toolchain(release.emscripten, [release.python]), "gz")
    choice = choose(mirror)
    assert choice.suite.name == "testing"
    assert choice.found[0].endswith(f"but no python{release.python}, python{release.python}-venv")
    # testing has no Packages.xz here: the gzip index is read instead
    assert mirror.requests[-2:] == [
        "/debian/dists/testing/main/binary-amd64/Packages.xz",
        "/debian/dists/testing/main/binary-amd64/Packages.gz",
    ]


def test_no_fitting_suite_fails_with_what_was_found_what_is_needed_and_the_fix(mirror):
    serve_suite(mirror, "sid", "sid", debian_toolchain(unpinned_emscripten()), "")
    # testing is not on this mirror at all

    with pytest.raises(sidroot.SidRootError) as raised:
        choose(mirror)

    message = str(raised.value)
    assert f"sid (sid): emscripten {unpinned_emscripten()} (Debian {unpinned_emscripten()}+dfsg" in message
    assert (
        "testing: unreadable: GET http://127.0.0.1:" in message and "/debian/dists/testing/Release" in message
    )
    for release in RELEASES:
        assert (
            f"Pyodide {release.version}: emscripten {release.emscripten} and python{release.python}"
            in message
        )
    assert "inv matrix.update" in message and "PYO3_PYODIDE_DEBIAN_MIRROR" in message
    assert f"{sidroot.ACCEPT_NO_WASM_BUILD}=1" in message


def test_accepting_no_wasm_build_takes_the_first_suite_with_the_toolchain(mirror, monkeypatch):
    monkeypatch.setenv(sidroot.ACCEPT_NO_WASM_BUILD, "1")
    serve_suite(mirror, "sid", "sid", {"emscripten": f"{unpinned_emscripten()}-1"})  # no rustc: unusable
    serve_suite(mirror, "testing", "forky", debian_toolchain(unpinned_emscripten()))
    choice = choose(mirror)
    assert (choice.suite.name, choice.releases, choice.python_command) == ("testing", (), "python3")
    assert f"fits no Pyodide release of the matrix (accepted: {sidroot.ACCEPT_NO_WASM_BUILD}=1)" in (
        choice.describe()
    )
    monkeypatch.setenv(sidroot.ACCEPT_NO_WASM_BUILD, "0")  # 0 accepts nothing
    with pytest.raises(sidroot.SidRootError, match="No Debian suite has the Emscripten"):
        choose(mirror)


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [("6.0.5+dfsg+~1.41.5-2", "6.0.5"), ("1:2.50.0-1", "2.50.0"), ("3.15.0~rc1-1", "3.15.0"), ("24", "24")],
)
def test_the_upstream_part_of_a_debian_version(debian, upstream):
    assert sidroot.upstream_version(debian) == upstream


def test_making_a_root_with_no_fitting_suite_stops_before_anything_is_made(mirror, monkeypatch, tmp_path):
    serve_suite(mirror, "sid", "sid", debian_toolchain(unpinned_emscripten()))
    serve_suite(mirror, "testing", "forky", debian_toolchain(unpinned_emscripten()))
    # Stand-ins for the host tools a root needs: each records that it ran (none may).
    bin_dir, log = tmp_path / "bin", tmp_path / "ran.log"
    bin_dir.mkdir()
    for tool in ("debootstrap", "unshare", "chroot"):
        (bin_dir / tool).write_text(
            f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write('{tool}\\n')\n"
        )
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # making a root needs root; the check happens first
    monkeypatch.setattr(sidroot, "ROOT_DIR", tmp_path / "root")
    monkeypatch.setattr(sidroot, "MIRROR", mirror.url("/debian"))
    monkeypatch.setattr(sidroot, "debian_architecture", lambda: "amd64")
    lines = []

    with pytest.raises(sidroot.SidRootError, match="No Debian suite has the Emscripten") as raised:
        sidroot.ensure_root(progress=lines.append, releases=RELEASES)

    assert f"sid (sid): emscripten {unpinned_emscripten()}" in str(raised.value)
    assert not (tmp_path / "root").exists() and not log.exists() and lines == []


def test_the_summary_line_comes_from_the_marker(tmp_path):
    assert sidroot.summary(tmp_path) == f"no complete Debian root at {tmp_path}"
    release = RELEASES[0]
    marker = {
        "recipe": sidroot.RECIPE,
        "suite": "testing",
        "releases": [release.version],
        "emscripten": release.emscripten,
        "rustc": "1.2.3",
        "python": f"{release.python}.1",
    }
    (tmp_path / sidroot.COMPLETE_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    assert sidroot.summary(tmp_path) == (
        f"Debian testing root {tmp_path}: emscripten {release.emscripten}, rustc 1.2.3, "
        f"python {release.python}.1; real wasm builds for Pyodide {release.version}"
    )


def test_a_root_without_the_releases_emscripten_fails_the_real_build_with_the_fix(monkeypatch):
    monkeypatch.delenv(sidroot.ACCEPT_NO_WASM_BUILD, raising=False)
    release, record = RELEASES[0], real_builds.Record()
    real_builds.require_emscripten(release.emscripten, release, RELEASES, record)  # it fits: nothing to say
    assert record == real_builds.Record()

    with pytest.raises(pytest.fail.Exception) as raised:
        real_builds.require_emscripten(unpinned_emscripten(), release, RELEASES, record)

    why = (
        f"the Debian root's emcc is {unpinned_emscripten()}, not {release.emscripten} "
        f"(Pyodide {release.version}); it fits no release of the matrix"
    )
    assert str(raised.value).startswith(f"No real wasm build: {why}.\nFix: remake the root")
    assert f"{sidroot.ACCEPT_NO_WASM_BUILD}=1" in str(raised.value)
    assert record.summary_line() == f"real wasm builds: none ({why})"


def test_accepting_no_wasm_build_skips_it_and_says_so_in_the_last_line(monkeypatch):
    monkeypatch.setenv(sidroot.ACCEPT_NO_WASM_BUILD, "1")
    release, other = RELEASES[0], RELEASES[-1]
    assert release.emscripten != other.emscripten
    record = real_builds.Record()
    with pytest.raises(pytest.skip.Exception, match=f"accepted by {sidroot.ACCEPT_NO_WASM_BUILD}=1"):
        real_builds.require_emscripten(other.emscripten, release, RELEASES, record)
    assert record.summary_line().startswith(
        f"real wasm builds: none ({sidroot.ACCEPT_NO_WASM_BUILD}=1: the Debian root's emcc is {other.emscripten}"
    )
    assert f"it fits {other.version}" in record.summary_line()


def test_the_last_line_names_each_real_build():
    release = RELEASES[0]
    built = real_builds.Build(
        "Wasm-Demo", release.version, "the Debian sid root", release.emscripten, "1.2.3", 0
    )
    failed = real_builds.Build(
        "Other", release.version, "the Debian testing root", release.emscripten, "1.2.3", 2
    )
    assert real_builds.Record(builds=[built]).summary_line() == (
        f"real wasm builds: Wasm-Demo for Pyodide {release.version} in the Debian sid root "
        f"(emscripten {release.emscripten}, rustc 1.2.3)"
    )
    assert (
        real_builds.Record(builds=[built, failed])
        .summary_line()
        .endswith(
            "in the Debian testing root (emscripten "
            f"{release.emscripten}, rustc 1.2.3), which FAILED (exit code 2)"
        )
    )


def test_the_runs_last_line_says_which_real_builds_were_made():
    selected = f"{Path(__file__).name}::test_the_upstream_part_of_a_debian_version"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", selected, "-p", "no:cacheprovider"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 4 passed in " in lines[-2]  # pytest's own last line comes before
    assert lines[-1] == "real wasm builds: none (no test of this run needed one)"


@pytest.fixture(scope="module")
def root():
    try:
        return sidroot.ensure_root()
    except sidroot.SidRootError as error:
        pytest.fail(str(error), pytrace=False)


def in_root(root, *argv, **options):
    result = sidroot.run(root, list(argv), cwd=options.pop("cwd", "/"), timeout=300, **options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.wasm
def test_emcc_in_the_root_is_the_emscripten_of_a_release(root):
    version = sidroot.emcc_version(root)
    marker = sidroot.read_marker(root)
    # The marker records what the root really holds, and the summary line prints it.
    assert (marker["emscripten"], marker["rustc"]) == (version, sidroot.rustc_version(root))
    python = in_root(root, marker["python_command"], "--version").strip()
    assert python == f"Python {marker['python']}"
    assert marker["suite"] in sidroot.SUITES and f"Debian {marker['suite']} root" in sidroot.summary(root)
    releases = [release for release in RELEASES if release.emscripten == version]
    if not releases:
        pinned = ", ".join(sorted({release.emscripten for release in RELEASES}))
        message = (
            f"The Debian root's emcc is {version}, which no Pyodide release pins (the matrix has {pinned})"
        )
        if sidroot.no_wasm_build_accepted():
            pytest.skip(f"{message}; accepted by {sidroot.ACCEPT_NO_WASM_BUILD}")
        pytest.fail(f"{message}. Remake the root ({sidroot.ROOT_DIR}) or update the matrix.", pytrace=False)
    for release in releases:  # the root must also hold that release's Python
        assert in_root(root, f"python{release.python}", "--version").startswith(f"Python {release.python}.")


@pytest.mark.wasm
def test_commands_run_inside_the_sid_root(root):
    assert in_root(root, "cat", "/etc/debian_version").strip().endswith("/sid")  # e.g. forky/sid
    python = sidroot.read_marker(root)["python_command"]  # python3.15 for Pyodide 315
    version = in_root(root, python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()
    assert python == f"python{version}" or python == "python3"
    assert in_root(root, "maturin", "--version").startswith("maturin ")  # the venv is first on PATH
    sysroot = in_root(root, "rustc", "--print", "sysroot").strip()
    in_root(
        root, "test", "-f", f"{sysroot}/lib/rustlib/src/rust/library/Cargo.lock"
    )  # rust-src, for build-std
    assert sidroot.rustc_version(root).count(".") == 2


@pytest.mark.wasm
def test_the_environment_is_the_roots_own_plus_what_the_caller_gives(root, monkeypatch):
    monkeypatch.setenv("RUSTFLAGS", "-C from-the-host")
    lines = in_root(root, "env", env={"MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION": "2026_5"}).splitlines()
    assert "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION=2026_5" in lines
    assert f"EM_CACHE={sidroot.EM_CACHE}" in lines
    assert f"CARGO_HOME={sidroot.CARGO_HOME}" in lines
    assert not any(line.startswith("RUSTFLAGS=") for line in lines)


@pytest.mark.wasm
def test_a_bound_host_folder_is_readable_and_writable_at_the_same_path(root, tmp_path):
    (tmp_path / "in.txt").write_text("from the host\n")
    script = "cat in.txt; echo from the root > out.txt; exit 3"
    result = sidroot.run(root, ["sh", "-c", script], cwd=str(tmp_path), bind=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (3, "from the host\n"), result.stderr
    assert (tmp_path / "out.txt").read_text() == "from the root\n"
    # Everything was mounted in the command's own namespace: nothing is left mounted on the host.
    assert str(root) not in Path("/proc/self/mountinfo").read_text()
