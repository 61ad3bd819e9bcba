"""One home for "does this wheel's tag fit this runtime", shared by the build, the audit, the tests and the lock.

A runtime takes a wheel when one of the wheel's tags is among the runtime's tags: CPython's tags for its
Python and platform tags, which include abi3 wheels for any older minimum (`cp311-abi3` fits Python 3.15)
and pure-Python ones. packaging computes that list exactly as pip and micropip do.

abi3t, PEP 803's stable ABI (PyO3's `abi3t` features), is one CPython imports from 3.15 on only: its
extensions are named `.abi3t.so` and export PEP 793's `PyModExport_<name>`. maturin tags such a wheel
`cp315-abi3.abi3t`, and a runtime built with the GIL (every Pyodide) takes it through its abi3 tag, as
Pyodide 315's micropip does; a wheel tagged abi3t alone it refuses (so do pip and micropip there), and
before Python 3.15 an abi3t wheel cannot load at all (3.14's EXTENSION_SUFFIXES has no `.abi3t.so`),
whatever its abi3 tag says.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging import tags as packaging_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from pyo3_pyodide.errors import EngineError

Tag = packaging_tags.Tag
ABI3T = "abi3t"
ABI3T_SINCE = (3, 15)  # the first CPython that imports abi3t extensions (PEP 803)


class BadWheelName(EngineError, ValueError):
    """Not a wheel file name; the message says why and what to keep."""


def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags a wheel file name carries."""
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename as error:
        raise BadWheelName(
            f"{filename} is not a wheel file name ({error}): keep the name the build gave it"
        ) from None


def is_pure(filename: str) -> bool:
    """Whether a wheel holds no compiled code: every tag it carries is `none-any`."""
    return all(tag.abi == "none" and tag.platform == "any" for tag in wheel_tags(filename))


def spelled(filename: str) -> str:
    """A wheel's tags as its file name spells them: python-abi-platform."""
    return "-".join(filename.removesuffix(".whl").split("-")[-3:])


def python_version(python_tag: str) -> tuple[int, int]:
    """The Python version a CPython tag names: cp315 -> (3, 15)."""
    return int(python_tag[2]), int(python_tag[3:])


def accepted_abis(python_tag: str) -> str:
    """In words, the Python tags a runtime with CPython `python_tag` takes: for a message."""
    abi3t = ", abi3.abi3t" if python_version(python_tag) >= ABI3T_SINCE else ""
    return f"{python_tag} (or abi3{abi3t}, or pure Python)"


def abi3t_problem(filename: str, python_tag: str) -> str | None:
    """Why the wheel's abi3t tag keeps it from CPython `python_tag`, or None (and for a wheel without one)."""
    found = wheel_tags(filename)
    if not any(tag.abi == ABI3T for tag in found):
        return None
    version = python_version(python_tag)
    if version < ABI3T_SINCE:
        since = ".".join(map(str, ABI3T_SINCE))
        return (
            f"it is tagged abi3t, PEP 803's stable ABI, which CPython imports from {since} on only (its "
            f"`.abi3t.so` extensions export PEP 793's PyModExport_ hook), while this runtime runs Python "
            f"{version[0]}.{version[1]}: build it for a Pyodide on Python {since} or newer, or with PyO3's "
            "abi3-py3X feature instead of abi3t"
        )
    if not any(tag.abi == "abi3" for tag in found):
        return (
            "it is tagged abi3t alone, and a CPython built with the GIL (as Pyodide is) takes an abi3t "
            "wheel only when it is tagged abi3 as well (pip and micropip refuse it otherwise): keep the "
            "name maturin gave it (cp3XX-abi3.abi3t)"
        )
    return None


def runtime_tags(python_tag: str, platforms: Iterable[str]) -> list[Tag]:
    """Every tag a runtime with CPython `python_tag` (cp315) and these platform tags takes, best first."""
    version = python_version(python_tag)
    platforms = list(platforms)
    return [
        *packaging_tags.cpython_tags(version, [python_tag], platforms),
        *packaging_tags.compatible_tags(version, python_tag, platforms),
    ]


def fits(filename: str, python_tag: str, platforms: Iterable[str]) -> bool:
    """Whether the wheel named `filename` fits that runtime (BadWheelName for a name that is not a wheel's)."""
    tags = wheel_tags(filename)
    return not abi3t_problem(filename, python_tag) and bool(tags & set(runtime_tags(python_tag, platforms)))


def python_fits(filename: str, python_tag: str) -> bool:
    """Whether the wheel's Python and ABI tags fit that Python, whatever its platform tag."""
    accepted = {(tag.interpreter, tag.abi) for tag in runtime_tags(python_tag, ["any"])}
    return not abi3t_problem(filename, python_tag) and any(
        (tag.interpreter, tag.abi) in accepted for tag in wheel_tags(filename)
    )
