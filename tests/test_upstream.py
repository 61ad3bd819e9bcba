"""`inv matrix.update` against upstream responses served from 127.0.0.1 (tests/upstream_fixtures/README.md).

recorded/ holds real upstream bytes; future/ adds invented releases on top of them. Every test works on a copy
of the matrix and its copier mirror, except the `inv` ones, which use --check and so never write.
"""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from template_tools import matrix, matrix_update, upstream
from tests.helpers.mirrors import MirrorServer

FIXTURES = Path(__file__).parent / "upstream_fixtures"
MATRIX = matrix.load()
[PRE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]
PRE_TAG = upstream.tag_of(PRE.version)  # its git tag, as Makefile.envs URLs and comments spell it
LEGACY = [version for version, release in MATRIX.releases.items() if release.status == "legacy"]
METADATA_PATH = "/pages/pyodide-cross-build-environments.json"


TARBALLS = ("/npm/pyodide.tarballs/", "/npm/pyodide/-/")  # on disk, and where an npm registry serves them


def fixture_files(*scenarios: str) -> dict[str, bytes]:
    """URL path -> body, from the scenario folders in order (a later one overrides an earlier one)."""
    files = {}
    for scenario in scenarios:
        folder = FIXTURES / scenario
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[("/" + path.relative_to(folder).as_posix()).replace(*TARBALLS)] = path.read_bytes()
    return files


def sources_of(server: MirrorServer) -> upstream.Sources:
    return upstream.Sources(
        npm_registry=server.url("/npm"),
        pyodide_source=server.url("/raw"),
        xbuildenv_metadata=server.url(METADATA_PATH),
    )


@pytest.fixture
def server():
    with MirrorServer() as mirror:
        yield mirror


def serve(server: MirrorServer, *scenarios: str) -> upstream.Sources:
    for path, body in fixture_files(*scenarios).items():
        server.serve(path, body)
    return sources_of(server)


@pytest.fixture
def files(tmp_path):
    """Copies of the matrix and its mirror: (matrix path, mirror path)."""
    matrix_path = tmp_path / "template" / "pyodide-matrix.toml"
    matrix_path.parent.mkdir()
    matrix_path.write_bytes(matrix.MATRIX_PATH.read_bytes())
    mirror_path = tmp_path / "copier-matrix.yml"
    mirror_path.write_bytes(matrix.MIRROR_PATH.read_bytes())
    return matrix_path, mirror_path


def run(sources, files, check=False):
    matrix_path, mirror_path = files
    return matrix_update.run(sources, check=check, matrix_path=matrix_path, mirror_path=mirror_path)


def snapshot(paths):
    return [(path.read_bytes(), path.stat().st_mtime_ns) for path in paths]


def table_text(text: str, version: str) -> str:
    """The text of one release table with the comment lines above it."""
    return next(block.text for block in matrix_update.split_blocks(text)[1] if block.version == version)


def release_values(text: str, version: str) -> dict:
    return tomllib.loads(text)["release"][version]


def test_split_and_join_give_the_matrix_back():
    text = matrix.MATRIX_PATH.read_text()
    assert matrix_update.join_blocks(*matrix_update.split_blocks(text)) == text


def test_recorded_upstream_finds_the_matrix_up_to_date(server, files, capsys):
    sources = serve(server, "recorded")
    before = snapshot(files)
    assert run(sources, files, check=True) == 0
    assert run(sources, files) == 0
    assert snapshot(files) == before
    out = capsys.readouterr().out
    assert "pyodide-matrix.toml is up to date" in out
    for version in MATRIX.releases:
        assert version in out
    # Only the npm version list is needed to know that: no Makefile.envs was asked for.
    assert set(server.requests) == {"/npm/pyodide"}


@pytest.mark.parametrize("asked", ["0.27.7", "0.29.4", "314.0.5", "315.0.0-alpha.2"])  # the recorded tags
def test_makefile_envs_at_each_recorded_tag_gives_the_matrix_pins(server, asked):
    sources = serve(server, "recorded")
    expected = MATRIX.resolve(upstream.line_of(asked))  # the matrix's release of that line
    found = upstream.makefile_envs(sources, asked)
    assert found.url == f"{sources.pyodide_source}/{upstream.tag_of(asked)}/Makefile.envs"
    assert (found.python, found.emscripten, found.abi) == (expected.python, expected.emscripten, expected.abi)
    if asked.startswith("0.27."):
        # Makefile.envs names no Rust pins before the 2025_0 ABI: the matrix's come from elsewhere.
        assert (found.rust_toolchain, found.rustflags, found.rust_sysroot_url) == (None, None, None)
    else:
        assert found.rust_toolchain == expected.rust_toolchain
        assert found.rustflags == expected.rustflags
        assert found.rust_sysroot_url == expected.rust_sysroot_url  # ${VAR} references expanded


def test_an_older_prerelease_is_moved_to_the_newest_with_its_comments(server, files, capsys):
    matrix_path, mirror_path = files
    original = matrix_path.read_text()
    older = original.replace(f'[release."{PRE.version}"]', '[release."315.0.0-alpha.1"]').replace(
        f'npm = "{PRE.npm}"', 'npm = "315.0.0-alpha.1"'
    )
    older = older.replace(f'rust_toolchain = "{PRE.rust_toolchain}"', 'rust_toolchain = "1.96.0"', 1)
    matrix_path.write_text(older)
    sources = serve(server, "recorded")

    assert run(sources, files) == 0
    merged = matrix_path.read_text()
    assert release_values(merged, PRE.version) == release_values(original, PRE.version)
    table = table_text(merged, PRE.version)
    hand_written = table_text(original, PRE.version).splitlines()[0]  # the matrix's own comment
    assert hand_written.startswith("# ") and table.startswith(hand_written)
    assert "rustflags = []  # Rust >= 1.95 links a cdylib" in table  # an inline comment
    assert f"# Updated by `inv matrix.update` from 315.0.0-alpha.1 (Makefile.envs at {PRE_TAG};" in table
    for version in [version for version in MATRIX.releases if version != PRE.version]:
        assert table_text(merged, version) == table_text(original, version)
    assert (
        matrix_update.split_blocks(merged)[0] == matrix_update.split_blocks(original)[0]
    )  # comments, default
    assert mirror_path.read_text() == matrix.mirror_text(matrix_path)
    out = capsys.readouterr().out
    assert f"315 line: 315.0.0-alpha.1 -> {PRE.version}" in out
    assert f'rust_toolchain: "1.96.0" -> "{PRE.rust_toolchain}"' in out


def test_a_missing_line_is_added_with_upstream_values(server, files, capsys):
    matrix_path, _ = files
    original = matrix_path.read_text()
    header, blocks = matrix_update.split_blocks(original)
    matrix_path.write_text(matrix_update.join_blocks(header, [b for b in blocks if b.version != PRE.version]))
    sources = serve(server, "recorded")

    assert run(sources, files) == 0
    merged = matrix_path.read_text()
    assert release_values(merged, PRE.version) == release_values(original, PRE.version)
    assert [block.version for block in matrix_update.split_blocks(merged)[1]] == list(MATRIX.releases)
    comment = table_text(merged, PRE.version).split("[release.")[0]
    assert f"added by `inv matrix.update` from Makefile.envs at tag {PRE_TAG}" in comment
    assert tomllib.loads(merged)["default"] == MATRIX.default  # a prerelease never becomes the default
    assert f"{PRE.line} line: new, {PRE.version} (prerelease)" in capsys.readouterr().out


def test_future_releases_are_merged_and_default_moves_to_the_newest_stable(server, files, capsys):
    matrix_path, mirror_path = files
    original = matrix_path.read_text()
    sources = serve(server, "recorded", "future")

    assert run(sources, files) == 0
    merged = matrix_path.read_text()
    checked = matrix.load(matrix_path)
    assert checked.default == "315.0.0"
    # future/ adds 314.0.9, 315.0.0 and 316.0.0-alpha.1; the legacy lines have no news.
    assert list(checked.releases) == ["316.0.0-alpha.1", "315.0.0", "314.0.9", *LEGACY]
    assert {version: release.status for version, release in checked.releases.items()} == {
        "316.0.0-alpha.1": "prerelease",
        "315.0.0": "stable",
        "314.0.9": "legacy",
        **dict.fromkeys(LEGACY, "legacy"),
    }
    # A patch release: upstream's values replace the old ones, the rest of the table stays.
    patch = checked.releases["314.0.9"]
    assert (patch.rust_toolchain, patch.rustflags) == ("1.97.1", ())
    assert patch.xbuildenv_url.endswith("/314.0.9/xbuildenv-314.0.9.tar.gz")
    assert patch.platform_tag == MATRIX.resolve("314").platform_tag
    assert "# 314 line (current stable): Makefile.envs at tags" in table_text(merged, "314.0.9")
    # A new line, with no cross-build environment published yet.
    new = checked.releases["316.0.0-alpha.1"]
    assert (new.python, new.emscripten, new.abi, new.rust_toolchain) == ("3.16", "6.1.2", "2027_0", "1.99.0")
    assert new.platform_tag == "pyemscripten_2027_0_wasm32" and new.xbuildenv_url is None
    # Lines without news are untouched, and so are the header's comments.
    for version in LEGACY:
        assert table_text(merged, version) == table_text(original, version)
    assert merged.split("\ndefault = ")[0] == original.split("\ndefault = ")[0]
    assert mirror_path.read_text() == matrix.mirror_text(matrix_path)

    out = capsys.readouterr().out
    for line in (
        f"315 line: {PRE.version} -> 315.0.0",
        '  status: "prerelease" -> "stable"',
        f"314 line: {MATRIX.resolve('314').version} -> 314.0.9",
        '  rustflags: ["-C", "link-arg=-sSIDE_MODULE=2"] -> []',
        "316 line: new, 316.0.0-alpha.1 (prerelease)",
        f"default: {MATRIX.default} -> 315.0.0",
        "  note: no cross-build environment with these pins is published: no Emscripten patches",
        *held_314_comments(original),
    ):
        assert line in out.splitlines(), out


def held_314_comments(text: str) -> list[str]:
    """The notes asking to review the 314 table's comment lines that name its release."""
    held = MATRIX.resolve("314").version
    marks = (matrix_update.UPDATED_MARK, matrix_update.MARK_CONTINUED)  # the update's own, never to review
    comments = [
        line
        for line in table_text(text, held).splitlines()
        if line.startswith("#") and not line.startswith(marks) and held in line
    ]
    assert comments  # the matrix's comment names the release it was read from
    return [f"  review this comment: {line}" for line in comments]


def test_check_says_stale_and_writes_nothing(server, files, capsys):
    sources = serve(server, "recorded", "future")
    before = snapshot(files)
    assert run(sources, files, check=True) == 1
    assert snapshot(files) == before
    out = capsys.readouterr().out
    assert f"314 line: {MATRIX.resolve('314').version} -> 314.0.9" in out
    assert "pyodide-matrix.toml is stale: run `inv matrix.update`" in out


def inv_check(sources: upstream.Sources) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    for field, variable in upstream.ENVIRONMENT_VARIABLES.items():
        environment[variable] = getattr(sources, field)
    return subprocess.run(
        [str(Path(sys.executable).with_name("inv")), "matrix.update", "--check"],
        cwd=matrix.REPO_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_inv_task_checks_the_repository_matrix(server):
    sources = serve(server, "recorded")
    fresh = inv_check(sources)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "is up to date" in fresh.stdout
    serve(server, "future")
    stale = inv_check(sources)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "is stale" in stale.stdout


def test_unreachable_upstream_leaves_the_files_alone(files, capsys):
    with MirrorServer() as closed:
        sources = sources_of(closed)
    before = snapshot(files)  # the server is shut down: nothing listens on its port any more
    assert run(sources, files) == 3  # a network failure, not bad data
    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert (
        f"GET {sources.npm_registry}/pyodide (the npm registry's document of the pyodide package) failed"
        in err
    )
    assert "pyodide-matrix.toml was left as it was" in err


def test_missing_makefile_envs_leaves_the_files_alone(server, files, capsys):
    sources = serve(server, "recorded", "future")
    del server.files["/raw/316.0.0a1/Makefile.envs"]
    before = snapshot(files)
    assert run(sources, files) == 2
    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert f"GET {sources.pyodide_source}/316.0.0a1/Makefile.envs" in err
    assert "answered HTTP 404, expected 200" in err


def replace_in(body: bytes, old: str, new: str) -> bytes:
    assert old.encode() in body
    return body.replace(old.encode(), new.encode())


@pytest.mark.parametrize(
    ("path", "damage", "message"),
    [
        ("/npm/pyodide", lambda body: b"<html>rate limited</html>", "is not JSON"),
        ("/npm/pyodide", lambda body: b'{"error": "not found"}', 'has no "versions" object'),
        (METADATA_PATH, lambda body: b'{"versions": []}', 'has no "releases" object'),
        (
            METADATA_PATH,
            lambda body: replace_in(body, '"sha256": "66048e3b', '"sha256": "NOT-HEX-'),
            "is not 64 lowercase hex digits",
        ),
        (
            "/raw/314.0.9/Makefile.envs",
            lambda body: replace_in(body, "export PYODIDE_ABI_VERSION ?= 2026_0\n", ""),
            "sets no PYODIDE_ABI_VERSION (expected a line like `export PYODIDE_ABI_VERSION ?= YYYY_N`)",
        ),
        (
            "/raw/316.0.0a1/Makefile.envs",
            lambda body: replace_in(body, "PYODIDE_ABI_VERSION ?= 2027_0", "PYODIDE_ABI_VERSION ?= 2027-0"),
            "abi would be '2027-0', which is not YYYY_N",
        ),
        (
            "/raw/315.0.0/Makefile.envs",
            lambda body: replace_in(body, "PYODIDE_VERSION ?= 315.0.0", "PYODIDE_VERSION ?= 315.0.0a2"),
            "says PYODIDE_VERSION = '315.0.0a2', expected '315.0.0'",
        ),
    ],
    ids=[
        "npm-html",
        "npm-no-versions",
        "metadata-no-releases",
        "metadata-bad-sha",
        "no-abi",
        "bad-abi",
        "wrong-tag",
    ],
)
def test_malformed_upstream_data_is_named_and_leaves_the_files_alone(
    server, files, capsys, path, damage, message
):
    sources = serve(server, "recorded", "future")
    server.serve(path, damage(server.files[path]))
    before = snapshot(files)
    assert run(sources, files) == 2
    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert server.url(path) in err, err
    assert message in err, err


# Answers cut short, or never finished: each is named, bounded in time, and leaves the files alone.


@pytest.mark.parametrize(
    "path",
    ["/npm/pyodide", METADATA_PATH, "/raw/316.0.0a1/Makefile.envs"],
    ids=["npm", "metadata", "makefile"],
)
def test_an_answer_cut_short_is_named_and_a_rerun_completes(server, files, capsys, path):
    sources = serve(server, "recorded", "future")
    body = server.files[path]
    server.serve(path, body, cut_after=len(body) // 2)
    before = snapshot(files)

    assert run(sources, files) == 3

    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert f"error: GET {server.url(path)} (" in err, err
    assert f") was cut short: {len(body) // 2} of the {len(body)} bytes announced." in err, err
    assert "Run again; if it persists, check the network or the mirror." in err
    assert "pyodide-matrix.toml was left as it was." in err
    server.serve(path, body)
    assert run(sources, files) == 0
    assert matrix.load(files[0]).default == "315.0.0"  # the future stable release, merged


class SlowServer:
    """127.0.0.1: every answer is a 200 with a Content-Length, then one byte every 0.1 s, never finishing."""

    def __init__(self) -> None:
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while not outer.stop.is_set():
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("how", ["silent", "trickling"])
def test_a_hanging_upstream_is_bounded_in_time_and_a_rerun_completes(server, files, capsys, monkeypatch, how):
    import socket
    import time

    monkeypatch.setattr(upstream, "TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(upstream, "TOTAL_SECONDS", 2)
    good = serve(server, "recorded", "future")
    silent = socket.socket()  # listens, never accepts: the request is sent, no answer ever comes
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    slow = SlowServer()
    try:
        npm = f"http://127.0.0.1:{silent.getsockname()[1]}/npm" if how == "silent" else slow.url("/npm")
        sources = upstream.Sources(npm, good.pyodide_source, good.xbuildenv_metadata)
        before = snapshot(files)
        started = time.monotonic()

        assert run(sources, files) == 3

        seconds = time.monotonic() - started
    finally:
        silent.close()
        slow.close()
    assert seconds < 10, f"took {seconds:.1f} s"
    assert snapshot(files) == before
    err = capsys.readouterr().err
    what = f"error: GET {npm}/pyodide (the npm registry's document of the pyodide package)"
    if how == "silent":
        assert f"{what} got no answer within 1 s. Check the network or proxy" in err, err
    else:
        assert f"{what} did not finish within 2 s (" in err, err
        assert "bytes so far): the server is too slow or stalled." in err
    assert run(good, files) == 0
    assert matrix.load(files[0]).default == "315.0.0"


# Only npm answers (GitHub refused, as on machines behind a firewall): recorded-2026-12-03/ is npm's real answer
# of that day, with 314.0.8 and its package's own pyodide-lock.json.
NPM_ONLY = "recorded-2026-12-03"
NPM_ONLY_DOCUMENT = json.loads((FIXTURES / NPM_ONLY / "npm" / "pyodide").read_text())
# The newest 314 release of that day, and the one before it (which the matrix held until then).
BEFORE_314, NEWEST_314 = sorted(
    (version for version in NPM_ONLY_DOCUMENT["versions"] if upstream.line_of(version) == "314"),
    key=upstream.version_of,
)[-2:]


@pytest.fixture
def refused():
    """A base URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with MirrorServer() as closed:
        base = closed.url("")
    return base


def npm_only(server: MirrorServer, refused: str, *scenarios: str) -> upstream.Sources:
    """npm from the scenarios; Makefile.envs and the cross-build environment metadata refused."""
    served = serve(server, *scenarios)
    return upstream.Sources(
        npm_registry=served.npm_registry,
        pyodide_source=refused + "/raw",
        xbuildenv_metadata=refused + METADATA_PATH,
    )


def held_314_at_the_older_release(files) -> dict:
    """The copy of the matrix with its 314 table at BEFORE_314, as it was before npm had NEWEST_314; its values."""
    matrix_path, mirror_path = files
    held = MATRIX.resolve("314").version
    text = matrix_path.read_text()
    text = text.replace(f'[release."{held}"]', f'[release."{BEFORE_314}"]')
    text = text.replace(f'npm = "{held}"', f'npm = "{BEFORE_314}"').replace(
        f'default = "{held}"', f'default = "{BEFORE_314}"'
    )
    matrix_path.write_text(text)
    mirror_path.write_text(matrix.mirror_text(matrix_path))
    return release_values(text, BEFORE_314)


def test_check_with_only_npm_reachable_names_the_new_patch_release_and_the_sources_not_reached(
    server, refused, files, capsys
):
    held_314_at_the_older_release(files)
    sources = npm_only(server, refused, NPM_ONLY)
    before = snapshot(files)

    assert run(sources, files, check=True) == 1

    assert snapshot(files) == before
    out = capsys.readouterr().out.splitlines()
    assert f"314 line: {BEFORE_314} -> {NEWEST_314}" in out
    assert f"read: {sources.npm_registry}/pyodide" in out
    assert (
        f"read: {sources.npm_registry}/pyodide/-/pyodide-{NEWEST_314}.tgz" in out
    )  # rebased onto the mirror
    not_reached = [line for line in out if line.startswith("could not reach: ")]
    assert [line.split()[4] for line in not_reached] == [
        sources.xbuildenv_metadata,
        f"{sources.pyodide_source}/{NEWEST_314}/Makefile.envs",
    ], out
    assert "pyodide-matrix.toml is stale: run `inv matrix.update`" in out[-1]


def test_update_with_only_npm_reachable_moves_the_line_from_the_package_lock_and_keeps_its_pins(
    server, refused, files, capsys
):
    old = held_314_at_the_older_release(files)
    matrix_path, mirror_path = files
    sources = npm_only(server, refused, NPM_ONLY)

    assert run(sources, files) == 0

    merged = matrix_path.read_text()
    checked = matrix.load(matrix_path)
    assert checked.default == NEWEST_314 and checked.resolve("314").version == NEWEST_314
    # From the package's pyodide-lock.json (FACTS: abi 2026_0, emscripten_5_0_3, Python 3.14.2, micropip 0.11.1)
    # the line's values stand; everything Makefile.envs and the metadata would give is the line's own.
    assert release_values(merged, NEWEST_314) == {**old, "npm": NEWEST_314}
    mark = " ".join(
        line.removeprefix("#").strip()
        for line in table_text(merged, NEWEST_314).splitlines()
        if line.startswith(("# Updated", "#   "))
    )
    assert mark == (
        f"Updated by `inv matrix.update` from {BEFORE_314} (the pyodide-lock.json of npm pyodide@{NEWEST_314} "
        f"(micropip 0.11.1); not reached: Makefile.envs at {NEWEST_314} and the cross-build environment "
        f"metadata, so the Rust pins and xbuildenv stayed as in {BEFORE_314})."
    )
    assert mirror_path.read_text() == matrix.mirror_text(matrix_path)
    out = capsys.readouterr().out
    assert f"  note: Makefile.envs could not be reached: the Rust pins of {BEFORE_314} were kept" in out
    # A second run: nothing left to do, and only npm was asked.
    assert run(sources, files) == 0
    assert "is up to date" in capsys.readouterr().out


def test_check_lists_a_new_line_from_npm_alone_and_the_update_refuses_it(server, refused, files, capsys):
    sources = npm_only(server, refused, "recorded", "future")
    before = snapshot(files)

    assert run(sources, files, check=True) == 1
    out = capsys.readouterr().out.splitlines()
    assert "  316 line: new, 316.0.0-alpha.1" in out, out
    assert f"  315 line: {PRE.version} -> 315.0.0" in out
    assert any(line.startswith(f"could not reach: GET {sources.xbuildenv_metadata}") for line in out), out

    assert run(sources, files) == 3  # a new line needs every source
    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert "A new line (316.0.0-alpha.1) needs every upstream source." in err


def test_npm_unreachable_is_a_network_failure_not_news(refused, files, capsys):
    sources = upstream.Sources(refused + "/npm", refused + "/raw", refused + METADATA_PATH)
    assert run(sources, files, check=True) == 3
    assert f"error: GET {refused}/npm/pyodide" in capsys.readouterr().err


def repacked(body: bytes, edit) -> bytes:
    """The npm tarball `body` with its pyodide-lock.json changed by `edit` (a function of the lock's data)."""
    import gzip
    import io
    import tarfile

    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == upstream.LOCK_MEMBER:
                lock = json.loads(data)
                edit(lock)
                data = json.dumps(lock).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    assert gzip.decompress(out.getvalue())
    return out.getvalue()


def serve_tarball(server: MirrorServer, body: bytes, integrity: bool = True) -> None:
    """Serve `body` as NEWEST_314's tarball, with the document's integrity matching it (or not)."""
    import base64
    import hashlib

    document = json.loads(server.files["/npm/pyodide"])
    if integrity:
        digest = base64.b64encode(hashlib.sha512(body).digest()).decode()
        document["versions"][NEWEST_314]["dist"]["integrity"] = f"sha512-{digest}"
    server.serve("/npm/pyodide", json.dumps(document).encode())
    server.serve(f"/npm/pyodide/-/pyodide-{NEWEST_314}.tgz", body)


def test_a_patch_release_with_another_emscripten_needs_makefile_envs(server, refused, files, capsys):
    held_314_at_the_older_release(files)
    sources = npm_only(server, refused, NPM_ONLY)
    tarball = server.files[f"/npm/pyodide/-/pyodide-{NEWEST_314}.tgz"]
    serve_tarball(server, repacked(tarball, lambda lock: lock["info"].update(platform="emscripten_5_0_4")))
    before = snapshot(files)

    assert run(sources, files) == 2

    assert snapshot(files) == before
    err = capsys.readouterr().err
    assert (
        f"gives Emscripten 5.0.4 and ABI 2026_0 where {BEFORE_314} has 5.0.3 and 2026_0, so its Rust pins and "
        "cross-build environment may not fit: the update needs Makefile.envs" in err
    ), err


def test_a_tarball_that_does_not_match_the_registry_s_integrity_is_refused(server, refused, files, capsys):
    held_314_at_the_older_release(files)
    sources = npm_only(server, refused, NPM_ONLY)
    tarball = server.files[f"/npm/pyodide/-/pyodide-{NEWEST_314}.tgz"]
    serve_tarball(server, repacked(tarball, lambda lock: None), integrity=False)
    assert run(sources, files) == 2
    assert "the download or the mirror is corrupt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("micropip", "tags"),
    [
        ("0.11.1", ("pyemscripten_2026_0_wasm32", "pyodide_2026_0_wasm32", "emscripten_5_0_3_wasm32")),
        ("0.10.1", ("emscripten_5_0_3_wasm32", "pyodide_2026_0_wasm32")),
        (None, ("pyemscripten_2026_0_wasm32", "pyodide_2026_0_wasm32", "emscripten_5_0_3_wasm32")),
    ],
)
def test_platform_tags_follow_the_micropip_of_the_release(micropip, tags):
    assert upstream.platform_tags("2026_0", "5.0.3", micropip) == tags


def test_the_matrix_holds_the_newest_314_release_npm_had_when_recorded_with_its_lock_values(server):
    """The recorded npm answer of 2026-12-03 is what the matrix was updated from (issue 20), and the package's
    own pyodide-lock.json agrees with the table."""
    sources = serve(server, NPM_ONLY)
    held = MATRIX.resolve("314")
    lock = upstream.runtime_lock(sources, upstream.npm_package(sources), NEWEST_314)
    assert held.version == NEWEST_314
    assert (lock.python, lock.emscripten, lock.abi) == (held.python, held.emscripten, held.abi)
    assert held.platform_tag == upstream.platform_tags(lock.abi, lock.emscripten, lock.micropip)[0]


def test_inv_check_behind_a_mirror_when_only_npm_answers(server, refused, files):
    sources = npm_only(server, refused, NPM_ONLY)
    result = inv_check(sources)  # the repository's matrix, as a user behind a mirror configures the sources
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is up to date" in result.stdout
    closed = upstream.Sources(refused + "/npm", sources.pyodide_source, sources.xbuildenv_metadata)
    result = inv_check(closed)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"GET {refused}/npm/pyodide" in result.stderr


def test_with_the_metadata_refused_a_line_moves_with_makefile_envs_and_keeps_its_xbuildenv(
    server, refused, files, capsys
):
    matrix_path, _ = files
    original = matrix_path.read_text()
    older = original.replace(f'[release."{PRE.version}"]', '[release."315.0.0-alpha.1"]')
    matrix_path.write_text(older.replace(f'npm = "{PRE.npm}"', 'npm = "315.0.0-alpha.1"'))
    served = serve(server, "recorded")
    sources = upstream.Sources(served.npm_registry, served.pyodide_source, refused + METADATA_PATH)

    assert run(sources, files) == 0

    merged = matrix_path.read_text()
    assert release_values(merged, PRE.version) == release_values(original, PRE.version)
    mark = " ".join(
        line.removeprefix("#").strip()
        for line in table_text(merged, PRE.version).splitlines()
        if line.startswith(("# Updated", "#   "))
    )
    assert mark == (
        f"Updated by `inv matrix.update` from 315.0.0-alpha.1 (Makefile.envs at {PRE_TAG}; not reached: the "
        "cross-build environment metadata, so the xbuildenv stayed as in 315.0.0-alpha.1)."
    )
    out = capsys.readouterr().out.splitlines()
    assert f"read: {sources.pyodide_source}/{PRE_TAG}/Makefile.envs" in out
    assert any(line.startswith(f"could not reach: GET {sources.xbuildenv_metadata}") for line in out), out
