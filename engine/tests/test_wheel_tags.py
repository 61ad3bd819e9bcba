"""One rule for "does this wheel fit this runtime", the same in the build, the audit, wasm_test and the lock."""

import os
import time
from pathlib import Path

import pytest
from pyo3_pyodide.toolchain.model import Toolchain
from pyo3_pyodide.wheel import audit, build, pick, tags

from template_tools import matrix
from tests.pyodide_helpers import fake_runtime

RELEASES = matrix.load().releases
PRERELEASE = next(release for release in RELEASES.values() if release.status == "prerelease")


def older_python_tag(release, minor_back: int) -> str:
    major, minor = release.python.split(".")
    return f"cp{major}{int(minor) - minor_back}"


def names(release):
    """Wheel names for `release`: exact, abi3 from an older Python, another Python, another platform."""
    older = older_python_tag(release, 4)
    return {
        "exact": f"demo-0.1.0-{release.python_tag}-{release.python_tag}-{release.platform_tag}.whl",
        "abi3": f"demo-0.1.0-{older}-abi3-{release.platform_tag}.whl",
        "other python": f"demo-0.1.0-{older}-{older}-{release.platform_tag}.whl",
        "other platform": f"demo-0.1.0-{release.python_tag}-{release.python_tag}-linux_x86_64.whl",
        # What maturin writes for PyO3's abi3t-py315 (PEP 803): Python 3.15 and newer only.
        "abi3.abi3t": f"demo-0.1.0-cp315-abi3.abi3t-{release.platform_tag}.whl",
        "abi3t alone": f"demo-0.1.0-cp315-abi3t-{release.platform_tag}.whl",
    }


@pytest.mark.parametrize("release", list(RELEASES.values()), ids=lambda release: release.version)
def test_every_part_agrees(release, tmp_path):
    wheels = names(release)
    runtime = fake_runtime(release, micropip="0.11.1")
    fits = {
        kind: tags.fits(name, release.python_tag, [release.platform_tag]) for kind, name in wheels.items()
    }
    abi3t = tags.python_version(release.python_tag) >= (3, 15)
    assert fits == {
        "exact": True,
        "abi3": True,
        "other python": False,
        "other platform": False,
        "abi3.abi3t": abi3t,
        "abi3t alone": False,
    }
    for kind, name in wheels.items():
        assert (not audit.tag_problems(name, release)) == fits[kind], kind
        assert (pick.release_problem(Path(name), runtime) is None) == fits[kind], kind
        assert (pick.micropip_problem(Path(name), runtime, RELEASES.values()) is None) == fits[kind], kind


def test_an_abi3_wheel_newer_than_the_runtime_python_does_not_fit():
    major, minor = PRERELEASE.python.split(".")
    newer = f"cp{major}{int(minor) + 1}"
    name = f"demo-0.1.0-{newer}-abi3-{PRERELEASE.platform_tag}.whl"
    assert not tags.fits(name, PRERELEASE.python_tag, [PRERELEASE.platform_tag])
    [problem] = audit.tag_problems(name, PRERELEASE)
    assert problem.startswith(f"has Python tag {newer}-abi3, expected {PRERELEASE.python_tag}-")


def test_the_build_takes_the_abi3_wheel_maturin_wrote(tmp_path):
    wheels = names(PRERELEASE)
    toolchain = Toolchain("system", PRERELEASE, {}, True, ())
    for kind in ("other python", "abi3"):  # the abi3 one is written last, as by the build just run
        (tmp_path / wheels[kind]).write_bytes(b"")
        time.sleep(0.01)
    os.utime(tmp_path / wheels["other python"], (1, 1))
    assert build.newest_wheel(tmp_path, toolchain) == tmp_path / wheels["abi3"]


def test_a_name_that_is_not_a_wheel_name_says_so():
    with pytest.raises(tags.BadWheelName, match="is not a wheel file name"):
        tags.fits("demo.whl", PRERELEASE.python_tag, [PRERELEASE.platform_tag])
    assert audit.tag_problems("demo.whl", PRERELEASE)[0].startswith("is not a wheel file name")


def test_a_pure_wheel_carries_only_none_any_tags():
    assert tags.is_pure("six-1.16.0-py2.py3-none-any.whl")
    assert not tags.is_pure("jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl")
    assert not tags.is_pure("hello-0.1.0-cp314-abi3-pyemscripten_2026_0_wasm32.whl")
    assert not tags.is_pure("hello-0.1.0-py3-none-pyemscripten_2026_0_wasm32.whl")
