"""Pyodide's own packages as dependencies: the target release's package set first, PyPI for the rest.

Pyodide builds and serves packages of its own: numpy and the like, which have no Pyodide wheel on PyPI, and
pure ones such as pytest and micropip, rebuilt (their wheels are not PyPI's files). The release's
pyodide-lock.json lists each with its wheel's file name, sha256, `depends` and `imports`, and Pyodide fetches
those wheels from the release's package base URL. So a requirement is looked up in the release's set first:
- one that the set holds is taken from it at the set's version, with the set's `depends` followed; pip is
  not asked for it. When the set's version does not meet the requirement, a pure package of the set
  (py3-none-any: the same code on every platform) is taken from PyPI instead; a binary one (numpy) is an
  error naming both, since PyPI has no wheel of it for Pyodide;
- the others go to pip (resolve/pip.py), which is told that the set's packages are there already (pinned by
  constraints, with metadata-only stand-ins), so a PyPI package that needs one gets the set's and pip
  fetches none of them.

When the package base URL cannot be reached (a connection to it fails: no such host, refused, timed out;
an HTTP answer, even a 404 of one file, means it can be reached, and the file's error is reported), every
pure package of the set is taken from PyPI instead, so a machine that reaches PyPI alone still tests; the
binary ones still need the package base URL (or a mirror of it), and their download error says so. Either
way one line of the run says which packages came from PyPI and why, and the test lock records PyPI's URL
and sha256 for them (source "pypi"). A set package's `depends` taken from PyPI are given to pip.

The package base URL is --package-base-url, else $PYO3_PYODIDE_PACKAGE_BASE_URL, else the one Pyodide itself
uses for the release (Runtime.package_base_url: jsDelivr's /pyodide/v<version>/full/, read in pyodide.mjs).
`{version}` in a given URL stands for the release's version as Pyodide spells it (315.0.0a2), so that one
setting serves every release of a mirror laid out like the CDN; a file:// URL names a local folder (an
unpacked Pyodide release, say). The set is the pyodide-lock.json found there: for Pyodide's own URL, the copy
that the npm package ships (the release's lock; no network), else the one the URL serves (a mirror, or a
Pyodide distribution of your own), checked to be for the same runtime (ABI, platform, Python) and kept in
the per-user cache per release and URL. Wheels are kept there too (pyodide-packages/<npm version>/), written
only once their sha256 is the lock's, and checked again at every use: a warm run needs no network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

from packaging.utils import canonicalize_name
from packaging.version import Version

from pyo3_pyodide import files
from pyo3_pyodide.cache import PYODIDE_PACKAGES, file_lock
from pyo3_pyodide.console import console
from pyo3_pyodide.download import TIMEOUT_SECONDS, DownloadError, connection_reason, download
from pyo3_pyodide.files import sha256_of
from pyo3_pyodide.resolve import pip
from pyo3_pyodide.resolve.pip import LockedWheel, ResolveError
from pyo3_pyodide.runtime_info import Runtime
from pyo3_pyodide.wheel.tags import is_pure

BASE_URL_ENV = "PYO3_PYODIDE_PACKAGE_BASE_URL"
BASE_URL_OPTION = "--package-base-url"
LOCK_FILE = "pyodide-lock.json"
# The lock's package types that are wheels (micropip installs them); "shared_library" entries are zips
# of .so files that only pyodide.loadPackage installs.
WHEEL_TYPES = {"package", "cpython_module"}


@dataclasses.dataclass(frozen=True)
class PackageSource:
    """Where a release's own packages are fetched from."""

    base_url: str  # ends with "/"
    origin: str  # what set it, for messages
    own: bool  # the URL Pyodide itself uses for the release (its lock is the npm package's copy)

    def advice(self) -> str:
        return (
            f"The package base URL {self.base_url} is {self.origin}; where it is out of reach, point "
            f"{BASE_URL_OPTION} (or {BASE_URL_ENV}) at a mirror of it: `{{version}}` in the URL stands for "
            "the release's version, and a file:// URL names a folder (an unpacked Pyodide release)"
        )


def package_source(runtime: Runtime, option: str | None = None) -> PackageSource:
    """--package-base-url, else $PYO3_PYODIDE_PACKAGE_BASE_URL, else the URL Pyodide uses for the release."""
    if option:
        url, origin = option, f"from {BASE_URL_OPTION}"
    elif os.environ.get(BASE_URL_ENV):
        url, origin = os.environ[BASE_URL_ENV], f"from ${BASE_URL_ENV}"
    else:
        own = runtime.package_base_url()
        return PackageSource(own, f"Pyodide {runtime.release.version}'s own (its pyodide.mjs)", own=True)
    url = url.replace("{version}", str(Version(runtime.release.npm)))
    if not url.endswith("/"):
        url += "/"
    if urlsplit(url).scheme not in ("http", "https", "file"):
        raise ResolveError(f"{url!r} ({origin}) is not an http(s):// or file:// URL of a folder")
    return PackageSource(url, origin, own=False)


def marker_environment(runtime: Runtime) -> dict[str, str]:
    """PEP 508's marker values inside the runtime (those micropip evaluates requirements with)."""
    python = runtime.python
    return {
        "implementation_name": "cpython",
        "implementation_version": python,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_python_implementation": "CPython",
        "platform_release": runtime.platform.removeprefix("emscripten_").replace("_", "."),
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "sys_platform": "emscripten",
    }


@dataclasses.dataclass(frozen=True)
class Package:
    """One entry of a release's pyodide-lock.json."""

    name: str  # canonical
    version: str
    file_name: str  # relative to the package base URL, or a URL of its own
    sha256: str
    depends: tuple[str, ...]  # canonical names
    package_type: str

    @property
    def file(self) -> str:
        return unquote(PurePosixPath(urlsplit(self.file_name).path).name)

    @property
    def pure(self) -> bool:
        """A wheel with no compiled code (py3-none-any): PyPI's wheel of it serves as well as Pyodide's."""
        return self.file.endswith(".whl") and is_pure(self.file)


@dataclasses.dataclass(frozen=True)
class PackageSet:
    """A release's own packages, as the pyodide-lock.json at its package base URL lists them."""

    runtime: Runtime
    source: PackageSource
    lock: dict  # the pyodide-lock.json as read
    where: str  # which file that is, for messages
    packages: dict[str, Package]  # by canonical name
    elsewhere: frozenset[str] = frozenset()  # pure packages of the set taken from PyPI instead

    def without(self, names: Iterable[str]) -> PackageSet:
        """The set with the packages `names` taken from PyPI instead."""
        names = set(names)
        kept = {name: package for name, package in self.packages.items() if name not in names}
        return dataclasses.replace(self, packages=kept, elsewhere=self.elsewhere | names)

    def url_of(self, package: Package) -> str:
        return urljoin(self.source.base_url, package.file_name)

    def versions(self) -> dict[str, str]:
        return {name: package.version for name, package in self.packages.items()}

    def split(self, requirements: Iterable[str]) -> tuple[list[str], list[str], dict[str, str]]:
        """The names of the requirements that the set provides, the requirements left for pip, and those
        of pure packages whose version in the set does not meet them (left for pip too: name -> the
        requirement and the set's version, for the run's line). Requirements whose markers do not hold
        inside the runtime are dropped."""
        environment = marker_environment(self.runtime)
        release = self.runtime.release.version
        own, others, outdated = [], [], {}
        for line in requirements:
            requirement = pip.requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            name = canonicalize_name(requirement.name)
            package = self.packages.get(name)
            if package is None:
                others.append(str(requirement))
                continue
            if requirement.url:
                raise ResolveError(
                    f"{requirement} names a file of {name}, which Pyodide {release} provides itself "
                    f"({package.version}, {self.where}): drop the URL to take Pyodide's"
                )
            if requirement.extras:
                console.print(
                    f"{name} comes from Pyodide {release}'s own packages, whose lock has no extras: "
                    f"[{','.join(sorted(requirement.extras))}] is not followed"
                )
            if not requirement.specifier.contains(package.version, prereleases=True):
                if package.pure:
                    others.append(str(requirement))
                    outdated[str(name)] = f"{requirement} (the set holds {package.version})"
                    continue
                raise ResolveError(
                    f"{requirement} is not met by {name} {package.version}, the version that Pyodide "
                    f"{release}'s own package set holds ({self.where}). Pyodide builds and serves {name} "
                    f"itself ({package.file}, not a pure wheel: PyPI has none for Pyodide), so pip is "
                    f"not asked for it: allow {name} {package.version} in the "
                    "requirement (the `wasm-test` dependency group of pyproject.toml, or the wheel's "
                    "Requires-Dist), or target a Pyodide release whose set meets it (--pyodide)"
                )
            own.append(str(name))
        return own, others, outdated

    def closure(self, names: Iterable[str]) -> tuple[list[Package], list[str]]:
        """The packages `names` and all they depend on, following the lock's `depends`; and the names
        among those that are taken from PyPI instead (`elsewhere`)."""
        found: dict[str, Package] = {}
        needed_by: dict[str, str] = {}
        from_pypi: set[str] = set()
        queue = list(names)
        while queue:
            name = queue.pop(0)
            if name in found:
                continue
            if name in self.elsewhere:
                from_pypi.add(name)
                continue
            package = self.packages.get(name)
            by = f", which {needed_by[name]} depends on," if name in needed_by else ""
            if package is None:
                raise ResolveError(f"{self.where} lists no package {name}{by} so it cannot be resolved")
            if package.package_type not in WHEEL_TYPES or not package.file.endswith(".whl"):
                raise ResolveError(
                    f"Pyodide's {name}{by} is a {package.package_type} ({package.file_name}), not a "
                    "wheel: wasm_test and the lock install Pyodide's wheels, not its shared libraries, so "
                    f"a requirement that needs {name} is not supported"
                )
            found[name] = package
            for depend in package.depends:
                needed_by.setdefault(depend, name)
                queue.append(depend)
        return sorted(found.values(), key=lambda package: package.name), sorted(from_pypi)


def parse_lock(lock: dict, where: str) -> dict[str, Package]:
    packages = {}
    try:
        for key, entry in lock["packages"].items():
            name = canonicalize_name(entry.get("name") or key)
            packages[name] = Package(
                name=str(name),
                version=str(entry["version"]),
                file_name=entry["file_name"],
                sha256=entry["sha256"],
                depends=tuple(str(canonicalize_name(depend)) for depend in entry.get("depends", ())),
                package_type=entry.get("package_type", "package"),
            )
    except (KeyError, TypeError, AttributeError) as error:
        raise ResolveError(
            f"{where} is not a pyodide-lock.json: its packages lack name, version, file_name or sha256 "
            f"({error!r})"
        ) from None
    return packages


def check_info(lock: dict, runtime: Runtime, where: str, source: PackageSource) -> None:
    info = lock.get("info") if isinstance(lock, dict) else None
    if not isinstance(info, dict) or not isinstance(lock.get("packages"), dict):
        raise ResolveError(f"{where} is not a pyodide-lock.json (no `info` and `packages`)")
    python = ".".join(str(info.get("python", "")).split(".")[:2])
    found = (info.get("abi_version"), info.get("platform"), python)
    expected = (runtime.abi, runtime.platform, ".".join(runtime.python.split(".")[:2]))
    if found != expected:
        raise ResolveError(
            f"{where} is the lock of ABI {found[0]}, {found[1]}, Python {found[2]}, not of "
            f"{runtime.describe()}: the package base URL {source.base_url} ({source.origin}) does not "
            "serve this release's packages"
        )


def release_folder(npm_version: str) -> Path:
    """The per-user cache folder of a release's own packages (and of the locks fetched for them), by the
    version of its npm package."""
    return PYODIDE_PACKAGES.path / npm_version


def load_package_set(runtime: Runtime, source: PackageSource, refresh: bool = False) -> PackageSet:
    """The release's package set: its pyodide-lock.json at the package base URL (see the module's doc)."""
    url = urljoin(source.base_url, LOCK_FILE)
    if source.own:
        path = runtime.folder / LOCK_FILE
        where = f"{url} (the npm package's copy, {path})"
    else:
        key = hashlib.sha256(source.base_url.encode()).hexdigest()[:16]
        path = release_folder(runtime.release.npm) / "locks" / f"{key}.json"
        where = url
        if refresh or not path.is_file():
            console.print(f"fetching Pyodide {runtime.release.version}'s package set from {url}")
            with files.staged_file(path) as partial:  # kept once it is the lock of this runtime
                what = f"Pyodide {runtime.release.version}'s package set"
                download(url, partial, what=what, elsewhere=source.advice() + ".")
                try:
                    check_info(json.loads(partial.read_text(encoding="utf-8")), runtime, where, source)
                except ValueError:
                    raise ResolveError(f"{where} is not JSON: not a pyodide-lock.json") from None
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResolveError(f"{path} is unreadable ({error}); delete it, and it is fetched again") from None
    check_info(lock, runtime, where, source)
    return PackageSet(runtime, source, lock, where, parse_lock(lock, where))


def fetch_wheel(wheel: LockedWheel, runtime: Runtime, source: PackageSource, named_by: str) -> Path:
    """The release's wheel `wheel` in the cache, downloaded from its URL if needed; a file whose sha256
    is not the one `named_by` gives is not kept."""
    folder = release_folder(runtime.release.npm)
    path = folder / wheel.file
    if path.is_file() and sha256_of(path) == wheel.sha256:
        return path
    with file_lock(PYODIDE_PACKAGES.lock_of(folder)):
        if path.is_file() and sha256_of(path) == wheel.sha256:  # another process fetched it meanwhile
            return path
        path.unlink(missing_ok=True)  # damaged: never left to look like the real one
        download(
            wheel.url,
            path,
            what=f"{wheel.file}, which {named_by} names",
            sha256=wheel.sha256,
            sha256_origin="its sha256 there",
            elsewhere=f"{source.advice()}. The package base URL must serve the release's files unchanged; if "
            "the release's own lock changed, resolve again (`--relock`).",
        )
    return path


def lock_inputs(runtime: Runtime, requirements: Iterable[str], source: PackageSource) -> dict:
    """What a resolution depends on: when any of it changes, it is made again."""
    return {
        **pip.lock_inputs(runtime, requirements),
        "release": runtime.release.version,
        "package-base-url": source.base_url,
    }


def unreachable(source: PackageSource) -> str | None:
    """Why the package base URL cannot be reached, or None when it can: a connection to it that fails
    (no such host, refused, timed out) or a file:// URL that names no folder. Any HTTP answer, even an
    error, means it can be reached."""
    parts = urlsplit(source.base_url)
    if parts.scheme == "file":
        folder = Path(url2pathname(unquote(parts.path)))
        return None if folder.is_dir() else f"{folder} is not a folder"
    import requests

    try:
        requests.head(urljoin(source.base_url, LOCK_FILE), timeout=TIMEOUT_SECONDS).close()
    except requests.ConnectionError as error:
        return connection_reason(error)
    except requests.RequestException:  # it answered, if slowly or oddly: the downloads say how
        return None
    return None


def resolve(
    runtime: Runtime, requirements: list[str], source: PackageSource, refresh: bool = False
) -> list[LockedWheel]:
    """The wheels for `requirements` in `runtime`: the release's own packages where its set has them
    (with their `depends`) and it can serve them, pip's resolution of the rest (pure packages of the set
    included, when its version does not meet the requirement or its package base URL cannot be
    reached); every wheel is in the cache afterwards."""
    package_set = load_package_set(runtime, source, refresh)
    release = runtime.release.version
    reason = unreachable(source)
    if reason is not None:
        package_set = package_set.without(name for name, p in package_set.packages.items() if p.pure)
    own_names, for_pip, outdated = package_set.split(requirements)
    package_set = package_set.without(outdated)
    _, needed = package_set.closure(own_names)
    asked = {pip.requirement_name(line) for line in for_pip}
    for_pip += [name for name in needed if name not in asked]
    console.print(
        f"resolving {', '.join(requirements)} for Pyodide {release}: "
        f"{', '.join(own_names) or 'none'} from its own package set ({package_set.where}), "
        f"{', '.join(for_pip) or 'none'} with pip"
    )
    if reason is not None:
        console.print(
            f"Pyodide {release}'s package base URL {source.base_url} cannot be reached ({reason}): its "
            "pure packages come from PyPI instead; binary ones still need it "
            f"({BASE_URL_OPTION} or ${BASE_URL_ENV} names a mirror)"
        )
    elif outdated:
        console.print(
            f"{', '.join(outdated.values())}: not met by Pyodide {release}'s own package set, so "
            "taken from PyPI (pure wheels)"
        )
    found = pip.resolve_around(runtime, for_pip, package_set.versions()) if for_pip else None
    own, needed = package_set.closure([*own_names, *(found.provided if found else [])])
    unresolved = sorted(set(needed) - {wheel.name for wheel in (found.wheels if found else [])})
    if unresolved:
        raise ResolveError(
            f"Pyodide {release}'s own packages that pip's resolution needs depend on "
            f"{', '.join(unresolved)}, which come from PyPI here, and pip did not resolve them: add them "
            f"to the test requirements. {source.advice()}"
        )
    locked = [
        LockedWheel(
            name=package.name,
            version=package.version,
            file=package.file,
            sha256=package.sha256,
            url=package_set.url_of(package),
            source=pip.PYODIDE,
        )
        for package in own
    ]
    for wheel in locked:
        fetch_wheel(wheel, runtime, source, f"{package_set.where}")
    return sorted([*locked, *(found.wheels if found else [])], key=lambda wheel: wheel.name)


def wheel_paths(
    locked: list[LockedWheel], runtime: Runtime, source: PackageSource, named_by: str
) -> list[Path]:
    """The locked wheels' files in the cache, in order: the release's own fetched from their URLs, the
    others by pip (name, version and sha256); each is checked against the lock's sha256."""
    from_pypi = [wheel for wheel in locked if wheel.source != pip.PYODIDE]
    pypi_paths = dict(zip((w.file for w in from_pypi), pip.cached_wheels(from_pypi, runtime)))
    return [
        fetch_locked(wheel, runtime, source, named_by)
        if wheel.source == pip.PYODIDE
        else pypi_paths[wheel.file]
        for wheel in locked
    ]


def fetch_locked(wheel: LockedWheel, runtime: Runtime, source: PackageSource, named_by: str) -> Path:
    """fetch_wheel for a wheel that an earlier resolution took from the set; when the set's pure wheel
    cannot be fetched because its URL is out of reach, the error says that resolving again takes it
    from PyPI."""
    try:
        return fetch_wheel(wheel, runtime, source, named_by)
    except DownloadError as error:
        if not is_pure(wheel.file) or unreachable(source) is None:
            raise
        raise ResolveError(
            f"{error}\n{wheel.file} is a pure wheel, which {named_by} took from Pyodide's set when its "
            "URL could be reached: resolve again (`nox -s wasm_test -- --relock`, or `nox -s lock -- "
            "--refresh`) and the pure packages come from PyPI instead"
        ) from None
