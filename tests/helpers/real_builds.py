"""Which real wasm builds a test run made: the run's last line says so (tests/conftest.py prints it).

The fixtures that build a wheel for real in the Debian root record here what they built, for which release,
where and with which compilers, or why nothing was built. A run that lost its real build (the root's
Emscripten no longer a release's, say) then cannot pass for one that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from packaging.utils import canonicalize_name

from template_tools import matrix, sidroot


@dataclass(frozen=True)
class Build:
    project: str
    release: str  # the Pyodide version the wheel is for
    where: str  # e.g. "the Debian sid root"
    emscripten: str
    rustc: str
    returncode: int  # the build command's

    def describe(self) -> str:
        text = (
            f"{self.project} for Pyodide {self.release} in {self.where} "
            f"(emscripten {self.emscripten}, rustc {self.rustc})"
        )
        return text if self.returncode == 0 else f"{text}, which FAILED (exit code {self.returncode})"


@dataclass
class Record:
    builds: list[Build] = field(default_factory=list)
    not_made: list[str] = field(default_factory=list)  # why a build that a test asked for was not made

    def summary_line(self) -> str:
        if self.builds:
            return "real wasm builds: " + "; ".join(build.describe() for build in self.builds)
        if self.not_made:
            return "real wasm builds: none (" + "; ".join(self.not_made) + ")"
        return "real wasm builds: none (no test of this run needed one)"


RUN = Record()  # this test run's


def require_emscripten(emcc: str, release, releases, record: Record = RUN) -> None:
    """Return when `emcc`, the Debian root's, is `release`'s Emscripten. Otherwise record why no build is
    made and fail the test with the fix, or skip it where PYO3_PYODIDE_ACCEPT_NO_WASM_BUILD accepts that.
    """
    if emcc == release.emscripten:
        return
    fitting = [other.version for other in releases if other.emscripten == emcc]
    message = (
        f"the Debian root's emcc is {emcc}, not {release.emscripten} (Pyodide {release.version}); "
        f"it fits {', '.join(fitting) or 'no release'} of the matrix"
    )
    accept = sidroot.ACCEPT_NO_WASM_BUILD
    if sidroot.no_wasm_build_accepted():
        record.not_made.append(f"{accept}=1: {message}")
        pytest.skip(f"{message} (accepted by {accept}=1)")
    record.not_made.append(message)
    pytest.fail(
        f"No real wasm build: {message}.\nFix: remake the root ({sidroot.ROOT_DIR}) from a Debian suite with "
        f"emscripten {release.emscripten} (delete it, then `python -m template_tools.provision`), or retarget "
        f"the test to a release of that Emscripten; on a machine known to lack one, set {accept}=1.",
        pytrace=False,
    )


# The release the Debian root builds for: the matrix's prerelease line (Debian sid's Emscripten is its).
SID_RELEASE = next(release for release in matrix.load().releases.values() if release.status == "prerelease")
SID_ANSWERS = {
    "project_name": "Wasm-Demo",
    "module_name": "wasmdemo",
    "license": "BSD-3-Clause",
    "author_name": "Grace Hopper",
    "pyodide_version": SID_RELEASE.line,
}


def wheel_name(project_name: str, release=SID_RELEASE, version: str = "0.1.0") -> str:
    """The file name of the wheel maturin builds of a generated project for `release`."""
    python = release.python_tag
    return f"{str(canonicalize_name(project_name)).replace('-', '_')}-{version}-{python}-{python}-{release.platform_tag}.whl"


def record_build(project: str, release, root, result, record: Record = RUN) -> Build:
    """Note a build made in the Debian root, for the run's last line."""
    suite = (sidroot.read_marker(root) or {}).get("suite", "sid")
    build = Build(
        project,
        release.version,
        f"the Debian {suite} root",
        sidroot.emcc_version(root),
        sidroot.rustc_version(root),
        result.returncode,
    )
    record.builds.append(build)
    return build


def usable_root(release=SID_RELEASE, record: Record = RUN):
    """The Debian root, whose emcc must be `release`'s Emscripten: else the test fails with the fix (or skips
    where PYO3_PYODIDE_ACCEPT_NO_WASM_BUILD=1 accepts that), and the run's last line says why."""
    try:
        root = sidroot.ensure_root()
        emcc = sidroot.emcc_version(root)
    except Exception as error:
        record.not_made.append(f"the Debian root is unusable: {str(error).splitlines()[0]}")
        raise
    require_emscripten(emcc, release, matrix.load().releases.values(), record)
    return root
