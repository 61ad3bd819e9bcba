"""abi3t (PEP 803) wheels and PEP 793's module export hook: a real project built with them and run inside
Pyodide 315.

PyO3's `abi3t-py315` feature builds `cp315-abi3.abi3t` wheels whose extension, `_name.abi3t.so`, exports
`PyModExport__name` and no `PyInit__name`. The fast tests of the tag rule (wheel/tags.py) and the audit, and
the node test that asks the runtimes' own micropip what it takes, are the engine's
(engine/tests/test_wheel_tags.py, test_wheel_audit.py); the wasm test here builds a real project from its
PyPI sdist with that feature in the Debian root and runs its tests inside Pyodide 315.
"""

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.wheel import audit

from template_tools import matrix, sidroot
from tests.helpers import package_mirror, real_builds
from tests.helpers.adopt import adopt, commit_all
from tests.helpers.project import nox, output_of

RELEASES = matrix.load().releases
[PRERELEASE] = [release for release in RELEASES.values() if release.status == "prerelease"]  # Python 3.15
STABLE = RELEASES[matrix.load().default]  # Python 3.14
assert (PRERELEASE.python, STABLE.python) == ("3.15", "3.14")


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
