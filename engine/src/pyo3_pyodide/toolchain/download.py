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
            f"could not download {what} from {url}: {error}. Check the network, or point the "
            "download at a mirror (PYO3_PYODIDE_GITHUB_MIRROR)."
        ) from None
    with response:
        if response.status_code != 200:
            raise ToolchainError(
                f"downloading {what} from {url} failed: HTTP {response.status_code} "
                f"{response.reason}. Nothing was installed."
            )
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
        raise ToolchainError(f"could not unpack {source} ({error}); nothing was installed.") from None
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
                    raise ToolchainError(f"{source}: {member.name!r} is not a plain patch file")
                folders.add(path.parent)
                patches[path.name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ToolchainError(f"{source} is not a readable tarball ({error})") from None
    if len(folders) > 1:
        names = ", ".join(sorted(str(folder) for folder in folders))
        raise ToolchainError(f"{source} has more than one emsdk/patches folder ({names})")
    return patches


def mirrored(url: str) -> str:
    """`url` with https://github.com replaced by $PYO3_PYODIDE_GITHUB_MIRROR, when that is set."""
    mirror = os.environ.get(GITHUB_MIRROR_ENV, "").rstrip("/")
    github = "https://github.com/"
    return mirror + url[len(github) - 1 :] if mirror and url.startswith(github) else url
