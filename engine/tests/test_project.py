"""project.py: the project a session works on, read once from real files, and its one set of messages."""

import pytest
from pyo3_pyodide import project as projects
from pyo3_pyodide.matrix import MatrixError

from template_tools import matrix

SHIPPED = matrix.load()
LEGACY = next(version for version, release in SHIPPED.releases.items() if release.status == "legacy")


def folder_with(tmp_path, pyproject: str | None, pins: bool = True):
    """A project folder with this pyproject.toml (None: none) and, with `pins`, the shipped matrix."""
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    if pins:
        (tmp_path / "pyodide-matrix.toml").write_bytes(matrix.MATRIX_PATH.read_bytes())
    return tmp_path


def read(tmp_path, pyproject: str, **options):
    return projects.Project.read(folder_with(tmp_path, pyproject), **options)


def test_the_project_holds_what_pyproject_toml_says(tmp_path):
    (tmp_path / "name-py").mkdir()
    project = read(
        tmp_path,
        '[build-system]\nbuild-backend = "maturin"\n\n[project]\nname = "Name_Py"\n\n'
        '[tool.maturin]\nmanifest-path = "name-py/Cargo.toml"\nmodule-name = "name._core"\n\n'
        f'[tool.pyodide-target]\nrelease = "{LEGACY}"\nmax-extension-bytes = 150_000\ntest-dir = "name-py"\n'
        'test-requirements = ["pytest", "hypothesis"]\nknown-failures = { "t.py::a" = "no threads" }\n\n'
        '[dependency-groups]\ntest = ["pytest"]\n',
    )
    assert project.folder == tmp_path.resolve()
    assert (project.distribution, project.module, project.build_backend) == (
        "name-py",
        "name._core",
        "maturin",
    )
    assert project.manifest == tmp_path.resolve() / "name-py" / "Cargo.toml"
    assert project.size_budget == 150_000
    assert project.tests == projects.TestSettings(
        test_dir="name-py",
        requirements=("pytest", "hypothesis"),
        known_failures={"t.py::a": projects.KnownFailure("no threads")},
        known_failures_from="pyproject.toml",
    )
    assert project.dependency_groups == {"test": ["pytest"]}
    assert [release.version for release in project.releases()] == [LEGACY]
    assert project.matrix is project.matrix  # read once


def test_a_known_failure_may_name_the_engines_it_fails_in(tmp_path):
    project = read(
        tmp_path,
        '[tool.pyodide-target]\nknown-failures = { "t.py::a" = "no threads", '
        '"t.py::b" = { reason = "aborts there", engines = ["webkit", "firefox"] } }\n',
    )
    known = project.tests.known_failures
    assert known == {
        "t.py::a": projects.KnownFailure("no threads"),
        "t.py::b": projects.KnownFailure("aborts there", ("webkit", "firefox")),
    }
    assert [test for test, entry in known.items() if entry.applies_in("node")] == ["t.py::a"]
    assert [test for test, entry in known.items() if entry.applies_in("webkit")] == ["t.py::a", "t.py::b"]


def test_defaults_without_the_tables(tmp_path):
    project = read(tmp_path, '[project]\nname = "x"\n')
    assert project.manifest == tmp_path.resolve() / "Cargo.toml"
    assert (project.size_budget, project.module, project.build_backend, project.target) == (None,) * 4
    assert project.tests == projects.TestSettings()


def test_target_comes_from_pyproject_or_the_override_or_the_noxfile(tmp_path):
    folder_with(tmp_path, f'[tool.pyodide-target]\nrelease = "{LEGACY}"\n')
    assert projects.target_release(tmp_path).version == LEGACY
    assert projects.target_release(tmp_path, override="stable").version == SHIPPED.default
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    # a project that adopted the Pyodide layer names its target in its noxfile
    [release] = projects.Project.read(tmp_path, default_target=LEGACY).releases()
    assert release.version == LEGACY
    both = projects.Project.read(tmp_path).releases(["stable", LEGACY])
    assert [release.version for release in both] == [SHIPPED.default, LEGACY]


def test_missing_or_broken_files_say_what_to_do(tmp_path):
    folder_with(tmp_path, "[project]\n", pins=False)
    with pytest.raises(
        MatrixError, match=r"not found: this project's pins live there; restore it with `git checkout -- "
    ):
        projects.target_release(tmp_path)
    (tmp_path / "pyodide-matrix.toml").write_text("default = \n")
    with pytest.raises(MatrixError, match="is not valid TOML"):
        projects.target_release(tmp_path)
    (tmp_path / "pyodide-matrix.toml").write_bytes(matrix.MATRIX_PATH.read_bytes())
    with pytest.raises(projects.ProjectError) as raised:
        projects.target_release(tmp_path)
    assert str(raised.value) == (
        f'{tmp_path.resolve()}/pyproject.toml lacks [tool.pyodide-target] release = "stable" (or a line such '
        'as "314", or a version): add it to name the Pyodide release to build for'
    )
    assert (
        tmp_path / "pyodide-matrix.toml"
    ).read_bytes() == matrix.MATRIX_PATH.read_bytes()  # left as it was


def test_a_malformed_pyproject_names_the_file(tmp_path):
    folder_with(tmp_path, '[tool.pyodide-target]\nrelease = "stable\n')
    with pytest.raises(projects.ProjectError, match=r"/pyproject.toml is not valid TOML: .*line 2"):
        projects.Project.read(tmp_path)


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (
            '[tool]\npyodide-target = "314"\n',
            "pyproject.toml's [tool] pyodide-target = '314': expected a table",
        ),
        ("[tool.pyodide-target]\nrelease = 314\n", 'release = 314: expected "stable", a line such as "314"'),
        (
            '[tool.pyodide-target]\nmax-extension-bytes = "300 KiB"\n',
            (
                "pyproject.toml's [tool.pyodide-target] max-extension-bytes = '300 KiB': expected a positive whole "
                "number of bytes, e.g. max-extension-bytes = 150_000"
            ),
        ),
        (
            "[tool.pyodide-target]\nmax-extension-bytes = true\n",
            "max-extension-bytes = True: expected a positive",
        ),
        ("[tool.pyodide-target]\ntest-dir = 3\n", "[tool.pyodide-target] test-dir = 3: expected a folder"),
        (
            '[tool.pyodide-target]\ntest-requirements = "pytest"\n',
            "test-requirements = 'pytest': expected a list",
        ),
        (
            '[tool.pyodide-target]\ntest-requirements = ["pytest >"]\n',
            "test-requirements = 'pytest >': expected a requirement (PEP 508)",
        ),
        (
            '[tool.pyodide-target]\nknown-failures = { "a" = 1 }\n',
            "known-failures = {'a': 1}: expected a table of test ids or patterns, each with its reason",
        ),
        (
            '[tool.pyodide-target]\nknown-failures = { "a" = { reason = "r", engines = [] } }\n',
            "expected a table of test ids or patterns, each with its reason",
        ),
        (
            '[tool.pyodide-target]\nknown-failures = { "a" = { why = "r", engines = ["webkit"] } }\n',
            'or with the engines it fails in: {"tests/test_x.py::test_y" = { reason = "...", engines = ["webkit"] }}',
        ),
        (
            "[tool.maturin]\nmanifest-path = 1\n",
            "pyproject.toml's [tool.maturin] manifest-path = 1: expected a path",
        ),
        ("[project]\nname = []\n", "pyproject.toml's [project] name = []: expected a name"),
        ("dependency-groups = 1\n", "pyproject.toml dependency-groups = 1: expected a table"),
    ],
)
def test_a_wrong_value_names_the_file_the_key_and_what_was_expected(tmp_path, pyproject, message):
    folder_with(tmp_path, pyproject)
    with pytest.raises(projects.ProjectError) as raised:
        projects.Project.read(tmp_path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path.resolve() / "pyproject.toml"))


def test_a_config_file_replaces_the_test_keys_one_by_one_and_test_dir_goes_over_both(tmp_path):
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
    project = read(
        tmp_path,
        '[tool.pyodide-target]\ntest-dir = "a"\ntest-requirements = ["pytest"]\n'
        'known-failures = { "x" = "why" }\n',
    )
    config = tmp_path / "pyodide.toml"
    config.write_text('[tool.pyodide-target]\ntest-dir = "b"\nknown-failures = { "y" = "other" }\n')
    settings = project.test_settings(config)
    assert settings == projects.TestSettings(
        test_dir="b",
        requirements=("pytest",),
        known_failures={"y": projects.KnownFailure("other")},
        known_failures_from="pyodide.toml",
    )
    assert project.test_settings(config, test_dir="c").test_dir == "c"
    assert project.test_settings().test_dir == "a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "pyodide.toml not found; expected a TOML file"),
        ("[tool.pyodide-target\n", "pyodide.toml is not valid TOML"),
        (
            '[project]\nname = "x"\n',
            "pyodide.toml has no [tool.pyodide-target] table; expected one with test-dir",
        ),
        (
            '[tool.pyodide-target]\nrelease = "314"\n',
            (
                "pyodide.toml's [tool.pyodide-target] has release, which `wasm_test --config` does not take: it "
                "takes test-dir, test-requirements, known-failures (set the others in pyproject.toml)"
            ),
        ),
        (
            "[tool.pyodide-target]\ntest-dir = 3\n",
            "pyodide.toml's [tool.pyodide-target] test-dir = 3: expected",
        ),
    ],
)
def test_a_wrong_config_file_says_what_it_takes(tmp_path, text, message):
    project = read(tmp_path, '[project]\nname = "x"\n')
    config = tmp_path / "pyodide.toml"
    if text is not None:
        config.write_text(text)
    with pytest.raises(projects.ProjectError) as raised:
        project.test_settings(config)
    assert message in str(raised.value)


@pytest.mark.parametrize("test_dir", ["no-such-folder", "..", "/tmp"])
def test_the_test_folder_must_be_one_of_the_project(tmp_path, test_dir):
    (tmp_path / "p").mkdir()
    project = read(tmp_path / "p", '[project]\nname = "x"\n')
    with pytest.raises(projects.ProjectError) as raised:
        project.test_settings(test_dir=test_dir)
    assert str(raised.value).startswith(
        f"the test folder {test_dir!r} (test-dir) is not a folder of the project"
    )


def test_the_built_crate_and_its_workspace(tmp_path):
    """manifest-path names a workspace member; its rust-version and the profiles come from the workspace root."""
    project = read(tmp_path, '[tool.maturin]\nmanifest-path = "crates/py/Cargo.toml"\n')
    (tmp_path / "crates" / "py").mkdir(parents=True)
    (tmp_path / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["crates/py"]\n\n[workspace.package]\nrust-version = "1.80"\n\n'
        "[profile.release]\nstrip = true\n"
    )
    member = tmp_path / "crates" / "py" / "Cargo.toml"
    member.write_text('[package]\nname = "py"\nversion = "0.1.0"\nrust-version.workspace = true\n')
    assert project.rust_version() == "1.80"
    assert project.workspace_root()["profile"] == {"release": {"strip": True}}
    member.write_text('[package]\nname = "py"\nversion = "0.1.0"\nrust-version = "1.70"\n')
    assert project.rust_version() == "1.70"
