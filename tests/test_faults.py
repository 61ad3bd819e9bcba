"""Faults a user or a maintainer meets, each with its own message, nothing half-done left, and a re-run that
works once the cause is gone: Node missing for `nox -s wasm_test`, and every refusal of `inv release`.

The release tests run the real `inv release` in a git copy of this template (its own tasks.py), never in this
checkout.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pyo3_pyodide.cache import MARKER

from template_tools import matrix, release
from tests.helpers.fake_tools import write_script
from tests.helpers.project import nox as run_nox
from tests.helpers.update import IDENTITY, copy_working_tree, git

INV = str(Path(sys.executable).with_name("inv"))
MATRIX = matrix.load()


# Node missing for wasm_test


def path_without_node(folder: Path) -> str:
    """A PATH with git and Python, but neither node nor npm."""
    folder.mkdir(parents=True)
    for tool in ("git", "python3", "uname"):
        os.symlink(shutil.which(tool), folder / tool)
    return str(folder)


@pytest.fixture(scope="module")
def node_project(tmp_path_factory):
    from template_tools.render import render_project

    return render_project(tmp_path_factory.mktemp("no-node") / "no-node", {"project_name": "no-node"})


def test_wasm_test_without_node_says_how_to_get_it_and_installs_nothing(node_project, tmp_path):
    cache = tmp_path / "cache"
    env = {"PATH": path_without_node(tmp_path / "bin"), "PYO3_PYODIDE_CACHE": str(cache)}

    result = run_nox(node_project, "-s", "wasm_test", env=env)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert (
        "Session wasm_test aborted: `node` is not on PATH. Install Node.js >= 18 "
        "(https://nodejs.org, or your package manager) and run again"
    ) in output, output[-2000:]
    assert not cache.exists()  # no runtime folder that could pass for an installed one


@pytest.mark.network
def test_wasm_test_with_node_back_installs_the_runtime(node_project, tmp_path):
    # The re-run after installing Node: the runtime step that failed now installs the pinned npm package
    # (later steps, which need the CDN of Pyodide's packages, are other tests' business).
    default = MATRIX.releases[MATRIX.default]
    cache = tmp_path / "cache"
    failed = run_nox(
        node_project,
        "-s",
        "wasm_test",
        env={"PATH": path_without_node(tmp_path / "bin"), "PYO3_PYODIDE_CACHE": str(cache)},
    )
    assert failed.returncode != 0 and not cache.exists()

    again = run_nox(node_project, "-s", "wasm_test", env={"PYO3_PYODIDE_CACHE": str(cache)}, timeout=900)

    output = again.stdout + again.stderr
    assert "is not on PATH" not in output, output[-2000:]
    folder = cache / "npm" / f"pyodide-{default.npm}"
    assert (folder / MARKER).is_file(), output[-2000:]  # complete, as the engine marks it
    assert (folder / "node_modules" / "pyodide" / "pyodide-lock.json").is_file()


# `inv release`: every refusal


@pytest.fixture(scope="module")
def released_template(tmp_path_factory):
    """A git copy of this template released as v1.0.0 by `inv release` (so its Unreleased notes are empty)."""
    tags_here = git(matrix.REPO_DIR, "tag", "--list")
    repo = tmp_path_factory.mktemp("release-base") / "template"
    repo.mkdir()
    copy_working_tree(repo)
    changelog = repo / release.CHANGELOG
    changelog.write_text(
        changelog.read_text().replace(
            f"{release.UNRELEASED}\n", f"{release.UNRELEASED}\n\n- first version\n", 1
        )
    )
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Template")
    first = inv_release(repo, "--version", "1.0.0", "--skip-tests")
    assert first.returncode == 0, first.stdout + first.stderr
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]
    yield repo
    assert git(matrix.REPO_DIR, "tag", "--list") == tags_here  # this checkout was never released


def inv_release(repo: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    assert (repo / "tasks.py").is_file() and repo.resolve() != matrix.REPO_DIR.resolve()
    env = {**os.environ, **IDENTITY}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [INV, "release", *args], cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture
def repo(released_template, tmp_path):
    """A clone of the released template, with a note under Unreleased: ready for v1.1.0 but for the fault."""
    clone = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(released_template), str(clone))
    changelog = clone / release.CHANGELOG
    changelog.write_text(
        changelog.read_text().replace(f"{release.UNRELEASED}\n", f"{release.UNRELEASED}\n\n- a fix\n", 1)
    )
    git(clone, "commit", "--quiet", "-am", "Notes for the next version")
    return clone


def state(repo: Path) -> tuple[str, str, str, bytes]:
    """Everything a refused release must leave as it was: HEAD, tags, `git status`, CHANGELOG.md."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "tag", "--list"),
        git(repo, "status", "--porcelain"),
        (repo / release.CHANGELOG).read_bytes(),
    )


def refused(repo: Path, message: str, *args: str, path: str | None = None) -> None:
    before = state(repo)
    result = inv_release(repo, *args, path=path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"error: {message}" in result.stderr, result.stderr
    assert state(repo) == before


def released(repo: Path, version: str = "1.1.0") -> None:
    result = inv_release(repo, "--version", version, "--skip-tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"v{version}" in git(repo, "tag", "--list").split()
    assert git(repo, "log", "-1", "--format=%s").strip() == f"Release v{version}"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v1.1.0", "Give the version without its v: --version 1.1.0 (the tag will be v1.1.0)."),
        ("banana", "'banana' is not a version (PEP 440), e.g. 1.2.0."),
        ("1.01.0", "Write the version as copier compares it: --version 1.1.0."),
        ("1.0.0", "Tag v1.0.0 exists already; release a higher version."),
        (
            "0.9.0",
            (
                "v0.9.0 is not higher than v1.0.0: `copier update` offers the highest tag, so projects would "
                "never get it. Release a higher version."
            ),
        ),
    ],
    ids=["with-v", "not-pep440", "not-canonical", "tag-exists", "not-above-the-last-tag"],
)
def test_release_refuses_a_bad_version(repo, version, message):
    refused(repo, message, "--version", version, "--skip-tests")
    released(repo)


def test_release_without_a_version_says_how_to_give_one(repo):
    with pytest.raises(release.ReleaseError) as raised:
        release.release(None, run_tests=False, repo=repo, progress=lambda _: None)
    assert (
        str(raised.value) == "Give the version to release: `inv release --version X.Y.Z` (the tag is vX.Y.Z)."
    )


@pytest.mark.parametrize("change", ["modified", "untracked"])
def test_release_refuses_a_dirty_tree(repo, change):
    if change == "modified":
        (repo / "README.md").write_text((repo / "README.md").read_text() + "\nmore\n")
        listed = " M README.md"
    else:
        (repo / "stray.txt").write_text("left over\n")
        listed = "?? stray.txt"
    refused(
        repo,
        f"The working tree is not clean; commit or remove these first:\n{listed}",
        "--version",
        "1.1.0",
        "--skip-tests",
    )
    git(repo, "stash", "--include-untracked", "--quiet")
    released(repo)


def test_release_refuses_a_stale_copier_mirror(repo):
    mirror = repo / matrix.MIRROR_PATH.name
    good = mirror.read_text()
    mirror.write_text(good.replace(MATRIX.default, "0.0.1", 1))
    git(repo, "commit", "--quiet", "-am", "A hand edit of the mirror")
    refused(
        repo,
        "copier-matrix.yml differs from pyodide-matrix.toml: run `inv matrix.sync`, commit, and release again.",
        "--version",
        "1.1.0",
        "--skip-tests",
    )
    mirror.write_text(good)
    git(repo, "commit", "--quiet", "-am", "inv matrix.sync")
    released(repo)


@pytest.mark.parametrize("notes", ["empty", "no heading"])
def test_release_refuses_empty_notes(repo, notes):
    changelog = repo / release.CHANGELOG
    text = changelog.read_text()
    with_notes = text
    if notes == "empty":
        changelog.write_text(text.replace(f"{release.UNRELEASED}\n\n- a fix\n", f"{release.UNRELEASED}\n", 1))
        message = (
            'CHANGELOG.md\'s "## Unreleased" section is empty: write what v1.1.0 brings users (new pins, '
            "template changes, anything `copier update` may ask of them) first."
        )
    else:
        changelog.write_text(text.replace(f"{release.UNRELEASED}\n\n- a fix\n", "", 1))
        message = 'CHANGELOG.md has no "## Unreleased" heading; add one with the notes of this release.'
    assert changelog.read_text() != text
    git(repo, "commit", "--quiet", "-am", "Notes gone")
    refused(repo, message, "--version", "1.1.0", "--skip-tests")
    changelog.write_text(with_notes)
    git(repo, "commit", "--quiet", "-am", "Notes back")
    released(repo)


def test_release_stops_when_the_tests_fail_or_nox_is_missing(repo, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    refused(
        repo,
        "`nox` is not on PATH: `pip install nox`, then release again.",
        "--version",
        "1.1.0",
        path=str(bin_dir),
    )
    write_script(bin_dir / "nox", 'echo "nox (stand-in): tests failed" >&2\nexit 1\n')
    refused(
        repo,
        "`nox -s tests` failed (see above); nothing was changed or tagged.",
        "--version",
        "1.1.0",
        path=str(bin_dir),
    )
    write_script(bin_dir / "nox", '[ "$*" = "-s tests" ] || exit 2\necho "nox (stand-in): tests passed"\n')
    result = inv_release(repo, "--version", "1.1.0", path=str(bin_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "v1.1.0" in git(repo, "tag", "--list").split()


# The demo server: a port already taken, and a link that leads out of web/.


def test_serve_on_a_port_in_use_says_which_and_how_to_pick_another(tmp_path, monkeypatch):
    from tests.helpers.adopt import adopted_project
    from tests.helpers.pyodide import TEST_CACHE, jiter_wheel

    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(TEST_CACHE))
    project = adopted_project(tmp_path / "jiter", name="jiter")
    stable = matrix.load().releases[matrix.load().default]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [
            "-s",
            "serve",
            "--",
            "--wheel",
            str(jiter_wheel()),
            "--pyodide",
            stable.line,
            "--port",
            str(port),
        ]
        result = run_nox(project, *args)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"cannot serve on 127.0.0.1:{port}: " in output, output[-2000:]
    assert "Pick another port: `nox -s serve -- --port 8001`" in output
