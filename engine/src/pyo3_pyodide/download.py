"""The engine's one downloader: a file fetched whole and verified, or an error that says why, and nothing kept.

The toolchain's tarballs (toolchain/) and Pyodide's own packages and package sets (resolve/) come through
here. The bytes go to `<destination>.part` and become `destination` only once complete (the size the server
announced) and, where a sha256 is expected, of that digest: a download cut short, refused or corrupted never
looks finished. http(s):// URLs go through requests; a file:// URL names a local file (an unpacked release
used as a mirror, say). PYO3_PYODIDE_GITHUB_MIRROR replaces https://github.com in the URLs that callers
pass through `mirrored`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from pyo3_pyodide.console import console
from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.files import staged_file

GITHUB_MIRROR_ENV = "PYO3_PYODIDE_GITHUB_MIRROR"
CHUNK_SIZE = 1 << 20
# (connect, read) in seconds; the read timeout is the longest silence between two chunks.
TIMEOUT_SECONDS = (15, 60)


class DownloadError(EngineError):
    """A download failed or was not the file expected; nothing of it was kept."""


def download(
    url: str,
    destination: Path,
    *,
    what: str,
    sha256: str | None = None,
    sha256_origin: str = "the pinned sha256",
    elsewhere: str = "",
) -> str:
    """Fetch `url` into `destination`, whole and verified; return the file's sha256.

    `what` names the file for people; with `sha256`, any other content is refused (`sha256_origin` says
    where that digest comes from); `elsewhere` ends every error: where the URL comes from and how to
    point it at another server.
    """
    failed = f"could not download {url} ({what})"
    with staged_file(destination) as partial:
        if urlsplit(url).scheme == "file":
            digest, size = _copy(url, partial, failed, elsewhere)
        else:
            digest, size = _fetch(url, partial, what, failed, elsewhere)
        if sha256 is not None and digest != sha256:
            raise DownloadError(
                f"{failed}: the file has sha256 {digest}, but {sha256} was expected ({sha256_origin}). "
                f"Nothing was kept: the download is corrupt or the file was replaced; run again. {elsewhere}"
            )
    console.print(f"downloaded {what}: {size} bytes from {url}")
    return digest


def _copy(url: str, partial: Path, failed: str, elsewhere: str) -> tuple[str, int]:
    path = Path(url2pathname(unquote(urlsplit(url).path)))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source, partial.open("wb") as file:
            for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
                file.write(chunk)
                digest.update(chunk)
    except OSError as error:
        raise DownloadError(
            f"{failed}: {error.strerror or error} ({path}). Nothing was kept. {elsewhere}"
        ) from None
    return digest.hexdigest(), partial.stat().st_size


def _fetch(url: str, partial: Path, what: str, failed: str, elsewhere: str) -> tuple[str, int]:
    import requests  # here, not at the top: importing it costs every nox run 0.1 s
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    try:
        response = requests.get(url, stream=True, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise DownloadError(
            f"{failed}: {connection_reason(error)}. Nothing was kept. Check the network and any proxy, and "
            f"run again. {elsewhere}"
        ) from None
    with response:
        if response.status_code != 200:
            raise DownloadError(_http_failure(failed, response.status_code, response.reason, elsewhere))
        # With a Content-Encoding, requests decodes the body and Content-Length no longer counts it.
        length_header = response.headers.get("Content-Length")
        expected_size = None
        if length_header and length_header.isdigit() and "Content-Encoding" not in response.headers:
            expected_size = int(length_header)
        digest = hashlib.sha256()
        received = 0
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,  # logs get the one line below instead
        )
        with progress, partial.open("wb") as file:
            task = progress.add_task(f"downloading {what}", total=expected_size)
            try:
                for chunk in response.iter_content(CHUNK_SIZE):
                    file.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    progress.advance(task, len(chunk))
            except requests.RequestException as error:
                raise DownloadError(_cut_short(failed, expected_size, _reason(error))) from None
    if expected_size is not None and received != expected_size:
        raise DownloadError(_cut_short(failed, expected_size, f"received {received} bytes"))
    return digest.hexdigest(), received


def connection_reason(error: BaseException) -> str:
    """Why a request failed, in the words of the innermost OS error (e.g. "Connection refused")."""
    seen = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        if isinstance(cause, TimeoutError) or "timed out" in str(cause).lower():
            connect, read = TIMEOUT_SECONDS
            return f"no answer in time (timed out; {connect} s to connect, {read} s between reads)"
        cause = cause.__cause__ or cause.__context__
    return _reason(error)


def _http_failure(failed: str, status: int, reason: str, elsewhere: str) -> str:
    """The message for a download the server answered with `status` instead of the file."""
    head = f"{failed}: HTTP {status} {reason}. Nothing was kept. "
    if status in (404, 410):
        return head + f"There is no such file at that URL. {elsewhere}"
    if status >= 500:
        return head + f"The server failed: run again later. {elsewhere}"
    return head + f"Check the URL, the network and any proxy, and run again. {elsewhere}"


def _reason(error: BaseException) -> str:
    """The innermost message of an error that requests wrapped around urllib3's."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)


def _cut_short(failed: str, expected: int | None, detail: object) -> str:
    announced = f"; the server announced {expected} bytes" if expected is not None else ""
    return (
        f"{failed}: the download was cut short ({detail}{announced}). Nothing was kept: run again to retry."
    )


def mirrored(url: str) -> str:
    """`url` with https://github.com replaced by $PYO3_PYODIDE_GITHUB_MIRROR, when that is set."""
    mirror = os.environ.get(GITHUB_MIRROR_ENV, "").rstrip("/")
    github = "https://github.com/"
    return mirror + url[len(github) - 1 :] if mirror and url.startswith(github) else url


def pinned_elsewhere() -> str:
    """Where a pinned GitHub download comes from, and how to take it from a mirror (ends its errors)."""
    mirror = os.environ.get(GITHUB_MIRROR_ENV)
    where = (
        f"the mirror {GITHUB_MIRROR_ENV}={mirror} may not hold it"
        if mirror
        else f"set {GITHUB_MIRROR_ENV} to a mirror that holds it"
    )
    return f"The URL is pinned in pyodide-matrix.toml (`copier update` brings new pins); {where}."
