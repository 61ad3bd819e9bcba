"""pip, asked for the wheels a Pyodide runtime takes: pure ones and ones tagged for its platform.

pip resolves with `pip install --dry-run --report` for the runtime's Python and platform tags, which names
each wheel's URL and sha256 (what a PEP 751 lock records); the wheels are then fetched by name, version
and sha256 (`pip download --require-hashes`) into the per-user wheel cache, verified on every use, so that
a warm run needs no network. Packages that the release provides itself (pyodide_packages.py) are given to
pip as already there: pinned by constraints to the release's versions, with a stand-in wheel of each
(metadata only) in a --find-links folder, so that pip never looks for them elsewhere and a PyPI package
that needs one resolves against the release's version. Used for the tests' dependencies (pylock.py) and
for the pyodide-lock (apps/).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pyo3_pyodide import files
from pyo3_pyodide.cache import WHEELS
from pyo3_pyodide.console import console
from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.runtime_info import Runtime


class ResolveError(EngineError):
    """pip could not give the wheels asked for; the message says what pip said and the fix."""


PYPI = "pypi"  # LockedWheel.source: pip fetches it again by name, version and sha256
PYODIDE = "pyodide"  # LockedWheel.source: the release's own package set, fetched from its URL


@dataclasses.dataclass(frozen=True)
class LockedWheel:
    name: str
    version: str
    file: str
    sha256: str
    url: str = ""  # where the resolution found it ("" in resolutions made before URLs were kept)
    source: str = PYPI


@dataclasses.dataclass(frozen=True)
class PipResolution:
    wheels: list[LockedWheel]  # what pip resolved, in the wheel cache
    provided: list[str]  # the names of `provided` (canonical) that those wheels need


def requirement(line: str) -> Requirement:
    try:
        return Requirement(line)
    except InvalidRequirement:
        raise ResolveError(
            f"{line!r} is not a requirement (PEP 508); fix it in pyproject.toml's dependency groups"
        ) from None


def requirement_name(line: str) -> str:
    return canonicalize_name(requirement(line).name)


def lock_inputs(runtime: Runtime, requirements: Iterable[str]) -> dict:
    """What a lock section is resolved from: when any of it changes, the section is resolved again."""
    return {
        "python": ".".join(runtime.python.split(".")[:2]),
        "platforms": runtime.micropip_platform_tags(),
        "micropip": runtime.micropip,
        "requirements": sorted({str(requirement(line)) for line in requirements}),
    }


def pip_target_options(runtime: Runtime) -> list[str]:
    """pip's options that select wheels for the runtime instead of this machine."""
    return target_options(".".join(runtime.python.split(".")[:2]), runtime.micropip_platform_tags())


def target_options(python: str, platforms: Iterable[str]) -> list[str]:
    """pip's options that select wheels for CPython `python` (X.Y) on `platforms` (wheel platform tags)."""
    options = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    options += ["--abi", "cp" + python.replace(".", "")]
    for platform in platforms:
        options += ["--platform", platform]
    return options


def run_pip(arguments: list[str], what: str, note: str = "") -> None:
    command = [sys.executable, "-m", "pip", *arguments, "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    if "No module named pip" in result.stderr:
        raise ResolveError(
            f"{sys.executable} (the Python running nox) has no pip, which wasm_test uses to resolve "
            f"the test wheels: install it with `{sys.executable} -m ensurepip`"
        )
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    raise ResolveError(
        f"pip could not {what}:\n{result.stderr.strip()}\n{note}"
        f"pip asked {index}. Only pure wheels and wheels built for this Pyodide platform install "
        "into Pyodide: keep requirements that need another platform out of the `wasm-test` "
        "dependency group (wasm_test reads it instead of `test` when pyproject.toml has it)"
    )


def wheel_cache() -> Path:
    return WHEELS.path


def resolve(runtime: Runtime, requirements: list[str]) -> list[LockedWheel]:
    """pip's resolution of `requirements` for `runtime`; the wheels end in the cache."""
    return resolve_around(runtime, requirements, {}).wheels


def resolve_around(runtime: Runtime, requirements: list[str], provided: Mapping[str, str]) -> PipResolution:
    """pip's resolution of `requirements` for `runtime`, where the distributions `provided` (canonical
    name -> version) are there already: pip takes them at those versions and fetches none of them. The
    wheels it resolves end in the cache."""
    console.print(f"resolving {', '.join(requirements)} for {runtime.describe()} with pip")
    what = f"resolve {', '.join(requirements)} for {runtime.describe()}"
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        arguments = ["install", "--dry-run", "--ignore-installed", "--quiet", "--target", f"{folder}/target"]
        arguments += ["--report", str(report), *pip_target_options(runtime)]
        note = ""
        if provided:
            arguments += provided_options(Path(folder), provided)
            note = (
                f"pip was told that {runtime.describe()} provides its own packages at their versions "
                "(pinned by constraints), so a requirement on one of them must allow that version.\n"
            )
        run_pip([*arguments, *requirements], what, note)
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    wheels, needed, unhashed = [], [], []
    for item in items:
        name = canonicalize_name(item["metadata"]["name"])
        if name in provided:
            needed.append(str(name))
            continue
        info = item["download_info"]
        file = unquote(urlsplit(info["url"]).path.rsplit("/", 1)[-1])
        if not file.endswith(".whl"):
            raise ResolveError(f"pip chose {info['url']} for {name}, which is not a wheel; {what} failed")
        _, version, _, _ = parse_wheel_filename(file)
        archive = info.get("archive_info", {})
        digest = archive.get("hashes", {}).get("sha256") or archive.get("hash", "").partition("sha256=")[2]
        locked = LockedWheel(name=str(name), version=str(version), file=file, sha256=digest, url=info["url"])
        (wheels if digest else unhashed).append(locked)
    cached_wheels(wheels, runtime)
    wheels += [dataclasses.replace(store_unhashed(w, runtime), url=w.url) for w in unhashed]
    return PipResolution(wheels=sorted(wheels, key=lambda w: w.name), provided=needed)


def locate(wheels: list[LockedWheel], options: list[str]) -> list[LockedWheel]:
    """`wheels` (name, version, sha256 known) with the URLs where pip's index serves them; `options`
    select the platform (target_options)."""
    if not wheels:
        return []
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text(
            "".join(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n" for w in wheels), encoding="utf-8"
        )
        report = Path(folder) / "report.json"
        arguments = ["install", "--dry-run", "--ignore-installed", "--quiet", "--no-deps", "--target"]
        arguments += [f"{folder}/target", "--report", str(report), *options, "-r", str(requirements)]
        run_pip(arguments, f"find {', '.join(w.file for w in wheels)} in its index")
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    urls = {canonicalize_name(item["metadata"]["name"]): item["download_info"]["url"] for item in items}
    return [dataclasses.replace(w, url=urls.get(canonicalize_name(w.name), w.url)) for w in wheels]


def provided_options(folder: Path, provided: Mapping[str, str]) -> list[str]:
    """pip's options that make `provided` (name -> version) count as there: a constraint pins each to its
    version, and a stand-in wheel of it (metadata, no code, no dependencies) in a --find-links folder is a
    candidate whatever the index has. pip may still pick the index's wheel of the same version: the caller
    takes none of them from pip either way."""
    stubs = folder / "provided"
    stubs.mkdir()
    constraints = []
    for name, version in sorted(provided.items()):
        try:
            version = str(Version(version))
        except InvalidVersion:
            continue  # pip cannot be told of it; a requirement on it then fails in pip, naming it
        constraints.append(f"{name}=={version}\n")
        dist = f"{name.replace('-', '_')}-{version}"
        with zipfile.ZipFile(stubs / f"{dist}-py3-none-any.whl", "w") as stub:
            stub.writestr(
                f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            )
            stub.writestr(
                f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            )
            stub.writestr(f"{dist}.dist-info/RECORD", "")
    (folder / "provided.txt").write_text("".join(constraints), encoding="utf-8")
    return ["--find-links", str(stubs), "--constraint", str(folder / "provided.txt")]


def store_unhashed(wheel: LockedWheel, runtime: Runtime) -> LockedWheel:
    """A wheel whose index gave no sha256 (a --find-links folder, say): downloaded, then hashed here."""
    with tempfile.TemporaryDirectory() as folder:
        options = ["--no-deps", *pip_target_options(runtime)]
        run_pip(
            ["download", *options, "--dest", folder, f"{wheel.name}=={wheel.version}"],
            f"download {wheel.file}",
        )
        return store(Path(folder) / wheel.file)


def store(wheel: Path) -> LockedWheel:
    """Move a downloaded wheel into the cache; what the lock records of it."""
    name, version, _, _ = parse_wheel_filename(wheel.name)
    digest = sha256_of(wheel)
    with files.staged_file(wheel_cache() / wheel.name) as partial:
        shutil.move(wheel, partial)
    return LockedWheel(name=str(name), version=str(version), file=wheel.name, sha256=digest)


def cached_wheels(locked: list[LockedWheel], runtime: Runtime) -> list[Path]:
    """The locked wheels' paths in the cache; pip fetches those missing (or damaged) by their sha256."""
    missing = [
        wheel
        for wheel in locked
        if not (wheel_cache() / wheel.file).is_file() or sha256_of(wheel_cache() / wheel.file) != wheel.sha256
    ]
    if missing:
        with tempfile.TemporaryDirectory() as folder:
            requirements = Path(folder) / "requirements.txt"
            requirements.write_text(
                "".join(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n" for w in missing),
                encoding="utf-8",
            )
            options = ["--no-deps", "--require-hashes", *pip_target_options(runtime)]
            what = f"download the locked wheels {', '.join(w.file for w in missing)}"
            run_pip(["download", *options, "--dest", f"{folder}/wheels", "-r", str(requirements)], what)
            for wheel in missing:
                if not (Path(folder) / "wheels" / wheel.file).is_file():
                    raise ResolveError(
                        f"pip downloaded no {wheel.file}, which the lock names; resolve again: "
                        "`nox -s wasm_test -- --relock`"
                    )
                store(Path(folder) / "wheels" / wheel.file)
    return [wheel_cache() / wheel.file for wheel in locked]
