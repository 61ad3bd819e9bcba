"""pyo3_pyodide.download against a real HTTP server on 127.0.0.1 and real files: whole and verified, or
refused with the reason, and nothing kept."""

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pyo3_pyodide.download import DownloadError, download, mirrored, pinned_elsewhere

from tests.helpers.mirrors import MirrorServer

BODY = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(BODY).hexdigest()
ELSEWHERE = "Point PLACE at a mirror."


@pytest.fixture
def server():
    with MirrorServer() as running:
        yield running


def left_in(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_a_whole_download_is_kept_with_its_sha256(server, tmp_path, capsys):
    url = server.serve("/files/a.tar.bz2", BODY)
    target = tmp_path / "out" / "a.tar.bz2"
    assert download(url, target, what="a tarball", sha256=DIGEST) == DIGEST
    assert target.read_bytes() == BODY and left_in(target.parent) == ["a.tar.bz2"]
    assert f"downloaded a tarball: {len(BODY)} bytes from {url}" in capsys.readouterr().err


def test_a_wrong_sha256_is_refused_and_nothing_is_kept(server, tmp_path):
    url = server.serve("/files/a.tar.bz2", BODY)
    with pytest.raises(DownloadError) as raised:
        download(url, tmp_path / "a.tar.bz2", what="a tarball", sha256="0" * 64, sha256_origin="pinned here")
    assert str(raised.value) == (
        f"could not download {url} (a tarball): the file has sha256 {DIGEST}, but {'0' * 64} was expected "
        "(pinned here). Nothing was kept: the download is corrupt or the file was replaced; run again. "
    )
    assert left_in(tmp_path) == []


def test_a_download_cut_short_is_refused_and_nothing_is_kept(server, tmp_path):
    url = server.serve("/files/a.tar.bz2", BODY, cut_after=len(BODY) // 2)
    with pytest.raises(DownloadError, match=r"was cut short \(.*; the server announced 1048576 bytes\)"):
        download(url, tmp_path / "a.tar.bz2", what="a tarball")  # no sha256: the length alone catches it
    assert left_in(tmp_path) == []


def test_a_cut_short_download_leaves_an_earlier_whole_file_alone(server, tmp_path):
    target = tmp_path / "a.tar.bz2"
    target.write_bytes(b"the earlier one")
    url = server.serve("/files/a.tar.bz2", BODY, cut_after=100)
    with pytest.raises(DownloadError):
        download(url, target, what="a tarball")
    assert target.read_bytes() == b"the earlier one" and left_in(tmp_path) == ["a.tar.bz2"]


class Failing(BaseHTTPRequestHandler):
    """A server that fails every request (HTTP 500)."""

    def do_GET(self) -> None:
        self.send_error(500)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/files/a.tar.bz2"
    server.shutdown()
    server.server_close()


def test_an_http_error_says_what_the_server_answered(server, failing_url, tmp_path):
    missing = server.url("/files/missing.tar.bz2")
    for url, answer in [
        (missing, "HTTP 404 Not Found. Nothing was kept. There is no such file at that URL."),
        (
            failing_url,
            "HTTP 500 Internal Server Error. Nothing was kept. The server failed: run again later.",
        ),
    ]:
        with pytest.raises(DownloadError) as raised:
            download(url, tmp_path / "a.tar.bz2", what="a tarball", elsewhere=ELSEWHERE)
        assert str(raised.value) == f"could not download {url} (a tarball): {answer} {ELSEWHERE}"
    assert left_in(tmp_path) == []


def test_a_refused_connection_says_so(tmp_path):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/a.tar.bz2"
    with pytest.raises(DownloadError) as raised:
        download(url, tmp_path / "a.tar.bz2", what="a tarball", elsewhere=ELSEWHERE)
    assert str(raised.value) == (
        f"could not download {url} (a tarball): Connection refused. Nothing was kept. Check the network and "
        f"any proxy, and run again. {ELSEWHERE}"
    )
    assert left_in(tmp_path) == []


def test_a_file_url_is_copied_and_checked_like_a_download(tmp_path):
    source = tmp_path / "mirror" / "a b.whl"  # a space: the URL quotes it
    source.parent.mkdir()
    source.write_bytes(BODY)
    target = tmp_path / "cache" / "a b.whl"
    assert download(source.as_uri(), target, what="a wheel", sha256=DIGEST) == DIGEST
    assert target.read_bytes() == BODY
    with pytest.raises(DownloadError, match="has sha256 .* but 1{64} was expected"):
        download(source.as_uri(), tmp_path / "cache" / "b.whl", what="a wheel", sha256="1" * 64)
    missing = (tmp_path / "mirror" / "none.whl").as_uri()
    with pytest.raises(DownloadError) as raised:
        download(missing, tmp_path / "cache" / "none.whl", what="a wheel", elsewhere=ELSEWHERE)
    assert str(raised.value) == (
        f"could not download {missing} (a wheel): No such file or directory ({tmp_path / 'mirror' / 'none.whl'})."
        f" Nothing was kept. {ELSEWHERE}"
    )
    assert left_in(tmp_path / "cache") == ["a b.whl"]


def test_the_github_mirror_rewrites_github_urls_only(monkeypatch):
    url = "https://github.com/pyodide/pyodide/releases/download/0.29.4/xbuildenv-0.29.4.tar.bz2"
    monkeypatch.delenv("PYO3_PYODIDE_GITHUB_MIRROR", raising=False)
    assert mirrored(url) == url
    assert "set PYO3_PYODIDE_GITHUB_MIRROR to a mirror that holds it" in pinned_elsewhere()
    monkeypatch.setenv("PYO3_PYODIDE_GITHUB_MIRROR", "https://mirror.example/gh/")
    assert (
        mirrored(url)
        == "https://mirror.example/gh/pyodide/pyodide/releases/download/0.29.4/xbuildenv-0.29.4.tar.bz2"
    )
    assert mirrored("https://example.org/x.tar.gz") == "https://example.org/x.tar.gz"
    assert "PYO3_PYODIDE_GITHUB_MIRROR=https://mirror.example/gh/ may not hold it" in pinned_elsewhere()
