"""`nox -s lock`: a pyodide-lock.json with which an app loads this project by name.

The lock is the target release's own pyodide-lock.json (the one its package set is read from, see
resolve/pyodide_packages.py: the npm `pyodide` package's copy, or the one at `--package-base-url`) with
this project's wheel and its runtime dependencies added, each with its sha256, `imports` and `depends`,
so that Pyodide started with it (`lockFileURL`, or as the pyodide-lock.json of its indexURL) installs the
module with `pyodide.loadPackage("<distribution name>")`. Dependencies that the release provides itself
(numpy, ...) keep the release's entries, and their wheels (fetched from its package base URL, sha256
checked) are put beside the lock with the others, since Pyodide looks for every relative file name in the
lock's folder. The wheels are named by relative file names, which Pyodide resolves against the lock's
folder, or by `--base-url` + file name.

The entries are written by the `pyodide-lock` package (`add_wheels_to_spec`), which needs Python >= 3.12.
It runs inside the target Pyodide runtime itself, under Node (make_lock.mjs runs add_wheels.py), rather
than in a host Python: Node and the runtime are already here for `wasm_test`, so nothing new is needed
whatever Python runs nox; pyodide-lock and its dependencies are pure-Python wheels that pip resolves for
the runtime like the test wheels; and inside Pyodide, pyodide-lock evaluates the dependencies' markers
with the very runtime the lock is for. The same Node process then starts a second Pyodide with the new
lock, loads the project by name and imports its modules: a lock that does not load is not published.

Steps:
1. the wheel: `--wheel`, else the newest wheel of this project in dist/ built for the release. Any
   spelling of the release's platform tag will do: loadPackage checks no tag (micropip does; see
   `micropip_problem`), but a wheel built for another ABI fails at import, so that is refused;
2. the wheels to add with it: its Requires-Dist (and, for a bundle, the micropip the runtime ships): the
   release's own packages where its set has them, pip's resolution for the runtime's Python and platform
   tags for the rest;
3. pyodide-lock and its dependencies, resolved by pip alone: they are this tool's own machinery, run in a
   Pyodide of their own, and never part of the lock. Resolutions are kept in the per-user cache
   (resolutions/, wheels/, pyodide-packages/), so a second run needs no network; `--refresh` resolves
   again;
4. make_lock.mjs in a staging folder beside the output, which replaces the output when all went well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from pyo3_pyodide import files
from pyo3_pyodide.cache import RESOLUTIONS
from pyo3_pyodide.console import console
from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.resolve import pip, pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.runtime_info import MICROPIP_PEP783, Runtime
from pyo3_pyodide.wheel import pick
from pyo3_pyodide.wheel import tags as wheel_tags

LOCK_FILE = "pyodide-lock.json"
DEFAULT_OUT = Path("dist") / "lock"
# pyodide-lock 0.2.1 needs Python >= 3.12; its `wheel` extra brings what add_wheels_to_spec imports.
TOOL_REQUIREMENT = "pyodide-lock[wheel]==0.2.1"
TOOL_MIN_PYTHON = (3, 12)
RUNNER = Path(__file__).with_name("make_lock.mjs")
SCRIPT = Path(__file__).with_name("add_wheels.py")
INPUT_DIR = ".input"  # in the staging folder: what add_wheels.py reads; removed before publishing


class LockError(EngineError):
    """The lock cannot be made; the message says what was found, what was expected and the fix."""


@dataclasses.dataclass(frozen=True)
class Lock:
    """A lock that make_lock.mjs wrote and loaded: where it is and what it adds."""

    folder: Path
    package: str  # the project's name in the lock (canonical), what loadPackage takes
    version: str
    imports: list[str]
    wheels: list[Path]  # every wheel added, the project's first, now in `folder`

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE


# The wheel


def micropip_problem(wheel: Path, runtime: Runtime) -> str | None:
    """Why the runtime's micropip refuses `wheel` (loadPackage and the lock take it), or None."""
    if pick.micropip_problem(wheel, runtime) is None:
        return None
    release = runtime.release
    return (
        f"micropip.install(url) refuses {wheel.name} on Pyodide {release.version}: the micropip it "
        f"ships ({runtime.micropip}) accepts {runtime.python_tag} wheels tagged "
        f"{' or '.join(runtime.micropip_platform_tags())}, and this one is tagged "
        f"{wheel_tags.spelled(wheel.name)} (micropip knows PEP 783's pyemscripten_* tags from "
        f"{MICROPIP_PEP783} on). pyodide.loadPackage(url) and this project's "
        "pyodide-lock.json load it all the same: they check no tag. For micropip on this release, "
        f"host a wheel tagged {release.platform_tag}, which `nox -s wasm_build -- --pyodide "
        f"{release.version}` builds (pyodide-matrix.toml's platform_tag)"
    )


# Resolving wheels for the runtime (pip), kept in the per-user cache


def wheel_cache_path(locked: pip.LockedWheel) -> Path:
    return pip.wheel_cache() / locked.file


def resolved_wheels(
    runtime: Runtime,
    requirements: list[str],
    what: str,
    refresh: bool = False,
    source: pyodide_packages.PackageSource | None = None,
) -> list[tuple[pip.LockedWheel, Path]]:
    """The wheels `requirements` resolve to for the runtime, each with its file in the cache: the release's
    own packages where its set has them (`source` says where it is; without one, pip resolves all), pip's
    for the rest. An earlier resolution with the same inputs is reused (no network when its files are
    in the cache); otherwise it is made, and kept."""
    if not requirements:
        return []
    if source is None:
        inputs = pip.lock_inputs(runtime, requirements)
    else:
        inputs = pyodide_packages.lock_inputs(runtime, requirements, source)
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    record = RESOLUTIONS.path / f"{key}.json"
    locked = []
    if record.is_file() and not refresh:
        try:
            locked = [pip.LockedWheel(**wheel) for wheel in json.loads(record.read_text())]
        except (ValueError, TypeError):
            locked = []
    if source is None:
        paths = [wheel_cache_path(wheel) for wheel in locked]
        if not locked or not all(
            path.is_file() and sha256_of(path) == wheel.sha256 for path, wheel in zip(paths, locked)
        ):
            locked = pip.resolve(runtime, inputs["requirements"])
            paths = [wheel_cache_path(wheel) for wheel in locked]
    else:
        if not locked:
            locked = pyodide_packages.resolve(runtime, inputs["requirements"], source, refresh)
        named_by = f"the resolution of {what} ({record})"
        paths = pyodide_packages.wheel_paths(locked, runtime, source, named_by)
    files.write_text(record, json.dumps([dataclasses.asdict(w) for w in locked], indent=1))
    return list(zip(locked, paths))


# Writing the lock


def wheel_platform(wheels: list[Path]) -> str | None:
    """The one platform tag (without `_wasm32`) that the binary wheels among `wheels` carry, if any."""
    platforms = {
        tag.platform
        for wheel in wheels
        for tag in parse_wheel_filename(wheel.name)[3]
        if tag.platform != "any"
    }
    if len(platforms) > 1:
        raise LockError(
            f"the wheels to add carry platform tags {', '.join(sorted(platforms))}, and pyodide-lock "
            "checks all of them against one platform: rebuild them with one spelling (this "
            "project's wheel takes pyodide-matrix.toml's platform_tag)"
        )
    return platforms.pop().removesuffix("_wasm32") if platforms else None


def refuse_foreign_output(out: Path) -> None:
    """Refuse an `out` that holds files but is not a folder this tool wrote: it is left alone."""
    if out.exists() and any(out.iterdir()) and not (out / LOCK_FILE).is_file():
        raise LockError(
            f"{out} exists and holds no {LOCK_FILE}, so it is not a folder `nox -s lock` or "
            "`nox -s bundle` wrote; it is left alone. Pick another `--out`, or remove it"
        )


def write_pyodide_lock(
    runtime: Runtime,
    wheel: Path,
    out: Path,
    *,
    base_url: str = "",
    extra_requirements: list[str] | tuple[str, ...] = (),
    refresh: bool = False,
    package_base_url: str | None = None,
) -> Lock:
    """Write `out`/pyodide-lock.json (the release's lock plus `wheel`, its dependencies and
    `extra_requirements`) with those wheels beside it, after checking that it loads `wheel` by name.
    `package_base_url` overrides where the release's own packages come from (pyodide_packages)."""
    python = tuple(int(part) for part in runtime.python.split(".")[:2])
    if python < TOOL_MIN_PYTHON:
        raise LockError(
            f"{runtime.describe()} runs Python {runtime.python}, and pyodide-lock (which writes the "
            f"lock inside the runtime) needs Python >= 3.12: make the lock for a newer release"
        )
    metadata = pick.read_wheel(wheel)
    source = pyodide_packages.package_source(runtime, package_base_url)
    package_set = pyodide_packages.load_package_set(runtime, source, refresh)
    dependencies = resolved_wheels(
        runtime,
        [*metadata.requires, *extra_requirements],
        f"the wheels to add with {wheel.name}",
        refresh,
        source,
    )
    # The release's own packages keep their entries in its lock: their wheels only go beside it.
    provided = [path for locked, path in dependencies if locked.source == pip.PYODIDE]
    others = [path for locked, path in dependencies if locked.source != pip.PYODIDE]
    added = [wheel, *(path for path in others if path.name != wheel.name)]
    tool = [path for _, path in resolved_wheels(runtime, [TOOL_REQUIREMENT], "pyodide-lock", refresh)]
    out = out.resolve()
    refuse_foreign_output(out)
    with files.staged_folder(out) as staging:
        for path in [*added, *provided]:
            shutil.copyfile(path, staging / path.name)
        (staging / INPUT_DIR).mkdir()
        release_lock = json.dumps(package_set.lock, indent=2)
        (staging / INPUT_DIR / LOCK_FILE).write_text(release_lock, encoding="utf-8")
        package = str(canonicalize_name(metadata.name))
        job = {
            "runtime": str(runtime.folder),
            "toolWheels": [str(path) for path in tool],
            "work": str(staging),
            "script": str(SCRIPT),
            "lockJob": {
                "runtime_lock": f"{INPUT_DIR}/{LOCK_FILE}",
                "wheels": [path.name for path in added],
                "platform": wheel_platform(added),
                "base_url": base_url,
                "out": LOCK_FILE,
            },
            "package": package,
            "imports": [module for module in metadata.modules if "." not in module],
        }
        (staging / INPUT_DIR / "job.json").write_text(json.dumps(job, indent=1), encoding="utf-8")
        console.print(
            f"adding {', '.join(path.name for path in added)} to the lock of {runtime.describe()}, "
            f"with {TOOL_REQUIREMENT} running inside that runtime"
        )
        command = [npm.node(), str(RUNNER), str(staging / INPUT_DIR / "job.json")]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise LockError(f"the lock could not be made for {wheel.name} in {runtime.describe()}:\n{output}")
        for line in result.stdout.splitlines():
            console.print(line)
        if base_url and provided:
            host_elsewhere(staging / LOCK_FILE, [path.name for path in provided], base_url)
        check_entries(staging / LOCK_FILE, [*added, *provided], package, base_url)
        shutil.rmtree(staging / INPUT_DIR)
    return Lock(
        folder=out,
        package=package,
        version=metadata.version,
        imports=job["imports"],
        wheels=[out / path.name for path in [*added, *provided]],
    )


def host_elsewhere(lock_path: Path, names: list[str], base_url: str) -> None:
    """With --base-url, the release's own wheels put beside the lock are hosted there too: their
    entries name them by `base_url` + file name, as add_wheels.py names the added ones."""
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    for entry in lock["packages"].values():
        if entry["file_name"] in names:
            entry["file_name"] = base_url + entry["file_name"]
    files.write_text(lock_path, json.dumps(lock, indent=2))


def check_entries(lock_path: Path, wheels: list[Path], package: str, base_url: str) -> None:
    """The lock names each added wheel with its sha256, and every `depends` is a package of it."""
    packages = json.loads(lock_path.read_text(encoding="utf-8"))["packages"]
    by_file = {entry["file_name"]: entry for entry in packages.values()}
    problems = []
    for wheel in wheels:
        entry = by_file.get(base_url + wheel.name)
        if entry is None:
            problems.append(f"no package has file_name {base_url + wheel.name!r}")
        elif entry["sha256"] != sha256_of(wheel):
            problems.append(f"{wheel.name}: sha256 {entry['sha256']}, expected {sha256_of(wheel)}")
    if package not in packages:
        problems.append(f"no package named {package!r}")
    added = {base_url + wheel.name for wheel in wheels}
    for name, entry in packages.items():
        missing = [depend for depend in entry["depends"] if depend not in packages]
        if entry["file_name"] in added and missing:
            problems.append(f"{name} depends on {', '.join(missing)}, which the lock lacks")
    if problems:
        raise LockError(f"{lock_path} is wrong: {'; '.join(problems)}")
