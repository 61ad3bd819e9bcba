"""The managed toolchain provider against local mirrors: real HTTP, git, tarballs and rustup, no mocks.

The HTTP server on 127.0.0.1 stands in for GitHub's release downloads (and for rustup's dist server, so
that any request rustup makes is recorded too); a local git repository stands in for emsdk; a temporary
RUSTUP_HOME holds this machine's real rustc (rustup's active toolchain, whatever its version) under the
pinned names. rustup's real download of the wasm std is the one `network` test; the real emsdk (GitHub,
storage.googleapis.com) is never fetched. Without rustup and a toolchain the tests fail, saying so.
"""

import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pytest
from pyo3_pyodide import cache, cache_upkeep
from pyo3_pyodide.download import DownloadError
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.toolchain import managed
from pyo3_pyodide.toolchain.model import ToolchainError
from rich.console import Console

from template_tools import ENGINE_DIR
from tests.helpers.mirrors import (
    BUILDING_PY,
    PATCHED_BUILDING_PY,
    MirrorServer,
    git,
    make_emsdk_repo,
    make_patches,
    make_rustup_home,
    make_tarball,
    path_without,
    real_toolchain_dir,
    sysroot_tarball,
    tag_emsdk_releases,
    xbuildenv_tarball,
)

SYSROOT_PATH = "/sysroot/emcc-4.0.9_nightly-2025-02-01.tar.bz2"
WASM = "wasm32-unknown-emscripten"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True)
class MachineRust:
    """rustup's active toolchain on this machine: its name, its folder and its rustc's version."""

    name: str
    folder: Path
    version: str


@functools.cache
def machine_rust() -> MachineRust:
    """This machine's Rust, asked of rustup itself; fails (not skips) the test, with the fix, without it."""
    rustup = shutil.which("rustup")
    if rustup is None:
        pytest.fail(
            "the managed provider's tests need rustup (https://rustup.rs) with a toolchain installed; "
            "rustup is not on PATH"
        )
    env = {**os.environ, "RUSTUP_AUTO_INSTALL": "0"}
    shown = subprocess.run(
        [rustup, "show", "active-toolchain"], capture_output=True, text=True, env=env, check=False
    )
    name = shown.stdout.split()[0] if shown.returncode == 0 and shown.stdout.split() else None
    folder = real_toolchain_dir(name) if name else None
    if folder is None:
        pytest.fail(
            f"`rustup show active-toolchain` names no installed toolchain ({shown.stdout + shown.stderr!r}): "
            "install one with `rustup toolchain install stable`"
        )
    verbose = subprocess.run(
        [folder / "bin" / "rustc", "-vV"], capture_output=True, text=True, env=env, check=False
    )
    release = re.search(r"^release: (\S+)$", verbose.stdout, re.MULTILINE)
    if release is None:
        pytest.fail(f"{folder}/bin/rustc -vV printed no release line: {verbose.stdout + verbose.stderr!r}")
    return MachineRust(name, folder, release.group(1))


@pytest.fixture(scope="session")
def emsdk_git(tmp_path_factory):
    return make_emsdk_repo(tmp_path_factory.mktemp("emsdk-git") / "emsdk")


@pytest.fixture
def mirror():
    with MirrorServer() as server:
        yield server


@dataclasses.dataclass
class Setup:
    cache: Path
    emsdk_log: Path
    rustup_home: Path

    def rustlib(self, toolchain: str) -> Path:
        [folder] = (self.rustup_home / "toolchains").glob(f"{toolchain}-*")
        return folder / "lib" / "rustlib"

    def emsdk_calls(self) -> list[str]:
        return self.emsdk_log.read_text().splitlines() if self.emsdk_log.exists() else []

    def files(self, folder: str) -> list[str]:
        return sorted(path.name for path in (self.cache / folder).glob("*"))


@pytest.fixture
def setup(tmp_path, monkeypatch, mirror, emsdk_git):
    """The cache, emsdk's git URL and RUSTUP_HOME pointed at local stand-ins, as a user's mirror would.

    The stand-in toolchains' names look like pins; each is this machine's real rustc, whatever its version.
    """
    rustup_home = make_rustup_home(
        tmp_path / "rustup",
        machine_rust().folder,
        {"1.95.0": True, "1.94.0": False, "nightly-2025-02-01": False},
    )
    monkeypatch.setenv("RUSTUP_HOME", str(rustup_home))
    monkeypatch.setenv("RUSTUP_DIST_SERVER", mirror.url("/rustup"))
    monkeypatch.setenv("RUSTUP_UPDATE_ROOT", mirror.url("/rustup/rustup"))
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", emsdk_git)
    monkeypatch.delenv("PYO3_PYODIDE_GITHUB_MIRROR", raising=False)
    monkeypatch.setenv("EMSDK_STANDIN_LOG", str(tmp_path / "emsdk.log"))
    return Setup(cache=tmp_path / "cache", emsdk_log=tmp_path / "emsdk.log", rustup_home=rustup_home)


def serve_xbuildenv(mirror, version, patches=None) -> dict:
    body = xbuildenv_tarball(make_patches() if patches is None else patches, version)
    url = mirror.serve(f"/pyodide/releases/download/{version}/xbuildenv-{version}.tar.bz2", body)
    return {"xbuildenv_url": url, "xbuildenv_sha256": sha256(body)}


def release_314(mirror, **changes) -> Release:
    """Like 314.0.7: rustup's own std, Emscripten 5.0.3 (here with the test patches)."""
    fields = dict(
        version="314.0.7",
        status="stable",
        npm="314.0.7",
        python="3.14",
        emscripten="5.0.3",
        abi="2026_0",
        platform_tag="pyemscripten_2026_0_wasm32",
        rust_toolchain="1.95.0",
        rustflags=("-C", "link-arg=-sSIDE_MODULE=2"),
        **serve_xbuildenv(mirror, "314.0.5"),
    )
    return Release(**{**fields, **changes})


def release_029(mirror, sysroot: bytes | None = None, **changes) -> Release:
    """Like 0.29.5: a nightly with Pyodide's wasm-eh sysroot (no published digest), Emscripten 4.0.9."""
    url = mirror.serve(SYSROOT_PATH, sysroot_tarball() if sysroot is None else sysroot)
    fields = dict(
        version="0.29.5",
        status="legacy",
        npm="0.29.5",
        python="3.13",
        emscripten="4.0.9",
        abi="2025_0",
        platform_tag="pyemscripten_2025_0_wasm32",
        rust_toolchain="nightly-2025-02-01",
        rustflags=("-Z", "emscripten-wasm-eh"),
        rust_sysroot_url=url,
        **serve_xbuildenv(mirror, "0.29.4"),
    )
    return Release(**{**fields, **changes})


def test_fresh_install_then_a_second_run_makes_no_request(setup, mirror, capsys):
    release = release_029(mirror)
    started = time.monotonic()
    toolchain = managed.ensure_toolchain(release)
    fresh_seconds = time.monotonic() - started
    output = capsys.readouterr().err

    assert sorted(mirror.requests) == sorted(
        [SYSROOT_PATH, "/pyodide/releases/download/0.29.4/xbuildenv-0.29.4.tar.bz2"]
    )
    # The sysroot replaces rustup's std in the pinned toolchain; no digest upstream, so the first is kept.
    rustlib = setup.rustlib("nightly-2025-02-01")
    assert (rustlib / WASM / "lib" / "libstd-0123.rlib").read_bytes() == b"std wasm-eh"
    assert "upstream publishes no sha256" in output
    [record] = (setup.cache / "rust-sysroot").glob("*.json")
    assert json.loads(record.read_text())["sha256"] == sha256(sysroot_tarball())
    # emsdk at the pinned version, Pyodide's patches applied in name order (the tarball lists 0002 first).
    emsdk = Path(toolchain.env["EMSDK"])
    assert emsdk.parent == setup.cache / "emsdk" and emsdk.name.startswith("4.0.9-pyodide-")
    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == PATCHED_BUILDING_PY
    assert setup.emsdk_calls() == ["install 4.0.9", "activate 4.0.9"]
    assert setup.files("downloads") == []
    # What the build gets.
    assert (toolchain.provider, toolchain.release, toolchain.build_std) == ("managed", release, False)
    assert toolchain.env["RUSTUP_TOOLCHAIN"] == "nightly-2025-02-01"
    assert toolchain.env["EM_CONFIG"] == str(emsdk / ".emscripten")
    assert toolchain.env["PATH"].split(os.pathsep)[:2] == [str(emsdk), str(emsdk / "upstream/emscripten")]
    emcc = subprocess.run(
        ["emcc", "--version"], env={**os.environ, **toolchain.env}, capture_output=True, text=True, check=True
    )
    assert "4.0.9" in emcc.stdout

    mirror.requests.clear()
    setup.emsdk_log.unlink()
    marker = emsdk / cache.MARKER
    marker_mtime = marker.stat().st_mtime_ns
    started = time.monotonic()
    again = managed.ensure_toolchain(release)
    repeated_seconds = time.monotonic() - started

    assert again == toolchain
    assert mirror.requests == []  # nothing downloaded, rustup asked nothing of its dist server
    assert setup.emsdk_calls() == []  # emsdk not run, not cloned again
    assert marker.stat().st_mtime_ns == marker_mtime
    assert managed.installed_toolchain(release) == toolchain
    print(f"managed toolchain: fresh {fresh_seconds:.2f} s, repeated {repeated_seconds:.2f} s")


def test_rustup_std_release_through_a_github_mirror(setup, mirror, monkeypatch):
    github_path = "/pyodide/pyodide/releases/download/314.0.5/xbuildenv-314.0.5.tar.bz2"
    body = xbuildenv_tarball(make_patches())
    mirror.serve("/gh" + github_path, body)
    monkeypatch.setenv("PYO3_PYODIDE_GITHUB_MIRROR", mirror.url("/gh/"))
    release = release_314(
        mirror, xbuildenv_url="https://github.com" + github_path, xbuildenv_sha256=sha256(body)
    )

    toolchain = managed.ensure_toolchain(release)

    assert mirror.requests == ["/gh" + github_path]  # rustup had 1.95.0 and its wasm std already
    emsdk = Path(toolchain.env["EMSDK"])
    assert emsdk.name.startswith("5.0.3-pyodide-")
    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == PATCHED_BUILDING_PY
    assert toolchain.env["EMSDK_NODE"] == str(emsdk / "node/22.16.0_64bit/bin/node")


def test_two_releases_with_one_emscripten_share_one_emsdk(setup, mirror):
    first = managed.ensure_toolchain(release_314(mirror))
    second = managed.ensure_toolchain(release_314(mirror, version="314.0.6", npm="314.0.6"))
    assert first.env["EMSDK"] == second.env["EMSDK"]
    assert setup.emsdk_calls() == ["install 5.0.3", "activate 5.0.3"]


@pytest.mark.parametrize("artifact", ["sysroot", "xbuildenv"])
def test_a_download_cut_short_installs_nothing_and_a_rerun_completes(setup, mirror, artifact):
    release = release_029(mirror)
    path = (
        SYSROOT_PATH
        if artifact == "sysroot"
        else release.xbuildenv_url.split(str(mirror.server.server_address[1]))[1]
    )
    body = mirror.files[path]
    mirror.serve(path, body, cut_after=len(body) // 2)

    with pytest.raises(
        DownloadError, match=rf"was cut short \(.*{len(body) // 2} bytes read.*announced {len(body)} bytes"
    ):
        managed.ensure_toolchain(release)

    assert setup.files("downloads") == []  # no .part left that could pass for a finished file
    assert setup.files("emsdk") == []
    assert not (setup.cache / "xbuildenv").exists() or setup.files("xbuildenv") == []
    if artifact == "sysroot":
        assert not (setup.rustlib("nightly-2025-02-01") / WASM).exists()
        assert not (setup.cache / "rust-sysroot").exists()
    mirror.serve(path, body)
    toolchain = managed.ensure_toolchain(release)
    assert managed.installed_toolchain(release) == toolchain


def test_a_killed_emsdk_install_leaves_no_marker_and_is_resumed(setup, mirror, tmp_path):
    release = release_314(mirror)
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from pyo3_pyodide.toolchain import managed; from pyo3_pyodide.matrix import Release;"
        "fields = json.loads(sys.argv[2]); fields['rustflags'] = tuple(fields['rustflags']);"
        "managed.ensure_toolchain(Release(**fields))"
    )
    hanging = tmp_path / "hanging"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(ENGINE_DIR / "src"), json.dumps(dataclasses.asdict(release))],
        env={**os.environ, "EMSDK_STANDIN_HANG": str(hanging)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not hanging.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hanging.exists(), "the stand-in emsdk never started installing"
    os.killpg(process.pid, signal.SIGKILL)  # the install and its emsdk child, mid-install
    process.wait()

    [emsdk] = (setup.cache / "emsdk").iterdir()
    assert not (emsdk / cache.MARKER).exists()
    assert managed.installed_toolchain(release) is None

    toolchain = managed.ensure_toolchain(release)

    assert Path(toolchain.env["EMSDK"]) == emsdk
    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == PATCHED_BUILDING_PY
    assert setup.emsdk_calls() == ["install 5.0.3", "install 5.0.3", "activate 5.0.3"]


def test_an_emsdk_killed_after_patching_resumes_without_patching_twice(setup, mirror):
    release = release_314(mirror)
    emsdk = Path(managed.ensure_toolchain(release).env["EMSDK"])
    (emsdk / cache.MARKER).unlink()  # as if killed before the marker was written

    managed.ensure_toolchain(release)

    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == PATCHED_BUILDING_PY
    assert setup.emsdk_calls()[2:] == ["install 5.0.3", "activate 5.0.3"]  # install: "already installed"


def test_a_changed_emsdk_is_never_taken_for_pyodides(setup, mirror, capsys):
    release = release_314(mirror)
    emsdk = Path(managed.ensure_toolchain(release).env["EMSDK"])
    building = emsdk / "upstream/emscripten/tools/building.py"

    building.write_text(BUILDING_PY)  # Pyodide's patches undone: a plain emsdk
    assert managed.installed_toolchain(release) is None
    managed.ensure_toolchain(release)
    assert building.read_text() == PATCHED_BUILDING_PY

    building.write_text("garbage\n")  # neither patched nor plain: installed afresh
    managed.ensure_toolchain(release)
    assert building.read_text() == PATCHED_BUILDING_PY
    assert "installing afresh" in capsys.readouterr().err
    # The first install, the repair's (a no-op), the resume's whose patches failed, the fresh one.
    assert setup.emsdk_calls().count("install 5.0.3") == 4


def test_a_patch_that_does_not_apply_is_a_clear_error(setup, mirror):
    patches = {"0001-other.patch": make_patches()["0002-On-top-of-0001.patch"]}
    release = release_314(mirror, **serve_xbuildenv(mirror, "314.0.5-other", patches))
    with pytest.raises(
        ToolchainError,
        match=r"patches \(0001-other.patch\) do not apply to the Emscripten in .*5.0.3-pyodide-",
    ):
        managed.ensure_toolchain(release)
    assert not any((setup.cache / "emsdk").glob(f"*/{cache.MARKER}"))


def test_patches_apply_all_or_none(setup, mirror):
    # The first patch applies, the second does not: the first is reversed, the tree is emsdk's own.
    patches = make_patches()
    first = "0001-Dont-check-exports-for-being-valid-C-identifiers.patch"
    broken = {first: patches[first], "0002-broken.patch": patches[first]}  # 0001 again: no longer applies
    release = release_314(mirror, **serve_xbuildenv(mirror, "314.0.5-broken", broken))
    message = (
        rf"\(0002-broken.patch\) do not apply.*None of Pyodide's patches is left applied \({first} reversed\)"
    )
    with pytest.raises(ToolchainError, match=re.compile(message, re.DOTALL)):
        managed.ensure_toolchain(release)
    [emsdk] = (setup.cache / "emsdk").glob("5.0.3-pyodide-*")
    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == BUILDING_PY
    assert not (emsdk / cache.MARKER).exists()


def test_rustup_queries_never_install_the_projects_toolchain(setup, mirror, monkeypatch, tmp_path):
    # A project's rust-toolchain.toml names a toolchain rustup lacks; rustup's auto-install (on by default
    # on users' machines and GitHub's runners; these machines turn it off) would fetch it on a query.
    monkeypatch.delenv("RUSTUP_AUTO_INSTALL", raising=False)
    project = tmp_path / "theirs"
    project.mkdir()
    (project / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.93.0"\n')
    monkeypatch.chdir(project)
    assert managed.rust_status("1.95.0") == (True, True)
    assert managed.rust_status("1.93.0") == (False, False)
    assert mirror.requests == []


def test_a_wrong_checksum_installs_nothing(setup, mirror):
    release = release_314(mirror, xbuildenv_sha256="0" * 64)
    with pytest.raises(
        DownloadError,
        match=r"has sha256 [0-9a-f]{64}, but 0{64} was expected \(sha256 pinned in pyodide-matrix.toml\)",
    ):
        managed.ensure_toolchain(release)
    assert setup.files("downloads") == []
    assert not (setup.cache / "xbuildenv").exists()
    assert not (setup.cache / "emsdk").exists()

    release = release_029(mirror, rust_sysroot_sha256="1" * 64)
    with pytest.raises(
        DownloadError, match=r"but 1{64} was expected \(sha256 pinned in pyodide-matrix.toml\)"
    ):
        managed.ensure_toolchain(release)
    assert not (setup.rustlib("nightly-2025-02-01") / WASM).exists()


def test_a_sysroot_without_digest_must_match_its_first_download(setup, mirror, capsys):
    release = release_029(mirror)
    managed.ensure_toolchain(release)
    rustlib = setup.rustlib("nightly-2025-02-01")
    (rustlib / managed.SYSROOT_MARKER).unlink()  # e.g. the toolchain was reinstalled
    release = release_029(mirror, sysroot=sysroot_tarball(b"re-uploaded"))

    with pytest.raises(DownloadError, match=r"recorded at the first download in .*delete that file"):
        managed.ensure_toolchain(release)
    assert (rustlib / WASM / "lib" / "libstd-0123.rlib").read_bytes() == b"std wasm-eh"

    [record] = (setup.cache / "rust-sysroot").glob("*.json")
    record.unlink()  # the user trusts the new upload
    managed.ensure_toolchain(release)
    assert (rustlib / WASM / "lib" / "libstd-0123.rlib").read_bytes() == b"std re-uploaded"
    assert json.loads(record.read_text())["sha256"] == sha256(sysroot_tarball(b"re-uploaded"))


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"../evil": b"x"}, {}, r"'\.\./evil', a path outside the folder it unpacks into"),
        ({"wasm32-unknown-emscripten/../../evil": b"x"}, {}, r"a path outside the folder"),
        ({"/ABSOLUTE/evil": b"x"}, {}, r"'/ABSOLUTE/evil', a path outside the folder"),
        ({}, {"wasm32-unknown-emscripten/lib/evil": "/etc/passwd"}, r"which is a link"),
        ({"elsewhere/evil": b"x"}, {}, r"outside the top folder wasm32-unknown-emscripten/"),
    ],
)
def test_unsafe_sysroot_tarballs_are_refused(setup, mirror, tmp_path, members, links, message):
    members = {name.replace("/ABSOLUTE", str(tmp_path)): content for name, content in members.items()}
    message = message.replace("/ABSOLUTE", str(tmp_path))
    good = {"wasm32-unknown-emscripten/lib/libstd-0123.rlib": b"std"}
    release = release_029(mirror, sysroot=make_tarball({**good, **members}, links))

    with pytest.raises(ToolchainError, match=message):
        managed.ensure_toolchain(release)

    rustlib = setup.rustlib("nightly-2025-02-01")
    assert not (tmp_path / "evil").exists() and not (rustlib / "evil").exists()
    assert not (rustlib.parent / "evil").exists()
    assert not (rustlib / WASM).exists() and not (rustlib / managed.SYSROOT_MARKER).exists()
    assert not (setup.cache / "rust-sysroot").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not a tarball", r"could not unpack .*emcc-4.0.9_nightly-2025-02-01.tar.bz2"),
        (make_tarball({}), r"holds no wasm32-unknown-emscripten/ folder"),
    ],
)
def test_a_sysroot_that_is_no_sysroot_is_refused(setup, mirror, body, message):
    with pytest.raises(ToolchainError, match=message):
        managed.ensure_toolchain(release_029(mirror, sysroot=body))
    rustlib = setup.rustlib("nightly-2025-02-01")
    assert sorted(path.name for path in rustlib.iterdir() if not path.is_file()) == []


def test_list_shows_every_area_and_prune_removes_only_what_no_release_needs(setup, mirror):
    release_a, release_b = release_029(mirror), release_314(mirror)
    managed.ensure_toolchain(release_a)
    managed.ensure_toolchain(release_b)
    leftover = setup.cache / "downloads" / "xbuildenv-0.1.0.tar.bz2.part"
    leftover.write_bytes(b"x" * 3000)
    wheel = setup.cache / "wheels" / "pluggy-1.6.0-py3-none-any.whl"  # keyed by content: kept
    wheel.parent.mkdir()
    wheel.write_bytes(b"w" * 100)

    entries = cache.entries(cache_upkeep.users([release_a, release_b]))
    by_area = {}
    for entry in entries:
        by_area.setdefault(entry.area.name, []).append(entry)
    assert {area: len(found) for area, found in by_area.items()} == {
        "emsdk": 2,
        "xbuildenv": 2,
        "rust-sysroot": 1,
        "downloads": 1,
        "wheels": 1,
    }
    assert all(entry.size > 0 for entry in entries)
    assert by_area["downloads"][0].size == 3000 and by_area["downloads"][0].state == "unfinished"
    assert {entry.path.name.split("-")[0]: entry.used_by for entry in by_area["emsdk"]} == {
        "4.0.9": ("0.29.5",),
        "5.0.3": ("314.0.7",),
    }
    recorder = Console(record=True, width=400, file=io.StringIO())
    recorder.print(*cache_upkeep.listing([release_a, release_b]))
    listing = recorder.export_text()
    assert "2.9 KiB" in listing and "0.29.5" in listing and str(setup.cache) in listing
    for area in cache.AREAS:  # every area is listed with what it holds, the empty ones too
        assert area.holds in listing

    unused = [entry for entry in entries if "314.0.7" not in entry.used_by and entry.area.name != "wheels"]
    freed = cache_upkeep.prune([release_b])

    assert freed == sum(entry.size for entry in unused) and freed > 0
    assert [entry.path for entry in cache.entries({})] == [
        entry.path for entry in entries if "314.0.7" in entry.used_by or entry.area.name == "wheels"
    ]
    assert managed.installed_toolchain(release_b) is not None
    assert managed.installed_toolchain(release_a) is None


def test_the_plan_says_what_would_be_installed_and_where(setup, mirror):
    release = release_029(mirror)
    before = "\n".join(managed.describe_plan(release))
    assert f"cache: {setup.cache}" in before
    assert (
        "Rust nightly-2025-02-01 via rustup, wasm32-unknown-emscripten std from Pyodide's sysroot" in before
    )
    assert f"Rust sysroot: {release.rust_sysroot_url}" in before and "upstream publishes no sha256" in before
    assert "Pyodide's Emscripten patches" in before and ": to download" in before
    assert "emsdk 4.0.9: git clone file://" in before and "4.0.9-pyodide-<patch id>" in before
    assert "<patch id>" in managed.planned_toolchain(release).env["EMSDK"]
    assert mirror.requests == [] and not (setup.cache / "emsdk").exists()

    toolchain = managed.ensure_toolchain(release)
    after = "\n".join(managed.describe_plan(release))
    assert (
        "cached: 0001-Dont-check-exports-for-being-valid-C-identifiers.patch, 0002-On-top-of-0001.patch"
        in after
    )
    assert after.endswith(": installed")
    assert managed.planned_toolchain(release) == toolchain


def test_without_rustup_the_message_says_how_to_get_it(setup, mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", path_without("rustup", tmp_path / "bin"))
    release = release_314(mirror)
    with pytest.raises(ToolchainError, match=r"rustup is not on PATH.*https://rustup.rs"):
        managed.ensure_toolchain(release)
    assert managed.installed_toolchain(release) is None
    assert "cannot tell: rustup is not on PATH" in "\n".join(managed.describe_plan(release))


@pytest.mark.parametrize(
    ("toolchain", "command"),
    [
        ("1.91.0", "rustup toolchain install 1.91.0 --profile minimal --target wasm32-unknown-emscripten"),
        ("1.94.0", "rustup target add wasm32-unknown-emscripten --toolchain 1.94.0"),
    ],
)
def test_rustup_is_asked_for_exactly_what_is_missing(setup, mirror, toolchain, command):
    # The dist server is the local mirror, which has no Rust: rustup's request shows, then it fails.
    release = release_314(mirror, rust_toolchain=toolchain)
    with pytest.raises(ToolchainError, match=rf"`{command}` failed.*RUSTUP_DIST_SERVER"):
        managed.ensure_toolchain(release)
    assert any(path.startswith("/rustup/dist/") for path in mirror.requests)


@pytest.mark.network
def test_rustup_really_adds_the_wasm_std(setup, mirror, monkeypatch, tmp_path):
    # rustup's real dist server this time (static.rust-lang.org), into a stand-in toolchain named after
    # the machine's Rust version (its installed manifest says what to fetch), so the machine's own
    # toolchains stay as they are.
    monkeypatch.delenv("RUSTUP_DIST_SERVER")
    monkeypatch.delenv("RUSTUP_UPDATE_ROOT")
    version = machine_rust().version
    home = make_rustup_home(tmp_path / "rustup-net", machine_rust().folder, {version: False})
    monkeypatch.setenv("RUSTUP_HOME", str(home))
    release = release_314(mirror, rust_toolchain=version)
    assert managed.rust_status(version) == (True, False)

    managed.ensure_toolchain(release)

    assert managed.rust_status(version) == (True, True)
    [toolchain_dir] = (home / "toolchains").iterdir()
    assert any((toolchain_dir / "lib/rustlib" / WASM / "lib").glob("libstd-*.rlib"))


def test_rust_status_reads_this_machines_rustup():
    # Real RUSTUP_HOME, read only: the active toolchain is installed (its wasm target may or may not be).
    installed, _ = managed.rust_status(machine_rust().name)
    assert installed
    assert managed.rust_status("1.0.0") == (False, False)


def test_a_cross_build_environment_without_patches_gives_emscripten_as_released(setup, mirror, capsys):
    # Like 0.27.x, whose cross-build environment carries no emsdk/patches.
    release = release_314(mirror, **serve_xbuildenv(mirror, "0.27.7", {}))
    toolchain = managed.ensure_toolchain(release)
    emsdk = Path(toolchain.env["EMSDK"])
    assert emsdk == setup.cache / "emsdk" / "5.0.3"
    assert (emsdk / "upstream/emscripten/tools/building.py").read_text() == BUILDING_PY
    assert "none in this cross-build environment" in capsys.readouterr().err


def test_installs_sharing_the_cache_wait_for_each_other(setup, mirror, capsys):
    lock = setup.cache / ".lock"
    lock.parent.mkdir(parents=True)
    code = "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX);"
    code += "print('locked', flush=True); time.sleep(1)"
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    managed.ensure_toolchain(release_314(mirror))
    assert "waiting for another install or prune" in capsys.readouterr().err
    holder.wait()


def test_the_plan_for_every_shipped_release_downloads_nothing(setup, mirror):
    from template_tools import matrix

    for release in matrix.load().releases.values():
        plan = "\n".join(managed.describe_plan(release))
        assert f"emsdk {release.emscripten}: git clone" in plan
        assert release.xbuildenv_url in plan
        if release.rust_sysroot_url:
            assert "upstream publishes no sha256" in plan
        assert managed.planned_toolchain(release).env["RUSTUP_TOOLCHAIN"] == release.rust_toolchain
    assert mirror.requests == []
    assert not (setup.cache / "emsdk").exists()


# Faults: each leaves nothing that counts as installed, says what happened, and a re-run repairs.


class StallingServer:
    """One file on 127.0.0.1 whose first download stalls halfway (a download in progress, as when the user
    presses Ctrl-C); later requests get the whole file."""

    def __init__(self, path: str, body: bytes) -> None:
        self.path, self.body = path, body
        self.sent_half = threading.Event()
        self.unblock = threading.Event()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                if len(outer.requests) == 1:
                    self.wfile.write(outer.body[: len(outer.body) // 2])
                    self.wfile.flush()
                    outer.sent_half.set()
                    outer.unblock.wait(120)
                    return
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unblock.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"


@pytest.fixture
def refusing_url():
    """A URL on 127.0.0.1 whose port is bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield lambda path: f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


def start_install(release: Release, **env: str) -> subprocess.Popen:
    """`ensure_toolchain(release)` in a process of its own, in a process group of its own (as a terminal
    runs a command: Ctrl-C signals the whole group)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from pyo3_pyodide.toolchain import managed; from pyo3_pyodide.matrix import Release;"
        "fields = json.loads(sys.argv[2]); fields['rustflags'] = tuple(fields['rustflags']);"
        "managed.ensure_toolchain(Release(**fields))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(ENGINE_DIR / "src"), json.dumps(dataclasses.asdict(release))],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As a terminal starts a command: SIGINT at its default. The test may run under a parent that
        # ignores SIGINT (nox does while it runs pytest), and an ignored signal is inherited.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 (no locks taken)
    )


def ctrl_c(process: subprocess.Popen) -> str:
    """SIGINT to the process's group, as Ctrl-C in a terminal; returns its stderr once it has exited."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("the install did not stop within 60 s of Ctrl-C")
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr, stderr
    return stderr


@pytest.mark.parametrize("artifact", ["sysroot", "xbuildenv"])
def test_ctrl_c_during_a_download_installs_nothing_and_a_rerun_completes(setup, mirror, artifact):
    body = sysroot_tarball() if artifact == "sysroot" else xbuildenv_tarball(make_patches(), "0.29.4")
    name = SYSROOT_PATH if artifact == "sysroot" else "/xbuildenv/xbuildenv-0.29.4.tar.bz2"
    with StallingServer(name, body) as stalling:
        if artifact == "sysroot":
            release = release_029(mirror, rust_sysroot_url=stalling.url)
        else:
            release = release_029(mirror, xbuildenv_url=stalling.url, xbuildenv_sha256=sha256(body))
        process = start_install(release)
        assert stalling.sent_half.wait(60), "the download never started"
        partial = setup.cache / "downloads" / (name.rsplit("/", 1)[1] + ".part")
        deadline = time.monotonic() + 30
        while not partial.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert partial.exists(), "the download was not being written"

        ctrl_c(process)

        assert setup.files("downloads") == []  # the .part went with the interrupted download
        assert managed.installed_toolchain(release) is None
        assert not (setup.cache / "emsdk").exists()
        rustlib = setup.rustlib("nightly-2025-02-01")
        if artifact == "sysroot":
            assert not (rustlib / WASM).exists() and not (rustlib / managed.SYSROOT_MARKER).exists()
            assert not (setup.cache / "rust-sysroot").exists()
            assert not (setup.cache / "xbuildenv").exists()
        else:
            assert not any((setup.cache / "xbuildenv").glob("*/.pyo3-pyodide-*"))
            assert setup.files("xbuildenv") == []

        toolchain = managed.ensure_toolchain(release)

    assert managed.installed_toolchain(release) == toolchain
    assert len(stalling.requests) == 2  # the rerun downloaded it again, whole
    assert (setup.rustlib("nightly-2025-02-01") / WASM / "lib" / "libstd-0123.rlib").is_file()


def test_ctrl_c_during_emsdk_install_leaves_no_marker_and_a_rerun_completes(setup, mirror, tmp_path):
    release = release_314(mirror)
    hanging = tmp_path / "hanging"
    process = start_install(release, EMSDK_STANDIN_HANG=str(hanging))
    deadline = time.monotonic() + 60
    while not hanging.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hanging.exists(), "the stand-in emsdk never started installing"

    ctrl_c(process)  # reaches emsdk too, as a terminal's Ctrl-C does

    [emsdk] = (setup.cache / "emsdk").iterdir()
    assert not (emsdk / cache.MARKER).exists()
    assert managed.installed_toolchain(release) is None

    toolchain = managed.ensure_toolchain(release)

    assert Path(toolchain.env["EMSDK"]) == emsdk
    assert managed.installed_toolchain(release) == toolchain
    assert setup.emsdk_calls() == ["install 5.0.3", "install 5.0.3", "activate 5.0.3"]


@pytest.mark.parametrize("artifact", ["sysroot", "xbuildenv"])
@pytest.mark.parametrize("fault", ["HTTP 404", "connection refused"])
def test_a_download_that_fails_says_why_and_a_rerun_completes(setup, mirror, refusing_url, artifact, fault):
    path = f"/missing/{artifact}.tar.bz2"
    url = mirror.url(path) if fault == "HTTP 404" else refusing_url(path)
    what = (
        "the Rust wasm-eh sysroot"
        if artifact == "sysroot"
        else "Pyodide's cross-build environment for 0.29.5"
    )
    if artifact == "sysroot":
        release = release_029(mirror, rust_sysroot_url=url)
    else:
        release = release_029(mirror, xbuildenv_url=url)
    pinned = (
        "The URL is pinned in pyodide-matrix.toml (`copier update` brings new pins); set "
        "PYO3_PYODIDE_GITHUB_MIRROR to a mirror that holds it."
    )
    if fault == "HTTP 404":
        message = (
            f"could not download {url} ({what}): HTTP 404 Not Found. Nothing was kept. There is no such "
            f"file at that URL. {pinned}"
        )
    else:
        message = (
            f"could not download {url} ({what}): Connection refused. Nothing was kept. Check the network "
            f"and any proxy, and run again. {pinned}"
        )

    with pytest.raises(DownloadError) as raised:
        managed.ensure_toolchain(release)

    assert str(raised.value) == message
    assert setup.files("downloads") == []
    assert managed.installed_toolchain(release) is None
    assert not (setup.cache / "emsdk").exists()
    if artifact == "sysroot":
        assert not (setup.rustlib("nightly-2025-02-01") / WASM).exists()
    good = release_029(mirror)
    toolchain = managed.ensure_toolchain(good)
    assert managed.installed_toolchain(good) == toolchain


@pytest.mark.parametrize(
    ("toolchain", "command"),
    [
        ("1.91.0", "rustup toolchain install 1.91.0 --profile minimal --target wasm32-unknown-emscripten"),
        ("1.94.0", "rustup target add wasm32-unknown-emscripten --toolchain 1.94.0"),
    ],
)
@pytest.mark.parametrize("fault", ["HTTP 404", "connection refused"])
def test_rustup_download_failures_say_why(
    setup, mirror, monkeypatch, refusing_url, toolchain, command, fault
):
    server = mirror.url("/rustup") if fault == "HTTP 404" else refusing_url("/rustup")
    monkeypatch.setenv("RUSTUP_DIST_SERVER", server)
    before = managed.rust_status(toolchain)
    release = release_314(mirror, rust_toolchain=toolchain)
    if fault == "HTTP 404":
        why = (
            rf"status code: 404\)\. {re.escape(server)} has no such file \(HTTP 404\): either no Rust "
            rf"{toolchain} exists \(check rust_toolchain in pyodide-matrix.toml\) or the mirror in "
            r"RUSTUP_DIST_SERVER lacks it, and run again"
        )
    else:
        why = (
            rf"Connection refused \(os error 111\)\)\. rustup could not reach {re.escape(server)}: check the "
            r"network, or set RUSTUP_DIST_SERVER to a reachable mirror, and run again"
        )

    with pytest.raises(ToolchainError, match=rf"^`{command}` failed \(.*{why}"):
        managed.ensure_toolchain(release)

    assert managed.rust_status(toolchain) == before  # rustup installed nothing of it
    assert managed.installed_toolchain(release) is None


def tarball_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        for member, content in members:
            if content is not None:
                member.size = len(content)
            archive.addfile(member, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info


PATCHES = "xbuildenv/pyodide-root/emsdk/patches"
FIRST_PATCH = "0001-Dont-check-exports-for-being-valid-C-identifiers.patch"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<html>Not Found</html>",
            (
                r"is not a readable tarball \(file could not be opened successfully\): nothing was installed\. The file is not Pyodide's "
                r"cross-build environment as released: check xbuildenv_url in pyodide-matrix.toml"
            ),
        ),
        (
            tarball_of(
                (member("xbuildenv/requirements.txt"), b"x"),
                (member(f"{PATCHES}/{FIRST_PATCH}", tarfile.LNKTYPE, "xbuildenv/requirements.txt"), None),
            ),
            (
                rf"'{PATCHES}/{FIRST_PATCH}' is a hard link to 'xbuildenv/requirements.txt', not a plain "
                r"patch file: refusing it, nothing was installed\. The file is not Pyodide's cross-build"
            ),
        ),
        (
            tarball_of((member(f"{PATCHES}/{FIRST_PATCH}", tarfile.CHRTYPE), None)),
            rf"'{PATCHES}/{FIRST_PATCH}' is a device file, not a plain patch file: refusing it, nothing",
        ),
        (
            tarball_of(
                (member(f"{PATCHES}/{FIRST_PATCH}"), make_patches()[FIRST_PATCH]),
                (member(f"xbuildenv/other/emsdk/patches/{FIRST_PATCH}"), make_patches()[FIRST_PATCH]),
            ),
            (
                rf"has more than one emsdk/patches folder \(xbuildenv/other/emsdk/patches, {PATCHES}\), "
                r"where Pyodide's cross-build environment has one: refusing it, nothing was installed"
            ),
        ),
    ],
    ids=["not a tarball", "hard link", "device file", "two patch folders"],
)
def test_a_bad_cross_build_environment_installs_nothing(setup, mirror, body, message):
    url = mirror.serve("/pyodide/bad/xbuildenv.tar.bz2", body)
    release = release_314(mirror, xbuildenv_url=url, xbuildenv_sha256=sha256(body))

    with pytest.raises(ToolchainError, match=message):
        managed.ensure_toolchain(release)

    assert setup.files("downloads") == []
    assert not (setup.cache / "xbuildenv").exists()
    assert not (setup.cache / "emsdk").exists()
    assert managed.installed_toolchain(release) is None
    good = release_314(mirror)
    assert managed.installed_toolchain(good) is None
    toolchain = managed.ensure_toolchain(good)
    assert managed.installed_toolchain(good) == toolchain


def test_links_and_devices_beside_the_patches_are_never_unpacked(setup, mirror, tmp_path):
    # Only emsdk/patches/*.patch are read from a cross-build environment; nothing else reaches the disk.
    patches = make_patches()
    body = tarball_of(
        *[(member(f"{PATCHES}/{name}"), content) for name, content in patches.items()],
        (member("xbuildenv/dev-null", tarfile.CHRTYPE), None),
        (member("xbuildenv/passwd", tarfile.LNKTYPE, "/etc/passwd"), None),
        (member("xbuildenv/escape", tarfile.SYMTYPE, str(tmp_path / "escaped")), None),
    )
    url = mirror.serve("/pyodide/odd/xbuildenv.tar.bz2", body)
    release = release_314(mirror, xbuildenv_url=url, xbuildenv_sha256=sha256(body))

    managed.ensure_toolchain(release)

    [folder] = (setup.cache / "xbuildenv").iterdir()
    on_disk = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))
    assert on_disk == [cache.MARKER, "patches", *(f"patches/{name}" for name in sorted(patches))]
    assert not (tmp_path / "escaped").exists()


@pytest.fixture(scope="session")
def faulty_emsdk_git(tmp_path_factory):
    """The stand-in emsdk, which fails `emsdk install` when EMSDK_STANDIN_FAIL=install, and installs the
    Emscripten version EMSDK_STANDIN_INSTALLS instead of the one asked for, when set."""
    folder = tmp_path_factory.mktemp("faulty-emsdk") / "emsdk"
    url = make_emsdk_repo(folder)
    script = (folder / "emsdk").read_text()
    fail = "if version not in KNOWN:\n"
    wrong = """(emscripten / "emscripten-version.txt").write_text(f'"{version}"\\n')"""
    assert fail in script and wrong in script, "the stand-in emsdk changed: update this fixture"
    script = script.replace(
        fail,
        'if os.environ.get("EMSDK_STANDIN_FAIL") == command:\n'
        '    sys.exit("error: download of releases-" + version + " failed (stand-in)")\n' + fail,
    ).replace(
        wrong,
        """(emscripten / "emscripten-version.txt").write_text(
        '"' + os.environ.get("EMSDK_STANDIN_INSTALLS", version) + '"\\n')""",
    )
    (folder / "emsdk").write_text(script)
    git("commit", "--quiet", "-am", "faults on request", cwd=folder)
    tag_emsdk_releases(folder)
    return url


def test_a_failed_git_clone_of_emsdk_says_why_and_a_rerun_completes(setup, mirror, monkeypatch, emsdk_git):
    missing = (setup.cache.parent / "no-such-emsdk").as_uri()
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", missing)
    release = release_314(mirror)

    with pytest.raises(ToolchainError) as raised:
        managed.ensure_toolchain(release)

    assert str(raised.value) == (
        f"`git clone --branch 5.0.3 {missing}` failed (fatal: '{setup.cache.parent / 'no-such-emsdk'}' does "
        "not appear to be a git repository); nothing was installed. Check the network, or set "
        "PYO3_PYODIDE_EMSDK_GIT to a mirror of emsdk's git repository (with its tags: emsdk tags every "
        "release, 5.0.3 among them), and run again."
    )
    assert setup.files("emsdk") == []  # neither the folder nor its staged clone
    assert managed.installed_toolchain(release) is None
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", emsdk_git)
    toolchain = managed.ensure_toolchain(release)
    assert managed.installed_toolchain(release) == toolchain


def test_emsdk_is_cloned_at_the_tag_of_the_pin_and_again_when_it_differs(
    setup, mirror, monkeypatch, tmp_path, capsys
):
    # emsdk's main branch has moved on since its 5.0.3 tag: the clone is the tag's.
    folder = tmp_path / "emsdk-moved-on"
    url = make_emsdk_repo(folder)
    (folder / "README.md").write_text("emsdk main, after 5.0.3\n")
    git("commit", "--quiet", "-am", "main moves on", cwd=folder)
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", url)
    release = release_314(mirror)
    emsdk = Path(managed.ensure_toolchain(release).env["EMSDK"])
    assert (emsdk / "README.md").read_text() == "stand-in for emsdk\n"
    assert "git clone --depth 1 --branch 5.0.3" in capsys.readouterr().err
    # An emsdk cloned another way (from main, by an earlier version of this tool) is cloned again.
    (emsdk / managed.emsdk.CLONED_TAG).unlink()
    assert managed.installed_toolchain(release) is None
    managed.ensure_toolchain(release)
    assert "git clone --depth 1 --branch 5.0.3" in capsys.readouterr().err
    assert managed.installed_toolchain(release) is not None


def test_a_failed_emsdk_install_resumes_on_a_rerun(setup, mirror, monkeypatch, faulty_emsdk_git, capfd):
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", faulty_emsdk_git)
    monkeypatch.setenv("EMSDK_STANDIN_FAIL", "install")
    release = release_314(mirror)

    with pytest.raises(ToolchainError) as raised:
        managed.ensure_toolchain(release)

    [emsdk] = (setup.cache / "emsdk").iterdir()
    assert str(raised.value) == (
        f"`emsdk install 5.0.3` failed in {emsdk} (output above). emsdk downloads Emscripten from "
        "storage.googleapis.com: check the network and run again; the install resumes where it stopped."
    )
    assert "error: download of releases-5.0.3 failed (stand-in)" in capfd.readouterr().err
    assert not (emsdk / cache.MARKER).exists()
    assert managed.installed_toolchain(release) is None
    monkeypatch.delenv("EMSDK_STANDIN_FAIL")
    toolchain = managed.ensure_toolchain(release)
    assert Path(toolchain.env["EMSDK"]) == emsdk  # resumed in the same clone
    assert managed.installed_toolchain(release) == toolchain
    assert setup.emsdk_calls() == ["install 5.0.3", "install 5.0.3", "activate 5.0.3"]


def test_an_emsdk_that_installs_another_emscripten_is_removed(setup, mirror, monkeypatch, faulty_emsdk_git):
    monkeypatch.setenv("PYO3_PYODIDE_EMSDK_GIT", faulty_emsdk_git)
    monkeypatch.setenv("EMSDK_STANDIN_INSTALLS", "4.0.9")
    release = release_314(mirror)

    with pytest.raises(ToolchainError) as raised:
        managed.ensure_toolchain(release)

    emsdk = managed.planned_toolchain(release).env["EMSDK"]  # the patches are known by now
    assert "<patch id>" not in emsdk
    assert str(raised.value) == (
        f"`emsdk install 5.0.3` left Emscripten 4.0.9, not 5.0.3 in {emsdk}/upstream/emscripten; removed "
        f"{emsdk}, nothing was installed. The emsdk cloned from {faulty_emsdk_git} does not install what "
        "it is asked for: check PYO3_PYODIDE_EMSDK_GIT (a mirror of emsdk's git repository) and run again."
    )
    assert setup.files("emsdk") == []
    assert managed.installed_toolchain(release) is None
    monkeypatch.delenv("EMSDK_STANDIN_INSTALLS")
    toolchain = managed.ensure_toolchain(release)
    assert managed.installed_toolchain(release) == toolchain
    emcc = [str(Path(toolchain.env["EMSDK"]) / "upstream/emscripten/emcc"), "--version"]
    assert "5.0.3" in subprocess.run(emcc, capture_output=True, text=True, check=True).stdout
