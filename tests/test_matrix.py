"""The version matrix: its contents, and that everything else reads its pins from it."""

import json
import re
import tomllib

import platformdirs
import pytest
import yaml
from packaging.version import Version
from pyo3_pyodide.runtime import npm

from template_tools import ENGINE_DIR, matrix

MATRIX = matrix.load()
# The tests' per-user cache of npm runtimes (as tests/helpers/pyodide.py's): only the first run downloads.
TEST_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pyodide-cache"
LINES = {"0.27": "0.27.", "0.28": "0.28.", "0.29": "0.29.", "314": "314.0.", "315": "315.0.0-"}


def test_matrix_covers_every_line_users_target():
    for line, prefix in LINES.items():
        assert any(version.startswith(prefix) for version in MATRIX.releases), f"no {line} release"
    assert {release.status for release in MATRIX.releases.values()} == {"stable", "legacy", "prerelease"}


def test_default_is_the_newest_stable_release():
    stable = [release for release in MATRIX.releases.values() if release.status == "stable"]
    newest = max(stable, key=lambda release: tuple(int(part) for part in release.version.split(".")))
    assert MATRIX.default == newest.version


@pytest.mark.network
@pytest.mark.parametrize("version", list(MATRIX.releases))
def test_values_follow_the_pyodide_lock_info_of_each_release(version, monkeypatch):
    # The runtime's own word: the `info` block of the npm package's pyodide-lock.json, and the micropip it
    # names, which decides the tag form (micropip accepts pyemscripten_* from 0.11.1 on, read in its
    # _utils.sys_tags; before, only pyodide_* and emscripten_X_Y_Z, the form maturin writes without PEP 783).
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))
    release = MATRIX.releases[version]
    assert release.npm == version
    folder = npm.npm_package("pyodide", release.npm) / "node_modules" / "pyodide"
    lock = json.loads((folder / "pyodide-lock.json").read_text(encoding="utf-8"))
    info, micropip = lock["info"], Version(lock["packages"]["micropip"]["version"])
    platform = "emscripten_" + release.emscripten.replace(".", "_")
    python = ".".join(info["python"].split(".")[:2])
    assert (release.python, platform, release.abi) == (python, info["platform"], info["abi_version"])
    wanted = f"pyemscripten_{release.abi}_wasm32" if micropip >= Version("0.11.1") else f"{platform}_wasm32"
    assert release.platform_tag == wanted, f"micropip {micropip}"


def test_platform_tags_are_pep_783_or_the_legacy_emscripten_form():
    for release in MATRIX.releases.values():
        if release.platform_tag.startswith("pyemscripten_"):
            assert release.platform_tag == f"pyemscripten_{release.abi}_wasm32", release.version
            assert release.pep783_platform_version == release.abi
        else:
            legacy = "emscripten_" + release.emscripten.replace(".", "_") + "_wasm32"
            assert release.platform_tag == legacy, release.version
            assert release.pep783_platform_version is None


def test_no_release_asks_for_flags_that_break_pyodide_modules():
    for release in MATRIX.releases.values():
        flags = " ".join(release.rustflags)
        assert "-pthread" not in flags and "SIDE_MODULE=1" not in flags, release.version


def test_every_release_table_says_where_its_values_come_from():
    text = matrix.MATRIX_PATH.read_text()
    for version in MATRIX.releases:
        before = text.split(f'[release."{version}"]')[0].rstrip().splitlines()
        assert before[-1].startswith("#"), f"no source comment above [release.{version!r}]"


def test_copier_mirror_is_in_sync_with_the_matrix():
    mirror = yaml.safe_load(matrix.MIRROR_PATH.read_text())
    mirrored = dict(mirror["pyodide_matrix"]["default"])
    lines = mirrored.pop("lines")
    assert mirrored == tomllib.loads(matrix.MATRIX_PATH.read_text()), (
        "copier-matrix.yml is stale: run `inv matrix.sync`"
    )
    assert lines == {release.line: version for version, release in MATRIX.releases.items()}
    assert matrix.MIRROR_PATH.read_text() == matrix.mirror_text()


def pin_literals():
    for release in MATRIX.releases.values():
        yield from (
            release.version,
            release.emscripten,
            release.abi,
            release.platform_tag,
            release.rust_toolchain,
        )
        yield from filter(None, (release.rust_sysroot_url, release.xbuildenv_url, release.xbuildenv_sha256))


@pytest.mark.parametrize(
    "path",
    sorted(
        path
        for folder in (
            matrix.TEMPLATE_DIR,
            ENGINE_DIR,
            matrix.REPO_DIR / "template_tools",
            matrix.REPO_DIR / "licenses",
        )
        for path in folder.rglob("*")
        if path.is_file()
        and path.name != "pyodide-matrix.toml"
        and "__pycache__" not in path.parts
        and ENGINE_DIR / "tests" not in path.parents  # tests, like those of tests/, may name a pin as data
    )
    + [matrix.REPO_DIR / "copier.yml", matrix.REPO_DIR / "noxfile.py", matrix.REPO_DIR / "tasks.py"],
    ids=lambda path: str(path.relative_to(matrix.REPO_DIR)),
)
def test_no_pin_is_written_outside_the_matrix(path):
    text = path.read_text(encoding="utf-8")
    for literal in pin_literals():
        assert not re.search(rf"(?<![\w.]){re.escape(literal)}(?![\w])", text), (
            f"{path.name} hard-codes {literal!r}: read it from pyodide-matrix.toml instead"
        )
