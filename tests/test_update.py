"""`copier update` for real: a project made at template v1 (Pyodide 0.29.5 the newest stable release) moves
to v2 (today's matrix and its default) with every pin, keeps its owner's edits, and shows a conflicting edit as
conflict markers.

The template repository is a git copy of this working tree, tagged v1 and v2 by `inv release`'s own code;
copier runs as users run it (its command line, no --trust) in git repositories of the projects.
"""

import re
import tomllib
from pathlib import Path

import pytest
import tomlkit
import yaml

from template_tools import matrix, release
from tests.helpers.update import IDENTITY, copy_working_tree, git
from tests.helpers.update import run_copier as copier

MATRIX = matrix.load()
OLD, NEW = "0.29.5", MATRIX.default
TEMPLATE_DOC_LINE = "    /// Add two integers."
TEMPLATE_DOC_LINE_V2 = "    /// Add two integers; the sum wraps around on overflow."
USER_DOC_LINE = "    /// Add two integers (our own wording)."
USER_FUNCTION = "\n/// Our own helper, added after `copier copy`.\npub fn user_helper() -> u8 {\n    42\n}\n"


def add_changelog_note(repo: Path, note: str) -> None:
    changelog = repo / release.CHANGELOG
    text = changelog.read_text().replace(f"{release.UNRELEASED}\n", f"{release.UNRELEASED}\n\n- {note}\n", 1)
    changelog.write_text(text)


def set_matrix(repo: Path, text: str) -> None:
    matrix_path = repo / "template" / "pyodide-matrix.toml"
    matrix_path.write_text(text)
    (repo / "copier-matrix.yml").write_text(matrix.mirror_text(matrix_path))


def matrix_of_the_past() -> str:
    """Today's matrix as it was before the 314 line: 0.29.5 is the newest stable release."""
    document = tomlkit.parse(matrix.MATRIX_PATH.read_text())
    for version in [v for v in MATRIX.releases if v.startswith(("314.", "315."))]:
        del document["release"][version]
    document["release"][OLD]["status"] = "stable"
    document["default"] = OLD
    return document.as_string()


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory):
    """A git repository of this template with tags v1 (default 0.29.5) and v2 (today's default)."""
    repo = tmp_path_factory.mktemp("template-repo")
    copy_working_tree(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")

    set_matrix(repo, matrix_of_the_past())
    add_changelog_note(repo, "v1 of the update test: Pyodide 0.29.5 is the newest stable release")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Template as of v1")
    with_identity(lambda: release.release("1", run_tests=False, repo=repo, progress=lambda _: None))

    set_matrix(repo, matrix.MATRIX_PATH.read_text())
    assert matrix.load(repo / "template" / "pyodide-matrix.toml").default == NEW
    lib_rs = repo / "template/src/lib.rs"
    assert lib_rs.read_text().count(TEMPLATE_DOC_LINE + "\n") == 1
    lib_rs.write_text(lib_rs.read_text().replace(TEMPLATE_DOC_LINE + "\n", TEMPLATE_DOC_LINE_V2 + "\n"))
    add_changelog_note(repo, "v2 of the update test: Pyodide 314, and a better doc line in src/lib.rs")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Template as of v2")
    with_identity(lambda: release.release("2", run_tests=False, repo=repo, progress=lambda _: None))
    assert git(repo, "tag", "--list").split() == ["v1", "v2"]
    return repo


def with_identity(action):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in IDENTITY.items():
            patch.setenv(name, value)
        return action()


def make_project(template_repo: Path, folder: Path, *data: str) -> Path:
    """A project made at v1 and committed, as its owner would."""
    arguments = [f"--data={item}" for item in ("project_name=Update-Me", *data)]
    copier(folder.parent, "copy", "--vcs-ref=v1", "--defaults", *arguments, str(template_repo), str(folder))
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "Project from pyo3-pyodide-template v1")
    return folder


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", message)


def pin_literals(version: str) -> set[str]:
    release_pins = MATRIX.releases[version]
    return {
        version,
        release_pins.emscripten,
        release_pins.abi,
        release_pins.platform_tag,
        release_pins.rust_toolchain,
        *filter(
            None, (release_pins.rust_sysroot_url, release_pins.xbuildenv_url, release_pins.xbuildenv_sha256)
        ),
    }


def assert_pins_are(project: Path, template_repo: Path, tag: str, version: str, other: str) -> None:
    """Every pin in the project names `version`'s values, and none names a value only `other` has; its
    pyodide-matrix.toml is the template's at `tag`."""
    pins = MATRIX.releases[version]
    assert (project / "pyodide-matrix.toml").read_text() == git(
        template_repo, "show", f"{tag}:template/pyodide-matrix.toml"
    )
    cargo_config = (project / ".cargo/config.toml").read_text()
    assert tomllib.loads(cargo_config)["target"]["wasm32-unknown-emscripten"]["rustflags"] == list(
        pins.rustflags
    )
    described = f"Pyodide {version} (Python {pins.python}, Emscripten {pins.emscripten})"
    assert described in cargo_config
    assert described in (project / "README.md").read_text()
    assert f"Now: {version}." in (project / "pyproject.toml").read_text()
    for name in ("ci.yml", "release.yml"):
        flow = yaml.safe_load((project / ".github/workflows" / name).read_text())
        job = flow["jobs"]["pyodide" if name == "ci.yml" else "wheels"]
        [entry] = job["strategy"]["matrix"]["include"]
        assert entry["pyodide"] == version
        assert (entry["emscripten"], entry["rust_toolchain"], entry["platform_tag"], entry["npm"]) == (
            pins.emscripten,
            pins.rust_toolchain,
            pins.platform_tag,
            pins.npm,
        )
        assert entry["xbuildenv_sha256"] == pins.xbuildenv_sha256
    stale = pin_literals(other) - pin_literals(version)
    pattern = re.compile("|".join(rf"(?<![\w.]){re.escape(literal)}(?![\w])" for literal in sorted(stale)))
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.name == "pyodide-matrix.toml":
            continue
        found = pattern.search(path.read_text(errors="replace"))
        assert found is None, f"{path.relative_to(project)} still names {found.group()} of Pyodide {other}"


def test_a_stable_project_moves_to_the_new_default_and_keeps_its_owner_s_edits(template_repo, tmp_path):
    project = make_project(template_repo, tmp_path / "stable-project")
    assert_pins_are(project, template_repo, "v1", OLD, NEW)
    lib_rs = project / "src/lib.rs"
    lib_rs.write_text(
        lib_rs.read_text().replace(TEMPLATE_DOC_LINE + "\n", USER_DOC_LINE + "\n") + USER_FUNCTION
    )
    commit_all(project, "Our own edits")

    copier(project, "update", "--defaults", "--vcs-ref=v2")

    assert_pins_are(project, template_repo, "v2", NEW, OLD)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["pyodide_version"]) == ("v2", "stable")
    text = lib_rs.read_text()
    assert text.endswith(USER_FUNCTION)  # the owner's addition, untouched
    # The owner and v2 changed the same line: both versions are there, between conflict markers.
    conflict = re.search(r"^<<<<<<< [^\n]*\n(.*?)^=======\n(.*?)^>>>>>>> ", text, re.MULTILINE | re.DOTALL)
    assert conflict is not None, text
    assert USER_DOC_LINE in conflict.group(1)
    assert TEMPLATE_DOC_LINE_V2 in conflict.group(2)
    assert "UU src/lib.rs" in git(project, "status", "--short")  # and git lists it as unmerged


def test_a_pinned_project_keeps_its_release_until_asked_to_move(template_repo, tmp_path):
    project = make_project(template_repo, tmp_path / "pinned-project", f"pyodide_version={OLD}")
    lib_rs = project / "src/lib.rs"
    lib_rs.write_text(lib_rs.read_text() + USER_FUNCTION)
    commit_all(project, "Our own helper")

    # A new template version brings the new matrix, but a pinned release stays pinned.
    copier(project, "update", "--defaults", "--vcs-ref=v2")
    assert (project / "pyodide-matrix.toml").read_bytes() == matrix.MATRIX_PATH.read_bytes()
    cargo_config = tomllib.loads((project / ".cargo/config.toml").read_text())
    assert cargo_config["target"]["wasm32-unknown-emscripten"]["rustflags"] == list(
        MATRIX.releases[OLD].rustflags
    )
    assert f"Now: {OLD}." in (project / "pyproject.toml").read_text()
    commit_all(project, "Template v2")

    # Moving the target to another line is one answer away, at the template version the project has.
    copier(project, "update", "--defaults", "--vcs-ref=:current:", f"--data=pyodide_version={NEW}")
    assert_pins_are(project, template_repo, "v2", NEW, OLD)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["pyodide_version"] == NEW
    assert tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pyodide-target"]["release"] == NEW
    assert lib_rs.read_text().endswith(USER_FUNCTION)
    assert "<<<<<<<" not in lib_rs.read_text()


def test_update_leaves_the_authors_noxfile_alone_and_moves_the_engine_pin(template_repo, tmp_path):
    """The template's sessions and their engine pin live in noxfile_pyodide.py: an update that moves the pin
    changes nothing in noxfile.py, where the owner keeps `tests` and `lint`."""
    project = make_project(template_repo, tmp_path / "own-noxfile")
    noxfile = project / "noxfile.py"
    pytest_line = 'session.run("pytest", *session.posargs)'
    assert noxfile.read_text().count(pytest_line) == 1
    edited = noxfile.read_text().replace(pytest_line, 'session.run("pytest", "-x", *session.posargs)')
    noxfile.write_text(edited)
    commit_all(project, "Our own pytest options")

    copier(project, "update", "--defaults", "--vcs-ref=v2")

    assert noxfile.read_text() == edited
    assert "noxfile.py" not in git(project, "status", "--short")
    v2 = git(template_repo, "rev-parse", "v2^{commit}").strip()
    assert f'ENGINE_COMMIT = "{v2}"' in (project / "noxfile_pyodide.py").read_text()


def test_the_release_task_filed_the_changelog(template_repo):
    changelog = git(template_repo, "show", "v2:CHANGELOG.md")
    assert re.search(r"^## v2 \(\d{4}-\d{2}-\d{2}\)\n\n- v2 of the update test", changelog, re.MULTILINE)
    assert re.search(r"^## v1 \(\d{4}-\d{2}-\d{2}\)\n\n- v1 of the update test", changelog, re.MULTILINE)
    assert f"- Pyodide releases: {', '.join(MATRIX.releases)} (default {NEW})." in changelog
    assert changelog.index("## Unreleased") < changelog.index("## v2") < changelog.index("## v1")
    assert git(template_repo, "cat-file", "-t", "v2").strip() == "tag"  # annotated
    assert git(template_repo, "log", "-1", "--format=%s", "v2").strip() == "Release v2"


def test_release_refuses_to_drop_a_release_its_notes_do_not_name(template_repo, tmp_path):
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(template_repo), str(repo))
    document = tomlkit.parse((repo / "template/pyodide-matrix.toml").read_text())
    del document["release"]["0.27.8"]
    set_matrix(repo, document.as_string())
    add_changelog_note(repo, "v3: Python 3.12 is no longer offered")
    commit_all(repo, "Drop the 0.27 line")

    with pytest.raises(release.ReleaseError, match=r"v3 drops Pyodide release\(s\) 0\.27\.8 from the matrix"):
        release.release("3", run_tests=False, repo=repo, progress=lambda _: None)
    assert git(repo, "tag", "--list", "v3") == ""

    add_changelog_note(
        repo, "0.27.8 is dropped: projects pinned to it run `copier update --data pyodide_version=...`"
    )
    commit_all(repo, "Say so")
    assert (
        with_identity(lambda: release.release("3", run_tests=False, repo=repo, progress=lambda _: None))
        == "v3"
    )
