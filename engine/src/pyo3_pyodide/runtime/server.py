"""A small HTTP server on 127.0.0.1 for Pyodide pages: `nox -s serve` and `nox -s wasm_test -- --browser`.

It serves folders and single files under URL paths, and documents made in memory, with the headers that
Pyodide in a browser wants:
- `.mjs`/`.js` as text/javascript (browsers refuse modules of other types) and `.wasm` as
  application/wasm (needed for streaming compilation);
- CORS (Access-Control-Allow-Origin: *) and Cross-Origin-Resource-Policy: cross-origin, so that a page on
  another origin can load the runtime and the wheels from here;
- Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy, which make the page cross-origin
  isolated (SharedArrayBuffer: Pyodide then supports interrupting Python);
- no caching, so that a rebuilt wheel is what the next reload gets.
GET and HEAD, and PUT and DELETE of the few files a site names as uploads (wasm_test's snapshot, written
whole or not at all); no directory listings; nothing outside the mapped folders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import posixpath
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

from pyo3_pyodide import files

HOST = "127.0.0.1"
MAX_UPLOAD = 1 << 30
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".py": "text/x-python; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}


def normalized(url_path: str) -> str:
    """A request's path as the site's keys spell it: unquoted, without `.`, `..` or doubled slashes."""
    return posixpath.normpath(urllib.parse.unquote(url_path))


@dataclasses.dataclass
class Site:
    """What the server serves: URL path -> folder ("/pyodide/"), file ("/x.whl") or bytes made here."""

    folders: dict[str, Path] = dataclasses.field(default_factory=dict)
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    documents: dict[str, bytes] = dataclasses.field(default_factory=dict)
    uploads: dict[str, Path] = dataclasses.field(default_factory=dict)  # also written (PUT) and deleted

    def find(self, url_path: str) -> Path | bytes | None:
        """The file or document at `url_path`, or None; a folder's index.html stands for the folder."""
        path = normalized(url_path)
        if path in self.uploads:
            return self.uploads[path] if self.uploads[path].is_file() else None
        if path in self.documents:
            return self.documents[path]
        if path in self.files:
            return self.files[path]
        for prefix, folder in sorted(self.folders.items(), key=lambda item: -len(item[0])):
            if not (path + "/").startswith(prefix):
                continue
            candidate = (folder / path[len(prefix) :]).resolve()
            if candidate.is_dir():
                candidate = candidate / "index.html"
            if candidate.is_relative_to(folder.resolve()) and candidate.is_file():
                return candidate
            return None
        return None


def content_type(url_path: str) -> str:
    suffix = posixpath.splitext(urllib.parse.urlsplit(url_path).path)[1].lower()
    if not suffix and url_path.endswith("/"):
        suffix = ".html"
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def handler_for(site: Site, log: Callable[[str], None] | None) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.respond(with_body=True)

        def do_HEAD(self) -> None:
            self.respond(with_body=False)

        def do_PUT(self) -> None:
            target = self.upload_target()
            if target is None:
                return
            try:
                size = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self.send_error(411, "a PUT needs a Content-Length")
                return
            if size > MAX_UPLOAD:
                self.send_error(413, f"{size} bytes: more than {MAX_UPLOAD}")
                return
            try:
                with files.staged_file(target) as partial, partial.open("wb") as out:
                    remaining = size
                    while remaining:
                        chunk = self.rfile.read(min(remaining, 1 << 20))
                        if not chunk:
                            raise ConnectionError(f"the upload of {target.name} ended early")
                        out.write(chunk)
                        remaining -= len(chunk)
            except ConnectionError:
                return  # the client went away: the last whole file stays
            self.send_empty(201)

        def do_DELETE(self) -> None:
            target = self.upload_target()
            if target is not None:
                target.unlink(missing_ok=True)
                self.send_empty(204)

        def upload_target(self) -> Path | None:
            url_path = normalized(urllib.parse.urlsplit(self.path).path)
            if url_path not in site.uploads:
                self.send_error(405, f"{url_path} cannot be written here")
                return None
            return site.uploads[url_path]

        def send_empty(self, status: int) -> None:
            self.send_response(status)
            self.send_common_headers()
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_OPTIONS(self) -> None:  # a CORS preflight
            self.send_response(204)
            self.send_common_headers()
            self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "*")
            self.end_headers()

        def respond(self, with_body: bool) -> None:
            url_path = urllib.parse.urlsplit(self.path).path
            found = site.find(url_path)
            if found is None:
                self.send_error(404, f"{url_path} is not served here")
                return
            body = found if isinstance(found, bytes) else found.read_bytes()
            name = url_path if isinstance(found, bytes) else found.name
            self.send_response(200)
            self.send_common_headers()
            self.send_header("Content-Type", content_type(name))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def send_common_headers(self) -> None:
            for name, value in HEADERS.items():
                self.send_header(name, value)

        def log_message(self, format: str, *args: object) -> None:
            if log is not None:
                log(f"{self.address_string()} {format % args}")

    return Handler


@contextlib.contextmanager
def serving(site: Site, port: int = 0, log: Callable[[str], None] | None = None) -> Iterator[str]:
    """Serve `site` on 127.0.0.1:`port` (0: any free port) in a thread; yields the base URL."""
    server = http.server.ThreadingHTTPServer((HOST, port), handler_for(site, log))
    thread = threading.Thread(target=server.serve_forever, name="pyodide-serve", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def demo_site(web_dir: Path, runtime_folder: Path, wheel: Path, imports: list[str]) -> Site:
    """The demo page: web/ at the root, the runtime under pyodide/, the wheel under wheels/, and
    demo-config.json, which tells the page those two locations and the modules the wheel holds."""
    config = {"pyodide": "pyodide/", "wheel": f"wheels/{wheel.name}", "imports": imports}
    return Site(
        folders={"/": web_dir, "/pyodide/": runtime_folder},
        files={f"/wheels/{wheel.name}": wheel},
        documents={"/demo-config.json": json.dumps(config).encode()},
    )


def static_site(folder: Path) -> Site:
    """A folder served as static hosting would serve it: `nox -s serve -- --bundle`."""
    return Site(folders={"/": folder})
