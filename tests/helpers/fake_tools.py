"""Small stand-ins for "the wrong compiler is installed": real executables on a real PATH.

Each prints a version the way the real tool does; the code under test runs them as it runs the real ones.
"""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path


def write_script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def fake_toolchain(
    folder: Path,
    *,
    emcc: str | None = "6.0.5",
    rustc: str | None = "1.97.1",
    nightly: datetime.date | None = None,
    target_std: bool = False,
    rust_src: bool = True,
    node: str | None = "v20.19.0",
) -> dict[str, str]:
    """Make fake emcc/rustc/cargo/node in `folder`/bin; returns an environment whose PATH finds them first."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    sysroot = folder / "rust-sysroot"
    (sysroot / "lib" / "rustlib").mkdir(parents=True)
    if target_std:
        (sysroot / "lib/rustlib/wasm32-unknown-emscripten/lib").mkdir(parents=True)
    if rust_src:
        (sysroot / "lib/rustlib/src/rust/library/std").mkdir(parents=True)
    if emcc:
        write_script(bin_dir / "emcc", f'[ "$1" = -dumpversion ] && echo {emcc}\n')
    if rustc:
        channel = "-nightly" if nightly else ""
        commit_date = nightly or datetime.date(2026, 1, 1)
        write_script(
            bin_dir / "rustc",
            f'if [ "$1" = -vV ]; then\n  echo "rustc {rustc}{channel} (abc {commit_date})"\n'
            f'  echo "release: {rustc}{channel}"\n  echo "commit-date: {commit_date}"\n'
            f'elif [ "$1" = --print ]; then echo {sysroot}; fi\n',
        )
        write_script(bin_dir / "cargo", f'echo "cargo {rustc}"\n')
    if node:
        write_script(bin_dir / "node", f"echo {node}\n")
    return {**os.environ, "PATH": str(bin_dir)}  # nothing else, so a missing tool stays missing
