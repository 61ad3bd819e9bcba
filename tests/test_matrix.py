"""The version matrix: its contents, and that everything else reads its pins from it."""

import re
import tomllib

import pytest
import yaml

from template_tools import ENGINE_DIR, matrix

MATRIX = matrix.load()
LINES = {"0.27": "0.27.", "0.28": "0.28.", "0.29": "0.29.", "314": "314.0.", "315": "315.0.0-"}


def test_matrix_covers_every_line_users_target():
    for line, prefix in LINES.items():
        assert any(version.startswith(prefix) for version in MATRIX.releases), f"no {line} release"
    assert {release.status for release in MATRIX.releases.values()} == {"stable", "legacy", "prerelease"}


def test_default_is_the_newest_stable_release():
    stable = [release for release in MATRIX.releases.values() if release.status == "stable"]
    newest = max(stable, key=lambda release: tuple(int(part) for part in release.version.split(".")))
    assert MATRIX.default == newest.version


def test_values_follow_the_pyodide_lock_info_of_each_release():
    # From each npm package's pyodide-lock.json `info` block (python, platform, abi_version).
    lock_info = {
        "0.27.8": ("3.12", "3.1.58", "2024_0"),
        "0.28.3": ("3.13", "4.0.9", "2025_0"),
        "0.29.5": ("3.13", "4.0.9", "2025_0"),
        "314.0.7": ("3.14", "5.0.3", "2026_0"),
        "315.0.0-alpha.2": ("3.15", "6.0.5", "2026_5"),
    }
    for version, (python, emscripten, abi) in lock_info.items():
        release = MATRIX.releases[version]
        assert (release.python, release.emscripten, release.abi) == (python, emscripten, abi)
        assert release.npm == version


def test_platform_tags_are_ones_each_release_micropip_accepts():
    # micropip 0.9/0.10 (0.27, 0.28) know no pyemscripten_ tags; 0.11.1 (0.29.4 on) does.
    assert MATRIX.releases["0.27.8"].platform_tag == "emscripten_3_1_58_wasm32"
    assert MATRIX.releases["0.28.3"].platform_tag == "emscripten_4_0_9_wasm32"
    for version in ("0.29.5", "314.0.7", "315.0.0-alpha.2"):
        release = MATRIX.releases[version]
        assert release.platform_tag == f"pyemscripten_{release.abi}_wasm32"
        assert release.pep783_platform_version == release.abi


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
        if path.is_file() and path.name != "pyodide-matrix.toml" and "__pycache__" not in path.parts
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
