"""Writing files and folders whole or not at all: a staged copy beside the target, then `os.replace`.

Readers (another project's session, a re-run after Ctrl-C) never see half of anything: a staged copy that
was cut short is removed, or replaced by the next attempt, and never taken for the finished one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_file(final: Path) -> Iterator[Path]:
    """A path beside `final` to write; when the block ends without error it becomes `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".part")
    try:
        yield partial
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


def write_text(final: Path, text: str) -> None:
    """Write `final` whole or not at all."""
    with staged_file(final) as partial:
        partial.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def staged_folder(final: Path, *, create: bool = True) -> Iterator[Path]:
    """A fresh folder beside `final` to fill (made unless `create` is False, for tools that make it
    themselves); when the block ends without error it replaces `final`, otherwise it is removed."""
    staging = final.with_name(final.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    if create:
        staging.mkdir()
    try:
        yield staging
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def sha256_of(path: Path) -> str:
    """The sha256 of a file, as 64 lowercase hex digits."""
    import hashlib  # not needed by most sessions: loaded when used

    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
