"""C and C++ in a project's dependencies (issue 12), built for real in the Debian root and run in Pyodide.

A rendered project gains a path dependency, `numbers`, whose build.rs compiles a C file and a C++ file with
string tables through the `cc` crate (from crates.io), and `#[pyfunction]`s that call them. The code that
loads a table's address needs a relocation that a side module only allows in position-independent code:
without -fPIC, wasm-ld stops with "relocation R_WASM_MEMORY_ADDR_... cannot be used against symbol ...;
recompile with -fPIC" (FACTS: zstd-sys, lz4-sys, bzip2-sys, lzma-sys). wasm_build gives the `cc` crate the
target's emcc, em++ and emar and -fPIC, scoped to the wasm target. Then a second dependency,
`handmade-sys`, builds its C library with emcc itself, as a -sys crate's own build system would, and ignores
those flags: the build fails, wasm_build and doctor name the cause and the fix, and the fix they name works.
The project's own tests of the tables then pass inside Pyodide in Node.
"""

import re
import time

import pytest
from pyo3_pyodide.wheel import build

from template_tools import matrix, sidroot
from template_tools.render import render_project
from tests.helpers import real_builds
from tests.helpers.project import nox, output_of

RELEASES = matrix.load().releases
SID_TARGET = real_builds.SID_RELEASE  # the release whose Emscripten the Debian root has
ANSWERS = {"project_name": "C-Tables", "module_name": "ctables", "pyodide_version": SID_TARGET.line}
TARGET_U = build.TARGET_SUFFIX

NUMBERS_CARGO = """[package]
name = "numbers"
version = "0.1.0"
edition = "2021"
publish = false

[build-dependencies]
cc = "1.2"
"""
NUMBERS_BUILD = """fn main() {
    println!("cargo:rerun-if-changed=c");
    cc::Build::new().file("c/names.c").compile("names");
    cc::Build::new()
        .cpp(true)
        .cpp_link_stdlib(None)
        .file("c/ordinals.cpp")
        .compile("ordinals");
}
"""
NAMES_C = """/* A string table: the code that loads NAMES' address needs a relocation. */
static const char *const NAMES[] = {"zero", "one", "two", "three", "four",
                                    "five", "six", "seven", "eight", "nine"};

const char *number_name(unsigned int n) { return n < 10 ? NAMES[n] : 0; }
"""
ORDINALS_CPP = """namespace {
const char *const ORDINALS[] = {"zeroth", "first", "second", "third"};
}

extern "C" const char *ordinal_name(unsigned int n) { return n < 4 ? ORDINALS[n] : nullptr; }
"""
NUMBERS_LIB = """use std::ffi::{c_char, c_uint, CStr};

extern "C" {
    fn number_name(n: c_uint) -> *const c_char;
    fn ordinal_name(n: c_uint) -> *const c_char;
}

fn text(pointer: *const c_char) -> Option<String> {
    if pointer.is_null() {
        return None;
    }
    // SAFETY: the tables hold NUL-terminated string literals, which live as long as the program.
    Some(unsafe { CStr::from_ptr(pointer) }.to_string_lossy().into_owned())
}

/// The English name of a digit, from a string table in C.
pub fn name(n: u32) -> Option<String> {
    text(unsafe { number_name(n) })
}

/// The ordinal of 0 to 3, from a string table in C++.
pub fn ordinal(n: u32) -> Option<String> {
    text(unsafe { ordinal_name(n) })
}
"""
# A -sys crate whose C library comes from a build system of its own: like a Makefile, it calls emcc and emar
# by name with its own flags only, and does not rerun when the environment changes.
HANDMADE_CARGO = """[package]
name = "handmade-sys"
version = "0.1.0"
edition = "2021"
publish = false
links = "colours"
"""
HANDMADE_BUILD = """use std::env;
use std::path::PathBuf;
use std::process::Command;

fn run(command: &mut Command) {
    let status = command.status().expect("could not start the C build");
    assert!(status.success(), "{command:?} failed");
}

fn main() {
    println!("cargo:rerun-if-changed=c");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let object = out.join("colours.o");
    run(Command::new("emcc").args(["-O2", "-c", "c/colours.c", "-o"]).arg(&object));
    run(Command::new("emar").arg("rcs").arg(out.join("libcolours.a")).arg(&object));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=colours");
}
"""
COLOURS_C = """static const char *const COLOURS[] = {"red", "green", "blue"};

const char *colour_name(unsigned int n) { return n < 3 ? COLOURS[n] : 0; }
"""
HANDMADE_LIB = """use std::ffi::{c_char, c_uint, CStr};

extern "C" {
    fn colour_name(n: c_uint) -> *const c_char;
}

/// A colour's name, from a C library built by a build system of its own.
pub fn colour(n: u32) -> Option<String> {
    let pointer = unsafe { colour_name(n) };
    if pointer.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string literal of the C library.
    Some(unsafe { CStr::from_ptr(pointer) }.to_string_lossy().into_owned())
}
"""
FUNCTIONS = """
    /// The name of a digit, from C (the `numbers` crate).
    #[pyfunction]
    fn number_name(n: u32) -> Option<String> {
        numbers::name(n)
    }

    /// An ordinal, from C++ (the `numbers` crate).
    #[pyfunction]
    fn ordinal_name(n: u32) -> Option<String> {
        numbers::ordinal(n)
    }
"""
HANDMADE_FUNCTION = """
    /// A colour, from C that a -sys crate's own build system compiled.
    #[pyfunction]
    fn colour_name(n: u32) -> Option<String> {
        handmade_sys::colour(n)
    }
"""
TEST_TABLES = """import pytest

from ctables import _core


def test_c_string_table():
    assert [_core.number_name(n) for n in (0, 3, 9)] == ["zero", "three", "nine"]
    assert _core.number_name(10) is None


def test_cpp_string_table():
    assert _core.ordinal_name(2) == "second"
    assert _core.ordinal_name(4) is None


def test_c_library_of_its_own_build_system():
    # Only once handmade-sys is added: the run before deselects it by name (-k), so nothing skips.
    assert [_core.colour_name(n) for n in range(4)] == ["red", "green", "blue", None]
"""


def add_crate(project, folder, files, dependency, functions):
    """Write a path dependency crate into the project, depend on it and call it from `mod _core`."""
    for name, text in files.items():
        path = project / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cargo_toml = project / "Cargo.toml"
    assert cargo_toml.read_text().count("[dependencies]\n") == 1
    cargo_toml.write_text(
        cargo_toml.read_text().replace("[dependencies]\n", f"[dependencies]\n{dependency}\n")
    )
    lib = project / "src" / "lib.rs"
    assert lib.read_text().count("mod _core {\n") == 1
    lib.write_text(lib.read_text().replace("mod _core {\n", "mod _core {\n" + functions))


def in_root(sid_root, project, *argv, env=None):
    """Run a command in the project inside the Debian root; (result, seconds)."""
    started = time.monotonic()
    result = sidroot.run(sid_root, list(argv), cwd=str(project), bind=project, env=env)
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def c_project(sid_root, tmp_path_factory):
    """The project with `numbers` (C and C++ through the cc crate), built by `nox -s wasm_build -- --toolchain
    system` in the root: (project, result, seconds)."""
    project = render_project(tmp_path_factory.mktemp("c-deps") / "C-Tables", ANSWERS)
    files = {
        "Cargo.toml": NUMBERS_CARGO,
        "build.rs": NUMBERS_BUILD,
        "c/names.c": NAMES_C,
        "c/ordinals.cpp": ORDINALS_CPP,
        "src/lib.rs": NUMBERS_LIB,
    }
    add_crate(project, "numbers", files, 'numbers = { path = "numbers" }', FUNCTIONS)
    (project / "tests" / "test_tables.py").write_text(TEST_TABLES)
    result, seconds = in_root(sid_root, project, "nox", "-s", "wasm_build", "--", "--toolchain", "system")
    real_builds.record_build(ANSWERS["project_name"], SID_TARGET, sid_root, result)
    return project, result, seconds


def pyodide_counts(output):
    found = re.findall(r"^wasm_test: pytest exited with (\d+) inside Pyodide .*: (.*)$", output, re.MULTILINE)
    assert len(found) == 1, output[-4000:]
    code, counts = found[0]
    return int(code), {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", counts)}


@pytest.mark.wasm
def test_c_and_cpp_through_the_cc_crate_link_and_run_in_pyodide(c_project, sid_test_env):
    project, result, seconds = c_project
    output = output_of(result)
    assert result.returncode == 0, output[-6000:]
    assert "Compiling numbers v0.1.0" in output
    assert re.search(r"ctables/_core\.cpython-\d+-wasm32-emscripten\.so: [\d,]+ bytes", output)
    assert re.search(r"c_tables-0\.1\.0-.*\.whl: [\d,]+ bytes .*: ok", output), output[-3000:]
    # What the cc crate read, as its build script recorded it: the target's emcc, em++, emar and -fPIC,
    # under the target's names only (the host's CC and CFLAGS stay unset).
    [recorded] = (project / "target").glob(f"{build.TARGET}/release/build/numbers-*/output")
    lines = recorded.read_text()
    for name, value in (
        ("CC", "/usr/bin/emcc"),
        ("CXX", "/usr/bin/em++"),
        ("AR", "/usr/bin/emar"),
        ("CFLAGS", "-fPIC"),
        ("CXXFLAGS", "-fPIC"),
    ):
        assert f"{name}_{TARGET_U} = Some({value})" in lines, lines
    assert "\nCFLAGS = None\n" in lines and "\nTARGET_CFLAGS = None\n" in lines
    print(f"build with C and C++ dependencies: {seconds:.1f} s")

    tested = nox(
        project,
        "-s",
        "wasm_test",
        "--",
        "tests/test_tables.py",
        "-v",
        "-k",
        "not own_build_system",
        env=sid_test_env,
    )
    output = output_of(tested)
    assert tested.returncode == 0, output[-6000:]
    assert pyodide_counts(output) == (0, {"passed": 2, "failed": 0})
    assert "test_tables.py::test_c_string_table PASSED" in output
    assert "test_tables.py::test_cpp_string_table PASSED" in output


@pytest.mark.wasm
def test_c_of_a_build_system_of_its_own_is_explained_and_the_fix_works(sid_root, c_project, sid_test_env):
    project, result, _ = c_project
    assert result.returncode == 0, output_of(result)[-3000:]
    files = {"Cargo.toml": HANDMADE_CARGO, "build.rs": HANDMADE_BUILD, "c/colours.c": COLOURS_C}
    files["src/lib.rs"] = HANDMADE_LIB
    add_crate(project, "handmade-sys", files, 'handmade-sys = { path = "handmade-sys" }', HANDMADE_FUNCTION)

    failed, _ = in_root(sid_root, project, "nox", "-s", "wasm_build", "--", "--toolchain", "system")
    output = output_of(failed)
    assert failed.returncode != 0, output[-3000:]
    reason = output[output.index("maturin failed with exit code") :]
    assert re.search(r"relocation R_WASM_MEMORY_ADDR_S?LEB cannot be used against symbol `COLOURS`", reason)
    assert "The object colours.o comes from the package handmade-sys." in reason
    clean = f"cargo clean -p handmade-sys --release --target {build.TARGET}"
    assert f"`{clean}`, then `EMCC_CFLAGS=-fPIC nox -s wasm_build`" in reason

    doctor, _ = in_root(sid_root, project, "nox", "-s", "doctor", "--", "--toolchain", "system")
    report = output_of(doctor)
    assert doctor.returncode != 0, report[-3000:]
    [line] = [line for line in report.splitlines() if " build: " in line]
    assert line.startswith(f"FAIL build: the last wasm_build for Pyodide {SID_TARGET.version} failed (")
    assert "The object colours.o comes from the package handmade-sys." in line
    assert "Fix: give every emcc call -fPIC" in line and f"`{clean}`" in line

    # The fix as given: clean that package, then build with EMCC_CFLAGS=-fPIC.
    cleaned, _ = in_root(sid_root, project, *clean.split())
    assert cleaned.returncode == 0, output_of(cleaned)
    env = {"EMCC_CFLAGS": "-fPIC"}
    fixed, seconds = in_root(
        sid_root, project, "nox", "-s", "wasm_build", "--", "--toolchain", "system", env=env
    )
    assert fixed.returncode == 0, output_of(fixed)[-6000:]
    print(f"rebuild with EMCC_CFLAGS=-fPIC: {seconds:.1f} s")
    doctor, _ = in_root(sid_root, project, "nox", "-s", "doctor", "--", "--toolchain", "system", env=env)
    assert f"ok   build: the last wasm_build for Pyodide {SID_TARGET.version} succeeded" in output_of(doctor)

    tested = nox(project, "-s", "wasm_test", "--", "tests/test_tables.py", "-v", env=sid_test_env)
    output = output_of(tested)
    assert tested.returncode == 0, output[-6000:]
    assert pyodide_counts(output) == (0, {"passed": 3, "failed": 0})
    assert "test_tables.py::test_c_library_of_its_own_build_system PASSED" in output
