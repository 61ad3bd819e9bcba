"""`nox -s bench`: what the template costs, measured side by side in one run, printed as ratios.

1. no-op rebuild: `nox -s wasm_build` with nothing changed vs nox running an empty session plus the bare
   maturin command it wraps (the template's own overhead), in the Debian sid root; and the first build,
   from a cold cargo target;
2. the extension's size with the template's release profile vs cargo's default release profile;
3. `nox -s wasm_test` on the example suite in Pyodide vs a bare Node boot that imports the module, and the
   same suite in headless Chromium and in headless Firefox; a test that crashes Pyodide (the example's
   trap()) followed by one more test, vs a test that fails followed by the same test;
4. the loop a developer lives in: one line of src/lib.rs changed, then `wasm_build` + `wasm_test`, vs the
   native loop (`nox -s tests` after the same change);
5. a warm `nox -s toolchain` (managed provider) against local stand-ins: seconds and network requests;
6. `copier copy` of a project: seconds and files, against a one-file template copied the same way.

Every nox here is a nox installed alone, as a generated project's README says (`pip install nox`): the
sessions install what they need themselves, and a warm start must not run an installer.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomlkit
from rich.console import Console
from rich.table import Table

from template_tools import matrix, sidroot
from template_tools.render import render_project

REPO_DIR = matrix.REPO_DIR
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def run(argv: list[str], fails: bool = False, **kwargs) -> float:
    """Run a command; its seconds, or the end of its output when it fails (unless it `fails` as meant:
    then when it succeeds)."""
    started = time.perf_counter()
    result = subprocess.run(argv, check=False, capture_output=True, text=True, **kwargs)
    if (result.returncode != 0) != fails:
        raise SystemExit(f"`{' '.join(argv)}` failed:\n{(result.stdout + result.stderr)[-4000:]}")
    return time.perf_counter() - started


def median_seconds(argv: list[str], runs: int = RUNS, **kwargs) -> float:
    return statistics.median(run(argv, **kwargs) for _ in range(runs))


def interleaved_medians(commands: dict[str, tuple[list[str], dict]]) -> dict[str, float]:
    """name -> (argv, run's keyword arguments): each command once per round, RUNS rounds, so that the
    machine's load moves all of them alike; the median seconds of each."""
    seconds = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, (argv, kwargs) in commands.items():
            seconds[name].append(run(argv, **kwargs))
    return {name: statistics.median(values) for name, values in seconds.items()}


def sid_release(root: Path):
    """The matrix release the sid root's emcc builds for."""
    emcc = sidroot.emcc_version(root)
    return next(release for release in matrix.load().releases.values() if release.emscripten == emcc)


def nox_alone(workdir: Path) -> list[str]:
    """A venv on this machine holding nox and nothing else; its `nox` command."""
    folder = workdir / "nox-alone-host"
    if not (folder / "bin" / "nox").exists():
        run([sys.executable, "-m", "venv", str(folder)])
        run([str(folder / "bin" / "pip"), "install", "-q", "nox>=2026.10.20"])
    return [str(folder / "bin" / "nox")]


def in_root(root: Path, workdir: Path, project: Path, mode: str, runs: int = RUNS) -> dict:
    result = sidroot.run(
        root,
        ["python", str(workdir / "in_root.py"), str(project), str(runs), mode],
        cwd=str(workdir),
        bind=workdir,
    )
    if result.returncode != 0:
        raise SystemExit(f"the build benchmark failed inside the sid root:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def build_figures(workdir: Path) -> dict:
    """Cases 1 and 2, measured inside the sid root by bench/in_root.py."""
    root = sidroot.ensure_root()
    release = sid_release(root)
    project = render_project(
        workdir / "bench-wasm", {"project_name": "bench-wasm", "pyodide_version": release.line}
    )
    shutil.copy(Path(__file__).with_name("in_root.py"), workdir / "in_root.py")
    return {
        **in_root(root, workdir, project, "measure"),
        "project": project,
        "root": root,
        "release": release,
    }


def wasm_test_figures(workdir: Path, project: Path, release) -> dict:
    """Case 3: `nox -s wasm_test` on the example suite vs Node booting the same Pyodide to import the module."""
    from pyo3_pyodide.runtime import browsers
    from pyo3_pyodide.runtime.npm import ensure_runtime

    nox = [*nox_alone(workdir), "-s", "wasm_test"]
    run(nox, cwd=project)  # fills the caches and the lock: not measured
    in_browser = {name: [*nox, "--", "--browser", name] for name in browsers.BROWSERS}
    for command in in_browser.values():
        run(command, cwd=project)
    [wheel] = (project / "dist").glob("*.whl")
    node = ["node", str(Path(__file__).with_name("boot_import.mjs")), str(ensure_runtime(release).folder)]
    (project / "bench_crash").mkdir(exist_ok=True)
    (project / "bench_crash" / "test_crash.py").write_text(CRASH_TESTS)
    crash, fail, after = (
        f"bench_crash/test_crash.py::{name}" for name in ("test_crash", "test_fail", "test_after")
    )
    return interleaved_medians(
        {
            "wasm_test": (nox, {"cwd": project}),
            "boot_import": ([*node, str(wheel), "bench_wasm"], {}),
            **{name: (command, {"cwd": project}) for name, command in in_browser.items()},
            "crash": ([*nox, "--", crash, after], {"cwd": project, "fails": True}),
            "fail": ([*nox, "--", fail, after], {"cwd": project, "fails": True}),
        }
    )


# Case 3's crash: the example's trap() (a WebAssembly `unreachable`: Pyodide's fatal error) vs a plain failure.
CRASH_TESTS = """
import bench_wasm


def test_crash():
    bench_wasm._core.trap()


def test_fail():
    assert bench_wasm.add(1, 1) == 3


def test_after():
    assert bench_wasm.add(1, 1) == 2
"""


def package_set_stand_in(workdir: Path, release) -> None:
    """Where Pyodide's CDN is out of reach (these machines) and no mirror is named, a local copy of the
    release's package set (its lock, PyPI's pytest and friends) stands in, as in the tests."""
    from pyo3_pyodide.resolve import pyodide_packages
    from pyo3_pyodide.runtime.npm import ensure_runtime

    if os.environ.get(pyodide_packages.BASE_URL_ENV):
        return
    sys.path.insert(0, str(REPO_DIR))
    from tests.helpers.package_mirror import folder_mirror

    mirror = folder_mirror(ensure_runtime(release), workdir / "package-set")
    os.environ[pyodide_packages.BASE_URL_ENV] = mirror


def edit(project: Path, count: int) -> None:
    """Change one line of src/lib.rs, as a developer would (a doc comment: cargo rebuilds the crate)."""
    lib = project / "src" / "lib.rs"
    text = lib.read_text()
    line = next(line for line in text.splitlines() if line.strip().startswith("///"))
    lib.write_text(text.replace(line, f"{line.split(' (edit')[0]} (edit {count})", 1))


def loop_figures(workdir: Path, builds: dict) -> dict:
    """Case 4: the edit loop, wasm (build in the sid root, test in Node) vs native (`nox -s tests`)."""
    project, root = builds["project"], builds["root"]
    nox = nox_alone(workdir)
    run([*nox, "-s", "tests"], cwd=project)  # the native session's venv exists, as in a developer's day
    wasm, native = [], []
    for count in range(RUNS):
        edit(project, count)
        build = in_root(root, workdir, project, "build", 1)["seconds"]
        wasm.append(build + run([*nox, "-s", "wasm_test"], cwd=project))
        edit(project, count + RUNS)
        native.append(run([*nox, "-s", "tests"], cwd=project))
    return {"wasm": statistics.median(wasm), "native": statistics.median(native)}


def toolchain_figures(workdir: Path) -> dict:
    """Case 4: `nox -s toolchain` once to install, then warm, with every download served from 127.0.0.1."""
    sys.path.insert(0, str(REPO_DIR))
    from tests.helpers.mirrors import (
        MirrorServer,
        make_emsdk_repo,
        make_patches,
        make_rustup_home,
        xbuildenv_tarball,
    )

    rustc = subprocess.run(["rustup", "which", "rustc"], capture_output=True, text=True, check=True)
    toolchain_dir = Path(rustc.stdout.strip()).parents[1]
    version = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True)
    rust_version = version.stdout.split()[1]
    project = render_project(workdir / "bench-toolchain", {"project_name": "bench-toolchain"})
    with MirrorServer() as mirror:
        body = xbuildenv_tarball(make_patches())
        url = mirror.serve("/xbuildenv.tar.bz2", body)
        # The project's own pins, pointed at the stand-ins (the real emsdk and tarballs are not reachable).
        pins = tomlkit.parse((project / "pyodide-matrix.toml").read_text())
        target = pins["release"][pins["default"]]
        target["rust_toolchain"] = rust_version
        target["xbuildenv_url"] = url
        target["xbuildenv_sha256"] = hashlib.sha256(body).hexdigest()
        (project / "pyodide-matrix.toml").write_text(tomlkit.dumps(pins))
        env = {
            **os.environ,
            "RUSTUP_HOME": str(make_rustup_home(workdir / "rustup", toolchain_dir, {rust_version: True})),
            "RUSTUP_DIST_SERVER": mirror.url("/rustup"),
            "PYO3_PYODIDE_CACHE": str(workdir / "cache"),
            "PYO3_PYODIDE_EMSDK_GIT": make_emsdk_repo(workdir / "emsdk-git"),
        }
        nox = [*nox_alone(workdir), "-s", "toolchain"]
        cold = run(nox, cwd=project, env=env)
        cold_requests = len(mirror.requests)
        warm = median_seconds(nox, cwd=project, env=env)
        warm_requests = len(mirror.requests) - cold_requests
    return {"cold": cold, "warm": warm, "warm_requests": warm_requests, "cold_requests": cold_requests}


def minimal_template(workdir: Path) -> Path:
    """copier's own floor: a template of one question and one file, in a git repository of its own."""
    template = workdir / "minimal-template"
    template.mkdir(exist_ok=True)
    (template / "copier.yml").write_text("project_name:\n  type: str\n")
    (template / "README.md.jinja").write_text("# {{ project_name }}\n")
    git = ["git", "-C", str(template), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    run([*git, "init", "-q"])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "-m", "minimal template"])
    return template


def copier_figures(workdir: Path) -> dict:
    """Case 6: `copier copy` as a user runs it, with every answer given, and the same for a one-file template
    (copier's own start, git clone and checkout), alternating."""
    copier = str(Path(sys.executable).with_name("copier"))
    argv = [copier, "copy", "--quiet", "--defaults", "--vcs-ref=HEAD"]
    minimal = minimal_template(workdir)
    times, floor, files = [], [], 0
    for attempt in range(RUNS):
        destination = workdir / f"copy-{attempt}"
        times.append(run([*argv, "--data", "project_name=Bench-Copy", str(REPO_DIR), str(destination)]))
        files = sum(1 for path in destination.rglob("*") if path.is_file())
        floor.append(
            run([*argv, "--data", "project_name=floor", str(minimal), str(workdir / f"floor-{attempt}")])
        )
    return {"seconds": statistics.median(times), "files": files, "floor": statistics.median(floor)}


def table(builds: dict, tests: dict, loop: dict, toolchain: dict, copy: dict) -> Table:
    from pyo3_pyodide.runtime import browsers

    view = Table(title=f"pyo3-pyodide-template benchmarks, median of {RUNS} runs, nox installed alone")
    for column in ("measure", "this template", "baseline", "ratio", "goal"):
        view.add_column(column)
    baseline = builds["nox_empty"] + builds["bare_maturin"]
    view.add_row(
        "no-op `nox -s wasm_build`",
        f"{builds['nox_wasm_build']:.2f} s",
        f"{baseline:.2f} s (empty nox session {builds['nox_empty']:.2f} + bare maturin {builds['bare_maturin']:.2f})",
        f"{builds['nox_wasm_build'] / baseline:.2f}x",
        "<= 1.1x",
    )
    view.add_row(
        "first `nox -s wasm_build`, cold cargo target",
        f"{builds['first_build']:.1f} s",
        "- (std from source, the crate, the engine's first install)",
        "-",
        "-",
    )
    view.add_row(
        "extension size, release profile",
        f"{builds['size_template_profile']:,} B",
        f"{builds['size_default_profile']:,} B (cargo's default)",
        f"{builds['size_template_profile'] / builds['size_default_profile']:.3f}x",
        "<= 0.68x",
    )
    view.add_row(
        "`nox -s wasm_test`, example suite (Node)",
        f"{tests['wasm_test']:.2f} s",
        f"{tests['boot_import']:.2f} s (Node boots the same Pyodide, imports the module)",
        f"{tests['wasm_test'] / tests['boot_import']:.2f}x",
        "<= 1.5x",
    )
    for browser in browsers.BROWSERS.values():
        view.add_row(
            f"`nox -s wasm_test -- {browser.option}` ({browser.title})",
            f"{tests[browser.name]:.2f} s",
            f"{tests['boot_import']:.2f} s (the Node boot and import above)",
            f"{tests[browser.name] / tests['boot_import']:.2f}x",
            "<= 3x" if browser.name == "webkit" else "-",
        )
    view.add_row(
        "`nox -s wasm_test`: a test that crashes Pyodide, then one more (Node)",
        f"{tests['crash']:.2f} s",
        f"{tests['fail']:.2f} s (a test that fails, then the same one more)",
        f"{tests['crash'] / tests['fail']:.2f}x, +{tests['crash'] - tests['fail']:.2f} s",
        "+1 s at most (one snapshot restore)",
    )
    view.add_row(
        "edit loop: one line of src/lib.rs, `wasm_build` + `wasm_test`",
        f"{loop['wasm']:.2f} s",
        f"{loop['native']:.2f} s (`nox -s tests` after the same change)",
        f"{loop['wasm'] / loop['native']:.2f}x",
        "<= 2x",
    )
    view.add_row(
        "warm `nox -s toolchain` (managed, local stand-ins)",
        f"{toolchain['warm']:.2f} s, {toolchain['warm_requests']} requests",
        f"{toolchain['cold']:.2f} s, {toolchain['cold_requests']} requests (first run)",
        f"{toolchain['warm'] / toolchain['cold']:.2f}x",
        "about 1 s, no network",
    )
    view.add_row(
        "`copier copy`",
        f"{copy['seconds']:.2f} s for {copy['files']} files",
        f"{copy['floor']:.2f} s (a one-question, one-file template, copied the same way)",
        f"{copy['seconds'] / copy['floor']:.2f}x",
        "<= 1 s",
    )
    return view


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        workdir = Path(folder)
        copy = copier_figures(workdir)
        toolchain = toolchain_figures(workdir)
        builds = build_figures(workdir)
        package_set_stand_in(workdir, builds["release"])
        tests = wasm_test_figures(workdir, builds["project"], builds["release"])
        loop = loop_figures(workdir, builds)
    console = Console(width=200)
    console.print(table(builds, tests, loop, toolchain, copy))
    console.print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
