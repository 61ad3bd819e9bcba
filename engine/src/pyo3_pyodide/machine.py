"""`nox -s doctor`: check this machine against the target release's pins, one line per check with the fix.

It reports the toolchain provider's own checks, those its builds run (the system provider: the wrong emcc,
the wrong Rust or a missing std, a missing wasm-eh sysroot; the managed one: what it has yet to install),
and the pitfalls that otherwise fail late or silently: -pthread, -sSIDE_MODULE=1 or -fno-PIC in some flags,
a RUSTFLAGS variable that replaces .cargo/config.toml, a crate MSRV newer than the pinned Rust, no Node for
the tests, built wheels whose tags the target runtime rejects, and a last build whose link failed on C code
compiled without -fPIC.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

from pyo3_pyodide.matrix import Release
from pyo3_pyodide.project import Project
from pyo3_pyodide.runtime import browsers
from pyo3_pyodide.runtime_info import RuntimeSetupError
from pyo3_pyodide.toolchain import system
from pyo3_pyodide.toolchain.model import TARGET, Check, Provider, ToolchainError
from pyo3_pyodide.wheel import audit
from pyo3_pyodide.wheel import build as wheel_build
from pyo3_pyodide.wheel.build import OVERRIDING_RUSTFLAGS_VARS, RUSTFLAGS_VAR, TARGET_SUFFIX

# Flags that break a Pyodide extension module, with why and what to do instead.
BAD_FLAGS = {
    "-pthread": "Pyodide has no threads: a module built with -pthread fails to load. Remove it",
    "-sSIDE_MODULE=1": "Rust side modules need -sSIDE_MODULE=2 (with =1 emcc tries to link lib.rmeta). "
    "Use -sSIDE_MODULE=2",
    "-sUSE_PTHREADS": "Pyodide has no threads. Remove it",
    "-sSHARED_MEMORY": "Pyodide's memory is not shared. Remove it",
    "-fno-PIC": "a side module needs position-independent code (else R_WASM_MEMORY_ADDR_SLEB link "
    "errors). Remove it",
    "-fno-pic": "a side module needs position-independent code (else R_WASM_MEMORY_ADDR_SLEB link "
    "errors). Remove it",
}
FLAG_VARS = (
    *OVERRIDING_RUSTFLAGS_VARS,
    RUSTFLAGS_VAR,
    "EMCC_CFLAGS",
    "CFLAGS",
    "CXXFLAGS",
    f"CFLAGS_{TARGET}",
    f"CFLAGS_{TARGET_SUFFIX}",
    f"CXXFLAGS_{TARGET}",
    f"CXXFLAGS_{TARGET_SUFFIX}",
    "TARGET_CFLAGS",
    "TARGET_CXXFLAGS",
    "LDFLAGS",
)
NODE_MINIMUM = (18, 0)


def flag_findings(source: str, flags: list[str]) -> Iterator[Check]:
    text = " ".join(flags)
    for bad, why in BAD_FLAGS.items():
        if bad in text:
            yield Check("flags", False, f"{source} contains {bad}", why)
    model = re.search(r"relocation-model=(\w+)", text)
    if model and model.group(1) != "pic":
        yield Check(
            "flags",
            False,
            f"{source} sets relocation-model={model.group(1)}: side modules need "
            "position-independent code (else R_WASM_TABLE_INDEX_SLEB link errors)",
            "remove it (pic is the target's default)",
        )


def check_flags(release: Release, environ: Mapping[str, str], project_dir: Path) -> Iterator[Check]:
    for name in OVERRIDING_RUSTFLAGS_VARS:
        if environ.get(name):
            yield Check(
                "RUSTFLAGS",
                False,
                f"{name} is set: cargo then silently ignores the rustflags "
                "of .cargo/config.toml and pyodide-matrix.toml",
                f"`unset {name}`",
            )
    found = False
    for name in FLAG_VARS:
        for check in flag_findings(f"${name}", shlex.split(environ.get(name, ""))):
            found = True
            yield check
    config = project_dir / ".cargo" / "config.toml"
    if config.is_file():
        section = tomllib.loads(config.read_text()).get("target", {}).get(TARGET, {})
        for check in flag_findings(str(config.relative_to(project_dir)), section.get("rustflags", [])):
            found = True
            yield check
    for check in flag_findings("pyodide-matrix.toml", list(release.rustflags)):
        found = True
        yield check
    if not found:
        yield Check("flags", True, "no -pthread, -sSIDE_MODULE=1 or non-pic code in any flags")


def check_msrv(release: Release, project: Project) -> Check:
    msrv = project.rust_version()  # the crate maturin builds: manifest-path's in a workspace
    if not msrv:
        return Check("msrv", True, "Cargo.toml sets no rust-version", blocker=False)
    wanted = tuple(int(part) for part in (msrv.split(".") + ["0", "0"])[:3])
    pinned = system.pinned_rust_version(release.rust_toolchain)
    if wanted > pinned:
        return Check(
            "msrv",
            False,
            f"Cargo.toml's rust-version {msrv} is newer than the pinned Rust "
            f"{release.rust_toolchain} (Rust {'.'.join(map(str, pinned[:2]))})",
            "lower rust-version (and what needs it), or target a newer Pyodide line",
        )
    return Check("msrv", True, f"rust-version {msrv} fits Rust {release.rust_toolchain}")


def check_node(env: Mapping[str, str]) -> Check:
    node = system.find("node", env)
    fix = f"install Node.js >= {NODE_MINIMUM[0]} (it runs Pyodide for `nox -s wasm_test`)"
    if not node:
        return Check("node", False, "not found on PATH", fix, blocker=False)
    try:
        version = system.run_text([node, "--version"], env).lstrip("v")
    except ToolchainError as error:
        return Check("node", False, str(error), fix, blocker=False)
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    return Check("node", major_minor >= NODE_MINIMUM, f"{node} is Node {version}", fix, blocker=False)


def check_browsers(env: Mapping[str, str]) -> Iterator[Check]:
    """The installed browsers `wasm_test` can drive (it downloads none), found as wasm_test finds them; a
    missing one is a warning with wasm_test's own message."""
    for browser in browsers.BROWSERS.values():
        try:
            programs = ", ".join(browser.programs(env).values())
        except RuntimeSetupError as error:
            yield Check(browser.name, False, str(error), blocker=False)
        else:
            yield Check(
                browser.name, True, f"{programs}, for `nox -s wasm_test -- {browser.option}`", blocker=False
            )


def check_built_wheels(release: Release, project_dir: Path) -> Check:
    """Whether dist/ holds a wheel the target runtime accepts (wheels for other lines may sit beside it)."""
    wheels = sorted((project_dir / "dist").glob("*.whl"))
    if not wheels:
        return Check("wheels", True, "no wheels in dist/ yet", blocker=False)
    fitting = [wheel for wheel in wheels if not audit.tag_problems(wheel.name, release)]
    if fitting:
        return Check("wheels", True, f"dist/{fitting[-1].name} fits Pyodide {release.version}")
    return Check(
        "wheels",
        False,
        f"no wheel in dist/ has the tags Pyodide {release.version} accepts "
        f"({release.python_tag}, {release.platform_tag}); found {', '.join(w.name for w in wheels)}",
        f"`nox -s wasm_build -- --pyodide {release.version}`",
        blocker=False,
    )


def check_last_build(release: Release, project_dir: Path, environ: Mapping[str, str]) -> list[Check]:
    """What the output of the last `nox -s wasm_build` for `release` says, when it failed to link."""
    log = wheel_build.build_log(project_dir, release)
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []  # no build yet, or one from before builds kept their output
    code = re.search(r"^exit code (-?\d+)$", text, re.MULTILINE)
    if code and code.group(1) == "0":
        return [Check("build", True, f"the last wasm_build for Pyodide {release.version} succeeded")]
    problem = wheel_build.link_problem(text)
    if problem is None:
        return [
            Check(
                "build",
                False,
                f"the last wasm_build for Pyodide {release.version} failed (its output: {log})",
                "read the first error in that output",
                blocker=False,
            )
        ]
    fixed = not problem.rust and "-fPIC" in shlex.split(environ.get("EMCC_CFLAGS", ""))
    cause, _, fix = problem.describe(debug=f"--profile {wheel_build.DEBUG_PROFILE}" in text).partition(
        " Fix: "
    )
    return [
        Check(
            "build",
            False,
            f"the last wasm_build for Pyodide {release.version} failed ({log}): {cause}"
            + (" (EMCC_CFLAGS now holds -fPIC: clean that package and build again)" if fixed else ""),
            fix,
            blocker=not fixed,
        )
    ]


def run_checks(
    release: Release, project: Project, environ: Mapping[str, str], provider: Provider
) -> list[Check]:
    """Every check: the toolchain provider's own (those its builds run), then the rest; `environ` is the
    user's environment."""
    project_dir = project.folder
    return [
        *provider.checks(release, project.matrix.releases, environ),
        *check_flags(release, environ, project_dir),
        check_msrv(release, project),
        check_node(environ),
        *check_browsers(environ),
        check_built_wheels(release, project_dir),
        *check_last_build(release, project_dir, environ),
    ]
