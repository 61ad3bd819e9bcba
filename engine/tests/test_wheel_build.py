"""The maturin command and environment that `nox -s wasm_build` runs, for every release of the matrix."""

import shlex
from pathlib import Path

import pytest
from pyo3_pyodide.toolchain.model import Toolchain, ToolchainError
from pyo3_pyodide.wheel import build

from template_tools import matrix

MATRIX = matrix.load()
[PRERELEASE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]


@pytest.mark.parametrize("version", list(MATRIX.releases))
def test_plan_for_every_release(version):
    release = MATRIX.releases[version]
    toolchain = Toolchain(provider="managed", release=release, env={"EMSDK": "/cache/emsdk"})
    plan = build.plan_build(toolchain, Path("/p/dist"))
    assert plan.argv == (
        "maturin", "build", "--release", "--target", "wasm32-unknown-emscripten",
        "-i", f"python{release.python}", "--out", "/p/dist",
    )  # fmt: skip
    assert shlex.split(plan.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"]) == list(
        release.rustflags
    )
    assert "RUSTFLAGS" not in plan.env
    assert plan.env["EMSDK"] == "/cache/emsdk"
    if release.platform_tag.startswith("pyemscripten_"):
        assert plan.env["MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION"] == release.abi
        assert plan.unset == ("PYODIDE_ABI_VERSION",)
    else:
        # Without a PEP 783 platform version maturin writes the emscripten_X_Y_Z tag this release's micropip takes.
        assert "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION" not in plan.env
        assert plan.unset == ("MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")
    assert build.expected_tags(toolchain).startswith(f"{release.python_tag}-{release.python_tag} (or abi3)")


def test_build_std_and_toolchain_flags_are_added():
    release = PRERELEASE
    toolchain = Toolchain("system", release, {"RUSTC_BOOTSTRAP": "1"}, True, ("-C", "link-self-contained=no"))
    plan = build.plan_build(toolchain, Path("dist"))
    assert plan.argv[-1] == "-Zbuild-std=std,panic_abort,panic_unwind"
    assert plan.env["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"] == "-C link-self-contained=no"
    described = plan.describe()
    assert f"export MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION={release.abi}" in described
    assert described.splitlines()[-1].startswith("maturin build --release")


def test_environment_removes_stale_platform_variables_and_refuses_rustflags():
    # A release with a pre-PEP 783 tag: maturin must see neither variable.
    release = next(release for release in MATRIX.releases.values() if release.pep783_platform_version is None)
    plan = build.plan_build(Toolchain("managed", release), Path("dist"))
    environ = {
        "PATH": "/bin",
        "PYODIDE_ABI_VERSION": "2026_0",
        "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION": "2026_0",
    }
    env = build.build_environment(plan, environ)
    assert "PYODIDE_ABI_VERSION" not in env and "MATURIN_PYEMSCRIPTEN_PLATFORM_VERSION" not in env
    with pytest.raises(ToolchainError, match=r"RUSTFLAGS='-C opt-level=3' is set: cargo would then ignore"):
        build.build_environment(plan, {"RUSTFLAGS": "-C opt-level=3"})


# C and C++ in dependencies: the `cc` crate's variables for the wasm target only, with -fPIC

TARGET_U = "wasm32_unknown_emscripten"
HOST_SAFE = ("CC", "CXX", "AR", "CFLAGS", "CXXFLAGS", "TARGET_CC", "TARGET_CFLAGS", "TARGET_CXXFLAGS")


@pytest.mark.parametrize("version", list(MATRIX.releases))
def test_c_compilers_are_the_toolchains_and_compile_position_independent_code(version):
    release = MATRIX.releases[version]
    managed = Toolchain("managed", release, {"EMSDK": "/cache/emsdk/x", "PATH": "/cache/emsdk/x:/bin"})
    system = Toolchain("system", release, {"CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER": "/usr/bin/emcc"})
    for toolchain, folder in ((managed, "/cache/emsdk/x/upstream/emscripten"), (system, "/usr/bin")):
        plan = build.plan_build(toolchain, Path("dist"))
        assert {name: plan.env[f"{name}_{TARGET_U}"] for name in ("CC", "CXX", "AR")} == {
            "CC": f"{folder}/emcc",
            "CXX": f"{folder}/em++",
            "AR": f"{folder}/emar",
        }
        assert plan.env[f"CFLAGS_{TARGET_U}"] == plan.env[f"CXXFLAGS_{TARGET_U}"] == "-fPIC"
        # The host's compilers and flags (build scripts, proc-macros) are left alone.
        env = build.build_environment(plan, {"PATH": "/bin", "CC": "gcc", "CFLAGS": "-O2"})
        assert (env["CC"], env["CFLAGS"]) == ("gcc", "-O2")
        assert not set(HOST_SAFE) & set(plan.env)
        assert env[f"CFLAGS_{TARGET_U}"] == env[f"CXXFLAGS_{TARGET_U}"] == "-fPIC"
    # Without a known folder, the names are looked up on PATH.
    plain = build.plan_build(Toolchain("system", release, {}), Path("dist"))
    assert plain.env[f"CC_{TARGET_U}"] == "emcc" and plain.env[f"AR_{TARGET_U}"] == "emar"
    assert f"export CFLAGS_{TARGET_U}=-fPIC" in plain.describe()


def test_a_users_own_target_flags_and_compilers_are_kept():
    release = PRERELEASE
    plan = build.plan_build(Toolchain("system", release, {}), Path("dist"))
    env = build.build_environment(
        plan,
        {
            f"CFLAGS_{TARGET_U}": "-DNDEBUG -Os",
            f"CXXFLAGS_{TARGET_U}": "-fno-exceptions -fPIC",
            "TARGET_CFLAGS": "-DTARGET",  # cc after 1.2 adds these before CFLAGS_<target>'s
            "CFLAGS": "-O2",
            f"CC_{TARGET_U}": "/opt/emsdk/emcc",
        },
    )
    assert env[f"CFLAGS_{TARGET_U}"] == "-DNDEBUG -Os -fPIC"  # appended, not replaced
    assert env[f"CXXFLAGS_{TARGET_U}"] == "-fno-exceptions -fPIC"  # no second -fPIC
    assert (env["CFLAGS"], env["TARGET_CFLAGS"]) == ("-O2", "-DTARGET")
    assert env[f"CC_{TARGET_U}"] == "/opt/emsdk/emcc" and env[f"CXX_{TARGET_U}"] == "em++"
    # cc up to 1.2 takes the dashed spelling first, instead of the others: -fPIC goes there when it is set.
    dashed = build.build_environment(plan, {"CFLAGS_wasm32-unknown-emscripten": "-g"})
    assert dashed["CFLAGS_wasm32-unknown-emscripten"] == "-g -fPIC"
    assert f"CFLAGS_{TARGET_U}" not in dashed and dashed[f"CXXFLAGS_{TARGET_U}"] == "-fPIC"


def test_a_link_of_position_dependent_code_is_explained():
    # wasm-ld's words for C code compiled without -fPIC: a -sys crate's (FACTS, checked 2026-12-01), and
    # one whose build.rs runs emcc itself (seen in tests/test_c_dependencies.py), with the build script's
    # folder that names the package.
    zstd = (
        "error: linking with `emcc` failed: exit status: 1\n"
        "  = note: wasm-ld: error: /p/target/wasm32-unknown-emscripten/release/deps/libzstd_sys-0123abcd.rlib"
        "(zstd_common.o): relocation R_WASM_MEMORY_ADDR_SLEB cannot be used against symbol `.L.str.1`; "
        "recompile with -fPIC\n"
        '"-L" "/p/target/wasm32-unknown-emscripten/release/build/zstd-sys-0123456789abcdef/out"\n'
    )
    problem = build.link_problem(zstd)
    assert (problem.package, problem.member, problem.rust) == ("zstd-sys", "zstd_common.o", False)
    text = problem.describe()
    assert "relocation R_WASM_MEMORY_ADDR_SLEB cannot be used against symbol `.L.str.1`" in text
    assert "The object zstd_common.o comes from the package zstd-sys." in text
    assert "`cargo clean -p zstd-sys --release --target wasm32-unknown-emscripten`" in text
    assert "`EMCC_CFLAGS=-fPIC nox -s wasm_build`" in text and "-DCMAKE_POSITION_INDEPENDENT_CODE=ON" in text
    assert "`cargo clean -p zstd-sys --profile wasm-debug --target" in problem.describe(debug=True)
    # Without the build folder, the crate name stands in; colours and the LEB form count too.
    handmade = build.link_problem(
        "\x1b[31mwasm-ld-21: error: /t/deps/rustcX/libhandmade_sys-2db3.rlib(colours.o): relocation "
        "R_WASM_MEMORY_ADDR_LEB cannot be used against symbol `COLOURS`; recompile with -fPIC\x1b[0m"
    )
    assert (handmade.package, handmade.member) == ("handmade_sys", "colours.o")
    rust = build.link_problem(
        "wasm-ld: error: /t/deps/_core._core.1-cgu.0.rcgu.o: relocation R_WASM_TABLE_INDEX_SLEB cannot be "
        "used against symbol `f`; recompile with -fPIC"
    )
    assert rust.rust and "remove `-C relocation-model=...`" in rust.describe()
    assert build.link_problem("error[E0463]: can't find crate for `core`") is None


# --debug: the cargo profile wasm-debug


def test_debug_plan_uses_the_profile_and_defines_it_only_where_cargo_toml_lacks_it():
    release = PRERELEASE
    toolchain = Toolchain("managed", release)
    plan = build.plan_build(toolchain, Path("dist"), debug=True)
    assert plan.argv[2:4] == ("--profile", "wasm-debug") and "--release" not in plan.argv
    assert not [name for name in plan.env if name.startswith("CARGO_PROFILE_")]
    adopted = build.plan_build(toolchain, Path("dist"), debug=True, debug_profile_in_cargo_toml=False)
    assert {name: value for name, value in adopted.env.items() if name.startswith("CARGO_PROFILE_")} == {
        "CARGO_PROFILE_WASM_DEBUG_INHERITS": "release",
        "CARGO_PROFILE_WASM_DEBUG_DEBUG": "line-tables-only",
        "CARGO_PROFILE_WASM_DEBUG_STRIP": "false",
    }
    assert build.plan_build(toolchain, Path("dist")).argv[2] == "--release"
