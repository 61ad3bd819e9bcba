"""The Pyodide release to target and its pins.

The pins live in pyodide-matrix.toml (one table per Pyodide release); pyproject.toml's
`[tool.pyodide-target] release` names the release to build for ("stable" follows the matrix's `default`),
read by project.py.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pyo3_pyodide.errors import EngineError

MATRIX_FILE = "pyodide-matrix.toml"
STATUSES = ("stable", "legacy", "prerelease")
REQUIRED_KEYS = (
    "status",
    "npm",
    "python",
    "emscripten",
    "abi",
    "platform_tag",
    "rust_toolchain",
    "rustflags",
)
OPTIONAL_KEYS = ("rust_sysroot_url", "rust_sysroot_sha256", "xbuildenv_url", "xbuildenv_sha256")
FORMATS = {
    "python": (r"3\.\d+", "X.Y"),
    "emscripten": (r"\d+\.\d+\.\d+", "X.Y.Z"),
    "abi": (r"\d{4}_\d+", "YYYY_N"),
    "rust_toolchain": (
        r"\d+\.\d+\.\d+|nightly-\d{4}-\d{2}-\d{2}",
        "a stable version X.Y.Z or nightly-YYYY-MM-DD",
    ),
    "rust_sysroot_sha256": (r"[0-9a-f]{64}", "64 lowercase hex digits"),
    "xbuildenv_sha256": (r"[0-9a-f]{64}", "64 lowercase hex digits"),
}


def line_of(version: str) -> str:
    """The release line of a Pyodide version: "0.X" for 0.X.Y, the major version for 314 and later."""
    parsed = Version(version)
    return str(parsed.major) if parsed.major >= 314 else f"{parsed.major}.{parsed.minor}"


class MatrixError(EngineError):
    """pyodide-matrix.toml is wrong, or names no release of the name asked for."""


@dataclasses.dataclass(frozen=True)
class Release:
    """The pins of one Pyodide release, as pyodide-matrix.toml gives them."""

    version: str
    status: str
    npm: str
    python: str
    emscripten: str
    abi: str
    platform_tag: str
    rust_toolchain: str
    rustflags: tuple[str, ...]
    rust_sysroot_url: str | None = None
    rust_sysroot_sha256: str | None = None
    xbuildenv_url: str | None = None
    xbuildenv_sha256: str | None = None

    @property
    def line(self) -> str:
        """The release line: "0.X" for 0.X.Y, and the major version from Pyodide's scheme after 0.29 on."""
        return line_of(self.version)

    @property
    def python_tag(self) -> str:
        """The wheel's Python and ABI tag, e.g. cp314."""
        return "cp" + self.python.replace(".", "")

    @property
    def pep783_platform_version(self) -> str | None:
        """What maturin's MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION must be, or None for a pre-PEP 783 tag."""
        return self.abi if self.platform_tag.startswith("pyemscripten_") else None

    def platform_tag_spellings(self) -> tuple[str, ...]:
        """Every spelling of this release's platform tag: what pyodide.loadPackage loads (it checks no tag), while
        the release's micropip accepts only some (runtime_info.Runtime.micropip_platform_tags)."""
        return (
            f"pyemscripten_{self.abi}_wasm32",
            f"pyodide_{self.abi}_wasm32",
            "emscripten_{}_wasm32".format(self.emscripten.replace(".", "_")),
        )


@dataclasses.dataclass(frozen=True)
class Matrix:
    """Every release of pyodide-matrix.toml, and the one `stable` resolves to."""

    default: str
    releases: dict[str, Release]

    def resolve(self, name: str) -> Release:
        """The release that a target name means: "stable" (the matrix's default), a line (the matrix's
        release of that line) or a version (that release; a version of a line the matrix has moved on
        in, an older patch release, means that line's release)."""
        if name == "stable":
            return self.releases[self.default]
        if name in self.releases:
            return self.releases[name]
        by_line = {release.line: release for release in self.releases.values()}
        try:
            return by_line[name] if name in by_line else by_line[line_of(name)]
        except (KeyError, InvalidVersion):
            known = ", ".join(["stable", *by_line, *self.releases])
            raise MatrixError(
                f"Pyodide release {name!r} is not in {MATRIX_FILE}; known: {known}. "
                "Pick one of those, or run `copier update` to get newer releases."
            ) from None


def _check_release(version: str, table: object) -> Release:
    where = f'{MATRIX_FILE}: [release."{version}"]'
    if not isinstance(table, dict):
        raise MatrixError(f"{where} must be a table")
    missing = [key for key in REQUIRED_KEYS if key not in table]
    if missing:
        raise MatrixError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(set(table) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise MatrixError(
            f"{where} has unknown keys {', '.join(unknown)}; known: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}"
        )
    for key, value in table.items():
        if key == "rustflags":
            if not (isinstance(value, list) and all(isinstance(flag, str) for flag in value)):
                raise MatrixError(f"{where} rustflags must be an array of strings, one argument each")
        elif not isinstance(value, str):
            raise MatrixError(f"{where} {key} must be a string, found {value!r}")
        elif key in FORMATS and not re.fullmatch(FORMATS[key][0], value):
            raise MatrixError(f"{where} {key} = {value!r} is not {FORMATS[key][1]}")
    if table["status"] not in STATUSES:
        raise MatrixError(f"{where} status = {table['status']!r} is not one of {', '.join(STATUSES)}")
    if "rust_sysroot_sha256" in table and "rust_sysroot_url" not in table:
        raise MatrixError(f"{where} has rust_sysroot_sha256 but no rust_sysroot_url")
    if ("xbuildenv_url" in table) != ("xbuildenv_sha256" in table):
        raise MatrixError(f"{where} needs both xbuildenv_url and xbuildenv_sha256, or neither")
    release = Release(version=version, **{**table, "rustflags": tuple(table["rustflags"])})
    if release.platform_tag not in release.platform_tag_spellings():
        raise MatrixError(
            f"{where} platform_tag = {release.platform_tag!r} does not name this release's platform; "
            f"expected one of {', '.join(release.platform_tag_spellings())}"
        )
    return release


def parse_matrix(data: dict) -> Matrix:
    """Check a parsed pyodide-matrix.toml and return it as a Matrix."""
    releases = data.get("release")
    if not isinstance(releases, dict) or not releases:
        raise MatrixError(f'{MATRIX_FILE} has no [release."X"] tables')
    checked = {version: _check_release(version, table) for version, table in releases.items()}
    default = data.get("default")
    if default not in checked:
        raise MatrixError(
            f"{MATRIX_FILE}: default = {default!r} is not one of its releases ({', '.join(checked)})"
        )
    if checked[default].status != "stable":
        raise MatrixError(
            f"{MATRIX_FILE}: default = {default!r} has status {checked[default].status!r}, not stable"
        )
    return Matrix(default=default, releases=checked)


def load_matrix(path: Path) -> Matrix:
    """Read and check a pyodide-matrix.toml."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MatrixError(
            f"{path} not found: this project's pins live there; restore it with `git checkout -- {path}`"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise MatrixError(f"{path} is not valid TOML: {error}") from None
    return parse_matrix(data)
