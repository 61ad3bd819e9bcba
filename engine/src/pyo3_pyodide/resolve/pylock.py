"""The test locks, tests/pylock.pyodide-<line>.toml (PEP 751): per Pyodide release line, the wheels that
`nox -s wasm_test` installs beside the project's own. Commit them: every machine then tests with the same
wheels.

One file per line (pylock.pyodide-314.toml, pylock.pyodide-0_29.toml: PEP 751 allows no dot in the name),
since the matrix holds one release per line: when `copier update` moves a line to a newer release, the
file's inputs change, the next run resolves it again, and git shows what moved. Each file lists every wheel
with its URL and sha256: the release's own packages at its package base URL (source "pyodide"), the others
where pip found them (source "pypi": pure packages of the set as well, when the set's version is too old or
its URL cannot be reached, see pyodide_packages.py); its `[tool.pyo3-pyodide]` table holds the inputs
(release, Python, platform tags, micropip, requirements, package base URL), and any change to them resolves
the file again (as does `--relock`). packaging.pylock, where the installed packaging has it (>= 26),
validates each file read and written; the writer is this module's own (the engine depends on no TOML
writer).

The format before this one, tests/wasm_test.lock (one TOML file, a section per release, no URLs), is
converted once: each section becomes its line's file (pip finds the URLs of its wheels, by name, version
and sha256, in its index), then the old file is removed.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.console import console
from pyo3_pyodide.matrix import line_of
from pyo3_pyodide.resolve import pip, pyodide_packages
from pyo3_pyodide.resolve.pip import LockedWheel, ResolveError
from pyo3_pyodide.runtime_info import Runtime

try:
    from packaging import pylock as pep751
except ImportError:  # packaging < 26: files are checked by this module alone
    pep751 = None

LOCK_FOLDER = Path("tests")
TEST_LOCK_FILES = "tests/pylock.pyodide-<line>.toml"  # for messages
LEGACY_LOCK_FILE = LOCK_FOLDER / "wasm_test.lock"
TOOL = "pyo3-pyodide"
CREATED_BY = "pyo3-pyodide (nox -s wasm_test)"
ENVIRONMENT = "sys_platform == 'emscripten' and platform_machine == 'wasm32'"
INPUT_KEYS = ("release", "python", "platforms", "micropip", "requirements", "package-base-url")
HEADER = """\
# The wheels that `nox -s wasm_test` installs into Pyodide {line} (here {release}) beside this project's own,
# as a PEP 751 lock. Pyodide's own packages (source "pyodide") come from the release's package set: its
# pyodide-lock.json, the wheels at its package base URL. The others (source "pypi") are pip's resolution for
# the release's Python and platform tags: pure packages of the set too, where the set's version did not meet
# a requirement or its package base URL could not be reached (the run said which). wasm_test writes this
# file whenever its inputs ([tool.{tool}]) change; commit it, so that every machine tests with the same
# wheels. `nox -s wasm_test -- --relock` resolves it again.
"""


def lock_file(version: str) -> Path:
    """The test lock of a release's line, relative to the project folder."""
    return LOCK_FOLDER / f"pylock.pyodide-{line_of(version).replace('.', '_')}.toml"


@dataclasses.dataclass(frozen=True)
class LockFile:
    inputs: dict  # [tool.pyo3-pyodide]
    wheels: list[LockedWheel]


def read_test_lock(path: Path) -> LockFile | None:
    """A test lock's inputs and wheels; None when there is no such file yet."""
    if not path.is_file():
        return None
    fix = "delete it (or run with `--relock`), and `nox -s wasm_test` writes it again"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ResolveError(f"{path} is not valid TOML ({error}); {fix}") from None
    if pep751 is not None:
        try:
            pep751.Pylock.from_dict(data)
        except pep751.PylockValidationError as error:
            raise ResolveError(f"{path} is not a valid PEP 751 lock ({error}); {fix}") from None
    try:
        wheels = []
        for package in data["packages"]:
            [wheel] = package["wheels"]
            wheels.append(
                LockedWheel(
                    name=package["name"],
                    version=package["version"],
                    file=wheel["name"],
                    sha256=wheel["hashes"]["sha256"],
                    url=wheel["url"],
                    source=package.get("tool", {}).get(TOOL, {}).get("source", pip.PYPI),
                )
            )
        inputs = data["tool"][TOOL]
    except (KeyError, TypeError, ValueError) as error:
        raise ResolveError(
            f"{path} lacks what wasm_test writes (each package one wheel with name, url and a sha256, "
            f"and [tool.{TOOL}]): {error!r}; {fix}"
        ) from None
    return LockFile(inputs=inputs, wheels=wheels)


def format_test_lock(release: str, inputs: dict, wheels: list[LockedWheel]) -> str:
    quote = json.dumps  # a JSON string is a TOML basic string

    def array(values: list[str]) -> str:
        return f"[{', '.join(map(quote, values))}]"

    lines = [
        HEADER.format(line=line_of(release), release=release, tool=TOOL),
        'lock-version = "1.0"',
        f"environments = [{quote(ENVIRONMENT)}]",
        f"requires-python = {quote('==' + inputs['python'] + '.*')}",
        f"created-by = {quote(CREATED_BY)}",
        "",
    ]
    for wheel in sorted(wheels, key=lambda wheel: wheel.name):
        lines += [
            "[[packages]]",
            f"name = {quote(wheel.name)}",
            f"version = {quote(wheel.version)}",
            "wheels = [",
            (
                f"    {{ name = {quote(wheel.file)}, url = {quote(wheel.url)}, "
                f"hashes = {{ sha256 = {quote(wheel.sha256)} }} }},"
            ),
            "]",
            f"tool.{TOOL} = {{ source = {quote(wheel.source)} }}",
            "",
        ]
    lines.append(f"[tool.{TOOL}]")
    for key in INPUT_KEYS:
        value = inputs[key]
        lines.append(f"{key} = {array(value) if isinstance(value, list) else quote(value)}")
    for key in sorted(set(inputs) - set(INPUT_KEYS)):
        lines.append(f"{key} = {quote(inputs[key])}")
    text = "\n".join(lines) + "\n"
    if pep751 is not None:  # what this writes, every reader of PEP 751 locks takes
        pep751.Pylock.from_dict(tomllib.loads(text))
    return text


def write_test_lock(path: Path, release: str, inputs: dict, wheels: list[LockedWheel]) -> None:
    files.write_text(path, format_test_lock(release, inputs, wheels))


def convert_legacy_lock(project_dir: Path) -> list[Path]:
    """Rewrite tests/wasm_test.lock (the format before PEP 751) as the lines' files, then remove it;
    a line that has its file already keeps it. Nothing is written unless every section converts."""
    legacy = project_dir / LEGACY_LOCK_FILE
    if not legacy.is_file():
        return []
    try:
        sections = tomllib.loads(legacy.read_text(encoding="utf-8")).get("release", {})
    except tomllib.TOMLDecodeError as error:
        raise ResolveError(
            f"{legacy} (the test lock's old format) is not valid TOML ({error}); delete it"
        ) from None
    converted = {}
    for version, section in sorted(sections.items()):
        path = project_dir / lock_file(version)
        if path.is_file() or path in converted:
            continue
        try:
            wheels = [LockedWheel(**wheel) for wheel in section["wheels"]]
            options = pip.target_options(section["python"], section["platforms"])
            inputs = {key: section[key] for key in ("python", "platforms", "micropip", "requirements")}
        except (KeyError, TypeError) as error:
            raise ResolveError(
                f"{legacy}'s section for {version} is incomplete ({error!r}); delete it"
            ) from None
        try:
            wheels = pip.locate(wheels, options)
        except ResolveError as error:
            raise ResolveError(
                f"converting {legacy} to {TEST_LOCK_FILES} needs the URLs of its wheels, which pip looks "
                f"up in its index once: {error}\nOr delete {legacy}: wasm_test then resolves again"
            ) from None
        inputs.update({"release": version, "package-base-url": "", "converted-from": str(LEGACY_LOCK_FILE)})
        converted[path] = format_test_lock(version, inputs, wheels)
    for path, text in converted.items():
        files.write_text(path, text)
    legacy.unlink()
    names = ", ".join(str(path.relative_to(project_dir)) for path in converted) or "no new file"
    console.print(
        f"converted {legacy} (the test lock's old format) into {names} (PEP 751) and removed it; commit both"
    )
    return list(converted)


def dependency_wheels(
    project_dir: Path,
    runtime: Runtime,
    requirements: list[str],
    relock: bool = False,
    package_base_url: str | None = None,
) -> list[Path]:
    """The wheels to install for the tests, per the release line's test lock; resolved again when its
    inputs changed (or with `relock`)."""
    convert_legacy_lock(project_dir)
    source = pyodide_packages.package_source(runtime, package_base_url)
    path = project_dir / lock_file(runtime.release.version)
    inputs = pyodide_packages.lock_inputs(runtime, list(requirements), source)
    lock = None if relock else read_test_lock(path)
    if lock is not None and {key: lock.inputs.get(key) for key in inputs} == inputs:
        wheels = lock.wheels
    else:
        wheels = pyodide_packages.resolve(runtime, inputs["requirements"], source, refresh=relock)
        write_test_lock(path, runtime.release.version, inputs, wheels)
        console.print(f"wrote {path} for Pyodide {runtime.release.version}")
    return pyodide_packages.wheel_paths(wheels, runtime, source, str(path))
