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

from template_tools import matrix, sidroot
from tests.project_helpers import console_blocks

ANSWERS = {
    "project_name": "My-Walk.Through",
    "module_name": "walkmod",
    "license": "Apache-2.0",
    "pyodide_version": "315.0.0-alpha.2",
}
WHEEL = "my_walk_through-0.1.0-cp315-cp315-pyemscripten_2026_5_wasm32.whl"


def run(argv, cwd, **kwargs) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}  # this environment's copier and nox
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env, **kwargs)


def check(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{shlex.join(result.args)}` failed:\n{output[-5000:]}"
    return output


@pytest.mark.wasm
@pytest.mark.browser
def test_the_readmes_quick_starts_work_as_written(tmp_path):
    release = matrix.load().releases[ANSWERS["pyodide_version"]]
    root = sidroot.ensure_root()
    if sidroot.emcc_version(root) != release.emscripten:
        pytest.skip(f"Debian sid's emcc is no longer {release.emscripten} (Pyodide {release.version})")

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
        else:
            result = run(["bash", "-c", command], project, timeout=1800)
        outputs[command] = check(result)

    assert re.search(r"\b5 passed\b", outputs["nox -s tests"])
    assert sorted(path.name for path in (project / "dist").glob("*.whl")) == [WHEEL]
    assert re.search(rf"{re.escape(WHEEL)}: [\d,]+ bytes .*: ok", outputs["nox -s audit -- dist/*.whl"])
    node, browser = outputs["nox -s wasm_test"], outputs["nox -s wasm_test -- --browser"]
    assert re.search(r"inside Pyodide 315\.0\.0a2 .* in Node v[\d.]+: 5 passed, 0 failed", node), node[-3000:]
    assert re.search(r"inside Pyodide 315\.0\.0a2 .* in Chromium [\d.]+: 5 passed, 0 failed", browser), (
        browser[-3000:]
    )
