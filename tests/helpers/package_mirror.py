"""A stand-in for Pyodide's package base URL (jsDelivr's /pyodide/v<version>/full/), served from 127.0.0.1.

Pyodide serves its own packages (numpy, and pure ones such as pytest and micropip) from a CDN that these
machines cannot reach, and since those packages now come from the release's set, every wasm_test, lock and
bundle run needs them. This mirror serves, for each release asked for, a copy of the release's real
pyodide-lock.json (from its npm package) in which the packages the tests need are entries for wheels served
here: Pyodide's own builds are not on PyPI, so the copy names wheels from PyPI at the versions the release's
lock holds (read from that lock, never typed here), or any wheel a test gives (jiter 0.19.0, a pure wheel
built by the test). Everything else in the copy is the release's own. The engine's resolution, download,
checksum and install code runs unchanged against it: point PYO3_PYODIDE_PACKAGE_BASE_URL at `base_url`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pyo3_pyodide.resolve import pip, pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.wheel.pick import read_wheel

from tests.helpers.mirrors import MirrorServer
from tests.helpers.pyodide import WHEEL_CACHE

ENV = pyodide_packages.BASE_URL_ENV
# What wasm_test installs in every run (pytest and what it needs inside Pyodide, and micropip): the
# release's own packages, so the mirror serves them all.
HARNESS = ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "micropip")


def pypi_wheel(runtime: npm.Runtime, name: str, version: str) -> Path:
    """The wheel of `name`==`version` from PyPI for the runtime's Python and platform, downloaded once into
    a cache that outlives test runs."""
    folder = WHEEL_CACHE / "for-pyodide" / runtime.release.npm
    found = [path for path in folder.glob("*.whl") if canonicalize_name(path.name.split("-")[0]) == name]
    found = [path for path in found if path.name.split("-")[1] == version]
    if found:
        return found[0]
    python = ".".join(runtime.python.split(".")[:2])
    options = pip.target_options(python, runtime.micropip_platform_tags())
    command = [sys.executable, "-m", "pip", "download", "--no-deps", *options, "-d", str(folder)]
    subprocess.run([*command, f"{name}=={version}"], check=True, capture_output=True)
    return pypi_wheel(runtime, name, version)


def lock_entry(wheel: Path, runtime: npm.Runtime, lock: dict | None = None) -> dict:
    """A pyodide-lock.json entry for `wheel`, as Pyodide writes one for its own packages (with the keys
    the entries of `lock` have, when given: 314's carry an empty `tool` table)."""
    metadata = read_wheel(wheel)
    environment = pyodide_packages.marker_environment(runtime)
    depends = []
    for line in metadata.requires:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            depends.append(str(canonicalize_name(requirement.name)))
    like = next(iter(lock["packages"].values()), {}) if lock else {}
    return {
        **({"tool": {}} if "tool" in like else {}),
        "name": str(canonicalize_name(metadata.name)),
        "version": metadata.version,
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "package_type": "package",
        "imports": [module for module in metadata.modules if "." not in module],
        "depends": sorted(set(depends)),
        "unvendored_tests": False,
    }


def harness_wheels(runtime: npm.Runtime) -> list[Path]:
    """PyPI's wheels of HARNESS at the versions the release's own lock holds."""
    packages = json.loads((runtime.folder / "pyodide-lock.json").read_text())["packages"]
    return [pypi_wheel(runtime, name, packages[name]["version"]) for name in HARNESS if name in packages]


class PackageMirror:
    """Serves releases' package sets on 127.0.0.1, laid out as jsDelivr lays out Pyodide's."""

    def __init__(self, server: MirrorServer) -> None:
        self.server = server
        self.base_url = server.url("/pyodide/v{version}/full/")  # what PYO3_PYODIDE_PACKAGE_BASE_URL takes
        self.added: dict[str, list[Path]] = {}  # release folder -> the wheels added to its lock so far

    def folder(self, runtime: npm.Runtime) -> str:
        """The URL path of the release's folder: that of Pyodide's own URL for it."""
        return urlsplit(runtime.package_base_url()).path

    def serve_release(self, runtime: npm.Runtime, wheels: list[Path] = (), *, harness: bool = True) -> dict:
        """Serve the release's lock with `wheels` (with those of earlier calls, and HARNESS's) as its
        packages of those names, and those wheels; returns the lock served."""
        lock = json.loads((runtime.folder / "pyodide-lock.json").read_text())
        folder = self.folder(runtime)
        if folder not in self.added:
            self.added[folder] = harness_wheels(runtime) if harness else []
        self.added[folder] += wheels
        for wheel in self.added[folder]:
            entry = lock_entry(wheel, runtime, lock)
            lock["packages"][entry["name"]] = entry
            self.server.serve(folder + wheel.name, wheel.read_bytes())
        self.server.serve(folder + "pyodide-lock.json", json.dumps(lock).encode())
        return lock

    def requested(self, runtime: npm.Runtime) -> list[str]:
        """The files of the release's folder asked for so far, in order."""
        folder = self.folder(runtime)
        return [path.removeprefix(folder) for path in self.server.requests if path.startswith(folder)]


def folder_mirror(runtime: npm.Runtime, folder: Path, wheels: list[Path] = ()) -> str:
    """The release's package set as a local folder (its lock, with HARNESS's and `wheels`' entries for wheels
    from PyPI or given, beside it), for tests that run a project's sessions as a user does; returns the
    file:// base URL to put in PYO3_PYODIDE_PACKAGE_BASE_URL."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = json.loads((runtime.folder / "pyodide-lock.json").read_text())
    for wheel in [*harness_wheels(runtime), *wheels]:
        entry = lock_entry(wheel, runtime, lock)
        lock["packages"][entry["name"]] = entry
        (folder / wheel.name).write_bytes(wheel.read_bytes())
    (folder / "pyodide-lock.json").write_text(json.dumps(lock))
    return folder.as_uri() + "/"
