"""Run inside the Debian sid root by bench/run.py: times a project's wasm builds with /opt/venv's Python.

Prints one JSON object: median seconds of `nox -s wasm_build` (no-op), of nox running an empty
session, of the bare maturin command that wasm_build wraps (same environment, so cargo sees no change),
and the extension sizes with the template's release profile and with cargo's default one.
"""

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

PROJECT = Path(sys.argv[1])
RUNS = int(sys.argv[2])
sys.path.insert(0, str(PROJECT))
from pyo3_pyodide.wheel import build
from pyo3_pyodide.toolchain import system
from pyo3_pyodide.matrix import target_release


def timed(argv, cwd, env=None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def median(argv, cwd, env=None) -> float:
    return statistics.median(timed(argv, cwd, env) for _ in range(RUNS))


def extension_size(dist: Path) -> int:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return sum(info.file_size for info in archive.infolist() if info.filename.endswith(".so"))


def bare_maturin(project: Path, out_dir: Path) -> tuple[list[str], dict[str, str]]:
    release = target_release(project)
    toolchain = system.system_toolchain(release, {release.version: release})
    plan = build.plan_build(toolchain, out_dir)
    return [sys.executable, "-m", *plan.argv], build.build_environment(plan)


nox = [sys.executable, "-m", "nox"]
wasm_build = [*nox, "-s", "wasm_build", "--", "--toolchain", "system"]
timed(wasm_build, PROJECT)  # the first build, not measured
empty = PROJECT.parent / "empty-noxfile"
empty.mkdir(exist_ok=True)
(empty / "noxfile.py").write_text("import nox\n\n@nox.session(python=False)\ndef empty(session):\n    pass\n")
argv, env = bare_maturin(PROJECT, PROJECT / "dist")
results = {
    "nox_wasm_build": median(wasm_build, PROJECT),
    "nox_empty": median([*nox, "-s", "empty"], empty),
    "bare_maturin": median(argv, PROJECT, env),
    "size_template_profile": extension_size(PROJECT / "dist"),
}

# The same crate with cargo's default release profile, built the same way into another folder.
default_profile = PROJECT.parent / "default-profile"
shutil.rmtree(default_profile, ignore_errors=True)
shutil.copytree(PROJECT, default_profile, ignore=shutil.ignore_patterns("target", "dist", ".nox"))
cargo_toml = default_profile / "Cargo.toml"
cargo_toml.write_text(re.sub(r"\n\[profile\.release\][^\[]*", "\n", cargo_toml.read_text()))
argv, env = bare_maturin(default_profile, default_profile / "dist")
subprocess.run(argv, cwd=default_profile, env=env, check=True, capture_output=True)
results["size_default_profile"] = extension_size(default_profile / "dist")
print(json.dumps(results))
