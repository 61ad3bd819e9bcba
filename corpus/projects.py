"""The corpus's projects, as `projects.toml` describes them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PROJECTS_FILE = Path(__file__).with_name("projects.toml")


@dataclass(frozen=True)
class Project:
    name: str  # on PyPI
    version: str
    covers: tuple[str, ...]  # what this project shows that the others do not
    test_paths: tuple[str, ...]  # given to pytest, relative to test_dir
    test_requirements: tuple[str, ...]  # inside Pyodide and natively
    test_dir: str = "."  # the folder pytest runs from (the project's root unless said)
    known_failures: dict[str, str] = field(default_factory=dict)  # test id or pattern -> why, in Pyodide
    pytest_args: tuple[str, ...] = ()  # both inside Pyodide and natively
    small: bool = False  # run by `nox -s tests` (the `corpus` marker)
    browsers: tuple[str, ...] = ()  # also run inside Pyodide in these (wasm_test --browser NAME)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    def needs_config(self) -> bool:
        """Whether wasm_test needs the corpus's settings (it runs from the root with pytest alone by default)."""
        return self.test_dir != "." or bool(self.known_failures) or self.test_requirements != ("pytest",)

    def pyodide_config(self) -> str:
        """The TOML file given to wasm_test with --config: a `[tool.pyodide-target]` table."""
        lines = ["[tool.pyodide-target]", f"test-dir = {toml_string(self.test_dir)}"]
        lines.append("test-requirements = [" + ", ".join(map(toml_string, self.test_requirements)) + "]")
        failures = ", ".join(
            f"{toml_string(test)} = {toml_string(why)}" for test, why in self.known_failures.items()
        )
        lines.append(f"known-failures = {{ {failures} }}")
        return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


KEYS = {
    "name",
    "version",
    "covers",
    "test-paths",
    "test-requirements",
    "test-dir",
    "known-failures",
    "pytest-args",
    "small",
    "browsers",
}


def load(path: Path = PROJECTS_FILE) -> dict[str, Project]:
    """The projects of `path` by name; an unknown key is an error naming the project and the keys allowed."""
    projects = {}
    for table in tomllib.loads(path.read_text())["project"]:
        unknown = set(table) - KEYS
        if unknown:
            raise ValueError(
                f"{path}: project {table.get('name')!r} has unknown keys {sorted(unknown)}; "
                f"expected some of {sorted(KEYS)}"
            )
        project = Project(
            name=table["name"],
            version=table["version"],
            covers=tuple(table["covers"]),
            test_paths=tuple(table["test-paths"]),
            test_requirements=tuple(table["test-requirements"]),
            test_dir=table.get("test-dir", "."),
            known_failures=dict(table.get("known-failures", {})),
            pytest_args=tuple(table.get("pytest-args", ())),
            small=table.get("small", False),
            browsers=tuple(table.get("browsers", ())),
        )
        projects[project.name] = project
    return projects
