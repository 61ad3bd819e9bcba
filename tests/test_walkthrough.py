"""The path a new user walks, with the commands taken from the READMEs' quick-start blocks.

The template's README gives the scaffolding command; the generated README gives the rest. If a README
drifts from what really works, this test fails. The only changes made to the commands: the template's
address becomes this working tree (the test machine cannot reach GitHub) with the answers given as
--data, and `nox -s wasm_build` takes the README's own system-toolchain form and runs in the Debian sid
root, whose compilers are the ones this machine can install.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm

from template_tools import matrix, sidroot
from tests.helpers import real_builds
from tests.helpers.package_mirror import folder_mirror
from tests.helpers.project import console_blocks
from tests.helpers.real_builds import SID_RELEASE

ANSWERS = {
    "project_name": "My-Walk.Through",
    "module_name": "walkmod",
    "license": "Apache-2.0",
    "pyodide_version": SID_RELEASE.line,
}
WHEEL = real_builds.wheel_name(ANSWERS["project_name"])


def run(argv, cwd, mirror: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}  # this environment's copier and nox
    if mirror:
        env[pyodide_packages.BASE_URL_ENV] = mirror
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env, **kwargs)


def check(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{shlex.join(result.args)}` failed:\n{output[-5000:]}"
    return output


@pytest.mark.wasm
@pytest.mark.browser
def test_the_readmes_quick_starts_work_as_written(tmp_path):
    release = SID_RELEASE
    root = real_builds.usable_root(release)
    # Pyodide's own packages (pytest, micropip) come from the release's package set, whose CDN this machine
    # cannot reach: a local folder stands in for it (the environment variable the generated README names).
    mirror = folder_mirror(npm.ensure_runtime(release), tmp_path / "package-set")

    # The template's README: its first block scaffolds a project.
    scaffold = console_blocks((matrix.REPO_DIR / "README.md").read_text())[0][0]
    assert scaffold.startswith("copier copy gh:")
    argv = shlex.split(scaffold)
    argv[2] = str(matrix.REPO_DIR)
    argv[-1] = "my-walk-through"
    argv[2:2] = ["--defaults", "--vcs-ref=HEAD", *(f"--data={k}={v}" for k, v in ANSWERS.items())]
    check(run(argv, tmp_path))
    project = tmp_path / "my-walk-through"
    assert (project / "python/walkmod/_core.pyi").is_file()
    assert (project / "LICENSE").read_text().lstrip().startswith("Apache License")

    # The generated README: its quick start, then its system-toolchain form of wasm_build.
    readme = (project / "README.md").read_text()
    quick_start, system_build = console_blocks(readme)[:2]
    assert quick_start[1] == "nox -s wasm_build" and system_build == [
        "nox -s wasm_build -- --toolchain system"
    ]
    outputs = {}
    for command in quick_start:
        if command == "nox -s wasm_build":
            result = sidroot.run(root, shlex.split(system_build[0]), cwd=str(project), bind=project)
            real_builds.record_build(ANSWERS["project_name"], release, root, result)
        else:
            result = run(["bash", "-c", command], project, timeout=1800, mirror=mirror)
        outputs[command] = check(result)

    # cargo test's unit tests, then pytest's suite; cargo's summary says "0 failed".
    native_output = outputs["nox -s tests"]
    native = re.search(r"\b(\d+) passed", native_output)
    assert native and not re.search(r"\b[1-9]\d* failed", native_output), native_output[-3000:]
    assert sorted(path.name for path in (project / "dist").glob("*.whl")) == [WHEEL]
    assert re.search(rf"{re.escape(WHEEL)}: [\d,]+ bytes .*: ok", outputs["nox -s audit -- dist/*.whl"])
    node, browser = outputs["nox -s wasm_test"], outputs["nox -s wasm_test -- --browser"]
    version = re.escape(str(Version(release.version)))  # as Pyodide spells its own version
    in_node = re.search(rf"inside Pyodide {version} .* in Node v[\d.]+[^:]*: (\d+) passed, 0 failed", node)
    in_browser = re.search(
        rf"inside Pyodide {version} .* in Chromium [\d.]+[^:]*: (\d+) passed, 0 failed", browser
    )
    assert in_node, node[-3000:]
    assert in_browser, browser[-3000:]
    assert int(in_node.group(1)) == int(in_browser.group(1)) > 0
