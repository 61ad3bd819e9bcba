"""The maturin command and environment that `nox -s wasm_build` runs, for every release of the matrix."""

import shlex
from pathlib import Path

import pytest
from pyo3_pyodide.cache import VENDOR_MERGED
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


# Vendored crates and std built from source (issue 19, item 3): with a folder of vendored crates replacing
# crates.io, a build of std from rust-src gets a folder in the cache linking both (the real build of a
# project that vendors its crates: tests/test_vendored.py).


CARGO_VENDOR_CONFIG = """[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "{directory}"
"""


def crates(folder: Path, *names: str) -> Path:
    """A folder of vendored crates as `cargo vendor` writes it: one folder per crate."""
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "Cargo.toml").write_text(f'[package]\nname = "{name}"\n')
    return folder


def write_config(folder: Path, text: str, name: str = "config.toml") -> Path:
    config = folder / ".cargo" / name
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return config


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_replacement_is_read_as_cargo_reads_it(tmp_path):
    home = {"CARGO_HOME": str(tmp_path / "cargo-home")}
    project = tmp_path / "repo" / "project"
    project.mkdir(parents=True)
    assert build.vendored_source(project, home) is None  # no config: crates.io itself
    # The folder is relative to the one holding `.cargo`, here a folder above the project.
    config = write_config(tmp_path / "repo", CARGO_VENDOR_CONFIG.format(directory="third-party"))
    found = build.vendored_source(project, home)
    assert found == build.VendoredSource("vendored-sources", tmp_path / "repo" / "third-party", config)
    # A config nearer the folder cargo runs in wins; `config` wins over `config.toml` in one folder.
    write_config(project, CARGO_VENDOR_CONFIG.format(directory="mine"))
    legacy = write_config(project, CARGO_VENDOR_CONFIG.format(directory="legacy"), name="config")
    assert build.vendored_source(project, home) == build.VendoredSource(
        "vendored-sources", project / "legacy", legacy
    )
    # The name and the folder may come from different files, CARGO_HOME's last.
    (project / ".cargo" / "config").unlink()
    write_config(project, '[source.crates-io]\nreplace-with = "offline"\n')
    in_home = tmp_path / "cargo-home" / "config.toml"
    in_home.parent.mkdir()
    in_home.write_text('[source.offline]\ndirectory = "/srv/crates"\n')
    assert build.vendored_source(project, home) == build.VendoredSource(
        "offline", Path("/srv/crates"), in_home
    )


def test_a_registry_replacement_is_not_a_folder(tmp_path):
    write_config(
        tmp_path,
        '[source.crates-io]\nreplace-with = "mirror"\n\n[source.mirror]\nregistry = "sparse+https://m/"\n',
    )
    assert build.vendored_source(tmp_path, {"CARGO_HOME": str(tmp_path / "none")}) is None


def test_the_merged_folder_links_both_and_is_made_once_per_listing(tmp_path, cache):
    project = crates(tmp_path / "vendor", "libc", "serde-1.0.0")
    (project / ".hidden").mkdir()
    (project / "README").write_text("not a crate")
    std = crates(tmp_path / "library" / "vendor", "cfg-if-1.0.4", "libc")
    merged = build.merged_vendor(project, std)
    assert merged.parent == cache / VENDOR_MERGED.name
    links = {entry.name: entry.readlink() for entry in merged.iterdir()}
    # The project's crate wins where both have a folder of that name; hidden folders and files are no crates.
    assert links == {
        "cfg-if-1.0.4": std / "cfg-if-1.0.4",
        "libc": project / "libc",
        "serde-1.0.0": project / "serde-1.0.0",
    }
    assert (merged / "cfg-if-1.0.4" / "Cargo.toml").is_file()
    # Kept: the same listing gives the same folder, untouched; a crate vendored later gives another one.
    stamp = merged.stat().st_mtime_ns
    assert build.merged_vendor(project, std) == merged and merged.stat().st_mtime_ns == stamp
    crates(project, "zstd-sys")
    again = build.merged_vendor(project, std)
    assert again != merged and (again / "zstd-sys").is_symlink()
    assert sorted(path.name for path in merged.parent.iterdir() if not path.name.endswith(".lock")) == sorted(
        [merged.name, again.name]
    )  # nothing half-made beside them


def build_std_toolchain(tmp_path: Path) -> Toolchain:
    std = crates(tmp_path / "sysroot" / "library" / "vendor", "cfg-if-1.0.4")
    return Toolchain("system", PRERELEASE, {"RUSTC_BOOTSTRAP": "1"}, True, (), std_vendor=std)


def test_a_build_of_std_from_source_gets_the_merged_folder_and_says_so(tmp_path, cache, monkeypatch):
    project = tmp_path / "project"
    crates(project / "include" / "cargo", "libc")
    config = write_config(project, CARGO_VENDOR_CONFIG.format(directory="include/cargo"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))
    toolchain = build_std_toolchain(tmp_path)
    plan = build.plan_build(toolchain, project / "dist", project_dir=project)
    [merged] = (cache / VENDOR_MERGED.name).glob("[0-9a-f]*[0-9a-f]")
    setting = f'source."vendored-sources".directory="{merged}"'
    assert plan.argv[-3:] == (build.BUILD_STD, "--config", setting)
    [note] = plan.notes
    assert note.startswith(f"vendored crates: {config} replaces crates.io with {project / 'include/cargo'};")
    assert str(merged) in note and str(toolchain.std_vendor) in note
    assert plan.describe().splitlines()[0] == f"# {note}"
    # The project's files are as they were.
    assert config.read_text() == CARGO_VENDOR_CONFIG.format(directory="include/cargo")
    # A toolchain with a prebuilt std resolves no std crates: the project's folder serves as it is.
    prebuilt = build.plan_build(Toolchain("managed", PRERELEASE), project / "dist", project_dir=project)
    assert "--config" not in prebuilt.argv and prebuilt.notes == ()


def test_a_build_without_vendored_crates_is_as_before(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))
    (tmp_path / "project").mkdir()
    plan = build.plan_build(build_std_toolchain(tmp_path), Path("dist"), project_dir=tmp_path / "project")
    assert plan.argv[-1] == build.BUILD_STD and plan.notes == ()
    assert not cache.exists()


def test_rust_src_without_std_dependencies_is_refused_with_the_fix(tmp_path, cache, monkeypatch):
    project = tmp_path / "project"
    crates(project / "vendor", "libc")
    write_config(project, CARGO_VENDOR_CONFIG.format(directory="vendor"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))
    toolchain = Toolchain("system", PRERELEASE, {}, True, (), std_vendor=tmp_path / "library" / "vendor")
    with pytest.raises(ToolchainError, match=r"found no .*library/vendor. Fix: .*rustup target add"):
        build.plan_build(toolchain, Path("dist"), project_dir=project)
