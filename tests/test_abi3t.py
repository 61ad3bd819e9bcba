"""abi3t (PEP 803) wheels and PEP 793's module export hook, on Python 3.15 runtimes and refused before.

PyO3's `abi3t-py315` feature builds `cp315-abi3.abi3t` wheels whose extension, `_name.abi3t.so`, exports
`PyModExport__name` and no `PyInit__name`. The fast tests hold the tag rule (wheel/tags.py) and the audit to
that; the node test asks the runtimes' own micropip what it takes; the wasm test builds a real project from
its PyPI sdist with that feature in the Debian root and runs its tests inside Pyodide 315.
"""

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.wheel import audit, pick, tags

from engine.tests.test_wheel_audit import side_module
from template_tools import matrix, sidroot
from tests import package_mirror, real_builds
from tests.adopt_helpers import adopt, commit_all
from tests.project_helpers import nox, output_of
from tests.pyodide_helpers import fake_runtime

RELEASES = matrix.load().releases
[PRERELEASE] = [release for release in RELEASES.values() if release.status == "prerelease"]  # Python 3.15
STABLE = RELEASES[matrix.load().default]  # Python 3.14
assert (PRERELEASE.python, STABLE.python) == ("3.15", "3.14")


def name(release, abi: str, python: str | None = None, version: str = "1.0") -> str:
    return f"demo-{version}-{python or release.python_tag}-{abi}-{release.platform_tag}.whl"


def abi3t_wheel(folder: Path, release, exports: list[str], abi: str = "abi3.abi3t") -> Path:
    """A wheel shaped like maturin's for PyO3's abi3t-py315: cp315-abi3.abi3t, demo/_demo.abi3t.so."""
    wheel = folder / name(release, abi, python="cp315")
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "from ._demo import *\n")
        archive.writestr("demo/_demo.abi3t.so", side_module(exports))
    return wheel


# The tag rule


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


# The audit


def test_audit_accepts_the_export_hook_on_315_and_names_it(tmp_path):
    report = audit.audit_wheel(abi3t_wheel(tmp_path, PRERELEASE, ["PyModExport__demo"]), PRERELEASE)
    assert report.findings == []
    [module] = report.extension_modules
    assert module.hook == "PyModExport__demo"
    lines = audit.format_report(report).splitlines()
    assert lines[0].endswith(f"for Pyodide {PRERELEASE.version}: ok")
    assert lines[2] == "    imported by its PyModExport__demo export (PEP 793's module export hook)"


def test_audit_names_the_hook_python_315_looks_for_first(tmp_path):
    # A module exporting both is imported through PyModExport_ on 3.15, PyInit_ on 3.14.
    wheel = abi3t_wheel(tmp_path, PRERELEASE, ["PyInit__demo", "PyModExport__demo"], abi="abi3")
    assert [module.hook for module in audit.audit_wheel(wheel, PRERELEASE).extension_modules] == [
        "PyModExport__demo"
    ]


def test_audit_refuses_a_module_exporting_neither_hook(tmp_path):
    wheel = abi3t_wheel(tmp_path, PRERELEASE, ["PyInit_demo", "PyModExport_other"])
    [finding] = audit.audit_wheel(wheel, PRERELEASE).findings
    assert finding == (
        f"{wheel.name}: demo/_demo.abi3t.so does not export PyModExport__demo or PyInit__demo (it exports "
        "PyInit_demo, PyModExport_other), so importing _demo fails. Fix: name the #[pymodule] function "
        '_demo, or give it #[pyo3(name = "_demo")], to match the file name (module-name in pyproject.toml)'
    )
    assert audit.audit_wheel(wheel, PRERELEASE).extension_modules[0].hook is None


def test_audit_refuses_abi3t_for_a_314_release_by_its_tag_and_its_hook(tmp_path):
    wheel = abi3t_wheel(tmp_path, STABLE, ["PyModExport__demo"])
    tag_finding, hook_finding = audit.audit_wheel(wheel, STABLE).findings
    assert tag_finding.startswith(
        f"{wheel.name}: has Python tag cp315-abi3, cp315-abi3t, for Pyodide {STABLE.version}: it is tagged "
        "abi3t, PEP 803's stable ABI, which CPython imports from 3.15 on only"
    )
    assert hook_finding == (
        f"{wheel.name}: demo/_demo.abi3t.so exports PyModExport__demo (PEP 793's hook, which Python looks "
        f"for from 3.15 on) but not PyInit__demo, which Python 3.14 (Pyodide {STABLE.version}) calls, so "
        "importing _demo fails. Fix: build it for a Pyodide on Python 3.15 or newer, or with PyO3's "
        "abi3-py3X feature instead of abi3t"
    )


# The runtimes' own micropip

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


# A real project: ast-serialize 0.13.1 (mypy's AST serializer, PyO3 0.29.2) turns abi3t on by default: its
# `stable-abi` feature is pyo3/abi3-py39 + pyo3/abi3t-py315, and maturin picks abi3t for Python 3.15.

AST_SERIALIZE = "ast-serialize==0.13.1"
AST_SERIALIZE_WHEEL = "ast_serialize-0.13.1-cp315-abi3.abi3t-pyemscripten_2026_5_wasm32.whl"
AST_SERIALIZE_MODULE = "ast_serialize/ast_serialize.abi3t.so"


def sdist(requirement: str, folder: Path) -> Path:
    """The project's sdist from PyPI (only that package from source: its build backend, maturin, from wheels)."""
    name = requirement.split("==")[0]
    command = ["pip", "download", "--no-deps", f"--no-binary={name}", "-d", str(folder), requirement]
    subprocess.run([sys.executable, "-m", *command], check=True, capture_output=True)
    [found] = folder.glob("*.tar.gz")
    return found


@pytest.mark.wasm
def test_ast_serialize_builds_abi3t_in_the_sid_root_and_passes_its_tests_in_pyodide_315(tmp_path):
    root = real_builds.usable_root(PRERELEASE)
    with tarfile.open(sdist(AST_SERIALIZE, tmp_path / "sdist")) as archive:
        archive.extractall(tmp_path, filter="data")
    project = tmp_path / "ast_serialize-0.13.1"
    commit_all(project)
    adopt(project)
    build = sidroot.run(
        root,
        ["nox", "-s", "wasm_build", "--", "--pyodide", PRERELEASE.line, "--toolchain", "system"],
        cwd=str(project),
        bind=project,
        env={"CARGO_BUILD_JOBS": "1"},
    )
    real_builds.record_build(f"{AST_SERIALIZE} (sdist from PyPI)", PRERELEASE, root, build)
    output = build.stdout + build.stderr
    assert build.returncode == 0, output[-5000:]
    assert "Built wheel for abi3t Python ≥ 3.15" in output  # maturin's own word
    [wheel] = (project / "dist").glob("*.whl")
    assert wheel.name == AST_SERIALIZE_WHEEL
    assert f"{AST_SERIALIZE_MODULE}: " in output
    assert "imported by its PyModExport_ast_serialize export (PEP 793's module export hook)" in output
    with zipfile.ZipFile(wheel) as archive:
        module = audit.parse_wasm(archive.read(AST_SERIALIZE_MODULE))
    assert "PyModExport_ast_serialize" in module.exports
    assert not [name for name in module.exports if name.startswith("PyInit_")]
    # The same wheel, for Python 3.14: refused by its tag and by its hook.
    findings = audit.audit_wheel(wheel, STABLE).findings
    assert any("it is tagged abi3t, PEP 803's stable ABI" in finding for finding in findings), findings
    assert any("exports PyModExport_ast_serialize (PEP 793's hook" in finding for finding in findings)

    mirror = package_mirror.folder_mirror(npm.ensure_runtime(PRERELEASE), tmp_path / "package-set")
    result = nox(
        project,
        "-s",
        "wasm_test",
        "--",
        "--pyodide",
        PRERELEASE.line,
        "test_ast_serialize.py",
        "-q",
        env={pyodide_packages.BASE_URL_ENV: mirror},
    )
    output = output_of(result)
    assert result.returncode == 0, output[-5000:]
    tests = (project / "test_ast_serialize.py").read_text().count("\ndef test_")
    [line] = re.findall(r"wasm_test: pytest exited with 0 inside Pyodide 315\S* .*", output)
    assert re.search(rf": {tests} passed, 0 failed\b", line), line
    print(f"{AST_SERIALIZE} in Pyodide {PRERELEASE.version}: {line}")
    # The lock takes the wheel and Pyodide loads it by name; the bundle's micropip takes its tag.
    bundle = nox(
        project,
        "-s",
        "bundle",
        "--",
        "--pyodide",
        PRERELEASE.line,
        env={pyodide_packages.BASE_URL_ENV: mirror},
    )
    output = output_of(bundle)
    assert bundle.returncode == 0, output[-5000:]
    assert "loaded ast-serialize by name with the new lock and imported ast_serialize" in output
    assert f"micropip.install(URL of {AST_SERIALIZE_WHEEL}) works on Pyodide {PRERELEASE.version}" in output
