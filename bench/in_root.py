"""Run inside the Debian sid root by bench/run.py, with nox installed alone (as a project's README says).

`python in_root.py PROJECT RUNS measure`: prints one JSON object with the seconds of the first
`nox -s wasm_build` from a cold cargo target, the medians of a no-op `nox -s wasm_build`, of nox running an
empty session and of the bare maturin command, measured in turns, that wasm_build wraps (same environment, so cargo sees no
change), and the extension sizes with the template's release profile and with cargo's default one.
`python in_root.py PROJECT 1 build`: one `nox -s wasm_build`; prints its seconds (the edit loop's build).
"""

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

PROJECT, RUNS, MODE = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
NOX_ALONE = PROJECT.parent / "nox-alone"  # a venv holding nox and nothing else
NOX = [str(NOX_ALONE / "bin" / "nox")]
WASM_BUILD = [*NOX, "-s", "wasm_build", "--", "--toolchain", "system"]


def timed(argv, cwd, env=None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def interleaved_medians(commands: dict) -> dict:
    """name -> (argv, cwd, env): each command once per round, RUNS rounds, so that the machine's load
    moves all of them alike; the median seconds of each."""
    seconds = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, (argv, cwd, env) in commands.items():
            seconds[name].append(timed(argv, cwd, env))
    return {name: statistics.median(values) for name, values in seconds.items()}


def extension_size(dist: Path) -> int:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return sum(info.file_size for info in archive.infolist() if info.filename.endswith(".so"))


def bare_maturin(project: Path, out_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The maturin command and environment wasm_build runs, from the engine the project installed."""
    sys.path.append(str(PROJECT / ".nox" / f"pyo3-pyodide-{sys.implementation.cache_tag}"))
    from pyo3_pyodide.project import target_release
    from pyo3_pyodide.toolchain import system
    from pyo3_pyodide.wheel import build

    release = target_release(project)
    toolchain = system.ensure(release, {release.version: release})
    plan = build.plan_build(toolchain, out_dir, build.maturin_command())
    return list(plan.argv), build.build_environment(plan)


if not (NOX_ALONE / "bin" / "nox").exists():
    venv.create(NOX_ALONE, with_pip=True)
    subprocess.run([str(NOX_ALONE / "bin" / "pip"), "install", "-q", "nox>=2026.10.20"], check=True)

if MODE == "build":
    print(json.dumps({"seconds": timed(WASM_BUILD, PROJECT)}))
    sys.exit()

results = {"first_build": timed(WASM_BUILD, PROJECT)}  # cold cargo target; installs the engine too
empty = PROJECT.parent / "empty-noxfile"
empty.mkdir(exist_ok=True)
(empty / "noxfile.py").write_text("import nox\n\n@nox.session(python=False)\ndef empty(session):\n    pass\n")
argv, env = bare_maturin(PROJECT, PROJECT / "dist")
results |= interleaved_medians(
    {
        "nox_wasm_build": (WASM_BUILD, PROJECT, None),
        "nox_empty": ([*NOX, "-s", "empty"], empty, None),
        "bare_maturin": (argv, PROJECT, env),
    }
)
results["size_template_profile"] = extension_size(PROJECT / "dist")

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
