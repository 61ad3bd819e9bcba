"""Local stand-ins for what the managed toolchain downloads, for tests that run without the internet.

- MirrorServer: an HTTP server on 127.0.0.1 that serves given files, records every request, and can cut a
  response short (a Content-Length larger than the body it sends, then the connection closes).
- make_emsdk_repo: a git repository standing in for emsdk: its `emsdk install VERSION` creates
  upstream/emscripten with an `emcc` script printing VERSION and a tools/building.py that Pyodide's test
  patches modify; `emsdk activate VERSION` writes .emscripten.
- make_tarball, make_patches: tarballs and patches with chosen (also malicious) members.
- make_rustup_home: a RUSTUP_HOME whose toolchains are this machine's real rustc under other names,
  with or without rustup's wasm32-unknown-emscripten std recorded as installed.
"""

from __future__ import annotations

import difflib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self


class MirrorServer:
    """Serves `files` (URL path -> bytes) on 127.0.0.1; `requests` lists every path asked for (GET),
    `heads` those only asked about (HEAD)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}  # path -> bytes sent before the connection closes
        self.requests: list[str] = []  # the paths of GET requests
        self.heads: list[str] = []  # the paths of HEAD requests
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: mirror.cut_after.get(self.path, len(body))])

            def do_HEAD(self) -> None:  # what the engine asks to learn whether the server can be reached
                mirror.heads.append(self.path)
                body = mirror.files.get(self.path)
                self.send_response(404 if body is None else 200)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, cut_after: int | None = None) -> str:
        self.files[path] = body
        self.cut_after.pop(path, None)
        if cut_after is not None:
            self.cut_after[path] = cut_after
        return self.url(path)


BUILDING_PY = """\
# Stand-in for emscripten's tools/building.py
def check_export_name(name):
    if not name.isidentifier():
        raise ValueError(f"invalid export name: {name}")
    return name
"""
# What Pyodide's two test patches make of it, applied in name order (0002 needs 0001's result).
PATCHED_BUILDING_PY = """\
# Stand-in for emscripten's tools/building.py
def check_export_name(name):
    return name  # Pyodide: Rust exports need not be C identifiers
    # patched by 0002, on top of 0001
"""

EMSDK_SCRIPT = """\
#!{python}
# Stand-in for emsdk: `install VERSION`, `activate VERSION`; no downloads.
import os, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KNOWN = ("4.0.9", "5.0.3", "6.0.5")
BUILDING_PY = {building!r}

command, version = sys.argv[1], sys.argv[-1]
if os.environ.get("EMSDK_STANDIN_LOG"):
    with open(os.environ["EMSDK_STANDIN_LOG"], "a") as log:
        log.write(f"{{command}} {{version}}\\n")
if version not in KNOWN:
    sys.exit(f"error: tool or SDK not found: '{{version}}'")
installed = HERE / "upstream" / ".emsdk_version"
emscripten = HERE / "upstream" / "emscripten"
if command == "install":
    if installed.is_file() and installed.read_text() == version:
        print(f"releases-{{version}}-64bit is already installed")
        sys.exit(0)
    (emscripten / "tools").mkdir(parents=True, exist_ok=True)
    (emscripten / "tools" / "building.py").write_text(BUILDING_PY)
    if os.environ.get("EMSDK_STANDIN_HANG"):  # to be killed here, half installed
        Path(os.environ["EMSDK_STANDIN_HANG"]).write_text(str(os.getpid()))
        time.sleep(600)
    emcc = emscripten / "emcc"
    emcc.write_text(f"#!/bin/sh\\necho 'emcc (Emscripten stand-in) {{version}}'\\n")
    emcc.chmod(0o755)
    (emscripten / "emscripten-version.txt").write_text(f'"{{version}}"\\n')
    node = HERE / "node" / "22.16.0_64bit" / "bin"
    node.mkdir(parents=True, exist_ok=True)
    (node / "node").write_text("#!/bin/sh\\n")
    (node / "node").chmod(0o755)
    installed.write_text(version)  # last, as emsdk marks a tool installed once it is unpacked
elif command == "activate":
    if not (installed.is_file() and installed.read_text() == version):
        sys.exit(f"error: {{version}} is not installed")
    (HERE / ".emscripten").write_text("emsdk_path = os.path.dirname(os.getenv('EM_CONFIG'))\\n")
else:
    sys.exit(f"stand-in emsdk: unknown command {{command}}")
"""


def git(*args: str, cwd: Path) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def make_emsdk_repo(folder: Path) -> str:
    """A git repository standing in for emsdk; returns its file:// URL."""
    folder.mkdir(parents=True)
    script = folder / "emsdk"
    script.write_text(EMSDK_SCRIPT.format(python=sys.executable, building=BUILDING_PY))
    script.chmod(0o755)
    (folder / "README.md").write_text("stand-in for emsdk\n")
    git("init", "--quiet", "--initial-branch=main", cwd=folder)
    git("add", ".", cwd=folder)
    git("commit", "--quiet", "-m", "stand-in emsdk", cwd=folder)
    tag_emsdk_releases(folder)
    return folder.as_uri()


def tag_emsdk_releases(folder: Path, versions: tuple[str, ...] = ("4.0.9", "5.0.3", "6.0.5")) -> None:
    """Tag the stand-in emsdk's last commit with Emscripten versions, as emsdk tags each release."""
    for version in versions:
        git("tag", "--force", version, cwd=folder)


def _diff(before: str, after: str) -> bytes:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        "a/tools/building.py",
        "b/tools/building.py",
    )
    return "".join(lines).encode()


def make_patches() -> dict[str, bytes]:
    """Two patches to tools/building.py; the second applies only on top of the first."""
    middle = BUILDING_PY.replace(
        '    if not name.isidentifier():\n        raise ValueError(f"invalid export name: {name}")\n'
        "    return name\n",
        "    return name  # Pyodide: Rust exports need not be C identifiers\n",
    )
    assert middle != BUILDING_PY
    return {
        "0001-Dont-check-exports-for-being-valid-C-identifiers.patch": _diff(BUILDING_PY, middle),
        "0002-On-top-of-0001.patch": _diff(middle, PATCHED_BUILDING_PY),
    }


def make_tarball(files: dict[str, bytes], links: dict[str, str] | None = None, mode: str = "w:bz2") -> bytes:
    """A tarball with `files` (member name -> content) and symlinks (name -> target), names as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, content in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            member.mode = 0o644
            archive.addfile(member, io.BytesIO(content))
        for name, target in (links or {}).items():
            member = tarfile.TarInfo(name)
            member.type = tarfile.SYMTYPE
            member.linkname = target
            archive.addfile(member)
    return buffer.getvalue()


def xbuildenv_tarball(patches: dict[str, bytes], version: str = "0.0.0") -> bytes:
    """A tarball laid out like Pyodide's cross-build environment, patches in reverse name order."""
    files = {"xbuildenv/pyodide-root/Makefile.envs": f"PYODIDE_VERSION={version}\n".encode()}
    for name in sorted(patches, reverse=True):
        files[f"xbuildenv/pyodide-root/emsdk/patches/{name}"] = patches[name]
    files["xbuildenv/requirements.txt"] = b""
    return make_tarball(files)


def sysroot_tarball(tag: bytes = b"wasm-eh") -> bytes:
    """A tarball laid out like Pyodide's wasm-eh sysroot: wasm32-unknown-emscripten/lib/*.rlib."""
    return make_tarball(
        {
            "wasm32-unknown-emscripten/lib/libstd-0123.rlib": b"std " + tag,
            "wasm32-unknown-emscripten/lib/libcore-4567.rlib": b"core " + tag,
        }
    )


def real_toolchain_dir(toolchain: str) -> Path | None:
    """Where this machine's rustup keeps `toolchain`, or None without rustup or that toolchain."""
    rustup = shutil.which("rustup")
    if rustup is None:
        return None
    result = subprocess.run(
        [rustup, "which", "--toolchain", toolchain, "rustc"], capture_output=True, text=True, check=False
    )
    return Path(result.stdout.strip()).parents[1] if result.returncode == 0 else None


def make_rustup_home(folder: Path, source: Path, toolchains: dict[str, bool]) -> Path:
    """A RUSTUP_HOME with `toolchains` (name -> has rustup's wasm32-unknown-emscripten std).

    Each is the real toolchain `source` under another name: its binaries linked, rustup's
    bookkeeping copied, so that `rustup toolchain list`, `rustup target list --installed` and
    `rustup which` answer for it as for any installed toolchain.
    """
    host = source.name.split("-", 1)[1]  # "1.95.0-x86_64-unknown-linux-gnu"
    for name, has_wasm_std in toolchains.items():
        toolchain = folder / "toolchains" / f"{name}-{host}"
        (toolchain / "bin").mkdir(parents=True)
        for binary in (source / "bin").iterdir():
            (toolchain / "bin" / binary.name).symlink_to(binary)
        rustlib = toolchain / "lib" / "rustlib"
        rustlib.mkdir(parents=True)
        for item in (source / "lib" / "rustlib").iterdir():
            if item.is_file():
                shutil.copy(item, rustlib / item.name)
        if has_wasm_std:
            with (rustlib / "multirust-config.toml").open("a") as config:
                config.write('\n[[components]]\npkg = "rust-std"\ntarget = "wasm32-unknown-emscripten"\n')
    (folder / "settings.toml").write_text('version = "12"\n')
    return folder


def path_without(program: str, folder: Path) -> str:
    """A PATH whose only folder holds links to git and python, but not `program`."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("git", "python3"):
        if tool != program:
            os.symlink(shutil.which(tool), folder / tool)
    return str(folder)
