"""The project on disk, as cargo and maturin see it: one home for which Cargo.toml a build uses.

maturin builds the crate `[tool.maturin] manifest-path` names (a workspace member), else the root's
Cargo.toml; cargo reads profiles, and fields a member inherits (`rust-version.workspace = true`), from the
workspace root: the first Cargo.toml upwards with a [workspace] table, else the package's own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_toml(path: Path) -> dict:
    """A TOML file's tables, or {} when it is missing or unreadable (the build then says why)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def manifest_path(project_dir: Path) -> Path:
    """The Cargo.toml maturin builds: `[tool.maturin] manifest-path`, else the project's root one."""
    project_dir = Path(project_dir)
    named = read_toml(project_dir / "pyproject.toml").get("tool", {}).get("maturin", {}).get("manifest-path")
    return (project_dir / named if isinstance(named, str) else project_dir / "Cargo.toml").resolve()


def workspace_root(manifest: Path) -> dict:
    """The tables of the workspace root of `manifest`'s crate (the crate's own when it has no workspace)."""
    root = None
    for candidate in [manifest, *(folder / "Cargo.toml" for folder in manifest.parents[1:])]:
        table = read_toml(candidate)
        if not table:
            continue
        if root is None or "workspace" in table:
            root = table
        if "workspace" in table:
            break
    return root or {}


def rust_version(project_dir: Path) -> str | None:
    """The crate's `rust-version` (its MSRV), inherited from the workspace where it says so."""
    manifest = manifest_path(project_dir)
    value = read_toml(manifest).get("package", {}).get("rust-version")
    if isinstance(value, dict) and value.get("workspace"):
        value = workspace_root(manifest).get("workspace", {}).get("package", {}).get("rust-version")
    return value if isinstance(value, str) else None
