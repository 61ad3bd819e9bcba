"""The wheel a session works on: found in dist/ or named by --wheel, checked against a runtime, and read.

Two policies, both in terms of wheel/tags.py's one rule ("one of the wheel's tags is among the runtime's"):
- `micropip_problem`: the tags the runtime's own micropip accepts (Runtime.micropip_platform_tags), what
  `wasm_test` and `serve` hold a wheel to, since an app installs wheels with micropip;
- `release_problem`: any spelling of the release's platform tag (Release.platform_tag_spellings), what
  `pyodide.loadPackage` and a pyodide-lock.json load (they check no tag), for `lock` and `bundle`.
A wheel built for another ABI loads without complaint and fails only at import, so either stops before.
"""

from __future__ import annotations

import dataclasses
import email.parser
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.project import Project
from pyo3_pyodide.runtime_info import Runtime
from pyo3_pyodide.wheel import tags as wheel_tags


class WheelError(EngineError):
    """No wheel fits, or the wheel named does not, or cannot be read; the message says why and the fix."""


def refused(
    wheel: Path, runtime: Runtime, platforms: Iterable[str], verdict: str, takes: str, advice: str
) -> str:
    platforms = list(platforms)
    abi3t = wheel_tags.abi3t_problem(wheel.name, runtime.python_tag)
    return (
        f"{wheel.name} {verdict} {runtime.describe()}: it is tagged {wheel_tags.spelled(wheel.name)}, while "
        f"this runtime {takes} {wheel_tags.accepted_abis(runtime.python_tag)} wheels for "
        f"{' or '.join(platforms)}{f'; {abi3t}' if abi3t else ''}; Pyodide would load it without complaint "
        f"and fail only at import. {advice}"
    )


def micropip_platforms(runtime: Runtime) -> list[str]:
    return runtime.micropip_platform_tags()


def release_platforms(runtime: Runtime) -> tuple[str, ...]:
    return runtime.release.platform_tag_spellings()


def micropip_problem(wheel: Path, runtime: Runtime, releases: Iterable[Release] = ()) -> str | None:
    """Why the runtime's micropip would not accept `wheel`, or None; `releases`: those to name when the
    wheel was built for one of them."""
    try:
        if wheel_tags.fits(wheel.name, runtime.python_tag, micropip_platforms(runtime)):
            return None
    except wheel_tags.BadWheelName as error:
        return str(error)
    release = runtime.release
    built_for = [
        other.version
        for other in releases
        if wheel_tags.fits(wheel.name, other.python_tag, other.platform_tag_spellings())
    ]
    advice = f"Rebuild it for this runtime: `nox -s wasm_build -- --pyodide {release.version}`"
    if built_for:
        advice = (
            f"It was built for Pyodide {' or '.join(built_for)}: test it there "
            f"(`nox -s wasm_test -- --pyodide {built_for[0]} --wheel {wheel}`), or rebuild it for "
            f"this one (`nox -s wasm_build -- --pyodide {release.version}`)"
        )
    return refused(wheel, runtime, micropip_platforms(runtime), "does not fit", "accepts", advice)


def release_problem(wheel: Path, runtime: Runtime, releases: Iterable[Release] = ()) -> str | None:
    """Why `wheel` was not built for the runtime's release (any spelling of its platform tag), or None."""
    spellings = release_platforms(runtime)
    try:
        if wheel_tags.fits(wheel.name, runtime.python_tag, spellings):
            return None
    except wheel_tags.BadWheelName as error:
        return str(error)
    advice = (
        f"Build one for it: `nox -s wasm_build -- --pyodide {runtime.release.version}`, or pick the release "
        "with `--pyodide`"
    )
    return refused(wheel, runtime, spellings, "was not built for", "loads", advice)


Problem = Callable[..., "str | None"]  # micropip_problem or release_problem
PLATFORMS = {micropip_problem: micropip_platforms, release_problem: release_platforms}  # what each takes


def project_wheels(project: Project) -> list[Path]:
    """This project's wheels in dist/, whatever their tags."""
    if project.distribution is None:
        raise WheelError(
            f"{project.pyproject} has no [project] name, so no wheel in dist/ is known as this project's: add "
            "it, or name a wheel with `--wheel PATH`"
        )
    return [
        wheel
        for wheel in sorted((project.folder / "dist").glob("*.whl"))
        if canonicalize_name(wheel.name.split("-")[0]) == project.distribution
    ]


def newest(wheels: list[Path]) -> Path:
    return max(wheels, key=lambda wheel: wheel.stat().st_mtime)


def select_wheel(project: Project, runtime: Runtime, problem: Problem = micropip_problem) -> Path:
    """The newest wheel of this project in dist/ in which `problem` finds nothing."""
    wheels = project_wheels(project)
    fitting = [wheel for wheel in wheels if problem(wheel, runtime) is None]
    if not fitting:
        platforms = PLATFORMS[problem](runtime)
        found = ", ".join(wheel.name for wheel in wheels) or "none"
        raise WheelError(
            f"{project.folder / 'dist'} holds no wheel of {project.distribution} for "
            f"{runtime.describe()}, i.e. tagged {runtime.python_tag} with one of {', '.join(platforms)}; "
            f"found: {found}. Build one with `nox -s wasm_build -- --pyodide {runtime.release.version}`, "
            "or name a wheel with `--wheel PATH`"
        )
    return newest(fitting)


def check_wheel(
    wheel: Path, runtime: Runtime, problem: Problem = micropip_problem, releases: Iterable[Release] = ()
) -> Path:
    """`wheel`, resolved, when it exists and `problem` finds nothing in it."""
    if not wheel.is_file():
        raise WheelError(f"{wheel}: no such file; expected a wheel (`nox -s wasm_build`)")
    found = problem(wheel, runtime, releases)
    if found:
        raise WheelError(found)
    return wheel.resolve()


@dataclasses.dataclass(frozen=True)
class WheelMetadata:
    name: str  # as its METADATA spells it
    version: str  # as its METADATA spells it, which is what importlib.metadata reports
    requires: tuple[str, ...]  # Requires-Dist, without those of extras
    modules: tuple[str, ...]  # its top-level packages and every extension module, dotted


def read_wheel(wheel: Path) -> WheelMetadata:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata_name = next(name for name in names if PurePosixPath(name).match("*.dist-info/METADATA"))
            metadata = email.parser.BytesParser().parsebytes(archive.read(metadata_name))
    except (OSError, zipfile.BadZipFile, StopIteration) as error:
        raise WheelError(
            f"{wheel} is not a readable wheel with a *.dist-info/METADATA ({error!r}); "
            "build or download it again"
        ) from None
    requires = []
    for line in metadata.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or "extra" not in str(requirement.marker):
            requires.append(str(requirement))
    modules = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) > 1 or parts[0].endswith(".py"):
            modules.add(parts[0].removesuffix(".py"))
        if name.endswith(".so"):
            modules.add(".".join([*parts[:-1], parts[-1].split(".")[0]]))
    return WheelMetadata(
        name=metadata["Name"],
        version=metadata["Version"],
        requires=tuple(requires),
        modules=tuple(sorted(modules)),
    )
