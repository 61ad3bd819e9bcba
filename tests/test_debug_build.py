"""`nox -s wasm_build -- --debug` (issue 15): a wheel whose trap names Rust functions inside Pyodide.

The example module has `trap()`, which stops the WebAssembly machine (`unreachable`): no exception, but a
fatal error of Pyodide with the JavaScript stack. The template's test of it runs only when asked for
(`nox -s wasm_test -- -k trap`). Built in the Debian root with the release profile, the stack shows bare
`wasm-function[N]` frames; with `--debug` (the cargo profile wasm-debug: the release profile keeping the
`name` section), the same frame carries the demangled Rust name. The audit says which build is which.
A project whose Cargo.toml lacks the profile (an adopted one) is told so, and gets it through cargo's
variables for that build.
"""

import re
import shutil
import time

import pytest
from pyo3_pyodide.project import Project
from pyo3_pyodide.wheel import audit, build

from template_tools import matrix, sidroot
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.project import nox, output_of

RELEASES = matrix.load().releases
SID_TARGET = real_builds.SID_RELEASE  # the release whose Emscripten the Debian root has
ANSWERS = {"project_name": "Trap-Demo", "module_name": "trapdemo", "pyodide_version": SID_TARGET.line}
TRAP_NAME = "_core::_core::trap"  # the demangled path of the #[pyfunction] `trap` in the name section
WASM_BUILD = ("nox", "-s", "wasm_build", "--", "--toolchain", "system")


def without_debug_profile(project):
    """Drop [profile.wasm-debug] from the project's Cargo.toml, as in a project that adopted the layer."""
    cargo_toml = project / "Cargo.toml"
    text = cargo_toml.read_text()
    start = text.index("# `nox -s wasm_build -- --debug` builds with this profile")
    cargo_toml.write_text(text[:start].rstrip() + "\n")
    assert "wasm-debug" not in cargo_toml.read_text()


def test_a_project_without_the_profile_is_told_and_gets_it_for_the_build(render):
    project = render(**ANSWERS)
    planned = nox(project, "-s", "wasm_build", "--", "--debug", "--dry-run")
    output = output_of(planned)
    assert planned.returncode == 0, output
    assert "maturin build --profile wasm-debug --target wasm32-unknown-emscripten" in output
    assert "CARGO_PROFILE_WASM_DEBUG" not in output and "has no [profile.wasm-debug]" not in output

    without_debug_profile(project)
    planned = nox(project, "-s", "wasm_build", "--", "--debug", "--dry-run")
    output = output_of(planned)
    assert planned.returncode == 0, output
    assert "Cargo.toml has no [profile.wasm-debug]: this build defines it through cargo's variables" in output
    assert build.debug_profile_toml() in output  # what to add to Cargo.toml
    for name, value in build.profile_env(build.DEBUG_PROFILE, build.DEBUG_PROFILE_SETTINGS).items():
        assert f"export {name}={value}" in output


def built(sid_root, project, *arguments, keep_as):
    """Run wasm_build in the root with `arguments`; the wheel it wrote, moved to `keep_as`/, its output and
    the seconds it took."""
    started = time.monotonic()
    result = sidroot.run(sid_root, [*WASM_BUILD, *arguments], cwd=str(project), bind=project)
    seconds = time.monotonic() - started
    label = f"{ANSWERS['project_name']} ({' '.join(arguments) or 'release'})"
    real_builds.record_build(label, SID_TARGET, sid_root, result)
    output = output_of(result)
    assert result.returncode == 0, output[-6000:]
    [wheel] = (project / "dist").glob("*.whl")
    (project / keep_as).mkdir()
    return shutil.move(wheel, project / keep_as / wheel.name), output, seconds


def trap_stack(project, wheel, env):
    """The stack Pyodide prints when the template's trap test runs alone with `wheel`."""
    result = nox(project, "-s", "wasm_test", "--", "--wheel", str(wheel), "-k", "trap", env=env)
    output = output_of(result)
    assert result.returncode != 0, output[-4000:]  # a fatal error: Pyodide is gone
    assert "Pyodide has suffered a fatal error" in output, output[-4000:]
    assert re.search(r"Pyodide crashed in \S+trap\S* \(RuntimeError: unreachable\)", output), output[-4000:]
    # The stack itself, not the one-line crash report that names the same cause.
    start = output.index("the stack where it crashed:\nRuntimeError: unreachable\n") + len(
        "the stack where it crashed:\n"
    )
    return output[start : start + 3000]


@pytest.mark.wasm
def test_debug_build_names_the_rust_function_in_the_traps_stack(sid_root, tmp_path, sid_test_env):
    project = render_project(tmp_path / "Trap-Demo", ANSWERS)
    release, release_output, release_seconds = built(sid_root, project, keep_as="release")
    debug, debug_output, debug_seconds = built(sid_root, project, "--debug", keep_as="debug")
    assert "--profile wasm-debug" in debug_output and "has no [profile.wasm-debug]" not in debug_output

    # The audit, as wasm_build printed it and as a report: which build is which, and the sizes.
    member = f"trapdemo/_core.cpython-{SID_TARGET.python_tag[2:]}-wasm32-emscripten.so"
    release_report = audit.audit_wheel(release, SID_TARGET)
    debug_report = audit.audit_wheel(debug, SID_TARGET)
    assert release_report.findings == [] and debug_report.findings == []
    [release_module] = release_report.extension_modules
    [debug_module] = debug_report.extension_modules
    assert release_module.member == debug_module.member == member
    assert release_module.debug_sections == ()
    assert [section.name for section in debug_module.debug_sections] == ["name"]
    names = debug_module.debug_sections[0].size
    debug_line = (
        f"{debug_module.size:,} bytes .*, debug build: function names \\(name section, {names:,} bytes\\)"
    )
    assert re.search(rf"{re.escape(member)}: {debug_line}", debug_output), debug_output[-3000:]
    assert re.search(rf"{re.escape(member)}: {release_module.size:,} bytes \([\d.,]+ KiB\)\n", release_output)
    assert "debug build" not in release_output
    # Names only: the code is the release build's, give or take a few bytes.
    assert abs(debug_module.budgeted_size - release_module.size) < 64
    print(
        f"release build {release_seconds:.0f} s, {release_module.size:,} bytes; debug build "
        f"{debug_seconds:.0f} s, {debug_module.size:,} bytes ({debug_module.debug_size:,} of them names)"
    )

    # The trap inside Pyodide in Node: the top frame is named in the debug build only.
    release_stack = trap_stack(project, release, sid_test_env)
    debug_stack = trap_stack(project, debug, sid_test_env)
    assert TRAP_NAME not in release_stack
    assert re.match(
        r"RuntimeError: unreachable\n\s+at wasm://wasm/[0-9a-f]+:wasm-function\[\d+\]", release_stack
    )
    first_frame = debug_stack.splitlines()[1]
    assert TRAP_NAME in first_frame and "wasm-function[" in first_frame, debug_stack
    print(f"release: {release_stack.splitlines()[1].strip()}\ndebug: {first_frame.strip()}")

    # An adopted project without the profile: told so, and the build gets it through cargo's variables.
    without_debug_profile(project)
    adopted, adopted_output, _ = built(sid_root, project, "--debug", keep_as="adopted")
    assert "Cargo.toml has no [profile.wasm-debug]" in adopted_output
    [adopted_module] = audit.audit_wheel(adopted, SID_TARGET).extension_modules
    assert [section.name for section in adopted_module.debug_sections] == ["name"]


def test_the_template_defines_the_debug_profile_the_engine_would(render, tmp_path):
    import tomllib

    project = render(project_name="debug-profile")
    cargo_toml = tomllib.loads((project / "Cargo.toml").read_text())
    assert cargo_toml["profile"]["wasm-debug"] == build.DEBUG_PROFILE_SETTINGS
    assert tomllib.loads(build.debug_profile_toml())["profile"]["wasm-debug"] == build.DEBUG_PROFILE_SETTINGS
    assert cargo_toml["profile"]["release"]["strip"] is True  # the release profile stays small
    assert build.debug_profile_defined(Project.read(project))
    # An adopted project without the table, then one whose profiles live in its workspace root.
    text = (project / "Cargo.toml").read_text()
    (project / "Cargo.toml").write_text(text.split("[profile.wasm-debug]")[0])
    assert not build.debug_profile_defined(Project.read(project))
    workspace = tmp_path / "ws"
    (workspace / "crates" / "py").mkdir(parents=True)
    (workspace / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["crates/py"]\n\n' + build.debug_profile_toml() + "\n"
    )
    (workspace / "crates" / "py" / "Cargo.toml").write_text('[package]\nname = "py"\nversion = "0.1.0"\n')
    (workspace / "pyproject.toml").write_text('[tool.maturin]\nmanifest-path = "crates/py/Cargo.toml"\n')
    assert build.debug_profile_defined(Project.read(workspace))
