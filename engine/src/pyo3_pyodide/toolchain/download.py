"""Downloads and tarballs for the managed toolchain: stream with progress, verify, unpack safely."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path, PurePosixPath

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pyo3_pyodide.console import console
from pyo3_pyodide.files import staged_file
from pyo3_pyodide.toolchain.model import ToolchainError

GITHUB_MIRROR_ENV = "PYO3_PYODIDE_GITHUB_MIRROR"
CHUNK_SIZE = 1 << 20
# (connect, read) in seconds; the read timeout is the longest silence between two chunks.
TIMEOUT_SECONDS = (15, 60)


def download(url: str, destination: Path, *, what: str, sha256: str | None, sha256_origin: str = "") -> str:
    """Fetch `url` into `destination` with a progress bar; return the file's sha256.

    With `sha256`, any other content is refused (`sha256_origin` says where that digest comes from).
    The bytes go to `destination`.part first, and only a complete, verified file is renamed to
    `destination`: a download cut short or corrupted never looks finished.
    """
    with staged_file(destination) as partial:
        digest = _fetch(url, partial, what)
        if sha256 is not None and digest != sha256:
            raise ToolchainError(
                f"{what} downloaded from {url} has sha256 {digest}, but {sha256} was expected "
                f"({sha256_origin or 'the pinned digest'}). Nothing was installed. The download is "
                "corrupt or the file was replaced: run again; if it persists, check the mirror or "
                "the pin."
            )
    return digest


def _fetch(url: str, partial: Path, what: str) -> str:
    import requests  # here, not at the top: importing it costs every nox run 0.1 s

    try:
        response = requests.get(url, stream=True, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise ToolchainError(
            f"could not download {what} from {url}: {_connection_reason(error)}. Nothing was "
            f"installed. Check the network, or point the download at a mirror ({GITHUB_MIRROR_ENV}), "
            "and run again."
        ) from None
    with response:
        if response.status_code != 200:
            raise ToolchainError(_http_failure(what, url, response.status_code, response.reason))
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
                raise ToolchainError(_cut_short(what, url, expected_size, _reason(error))) from None
    if expected_size is not None and received != expected_size:
        raise ToolchainError(_cut_short(what, url, expected_size, f"received {received} bytes"))
    console.print(f"downloaded {what}: {received} bytes from {url}")
    return digest.hexdigest()


def _connection_reason(error: BaseException) -> str:
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


def _http_failure(what: str, url: str, status: int, reason: str) -> str:
    """The message for a download the server answered with `status` instead of the file."""
    head = f"downloading {what} from {url} failed: HTTP {status} {reason}. Nothing was installed. "
    mirror = os.environ.get(GITHUB_MIRROR_ENV)
    if status in (404, 410):
        where = (
            f"the mirror {GITHUB_MIRROR_ENV}={mirror} may not hold it"
            if mirror
            else f"set {GITHUB_MIRROR_ENV} if a mirror holds it"
        )
        return (
            head + "There is no such file at that URL: check the URL pinned in pyodide-matrix.toml "
            f"(`copier update` brings new pins); {where}."
        )
    if status >= 500:
        return head + "The server failed: run again later, or use a mirror."
    return head + "Check the URL, the network and any proxy, and run again."


def _reason(error: BaseException) -> str:
    """The innermost message of an error that requests wrapped around urllib3's."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)


def _cut_short(what: str, url: str, expected: int | None, detail: object) -> str:
    announced = f"; the server announced {expected} bytes" if expected is not None else ""
    return (
        f"the download of {what} from {url} was cut short ({detail}{announced}). "
        "Nothing was installed: run again to retry."
    )


def check_members(archive: tarfile.TarFile, source: str, top: str) -> None:
    """Refuse an archive unless every member is a plain file or folder inside the folder `top`.

    This keeps a corrupt or malicious tarball from writing outside the folder it is unpacked into
    (`../x`, `/x`) or planting links; tarfile's own "data" filter then checks again.
    """
    for member in archive.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts:
            raise ToolchainError(
                f"{source} holds {member.name!r}, a path outside the folder it unpacks into: refusing "
                "to unpack it, nothing was installed. The file is corrupt or not the one pinned; "
                "check the download URL and any mirror."
            )
        if not (member.isfile() or member.isdir()):
            raise ToolchainError(
                f"{source} holds {member.name!r}, which is a link or a special file; only plain "
                "files and folders are accepted: refusing to unpack it, nothing was installed."
            )
        if parts and parts[0] != top:
            raise ToolchainError(
                f"{source} holds {member.name!r}, outside the top folder {top}/ that it should "
                "contain alone: refusing to unpack it, nothing was installed."
            )


def unpack(tarball: Path, destination: Path, *, source: str, top: str) -> None:
    """Unpack `tarball`, whose members must all lie inside `top`/, into `destination`."""
    try:
        with tarfile.open(tarball) as archive:
            check_members(archive, source, top)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second, independent check
                archive.extractall(destination, filter="data")
            else:
                archive.extractall(destination)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ToolchainError(
            f"could not unpack {source} ({_first_line(error)}); nothing was installed."
        ) from None
    if not (destination / top).is_dir():
        raise ToolchainError(f"{source} holds no {top}/ folder; nothing was installed.")


def read_patches(tarball: Path, *, source: str) -> dict[str, bytes]:
    """The `emsdk/patches/*.patch` files of a Pyodide cross-build environment tarball, by name.

    Only those files are read; nothing from the tarball is written to disk as it is.
    """
    patches: dict[str, bytes] = {}
    folders = set()
    try:
        with tarfile.open(tarball) as archive:
            for member in archive:
                path = PurePosixPath(member.name)
                if path.parent.parts[-2:] != ("emsdk", "patches") or path.suffix != ".patch":
                    continue
                if not member.isfile() or ".." in path.parts or path.name.startswith("."):
                    raise ToolchainError(
                        f"{source}: {member.name!r} is {_member_kind(member)}, not a plain patch file: "
                        f"refusing it, nothing was installed. {NOT_PYODIDES}"
                    )
                folders.add(path.parent)
                patches[path.name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ToolchainError(
            f"{source} is not a readable tarball ({_first_line(error)}): nothing was installed. {NOT_PYODIDES}"
        ) from None
    if len(folders) > 1:
        names = ", ".join(sorted(str(folder) for folder in folders))
        raise ToolchainError(
            f"{source} has more than one emsdk/patches folder ({names}), where Pyodide's cross-build "
            f"environment has one: refusing it, nothing was installed. {NOT_PYODIDES}"
        )
    return patches


def _first_line(error: BaseException) -> str:
    """tarfile's "could not be opened" lists every compression it tried, one per line: keep the gist."""
    lines = str(error).splitlines()
    return lines[0].rstrip(":") if lines else type(error).__name__


NOT_PYODIDES = (
    "The file is not Pyodide's cross-build environment as released: check xbuildenv_url in "
    f"pyodide-matrix.toml and any mirror ({GITHUB_MIRROR_ENV})."
)


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a FIFO"
    if member.isdir():
        return "a folder"
    return "a special file" if not member.isfile() else "a hidden file or a path outside its folder"


def mirrored(url: str) -> str:
    """`url` with https://github.com replaced by $PYO3_PYODIDE_GITHUB_MIRROR, when that is set."""
    mirror = os.environ.get(GITHUB_MIRROR_ENV, "").rstrip("/")
    github = "https://github.com/"
    return mirror + url[len(github) - 1 :] if mirror and url.startswith(github) else url
