"""The managed toolchain's tarballs (fetched by pyo3_pyodide.download): unpacked safely, or their patches read."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from pyo3_pyodide.download import GITHUB_MIRROR_ENV
from pyo3_pyodide.toolchain.model import ToolchainError


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
