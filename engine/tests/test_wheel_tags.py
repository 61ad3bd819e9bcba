"""One rule for "does this wheel fit this runtime", the same in the build, the audit, wasm_test and the lock."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.toolchain.model import Toolchain
from pyo3_pyodide.wheel import audit, build, pick, tags

from template_tools import matrix
from tests.helpers import package_mirror
from tests.helpers.pyodide import fake_runtime

RELEASES = matrix.load().releases
PRERELEASE = next(release for release in RELEASES.values() if release.status == "prerelease")
STABLE = RELEASES[matrix.load().default]  # Python 3.14


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


# abi3t (PEP 803): PyO3's `abi3t-py315` builds `cp315-abi3.abi3t` wheels, which Python 3.15 imports and
# Python 3.14 cannot (the real build of such a project: tests/test_abi3t.py).


def name(release, abi: str, python: str | None = None, version: str = "1.0") -> str:
    return f"demo-{version}-{python or release.python_tag}-{abi}-{release.platform_tag}.whl"


def test_an_abi3_abi3t_wheel_fits_python_315_through_its_abi3_tag():
    wheel = name(PRERELEASE, "abi3.abi3t")
    assert tags.fits(wheel, PRERELEASE.python_tag, [PRERELEASE.platform_tag])
    assert tags.python_fits(wheel, PRERELEASE.python_tag)
    assert tags.abi3t_problem(wheel, PRERELEASE.python_tag) is None
    # An older abi3 minimum with abi3t fits too (packaging's cp3XX-abi3 rule); a newer Python does not.
    assert tags.fits(
        name(PRERELEASE, "abi3.abi3t", "cp312"), PRERELEASE.python_tag, [PRERELEASE.platform_tag]
    )
    assert not tags.fits(name(PRERELEASE, "abi3.abi3t", "cp316"), "cp315", [PRERELEASE.platform_tag])
    assert tags.accepted_abis("cp315") == "cp315 (or abi3, abi3.abi3t, or pure Python)"
    assert tags.accepted_abis("cp314") == "cp314 (or abi3, or pure Python)"


def test_abi3t_is_refused_before_python_315_even_with_its_abi3_tag():
    # Python 3.14 has no `.abi3t.so` among its extension suffixes: packaging's abi3 rule alone would take it.
    wheel = name(STABLE, "abi3.abi3t", python="cp314")
    assert not tags.fits(wheel, STABLE.python_tag, [STABLE.platform_tag])
    assert not tags.python_fits(wheel, STABLE.python_tag)
    problem = tags.abi3t_problem(wheel, STABLE.python_tag)
    assert problem.startswith("it is tagged abi3t, PEP 803's stable ABI, which CPython imports from 3.15 on")
    assert "this runtime runs Python 3.14: build it for a Pyodide on Python 3.15 or newer" in problem
    assert "abi3-py3X feature instead of abi3t" in problem


def test_a_bare_abi3t_wheel_is_refused_by_a_gil_build():
    wheel = name(PRERELEASE, "abi3t")
    assert not tags.fits(wheel, PRERELEASE.python_tag, [PRERELEASE.platform_tag])
    assert "tagged abi3t alone" in tags.abi3t_problem(wheel, PRERELEASE.python_tag)


def test_the_lock_refuses_abi3t_for_a_314_runtime_with_the_reason():
    wheel = Path(name(STABLE, "abi3.abi3t", python="cp314"))
    problem = pick.release_problem(wheel, fake_runtime(STABLE, "0.11.1"))
    assert "while this runtime loads cp314 (or abi3, or pure Python) wheels for " in problem
    assert "; it is tagged abi3t, PEP 803's stable ABI" in problem
    fitting = Path(name(PRERELEASE, "abi3.abi3t"))
    assert pick.release_problem(fitting, fake_runtime(PRERELEASE, "0.11.1")) is None


MICROPIP_PROBE = """
const { pathToFileURL } = await import("node:url");
const { readFileSync } = await import("node:fs");
const [runtime, micropip, names] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(`${runtime}/pyodide.mjs`).href);
const pyodide = await loadPyodide();
pyodide.FS.writeFile("/tmp/micropip.whl", readFileSync(micropip));
pyodide.globals.set("names", JSON.parse(names));
console.log(pyodide.runPython(`
import importlib.machinery, json, sys, zipfile
zipfile.ZipFile("/tmp/micropip.whl").extractall("/tmp/micropip")
sys.path.insert(0, "/tmp/micropip")
from micropip._utils import is_package_compatible
json.dumps({"suffixes": importlib.machinery.EXTENSION_SUFFIXES,
            "takes": {name: is_package_compatible(name)[0] for name in names.to_py()}})
`));
"""


@pytest.mark.network
@pytest.mark.parametrize("release", [PRERELEASE, STABLE], ids=lambda release: release.line)
def test_the_runtimes_micropip_takes_what_tags_fits_takes(release, tmp_path):
    # micropip's own check (its vendored packaging knows no abi3t) in the real runtime, with PyPI's wheel of
    # the micropip version the runtime's lock names; and the runtime's extension suffixes.
    runtime = npm.ensure_runtime(release)
    micropip = package_mirror.pypi_wheel(runtime, "micropip", runtime.micropip)
    platform = release.platform_tag
    names = [
        f"demo-1.0-{python}-{abi}-{platform}.whl"
        for python in ("cp312", "cp314", "cp315")
        for abi in ("abi3", "abi3.abi3t", "abi3t", python)
    ]
    script = tmp_path / "probe.mjs"
    script.write_text(MICROPIP_PROBE)
    result = subprocess.run(
        ["node", str(script), str(runtime.folder), str(micropip), json.dumps(names)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {wheel: tags.fits(wheel, runtime.python_tag, runtime.micropip_platform_tags()) for wheel in names}
    if release is PRERELEASE:
        assert ".abi3t.so" in found["suffixes"]
        assert found["takes"] == ours
        assert ours[f"demo-1.0-cp315-abi3.abi3t-{platform}.whl"]
    else:
        # micropip takes cp3XX-abi3.abi3t on 3.14 through its abi3 tag, but 3.14 cannot import the module.
        assert ".abi3t.so" not in found["suffixes"]
        differ = {wheel for wheel in names if found["takes"][wheel] != ours[wheel]}
        assert differ == {f"demo-1.0-{python}-abi3.abi3t-{platform}.whl" for python in ("cp312", "cp314")}
        assert not any(ours[wheel] for wheel in differ)
