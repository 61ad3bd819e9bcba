"""The project a session works on, read once and passed down: the one reader of its pyproject.toml.

pyproject.toml is read here and nowhere else: `[tool.pyodide-target]` (release, max-extension-bytes, test-dir,
test-requirements, known-failures), `[project] name`, `[tool.maturin]` (manifest-path, module-name),
`[build-system] build-backend` and `[dependency-groups]`. A wrong value stops the session with the file, the
key, what was found and what was expected.

It also answers for the Cargo side, as cargo and maturin see it: maturin builds the crate `[tool.maturin]
manifest-path` names (a workspace member), else the root's Cargo.toml; cargo reads profiles, and fields a
member inherits (`rust-version.workspace = true`), from the workspace root: the first Cargo.toml upwards with
a [workspace] table, else the package's own.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import MATRIX_FILE, Matrix, Release, load_matrix

PYPROJECT = "pyproject.toml"
TABLE = "[tool.pyodide-target]"
BUDGET_KEY = "max-extension-bytes"
TEST_KEYS = ("test-dir", "test-requirements", "known-failures")  # also what `wasm_test --config` takes


class ProjectError(EngineError):
    """pyproject.toml (or a `wasm_test --config` file) is unreadable or holds a wrong value."""


def read_toml(path: Path) -> dict:
    """A Cargo.toml's tables, or {} when it is missing or unreadable (the build then says why)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def read_settings(path: Path, missing_ok: bool) -> dict:
    """A settings file's tables: {} when it is missing and `missing_ok`, else a ProjectError saying why."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ProjectError(f"{path} not found; expected a TOML file") from None
    except OSError as error:
        raise ProjectError(f"cannot read {path}: {error.strerror}; expected a TOML file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"{path} is not valid TOML: {error}") from None


def wrong(where: str, key: str, value: object, expected: str) -> ProjectError:
    """The one shape of a wrong value's message: file and table, key, what was found, what was expected."""
    return ProjectError(f"{where} {key} = {value!r}: expected {expected}")


def table_at(data: dict, path: Path, *keys: str) -> dict:
    """The table at `keys` (e.g. "tool", "maturin"), {} when absent; a ProjectError when it is no table."""
    table = data
    for depth, key in enumerate(keys):
        table = table.get(key, {})
        if not isinstance(table, dict):
            where = f"{path}'s [{'.'.join(keys[:depth])}]" if depth else str(path)
            raise wrong(where, key, table, "a table")
    return table


@dataclasses.dataclass(frozen=True)
class KnownFailure:
    """A test that cannot pass inside Pyodide: why, and the engines it fails in (none named: every one)."""

    reason: str
    engines: tuple[str, ...] = ()  # "node" or a `--browser` name

    def applies_in(self, engine: str) -> bool:
        return not self.engines or engine in self.engines


def known_failure(value: object) -> KnownFailure | None:
    """A known-failures entry's value: its reason, or {reason = ..., engines = [...]}; None when it is neither."""
    if isinstance(value, str):
        return KnownFailure(value) if value.strip() else None
    if not isinstance(value, dict) or not set(value) <= {"reason", "engines"}:
        return None
    reason, engines = value.get("reason"), value.get("engines", [])
    if not isinstance(reason, str) or not reason.strip() or not isinstance(engines, list) or not engines:
        return None
    if not all(isinstance(engine, str) and engine for engine in engines):
        return None
    return KnownFailure(reason, tuple(engines))


@dataclasses.dataclass(frozen=True)
class TestSettings:
    """How the suite runs inside Pyodide: [tool.pyodide-target]'s test keys."""

    test_dir: str = "."  # the folder pytest runs from, relative to the project
    requirements: tuple[str, ...] | None = None  # None: the wasm-test (else test) dependency group
    known_failures: dict[str, KnownFailure] = dataclasses.field(default_factory=dict)  # test id or pattern
    known_failures_from: str = ""  # the file they were read from, for messages


def test_keys(table: Mapping, path: Path) -> dict:
    """`table`'s test keys, checked, as TestSettings fields."""
    where = f"{path}'s {TABLE}"
    found = {}
    if "test-dir" in table:
        if not isinstance(table["test-dir"], str) or not table["test-dir"]:
            raise wrong(where, "test-dir", table["test-dir"], 'a folder of the project, e.g. "name-py"')
        found["test_dir"] = table["test-dir"]
    if "test-requirements" in table:
        value = table["test-requirements"]
        if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
            raise wrong(where, "test-requirements", value, 'a list, e.g. ["pytest", "hypothesis"]')
        for line in value:
            try:
                Requirement(line)
            except InvalidRequirement as error:
                raise wrong(where, "test-requirements", line, f"a requirement (PEP 508): {error}") from None
        found["requirements"] = tuple(value)
    if "known-failures" in table:
        value = table["known-failures"]
        entries = {test: known_failure(why) for test, why in value.items()} if isinstance(value, dict) else {}
        if not isinstance(value, dict) or None in entries.values():
            raise wrong(
                where,
                "known-failures",
                value,
                "a table of test ids or patterns, each with its reason, e.g. "
                '{"tests/test_io.py::test_threads" = "Pyodide has no threads"}, or with the engines it '
                'fails in: {"tests/test_x.py::test_y" = { reason = "...", engines = ["webkit"] }}',
            )
        found["known_failures"] = entries
        found["known_failures_from"] = path.name
    return found


def optional_string(table: Mapping, where: str, key: str, expected: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise wrong(where, key, value, expected)
    return value


@dataclasses.dataclass(frozen=True)
class Project:
    """A project as its sessions see it: read once per session (`Project.read`) and passed down."""

    folder: Path
    target: str | None  # the release to build for: [tool.pyodide-target] release, else the noxfile's
    distribution: str | None  # [project] name, canonical
    module: str | None  # [tool.maturin] module-name (None: maturin derives it from the crate)
    build_backend: str | None  # [build-system] build-backend
    manifest: Path  # the Cargo.toml maturin builds
    size_budget: int | None  # [tool.pyodide-target] max-extension-bytes (None: no budget)
    tests: TestSettings  # pyproject.toml's test keys (`test_settings` lays a --config file over them)
    dependency_groups: dict  # [dependency-groups], as PEP 735 writes them
    has_pyproject: bool = True

    @classmethod
    def read(cls, folder: Path, default_target: str | None = None) -> Project:
        """Read `folder`'s pyproject.toml; `default_target` is the release a noxfile names when it does not."""
        folder = Path(folder).resolve()
        path = folder / PYPROJECT
        data = read_settings(path, missing_ok=True)
        settings = table_at(data, path, "tool", "pyodide-target")
        maturin = table_at(data, path, "tool", "maturin")
        where = f"{path}'s {TABLE}"
        release = optional_string(settings, where, "release", '"stable", a line such as "314", or a version')
        budget = settings.get(BUDGET_KEY)
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
            raise wrong(
                where, BUDGET_KEY, budget, f"a positive whole number of bytes, e.g. {BUDGET_KEY} = 150_000"
            )
        name = optional_string(table_at(data, path, "project"), f"{path}'s [project]", "name", "a name")
        manifest = optional_string(
            maturin, f"{path}'s [tool.maturin]", "manifest-path", "a path to a Cargo.toml"
        )
        groups = table_at(data, path, "dependency-groups")
        return cls(
            folder=folder,
            target=release or default_target,
            distribution=canonicalize_name(name) if name else None,
            module=optional_string(maturin, f"{path}'s [tool.maturin]", "module-name", "a module name"),
            build_backend=table_at(data, path, "build-system").get("build-backend"),
            manifest=(folder / (manifest or "Cargo.toml")).resolve(),
            size_budget=budget,
            tests=TestSettings(**test_keys(settings, path)),
            dependency_groups=groups,
            has_pyproject=path.is_file(),
        )

    @property
    def pyproject(self) -> Path:
        return self.folder / PYPROJECT

    @functools.cached_property
    def matrix(self) -> Matrix:
        """The pins (pyodide-matrix.toml), read at first use."""
        return load_matrix(self.folder / MATRIX_FILE)

    def releases(self, names: list[str] | str | None = None) -> list[Release]:
        """The releases `names` (--pyodide arguments) name, else the project's target."""
        matrix = self.matrix  # first: without it no name means anything
        if isinstance(names, str):
            names = [names]
        if not names and self.target is None:
            raise ProjectError(
                f'{self.pyproject} lacks {TABLE} release = "stable" (or a line such as "314", or a version): '
                "add it to name the Pyodide release to build for"
            )
        return [matrix.resolve(name) for name in names or [self.target]]

    def test_settings(self, config: Path | None = None, test_dir: str | None = None) -> TestSettings:
        """The suite's settings: pyproject.toml's, then `config`'s (`wasm_test --config`) over them key by
        key, then `test_dir` (`--test-dir`) over both; the test folder must be one of the project's."""
        settings = self.tests
        if config is not None:
            table = table_at(read_settings(config, missing_ok=False), config, "tool", "pyodide-target")
            if not table:
                raise ProjectError(f"{config} has no {TABLE} table; expected one with {', '.join(TEST_KEYS)}")
            others = sorted(set(table) - set(TEST_KEYS))
            if others:
                raise ProjectError(
                    f"{config}'s {TABLE} has {', '.join(others)}, which `wasm_test --config` does not take: it "
                    f"takes {', '.join(TEST_KEYS)} (set the others in {PYPROJECT})"
                )
            settings = dataclasses.replace(settings, **test_keys(table, config))
        if test_dir is not None:
            settings = dataclasses.replace(settings, test_dir=test_dir)
        folder = (self.folder / settings.test_dir).resolve()
        if not folder.is_dir() or not folder.is_relative_to(self.folder):
            raise ProjectError(
                f"the test folder {settings.test_dir!r} (test-dir) is not a folder of the project {self.folder}, "
                "the only folder that Pyodide sees: name one relative to it, e.g. `--test-dir name-py`"
            )
        return settings

    def workspace_root(self) -> dict:
        """The tables of the workspace root of the built crate (the crate's own when it has no workspace)."""
        root = None
        for candidate in [self.manifest, *(folder / "Cargo.toml" for folder in self.manifest.parents[1:])]:
            table = read_toml(candidate)
            if not table:
                continue
            if root is None or "workspace" in table:
                root = table
            if "workspace" in table:
                break
        return root or {}

    def rust_version(self) -> str | None:
        """The built crate's `rust-version` (its MSRV), inherited from the workspace where it says so."""
        value = read_toml(self.manifest).get("package", {}).get("rust-version")
        if isinstance(value, dict) and value.get("workspace"):
            value = self.workspace_root().get("workspace", {}).get("package", {}).get("rust-version")
        return value if isinstance(value, str) else None


def target_release(folder: Path, override: str | None = None) -> Release:
    """The release to build for: `override` (a `--pyodide` argument) or the one pyproject.toml names."""
    [release] = Project.read(folder).releases(override)
    return release
