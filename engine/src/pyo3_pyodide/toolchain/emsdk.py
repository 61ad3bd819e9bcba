"""emsdk at exactly the pinned Emscripten version, with the patches Pyodide applies to Emscripten.

The patches are the `emsdk/patches/*.patch` of the release's cross-build environment (xbuildenv_url),
applied in name order with `git apply` inside upstream/emscripten, as `pyodide xbuildenv
install-emscripten` does. Part of the managed toolchain (managed.py); the cache layout is described there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.cache import DOWNLOADS, EMSDK, MARKER, XBUILDENV, read_json, write_json
from pyo3_pyodide.console import console
from pyo3_pyodide.download import download, mirrored, pinned_elsewhere
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.toolchain.model import ToolchainError
from pyo3_pyodide.toolchain.tarballs import read_patches

EMSDK_GIT_ENV = "PYO3_PYODIDE_EMSDK_GIT"
EMSDK_GIT_DEFAULT = "https://github.com/emscripten-core/emsdk.git"
PATCHED = ".pyo3-pyodide-patched.json"  # in an emsdk folder: Pyodide's patches are applied
CLONED_TAG = ".pyo3-pyodide-emsdk-tag"  # in an emsdk folder: the emsdk tag it was cloned at


# Pyodide's Emscripten patches, from the release's cross-build environment


def xbuildenv_dir(release: Release) -> Path:
    return XBUILDENV.path / release.xbuildenv_sha256[:16]


def cached_patches(folder: Path) -> list[Path] | None:
    """The patches of a finished xbuildenv folder in name order, or None when it is not finished."""
    marker = read_json(folder / MARKER)
    if marker is None:
        return None
    patches = marker["patches"]
    paths = [folder / "patches" / name for name in sorted(patches)]
    if not all(path.is_file() and sha256_of(path) == patches[path.name] for path in paths):
        return None
    return paths


def pyodide_patches(release: Release) -> list[Path]:
    if release.xbuildenv_url is None:
        console.print(
            f"Pyodide {release.version}: the matrix names no cross-build environment, so no patches"
        )
        return []
    folder = xbuildenv_dir(release)
    patches = cached_patches(folder)
    if patches is not None:
        return patches
    tarball = DOWNLOADS.path / release.xbuildenv_url.rsplit("/", 1)[-1]
    download(
        mirrored(release.xbuildenv_url),
        tarball,
        what=f"Pyodide's cross-build environment for {release.version}",
        sha256=release.xbuildenv_sha256,
        sha256_origin="sha256 pinned in pyodide-matrix.toml",
        elsewhere=pinned_elsewhere(),
    )
    try:
        contents = read_patches(tarball, source=release.xbuildenv_url)
    finally:
        tarball.unlink()
    with files.staged_folder(folder) as staging:
        (staging / "patches").mkdir()
        for name, content in contents.items():
            (staging / "patches" / name).write_bytes(content)
        digests = {name: hashlib.sha256(content).hexdigest() for name, content in contents.items()}
        marker = {"url": release.xbuildenv_url, "sha256": release.xbuildenv_sha256, "patches": digests}
        write_json(staging / MARKER, marker)
    console.print(
        f"Pyodide's Emscripten patches: {', '.join(sorted(contents))}"
        if contents
        else "Pyodide's Emscripten patches: none in this cross-build environment, so emsdk's "
        f"Emscripten {release.emscripten} is used as released (as `pyodide xbuildenv "
        "install-emscripten` does)"
    )
    return cached_patches(folder)


# emsdk, at the pinned version, with Pyodide's patches


class PatchError(ToolchainError):
    """Pyodide's patches do not apply to the Emscripten in an emsdk."""


def _patch_id(patches: list[Path]) -> str:
    digest = hashlib.sha256()
    for patch in patches:
        digest.update(patch.name.encode() + b"\0" + patch.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def emsdk_dir_for(emscripten: str, patches: list[Path]) -> Path:
    """Where the emsdk for this Emscripten version and set of patches lives in the cache."""
    name = f"{emscripten}-pyodide-{_patch_id(patches)}" if patches else emscripten
    return EMSDK.path / name


def _git_apply(emscripten_dir: Path, patches: list[Path], *options: str) -> str:
    # GIT_DIR=. keeps git from finding emsdk's own repository, where it would apply the patches
    # relative to emsdk's root and skip them silently (as pyodide-build notes).
    command = ["git", "apply", *options, *map(str, patches)]
    env = {**os.environ, "GIT_DIR": "."}
    result = subprocess.run(command, cwd=emscripten_dir, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        names = ", ".join(patch.name for patch in patches)
        raise PatchError(
            f"Pyodide's patches ({names}) do not apply to the Emscripten in {emscripten_dir}: "
            f"{result.stderr.strip()}. The matrix's emscripten and xbuildenv_url must belong to "
            "the same Pyodide release: fix pyodide-matrix.toml (`copier update` brings new pins)."
        )
    return result.stdout


def _apply_all_or_none(emscripten_dir: Path, patches: list[Path]) -> None:
    """Apply the patches in name order, each checked first; when one does not apply, the ones applied
    before it are reversed, so the tree is as it was. (One `git apply` of several files applies them one
    after another and stops at the first that fails, leaving the earlier ones applied; `--check` of several
    cannot tell, as it checks a later patch against the unpatched tree.)"""
    for index, patch in enumerate(patches):
        try:
            _git_apply(emscripten_dir, [patch], "--check")
        except PatchError as error:
            for earlier in reversed(patches[:index]):
                _git_apply(emscripten_dir, [earlier], "--reverse")
            undone = f" ({', '.join(p.name for p in patches[:index])} reversed)" if index else ""
            raise PatchError(f"{error} None of Pyodide's patches is left applied{undone}.") from None
        _git_apply(emscripten_dir, [patch])


def _patched_files(emscripten_dir: Path, patches: list[Path]) -> dict[str, str | None]:
    """The sha256 of each file the patches touch (None: absent), to tell later that they still hold."""
    if not patches:
        return {}
    numstat = _git_apply(emscripten_dir, patches, "--numstat")  # "added deleted path" per file
    names = sorted({line.split("\t", 2)[2] for line in numstat.splitlines() if line})
    return {
        name: sha256_of(emscripten_dir / name) if (emscripten_dir / name).is_file() else None
        for name in names
    }


def _apply_patches(emsdk_dir: Path, emscripten: str, patches: list[Path]) -> dict[str, str | None]:
    """Apply Pyodide's patches unless a resumed install did already; return _patched_files."""
    emscripten_dir = emsdk_dir / "upstream" / "emscripten"
    wanted = {patch.name: sha256_of(patch) for patch in patches}
    done = read_json(emsdk_dir / PATCHED)
    if done and done["patches"] == wanted and done["files"] == _patched_files(emscripten_dir, patches):
        return done["files"]
    (emsdk_dir / PATCHED).unlink(missing_ok=True)
    if patches:
        _apply_all_or_none(emscripten_dir, patches)
        console.print(f"emsdk {emscripten}: applied Pyodide's {', '.join(wanted)}")
    files = _patched_files(emscripten_dir, patches)
    write_json(emsdk_dir / PATCHED, {"patches": wanted, "files": files})
    return files


def _emscripten_version(emscripten_dir: Path) -> str | None:
    version_file = emscripten_dir / "emscripten-version.txt"
    return version_file.read_text().strip().strip('"') if version_file.is_file() else None


def emsdk_ready(emsdk_dir: Path, emscripten: str, patches: list[Path]) -> bool:
    installed = read_json(emsdk_dir / MARKER)
    if installed is None:
        return False
    emscripten_dir = emsdk_dir / "upstream" / "emscripten"
    wanted = {"emscripten": emscripten, "patches": {p.name: sha256_of(p) for p in patches}}
    return (
        {key: installed.get(key) for key in wanted} == wanted
        and _cloned_tag(emsdk_dir) == emscripten
        and (emscripten_dir / "emcc").is_file()
        and (emsdk_dir / ".emscripten").is_file()
        and _emscripten_version(emscripten_dir) == emscripten
        # Still Pyodide's Emscripten: the files its patches touch are as they were once patched.
        and installed.get("patched_files") == _patched_files(emscripten_dir, patches)
    )


def ensure_emsdk(emscripten: str, patches: list[Path]) -> Path:
    emsdk_dir = emsdk_dir_for(emscripten, patches)
    if emsdk_ready(emsdk_dir, emscripten, patches):
        console.print(f"emsdk {emscripten}: installed in {emsdk_dir}")
        return emsdk_dir
    if emsdk_dir.exists():
        console.print(f"emsdk {emscripten}: {emsdk_dir} is unfinished or changed: resuming it")
        try:
            _install_emsdk(emsdk_dir, emscripten, patches)
            return emsdk_dir
        except PatchError as error:
            console.print(f"emsdk {emscripten}: {error}\nRemoving {emsdk_dir}, installing afresh")
            shutil.rmtree(emsdk_dir)
    _install_emsdk(emsdk_dir, emscripten, patches)
    return emsdk_dir


def _install_emsdk(emsdk_dir: Path, emscripten: str, patches: list[Path]) -> None:
    (emsdk_dir / MARKER).unlink(missing_ok=True)
    if _cloned_tag(emsdk_dir) != emscripten:
        _clone_emsdk(emsdk_dir, emscripten)
    # `emsdk install` skips what it has finished installing, so a rerun resumes it.
    _run_emsdk(emsdk_dir, "install", emscripten)
    emscripten_dir = emsdk_dir / "upstream" / "emscripten"
    found = _emscripten_version(emscripten_dir)
    if found != emscripten or not (emscripten_dir / "emcc").is_file():
        # Never resumed: what it holds is not the pinned Emscripten, so the next run starts afresh.
        shutil.rmtree(emsdk_dir, ignore_errors=True)
        url = os.environ.get(EMSDK_GIT_ENV) or EMSDK_GIT_DEFAULT
        what = f"Emscripten {found}, not {emscripten}" if found else "no emscripten-version.txt"
        if found == emscripten:
            what = "no emcc"
        raise ToolchainError(
            f"`emsdk install {emscripten}` left {what} in {emscripten_dir}; removed {emsdk_dir}, "
            f"nothing was installed. The emsdk cloned from {url} does not install what it is asked "
            f"for: check {EMSDK_GIT_ENV} (a mirror of emsdk's git repository) and run again."
        )
    patched_files = _apply_patches(emsdk_dir, emscripten, patches)
    _run_emsdk(emsdk_dir, "activate", emscripten)
    marker = {
        "emscripten": emscripten,
        "patches": {patch.name: sha256_of(patch) for patch in patches},
        "patched_files": patched_files,
    }
    write_json(emsdk_dir / MARKER, marker)  # last: the install is complete


def _cloned_tag(emsdk_dir: Path) -> str | None:
    """The emsdk tag the folder was cloned at (None: not cloned by us at a tag, e.g. from main)."""
    record = emsdk_dir / CLONED_TAG
    return record.read_text().strip() if record.is_file() and (emsdk_dir / "emsdk").is_file() else None


def _clone_emsdk(emsdk_dir: Path, emscripten: str) -> None:
    """Clone emsdk at the tag of the pinned Emscripten (emsdk tags every release), not its main branch:
    the Node it installs, its config and its install logic are then those of that release, whatever the day."""
    url = os.environ.get(EMSDK_GIT_ENV) or EMSDK_GIT_DEFAULT
    if shutil.which("git") is None:
        raise ToolchainError("git is not on PATH: emsdk is installed with git. Install git, run again.")
    shutil.rmtree(emsdk_dir, ignore_errors=True)
    console.print(f"emsdk: $ git clone --depth 1 --branch {emscripten} {url} {emsdk_dir}")
    with files.staged_folder(emsdk_dir, create=False) as staging:
        command = ["git", "clone", "--quiet", "--depth", "1", "--branch", emscripten, url, str(staging)]
        result = subprocess.run(command, check=False, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            said = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            fatal = [line for line in said if line.startswith(("fatal:", "error:"))] or said
            raise ToolchainError(
                f"`git clone --branch {emscripten} {url}` failed "
                f"({fatal[0] if fatal else f'exit code {result.returncode}'}); nothing was installed. "
                f"Check the network, or set {EMSDK_GIT_ENV} to a mirror of emsdk's git repository "
                f"(with its tags: emsdk tags every release, {emscripten} among them), and run again."
            )
        (staging / CLONED_TAG).write_text(emscripten + "\n")


def _run_emsdk(emsdk_dir: Path, command: str, emscripten: str) -> None:
    console.print(f"emsdk {emscripten}: $ emsdk {command} {emscripten}")
    emsdk = [str(emsdk_dir / "emsdk"), command, emscripten]
    if subprocess.run(emsdk, cwd=emsdk_dir, check=False).returncode != 0:
        raise ToolchainError(
            f"`emsdk {command} {emscripten}` failed in {emsdk_dir} (output above). emsdk downloads "
            "Emscripten from storage.googleapis.com: check the network and run again; the install "
            "resumes where it stopped."
        )


def known_patches(release: Release) -> list[Path] | None:
    """The release's Pyodide patches if known locally (None: not downloaded yet)."""
    return cached_patches(xbuildenv_dir(release)) if release.xbuildenv_url else []


def planned_emsdk_dir(release: Release, patches: list[Path] | None) -> Path:
    if patches is None:  # the folder's name depends on patches not downloaded yet
        return EMSDK.path / f"{release.emscripten}-pyodide-<patch id>"
    return emsdk_dir_for(release.emscripten, patches)
