"""The template's version matrix: loading it, and the copier mirror generated from it.

template/pyodide-matrix.toml is the one home of every pin. copier.yml cannot read TOML (its Jinja has no
TOML filter, and custom extensions would need --trust), so `inv matrix.sync` writes the same data as YAML
to copier-matrix.yml, which copier.yml includes; a test fails when the two differ.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import pyo3_pyodide.matrix
import yaml

from template_tools import REPO_DIR, TEMPLATE_DIR

MATRIX_PATH = TEMPLATE_DIR / "pyodide-matrix.toml"
MIRROR_PATH = REPO_DIR / "copier-matrix.yml"
MIRROR_HEADER = (
    "# Generated from template/pyodide-matrix.toml by `inv matrix.sync`: do not edit; edit the TOML file.\n"
    "# copier.yml includes it so that questions and rendered files can read the pins.\n"
)


MatrixError = pyo3_pyodide.matrix.MatrixError


def load(path: Path = MATRIX_PATH):
    """The checked matrix (a pyo3_pyodide.matrix.Matrix)."""
    return pyo3_pyodide.matrix.load_matrix(path)


def raw(path: Path = MATRIX_PATH) -> dict:
    """The matrix file's data as TOML gives it."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def mirror_text(path: Path = MATRIX_PATH) -> str:
    """What copier-matrix.yml must hold for the matrix at `path` (checked first)."""
    checked = load(path)
    # `lines` maps each release line to the matrix's release of it: copier answers may name a line.
    data = {**raw(path), "lines": {release.line: version for version, release in checked.releases.items()}}
    question = {"pyodide_matrix": {"type": "yaml", "when": False, "default": data}}
    return MIRROR_HEADER + yaml.safe_dump(question, sort_keys=False, width=120)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=Path(path).parent, prefix=f".{Path(path).name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def sync_mirror() -> bool:
    """Rewrite copier-matrix.yml from the matrix; True when it changed."""
    text = mirror_text()
    if MIRROR_PATH.exists() and MIRROR_PATH.read_text(encoding="utf-8") == text:
        return False
    write_atomically(MIRROR_PATH, text)
    return True


def table(checked=None):
    """The matrix as a rich Table, one row per release."""
    from rich.table import Table

    checked = checked or load()
    view = Table(title=f"{MATRIX_PATH.relative_to(REPO_DIR)} (default: {checked.default})")
    for column in (
        "release",
        "status",
        "python",
        "emscripten",
        "abi",
        "platform tag",
        "rust",
        "rustflags",
        "sysroot",
    ):
        view.add_column(column)
    for release in checked.releases.values():
        view.add_row(
            release.version,
            release.status,
            release.python,
            release.emscripten,
            release.abi,
            release.platform_tag,
            release.rust_toolchain,
            " ".join(release.rustflags) or "-",
            "yes" if release.rust_sysroot_url else "-",
        )
    return view
