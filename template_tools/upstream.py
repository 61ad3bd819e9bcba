"""Asking upstream which Pyodide releases exist and what each one pins.

Three sources, each behind a base URL that an argument or an environment variable replaces (the tests point
them at recorded responses served from 127.0.0.1):

- the npm registry's document of the `pyodide` package: which releases exist, spelled as npm spells them
  (MATRIX_UPDATE_NPM_REGISTRY, default https://registry.npmjs.org);
- Pyodide's `Makefile.envs` at each release tag: Python, Emscripten, ABI, Rust toolchain, rustflags and the
  wasm-eh sysroot URL (MATRIX_UPDATE_PYODIDE_SOURCE, default https://raw.githubusercontent.com/pyodide/pyodide,
  read as BASE/TAG/Makefile.envs);
- pyodide-cross-build-environments.json (v2): each release's cross-build environment URL and sha256
  (MATRIX_UPDATE_XBUILDENV_METADATA, default Pyodide's GitHub Pages copy).

The npm registry also gives each release's package (its `dist.tarball`), whose own `pyodide-lock.json` states
the runtime's Python, Emscripten and ABI and names its micropip: enough to move a line to a new patch release
where the other two sources are out of reach (template_tools/matrix_update.py decides when).

Everything read is checked: data that is not what was expected, or an HTTP error, raises UpstreamError, whose
message names the URL and what was wrong; a source that cannot be reached at all (no connection, no answer in
time, an answer cut short) raises its subclass UpstreamUnreachable. Nothing here writes files.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import re
import shlex
import tarfile
import time
from collections.abc import Mapping

import requests
from packaging.version import InvalidVersion, Version
from pyo3_pyodide.matrix import FORMATS

TIMEOUT_SECONDS = 30  # to connect, and the longest silence between two reads
TOTAL_SECONDS = 120  # for a whole answer
NPM_PACKAGE = "pyodide"


# Sources field -> the environment variable that replaces its default.
ENVIRONMENT_VARIABLES = {
    "npm_registry": "MATRIX_UPDATE_NPM_REGISTRY",
    "pyodide_source": "MATRIX_UPDATE_PYODIDE_SOURCE",
    "xbuildenv_metadata": "MATRIX_UPDATE_XBUILDENV_METADATA",
}


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where upstream lives. Base URLs, without a trailing slash."""

    npm_registry: str = "https://registry.npmjs.org"
    pyodide_source: str = "https://raw.githubusercontent.com/pyodide/pyodide"
    xbuildenv_metadata: str = "https://pyodide.github.io/pyodide/api/v2/pyodide-cross-build-environments.json"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, **given: str | None) -> Sources:
        """The defaults, replaced by environment variables, replaced by `given` (e.g. task arguments)."""
        values = {}
        for field, variable in ENVIRONMENT_VARIABLES.items():
            value = given.get(field) or environ.get(variable)
            if value:
                values[field] = value.rstrip("/")
        return cls(**values)

    def npm_url(self) -> str:
        return f"{self.npm_registry}/{NPM_PACKAGE}"

    def makefile_envs_url(self, tag: str) -> str:
        return f"{self.pyodide_source}/{tag}/Makefile.envs"


class UpstreamError(Exception):
    """Upstream could not be asked, or answered something unexpected; the message names the URL."""


class UpstreamUnreachable(UpstreamError):
    """A source could not be reached (a network failure, not bad data); the message names the URL."""


# ---------------------------------------------------------------------------------------------------------------
# Versions: npm spells prereleases "X.Y.Z-alpha.N", Pyodide's git tags and metadata spell them "X.Y.ZaN".
# ---------------------------------------------------------------------------------------------------------------
NPM_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-(alpha|beta|rc)\.(\d+))?")
PEP440_LETTER = {"alpha": "a", "beta": "b", "rc": "rc"}


def tag_of(npm_version: str) -> str:
    """The git tag (PEP 440 spelling) of an npm version: "316.0.0-alpha.1" -> "316.0.0a1"."""
    match = NPM_VERSION.fullmatch(npm_version)
    if not match:
        raise ValueError(f"{npm_version!r} is not an npm version like X.Y.Z or X.Y.Z-alpha.N")
    major, minor, patch, letter, number = match.groups()
    return f"{major}.{minor}.{patch}" + (f"{PEP440_LETTER[letter]}{number}" if letter else "")


def version_of(npm_version: str) -> Version:
    """An npm version as a comparable PEP 440 Version."""
    return Version(tag_of(npm_version))


def line_of(npm_version: str) -> str:
    """The release line a version belongs to: "0.Y" before Pyodide's new scheme, the major version after it
    (the 314.x releases all embed Python 3.14)."""
    return line_of_version(version_of(npm_version))


def line_of_version(version: Version) -> str:
    return f"0.{version.minor}" if version.major == 0 else str(version.major)


# ---------------------------------------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------------------------------------
def get_bytes(url: str, what: str, accept: str = "*/*") -> bytes:
    """The body of a GET `url`, read whole; `what` names the document in errors.

    Bounded in time: TIMEOUT_SECONDS to connect and between two reads, and TOTAL_SECONDS for the whole
    answer (a server that trickles bytes forever does not hang the update). An answer shorter than its
    Content-Length is refused as cut short. An HTTP status other than 200 raises UpstreamError; every failure to
    get an answer at all raises UpstreamUnreachable.
    """
    import urllib3

    advice = "Check the network or proxy, or point the source at a mirror (see `inv matrix.update --help`)."
    deadline = time.monotonic() + TOTAL_SECONDS
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, headers={"Accept": accept}, stream=True)
    except requests.Timeout:
        raise UpstreamUnreachable(
            f"GET {url} ({what}) got no answer within {TIMEOUT_SECONDS} s. {advice}"
        ) from None
    except requests.RequestException as error:
        raise UpstreamUnreachable(f"GET {url} ({what}) failed: {error}. {advice}") from None
    with response:
        if response.status_code != 200:
            raise UpstreamError(f"GET {url} ({what}) answered HTTP {response.status_code}, expected 200.")
        chunks: list[bytes] = []
        try:
            while chunk := response.raw.read1(1 << 16, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise UpstreamUnreachable(
                        f"GET {url} ({what}) did not finish within {TOTAL_SECONDS} s "
                        f"({sum(map(len, chunks))} bytes so far): the server is too slow or stalled. {advice}"
                    )
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise UpstreamUnreachable(
                f"GET {url} ({what}) stalled: no data for {TIMEOUT_SECONDS} s after "
                f"{sum(map(len, chunks))} bytes. {advice}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise UpstreamUnreachable(_cut_short(url, what, response, sum(map(len, chunks)), error)) from None
    body = b"".join(chunks)
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and "Content-Encoding" not in response.headers and len(body) != int(length):
        raise UpstreamUnreachable(_cut_short(url, what, response, len(body)))
    return body


def get_text(url: str, what: str, accept: str = "*/*") -> str:
    return get_bytes(url, what, accept).decode("utf-8", errors="replace")


def _cut_short(url: str, what: str, response, received: int, error: BaseException | None = None) -> str:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and "Content-Encoding" not in response.headers:
        how = f"{received} of the {length} bytes announced"
    else:
        how = f"the connection broke after {received} bytes ({type(error).__name__})"
    return (
        f"GET {url} ({what}) was cut short: {how}. Run again; if it persists, check the network or the "
        "mirror."
    )


def get_json(url: str, what: str, accept: str = "application/json") -> object:
    text = get_text(url, what, accept)
    try:
        return json.loads(text)
    except ValueError as error:
        raise UpstreamError(f"{url} ({what}) is not JSON ({error}); it begins {text[:80]!r}.") from None


@dataclasses.dataclass(frozen=True)
class NpmPackage:
    """The npm registry's document of the `pyodide` package: its releases, oldest first, and each one's `dist`."""

    url: str
    versions: list[str]
    dists: dict[str, dict]


def npm_package(sources: Sources) -> NpmPackage:
    """Every version of the npm `pyodide` package that is a release or an alpha/beta/rc, oldest first.

    Other spellings (e.g. "-dev" builds) are left out: no Pyodide tag matches them.
    """
    url = sources.npm_url()
    # The abbreviated document ("corgi") lists the versions too and is much smaller; JSON otherwise.
    accept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
    document = get_json(url, "the npm registry's document of the pyodide package", accept)
    versions = document.get("versions") if isinstance(document, dict) else None
    if not isinstance(versions, dict) or not versions:
        found = sorted(document)[:8] if isinstance(document, dict) else type(document).__name__
        raise UpstreamError(
            f'{url} has no "versions" object naming the package\'s versions (found: {found}); '
            "is this an npm registry?"
        )
    releases = [version for version in versions if NPM_VERSION.fullmatch(version)]
    if not releases:
        raise UpstreamError(f"{url} lists no version like X.Y.Z among {sorted(versions)[:8]}.")
    dists = {
        version: versions[version].get("dist") or {}
        for version in releases
        if isinstance(versions[version], dict)
    }
    return NpmPackage(url, sorted(releases, key=version_of), dists)


DEFAULT_NPM_REGISTRY = Sources.npm_registry


def tarball_url(sources: Sources, package: NpmPackage, npm_version: str) -> str:
    """Where the package of `npm_version` is: its `dist.tarball`, on the configured registry where the document
    names the public one (as npm's own `replace-registry-host` does, so a mirror serves the tarball too)."""
    tarball = package.dists.get(npm_version, {}).get("tarball")
    if not isinstance(tarball, str) or not tarball.startswith(("https://", "http://")):
        raise UpstreamError(f'{package.url}: version {npm_version} has no "dist": {{"tarball": URL}}.')
    if tarball.startswith(DEFAULT_NPM_REGISTRY + "/"):
        tarball = sources.npm_registry + tarball[len(DEFAULT_NPM_REGISTRY) :]
    return tarball


@dataclasses.dataclass(frozen=True)
class RuntimeLock:
    """What the `pyodide-lock.json` inside one npm `pyodide` package says of its runtime."""

    url: str  # the package's tarball
    python: str  # X.Y
    python_full: str
    emscripten: str
    abi: str
    micropip: str


LOCK_MEMBER = "package/pyodide-lock.json"


def runtime_lock(sources: Sources, package: NpmPackage, npm_version: str) -> RuntimeLock:
    """The `info` block (python, platform, abi_version) and the micropip version of the package's lock, from
    its tarball, checked against the `dist.integrity` (sha512) the npm document gives."""
    url = tarball_url(sources, package, npm_version)
    body = get_bytes(url, f"the npm package pyodide@{npm_version}")
    integrity = package.dists[npm_version].get("integrity", "")
    if isinstance(integrity, str) and integrity.startswith("sha512-"):
        digest = base64.b64encode(hashlib.sha512(body).digest()).decode()
        if digest != integrity.removeprefix("sha512-"):
            raise UpstreamError(
                f"{url} has sha512 {digest}, but {package.url} says {integrity.removeprefix('sha512-')}: "
                "the download or the mirror is corrupt. Run again; if it persists, check the mirror."
            )
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            member = archive.extractfile(LOCK_MEMBER)
            lock = json.loads(member.read()) if member else None
    except (tarfile.TarError, KeyError, OSError, ValueError) as error:
        raise UpstreamError(f"{url}: no readable {LOCK_MEMBER} ({type(error).__name__}: {error}).") from None
    info = lock.get("info") if isinstance(lock, dict) else None
    micropip = (lock.get("packages") or {}).get("micropip", {}) if isinstance(lock, dict) else {}
    fields = ("python", "platform", "abi_version")
    if not isinstance(info, dict) or not all(isinstance(info.get(field), str) for field in fields):
        raise UpstreamError(f'{url}: {LOCK_MEMBER} has no "info" with {", ".join(fields)} (each a string).')
    if not isinstance(micropip, dict) or not isinstance(micropip.get("version"), str):
        raise UpstreamError(f'{url}: {LOCK_MEMBER} names no "micropip" package with a "version".')
    platform = re.fullmatch(r"emscripten_(\d+)_(\d+)_(\d+)", info["platform"])
    if not platform:
        raise UpstreamError(f"{url}: {LOCK_MEMBER} platform {info['platform']!r} is not emscripten_X_Y_Z.")
    values = {
        "python": ".".join(info["python"].split(".")[:2]),
        "emscripten": ".".join(platform.groups()),
        "abi": info["abi_version"],
    }
    for key, value in values.items():
        pattern, form = FORMATS[key]
        if not re.fullmatch(pattern, value):
            raise UpstreamError(f"{url}: {LOCK_MEMBER} gives {key} {value!r}, which is not {form}.")
    return RuntimeLock(url=url, python_full=info["python"], micropip=micropip["version"], **values)


def platform_tags(abi: str, emscripten: str, micropip: str | None = None) -> tuple[str, ...]:
    """The wheel platform tags a release's micropip accepts, the one to build first: micropip 0.11.1 and later
    accept the PEP 783 `pyemscripten_<abi>` form; older ones only `pyodide_<abi>` and `emscripten_X_Y_Z`, of
    which maturin writes the latter without PEP 783. With micropip unknown, any of the three."""
    pyemscripten = f"pyemscripten_{abi}_wasm32"
    pyodide = f"pyodide_{abi}_wasm32"
    legacy = f"emscripten_{emscripten.replace('.', '_')}_wasm32"
    if micropip is not None and Version(micropip) < Version("0.11.1"):
        return (legacy, pyodide)
    return (pyemscripten, pyodide, legacy)


@dataclasses.dataclass(frozen=True)
class MakefileEnvs:
    """The pins that Makefile.envs at one Pyodide tag sets (the oldest lines set no Rust ones)."""

    url: str
    python: str
    emscripten: str
    abi: str
    rust_toolchain: str | None
    rustflags: tuple[str, ...] | None
    rust_sysroot_url: str | None


ASSIGNMENT = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|=)(.*)")
CONDITIONAL_START = re.compile(r"(ifdef|ifndef|ifeq|ifneq)\b")
REFERENCE = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]")


def makefile_assignments(text: str) -> dict[str, str]:
    """Top-level `NAME = value` / `?=` / `:=` assignments of a Makefile (not those inside ifdef/ifeq)."""
    found: dict[str, str] = {}
    depth = 0
    for line in text.splitlines():
        if line[:1] in ("\t", " ", "#"):
            continue
        stripped = line.strip()
        if CONDITIONAL_START.match(stripped):
            depth += 1
        elif stripped == "endif":
            depth = max(depth - 1, 0)
        elif depth == 0 and (match := ASSIGNMENT.fullmatch(stripped)):
            found.setdefault(match.group(1), match.group(3).strip())
    return found


def makefile_envs(sources: Sources, npm_version: str) -> MakefileEnvs:
    """The pins of Makefile.envs at the tag of `npm_version`."""
    tag = tag_of(npm_version)
    url = sources.makefile_envs_url(tag)
    variables = makefile_assignments(get_text(url, f"Pyodide's Makefile.envs at tag {tag}"))

    def expanded(name: str) -> str:
        value = variables[name]
        for _ in range(10):  # references to references; bounded, so a cycle cannot hang
            unknown = [ref for ref in REFERENCE.findall(value) if ref not in variables]
            if unknown:
                raise UpstreamError(
                    f"{url}: {name} refers to ${{{unknown[0]}}}, which the file does not set."
                )
            value = REFERENCE.sub(lambda match: variables[match.group(1)], value)
        return value

    def required(name: str, example: str) -> str:
        if name not in variables:
            raise UpstreamError(
                f"{url} sets no {name} (expected a line like `export {name} ?= {example}`); "
                "Pyodide may have moved it: read the file and update template_tools/upstream.py."
            )
        return expanded(name)

    stated = variables.get("PYODIDE_VERSION")
    if stated is not None and stated != tag:
        raise UpstreamError(f"{url} says PYODIDE_VERSION = {stated!r}, expected {tag!r} (the tag asked for).")
    python_full = required("PYVERSION", "3.Y.Z")
    python = ".".join(python_full.split(".")[:2])
    values = {
        "python": python,
        "emscripten": required("PYODIDE_EMSCRIPTEN_VERSION", "X.Y.Z"),
        "abi": required("PYODIDE_ABI_VERSION", "YYYY_N"),
    }
    rust_toolchain = expanded("RUST_TOOLCHAIN") if "RUST_TOOLCHAIN" in variables else None
    if rust_toolchain is not None:
        values["rust_toolchain"] = rust_toolchain
    for key, value in values.items():
        pattern, form = FORMATS[key]
        if not re.fullmatch(pattern, value):
            raise UpstreamError(f"{url}: {key} would be {value!r}, which is not {form}.")
    rustflags = tuple(shlex.split(expanded("RUSTFLAGS"))) if "RUSTFLAGS" in variables else None
    sysroot = expanded("RUST_EMSCRIPTEN_TARGET_URL") if "RUST_EMSCRIPTEN_TARGET_URL" in variables else None
    if sysroot is not None and not sysroot.startswith("https://"):
        raise UpstreamError(f"{url}: RUST_EMSCRIPTEN_TARGET_URL is {sysroot!r}, expected an https:// URL.")
    return MakefileEnvs(
        url=url,
        python=values["python"],
        emscripten=values["emscripten"],
        abi=values["abi"],
        rust_toolchain=rust_toolchain,
        rustflags=rustflags,
        rust_sysroot_url=sysroot,
    )


@dataclasses.dataclass(frozen=True)
class CrossBuildEnvironment:
    """One entry of pyodide-cross-build-environments.json."""

    version: Version
    url: str
    sha256: str
    python: str  # X.Y
    emscripten: str


def xbuildenv_entries(sources: Sources) -> list[CrossBuildEnvironment]:
    """Every entry of the cross-build environment metadata, newest first."""
    url = sources.xbuildenv_metadata
    document = get_json(url, "Pyodide's cross-build environment metadata")
    releases = document.get("releases") if isinstance(document, dict) else None
    if not isinstance(releases, dict):
        raise UpstreamError(
            f'{url} has no "releases" object (expected {{"releases": {{"VERSION": {{...}}}}}}).'
        )
    entries = []
    for key, entry in releases.items():
        where = f'{url}: releases["{key}"]'
        fields = ("url", "sha256", "python_version", "emscripten_version")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(field), str) for field in fields):
            raise UpstreamError(f"{where} lacks one of {', '.join(fields)} (each a string).")
        if not re.fullmatch(FORMATS["xbuildenv_sha256"][0], entry["sha256"]):
            raise UpstreamError(f"{where} sha256 {entry['sha256']!r} is not 64 lowercase hex digits.")
        if not entry["url"].startswith("https://"):
            raise UpstreamError(f"{where} url {entry['url']!r} is not an https:// URL.")
        try:
            version = Version(key)
        except InvalidVersion:
            raise UpstreamError(f"{where}: {key!r} is not a version.") from None
        python = ".".join(entry["python_version"].split(".")[:2])
        entries.append(
            CrossBuildEnvironment(version, entry["url"], entry["sha256"], python, entry["emscripten_version"])
        )
    return sorted(entries, key=lambda entry: entry.version, reverse=True)


def xbuildenv_for(
    npm_version: str, makefile: MakefileEnvs, entries: list[CrossBuildEnvironment] | None
) -> CrossBuildEnvironment | None:
    """The cross-build environment of `npm_version`, else the newest one of its line with the same Python and
    Emscripten (upstream publishes one only now and then), else None (also where `entries` is None: the
    metadata could not be read)."""
    version = version_of(npm_version)
    for entry in entries or ():
        if entry.version == version:
            if (entry.python, entry.emscripten) != (makefile.python, makefile.emscripten):
                raise UpstreamError(
                    f"The cross-build environment metadata gives {npm_version} Python {entry.python} and "
                    f"Emscripten {entry.emscripten}, but {makefile.url} says Python {makefile.python} and "
                    f"Emscripten {makefile.emscripten}: upstream contradicts itself; update by hand."
                )
            return entry
    for entry in entries or ():
        same_line = line_of_version(entry.version) == line_of(npm_version) and entry.version < version
        same_pins = (entry.python, entry.emscripten) == (makefile.python, makefile.emscripten)
        if same_line and same_pins:
            return entry
    return None
