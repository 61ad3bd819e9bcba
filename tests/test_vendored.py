"""Vendored crates and std built from source (issue 19, item 3).

A project whose cargo config replaces crates.io with a folder of vendored crates (`cargo vendor`) cannot be
built by a toolchain that compiles std from rust-src with -Zbuild-std (Debian's rustc): cargo resolves std's
own dependencies through the same replacement, and the project's folder lacks them ("no matching package
named `cfg-if` found"). wasm_build gives cargo, for that build only, a folder in the cache that links the
project's crates and rust-src's library/vendor, and says so in one line. The fast tests use folders made
here; the real one is orjson 3.13.0's sdist from PyPI, which ships its crates in include/cargo with
`replace-with = "vendored-sources"` in .cargo/config.toml and compiles yyjson's C with the `cc` crate: built
for the 315 line in the Debian root with cargo kept offline, then its own suite inside Pyodide in Node.
"""

import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from pyo3_pyodide.cache import VENDOR_MERGED
from pyo3_pyodide.resolve import pyodide_packages
from pyo3_pyodide.runtime import npm
from pyo3_pyodide.toolchain.model import Toolchain, ToolchainError
from pyo3_pyodide.wheel import build

from template_tools import matrix, sidroot
from tests import real_builds
from tests.adopt_helpers import adopt, commit_all
from tests.package_mirror import folder_mirror
from tests.project_helpers import nox, output_of
from tests.update_helpers import git

MATRIX = matrix.load()
[PRERELEASE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]
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


ORJSON = "orjson==3.13.0"
ORJSON_TESTS = "test"
# Why orjson's suite skips tests inside Pyodide (its own skips; measured with 757 passed and 888 skipped):
# the sdist lacks its data/ fixtures, its optional test dependencies have no Python 3.15 or Pyodide wheels
# (its requirements.txt leaves them out on 3.15), Pyodide has no tz database for zoneinfo.
ORJSON_SKIPS = {
    "Test depends on ./data dir that contains fixtures",
    "ORJSON_RUNNER_MEMORY_GIB not defined",
    "dateutil optional",
    "zoneinfo not available",
    "pendulum not installed",
    "numpy is not installed",
    "pandas is not installed",
    "psutil not installed",
    "memoryview",
    "bytearray",
}


def sdist(requirement: str, folder: Path) -> Path:
    """A project's sdist from PyPI, unpacked into `folder` (maturin, its build backend, as a wheel)."""
    name, version = requirement.split("==")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            f"--no-binary={name}",
            "-d",
            str(folder),
            requirement,
        ],
        check=True,
        capture_output=True,
    )
    with tarfile.open(folder / f"{name}-{version}.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    return folder / f"{name}-{version}"


@pytest.mark.wasm
def test_orjson_with_its_vendored_crates_builds_offline_in_the_sid_root_and_passes_in_pyodide(tmp_path):
    root = real_builds.usable_root(PRERELEASE)
    project = sdist(ORJSON, tmp_path / "sdist")
    config = project / ".cargo" / "config.toml"
    assert 'replace-with = "vendored-sources"' in config.read_text()
    assert (project / "include" / "cargo" / "cc-1.6.0").is_dir()  # yyjson's C is compiled by the cc crate
    offline = {"CARGO_NET_OFFLINE": "true"}
    # As it stands, std from source cannot resolve through the project's folder.
    plain = sidroot.run(
        root,
        ["cargo", "build", build.BUILD_STD, "--target", build.TARGET, "--release"],
        cwd=str(project),
        bind=project,
        env={**offline, "RUSTC_BOOTSTRAP": "1"},
    )
    assert plain.returncode != 0 and "no matching package named `cfg-if` found" in plain.stderr, plain.stderr
    commit_all(project)
    adopt(project)
    # Its test dependencies, in a file of our own (wasm_test --config): orjson's test/requirements.txt, less
    # what its markers leave out on Python 3.15 (numpy, pendulum, psutil, python-dateutil).
    settings = tmp_path / "orjson-pyodide.toml"
    settings.write_text('[tool.pyodide-target]\ntest-requirements = ["pytest", "faker", "pytz"]\n')
    started = time.monotonic()
    result = sidroot.run(
        root,
        ["nox", "-s", "wasm_build", "--", "--pyodide", PRERELEASE.line, "--toolchain", "system"],
        cwd=str(project),
        bind=project,
        env=offline,  # cargo may not reach crates.io: every crate comes from a folder
    )
    seconds = time.monotonic() - started
    real_builds.record_build(f"{ORJSON} (sdist from PyPI, vendored crates)", PRERELEASE, root, result)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    [note] = re.findall(r"^.*vendored crates: .*$", output, re.MULTILINE)
    assert f"{config} replaces crates.io with {project / 'include/cargo'}" in note, note
    assert "lib/rustlib/src/rust/library/vendor" in note
    # yyjson's C, compiled by the cc crate (vendored, cc 1.6.0) with the root's emcc.
    assert list((project / "target" / build.TARGET / "release" / "build").glob("orjson-*/out/libyyjson.a"))
    # Their files are as they were (the wheel, target/ and the adoption's files aside): nothing edited.
    changed = git(project, "status", "--short", "--untracked-files=no")
    assert changed.strip() == "", changed
    [wheel] = (project / "dist").glob("orjson-3.13.0-*.whl")
    assert wheel.name.endswith(f"-{PRERELEASE.platform_tag}.whl")
    mirror = folder_mirror(npm.ensure_runtime(PRERELEASE), tmp_path / "package-set")
    tested = nox(
        project,
        "-s",
        "wasm_test",
        "--",
        "--pyodide",
        PRERELEASE.line,
        "--config",
        str(settings),
        ORJSON_TESTS,
        "-q",
        "-rs",
        env={pyodide_packages.BASE_URL_ENV: mirror},
    )
    text = output_of(tested)
    counts = {kind: int(number) for number, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", text)}
    skips = {}  # reason: tests, from pytest's -rs summary
    for number, reason in re.findall(r"^SKIPPED \[(\d+)\] [^:]+:\d+: (.*)$", text, re.MULTILINE):
        skips[reason] = skips.get(reason, 0) + int(number)
    print(f"{ORJSON} built in {seconds:.0f} s; in Pyodide {PRERELEASE.version}: {counts}; skipped: {skips}")
    assert tested.returncode == 0, text[-5000:]
    # Measured: 757 passed, 888 skipped (most by its authors where the sdist lacks their data/ fixtures).
    assert counts.get("failed", 0) == 0 and counts["passed"] >= 750, text[-3000:]
    assert sum(skips.values()) == counts["skipped"], skips
    assert set(skips) <= ORJSON_SKIPS, skips
