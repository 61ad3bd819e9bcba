"""One home for "does this wheel's tag fit this runtime", shared by the build, the audit, the tests and the lock.

A runtime takes a wheel when one of the wheel's tags is among the runtime's tags: CPython's tags for its
Python and platform tags, which include abi3 wheels for any older minimum (`cp311-abi3` fits Python 3.15)
and pure-Python ones. packaging computes that list exactly as pip and micropip do.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging import tags as packaging_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

Tag = packaging_tags.Tag


class BadWheelName(ValueError):
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


def runtime_tags(python_tag: str, platforms: Iterable[str]) -> list[Tag]:
    """Every tag a runtime with CPython `python_tag` (cp315) and these platform tags takes, best first."""
    version = (int(python_tag[2]), int(python_tag[3:]))
    platforms = list(platforms)
    return [
        *packaging_tags.cpython_tags(version, [python_tag], platforms),
        *packaging_tags.compatible_tags(version, python_tag, platforms),
    ]


def fits(filename: str, python_tag: str, platforms: Iterable[str]) -> bool:
    """Whether the wheel named `filename` fits that runtime (BadWheelName for a name that is not a wheel's)."""
    return bool(wheel_tags(filename) & set(runtime_tags(python_tag, platforms)))


def python_fits(filename: str, python_tag: str) -> bool:
    """Whether the wheel's Python and ABI tags fit that Python, whatever its platform tag."""
    accepted = {(tag.interpreter, tag.abi) for tag in runtime_tags(python_tag, ["any"])}
    return any((tag.interpreter, tag.abi) in accepted for tag in wheel_tags(filename))
