"""The package sets that resolve/pyodide_packages.py is tested against, as the tests' fixtures use them.

Two sets: the stable release's (314) with two Pyodide packages added, `greeting` (a pure wheel built here) and
jiter 0.19.0 (a real PyO3 wheel from PyPI), for engine/tests/test_resolve_pyodide_packages.py and the stories of
tests/test_pyodide_packages.py; and the prerelease's (315) as it is (its pytest is 8.3.5, which a project may
ask more of), for the same engine tests. Each is served from 127.0.0.1 (tests/helpers/package_mirror.py) as the
package base URL, with an empty per-user cache that holds only the release's npm runtime.
"""

import base64
import contextlib
import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyo3_pyodide.cache import CACHE_ENV
from pyo3_pyodide.runtime import npm

from tests.helpers.mirrors import MirrorServer
from tests.helpers.package_mirror import ENV, PackageMirror
from tests.helpers.pyodide import TEST_CACHE, jiter_wheel

GREETING = 'def greet(name):\n    return f"hello, {name}"\n'
UNREACHABLE = "cannot be reached"  # what the engine says of a package base URL it cannot connect to


def one_module_wheel(
    folder: Path, name: str, version: str, tag: str, source: str, requires: tuple[str, ...] = ()
) -> Path:
    """A wheel of `name` with one module, `name`/__init__.py, zipped here and tagged `tag` whatever it holds
    (pure Python where the tag is py3-none-any)."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    purelib = "true" if tag == "py3-none-any" else "false"
    members = {
        f"{name}/__init__.py": source,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n",
    }

    def record_line(path, text):
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        return f"{path},sha256={digest},{len(text.encode())}\n"

    record = "".join(record_line(path, text) for path, text in members.items()) + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**members, f"{info}/RECORD": record}.items():
            archive.writestr(path, text)
    return wheel


def pure_wheel(folder: Path, name: str, version: str, source: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure wheel of `name` with one module, `name`/__init__.py, zipped here."""
    return one_module_wheel(folder, name, version, "py3-none-any", source, requires)


def shared_runtime(release) -> npm.Runtime:
    """The release's npm runtime, from the cache the Pyodide tests share (installed there once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(TEST_CACHE))
        return npm.ensure_runtime(release)


def own_lock(runtime: npm.Runtime) -> dict:
    """The runtime's own pyodide-lock.json, as its npm package ships it."""
    return json.loads((runtime.folder / "pyodide-lock.json").read_text())


def greeting_and_jiter(folder: Path) -> list[Path]:
    """greeting's pure wheel (built in `folder`) and jiter's binary one: the Pyodide packages the stable
    set adds."""
    return [pure_wheel(folder, "greeting", "1.2.0", GREETING), jiter_wheel()]


def empty_user_cache(runtime: npm.Runtime, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty per-user cache at `folder`, the npm runtime copied in, made the engine's (PYO3_PYODIDE_CACHE)."""
    installed = runtime.folder.parents[1]  # npm/pyodide-<version>, complete (its marker written last)
    shutil.copytree(installed, folder / "npm" / installed.name, symlinks=True)
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@contextlib.contextmanager
def served_set(
    runtime: npm.Runtime, monkeypatch: pytest.MonkeyPatch, wheels: list[Path] = ()
) -> Iterator[PackageMirror]:
    """The release's set served from 127.0.0.1 (HARNESS's wheels at the set's versions, and `wheels`) as the
    package base URL (PYO3_PYODIDE_PACKAGE_BASE_URL) while it lasts; `served` is the lock it serves. A test
    may close `server` early: a refused port is a URL that cannot be reached."""
    with MirrorServer() as server:
        packages = PackageMirror(server)
        packages.served = packages.serve_release(runtime, wheels)
        monkeypatch.setenv(ENV, packages.base_url)
        yield packages
