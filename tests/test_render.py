"""Rendering the template: the files a project gets, and that its pins equal the matrix."""

import ast
import dataclasses
import json
import re
import tomllib

import pytest
import yaml

from template_tools import matrix
from tests.helpers.project import rendered_target

MATRIX = matrix.load()

EXPECTED_FILES = {
    ".cargo/config.toml",
    ".copier-answers.yml",
    ".gitignore",
    "Cargo.toml",
    "LICENSE-APACHE",
    "LICENSE-MIT",
    "README.md",
    "docs/pyodide.md",
    "noxfile.py",
    "noxfile_pyodide.py",
    "pyodide-matrix.toml",
    "pyproject.toml",
    "src/lib.rs",
    "web/index.html",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
}


def files_of(project):
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def check_pins(project, release):
    """Every pin in the rendered project equals the matrix entry of `release`."""
    assert (project / "pyodide-matrix.toml").read_bytes() == matrix.MATRIX_PATH.read_bytes()
    cargo_config_text = (project / ".cargo/config.toml").read_text()
    cargo_config = tomllib.loads(cargo_config_text)
    assert cargo_config["target"]["wasm32-unknown-emscripten"]["rustflags"] == list(release.rustflags)
    assert (
        f"Pyodide {release.version} (Python {release.python}, Emscripten {release.emscripten})"
        in cargo_config_text
    )
    readme = (project / "README.md").read_text()
    assert f"Pyodide {release.version} (Python {release.python}, Emscripten {release.emscripten})" in readme
    assert f"Now: {release.version}." in (project / "pyproject.toml").read_text()
    assert rendered_target(project) == json.loads(json.dumps(dataclasses.asdict(release)))


def test_defaults(render):
    project = render(project_name="hello")
    assert files_of(project) == EXPECTED_FILES | {
        "python/hello/__init__.py",
        "python/hello/_core.pyi",
        "python/hello/py.typed",
        "tests/test_hello.py",
    }
    check_pins(project, MATRIX.releases[MATRIX.default])
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "hello"
    assert pyproject["tool"]["maturin"]["module-name"] == "hello._core"
    assert pyproject["tool"]["pyodide-target"]["release"] == "stable"
    cargo = tomllib.loads((project / "Cargo.toml").read_text())
    assert cargo["lib"] == {"name": "_core", "crate-type": ["cdylib"]}
    assert cargo["dependencies"]["pyo3"] == "0.30"  # no deprecated `extension-module` feature
    assert cargo["profile"]["release"] == {"opt-level": "z", "lto": True, "codegen-units": 1, "strip": True}
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["pyodide_version"] == "stable"
    assert not {"pyodide_matrix", "pins", "pyodide_release", "package_name"} & set(answers)


def test_dashed_mixed_case_project_name(render):
    project = render(project_name="My-Rust.Module_X", license="BSD-3-Clause", author_name="Ada Lovelace")
    module = "my_rust_module_x"
    assert (project / "python" / module / "__init__.py").read_text().count(f"from {module}._core import") == 1
    assert (project / f"tests/test_{module}.py").exists()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "My-Rust.Module_X"
    assert pyproject["project"]["license"] == "BSD-3-Clause"
    assert pyproject["tool"]["maturin"]["module-name"] == f"{module}._core"
    assert tomllib.loads((project / "Cargo.toml").read_text())["package"]["name"] == "my-rust-module-x"
    license_text = (project / "LICENSE").read_text()
    assert license_text.startswith("BSD 3-Clause License") and "Ada Lovelace" in license_text
    assert not (project / "LICENSE-MIT").exists()


def test_module_name_can_differ_from_project_name(render):
    project = render(project_name="fast-parse", module_name="fastparse", license="Apache-2.0")
    assert (project / "python/fastparse/_core.pyi").exists()
    assert "Apache License" in (project / "LICENSE").read_text()


@pytest.mark.parametrize("version", list(MATRIX.releases))
def test_every_release_renders_with_its_own_pins(render, version):
    project = render(project_name="hello", pyodide_version=version)
    check_pins(project, MATRIX.releases[version])
    assert (
        tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pyodide-target"]["release"]
        == version
    )


def test_template_needs_no_trust():
    config = matrix.REPO_DIR.joinpath("copier.yml").read_text()
    for unsafe_setting in ("_tasks", "_jinja_extensions", "_migrations"):
        assert not re.search(rf"^{unsafe_setting}:", config, re.MULTILINE)


def test_a_rendered_project_holds_no_engine_code(render):
    """Outside tests/ and python/, the noxfile is the project's only Python: the engine is a package."""
    project = render(project_name="hello")
    code = {name for name in files_of(project) if name.endswith((".py", ".mjs", ".js"))}
    outside = {name for name in code if not name.startswith(("tests/", "python/"))}
    assert outside == {"noxfile.py", "noxfile_pyodide.py"}
    noxfile = (project / "noxfile_pyodide.py").read_text()
    # The noxfile names the engine of the very source it was rendered from, at the rendered commit.
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert f'ENGINE = "pyo3-pyodide @ file://{answers["_src_path"]}/engine"' in noxfile
    assert re.search(r'ENGINE_COMMIT = "[0-9a-f]{40}"', noxfile)
    assert "sys.path.insert" not in noxfile


# The line of noxfile.py that loads the template's sessions (as ast.unparse writes it).
LOAD_LINE = "runpy.run_path(str(pathlib.Path(__file__).with_name('noxfile_pyodide.py')))"


def test_the_authors_noxfile_holds_tests_lint_and_the_line_that_loads_the_template_s_sessions(render):
    """noxfile.py is the author's: `copier update` has nothing of its own to change there."""
    project = render(project_name="hello")
    noxfile = (project / "noxfile.py").read_text()
    tree = ast.parse(noxfile)
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions == ["tests", "lint"]
    assert ast.unparse(tree.body[-1]) == LOAD_LINE
    assert "ENGINE" not in noxfile and "pyo3_pyodide" not in noxfile
    sessions = (project / "noxfile_pyodide.py").read_text()
    assert "TARGET" not in sessions  # a new project names its target in pyproject.toml
    for session in ("toolchain", "wasm_build", "audit", "wasm_test", "lock", "bundle", "serve", "doctor"):
        assert f'def {session}(session: nox.Session) -> None:\n    """' in sessions, session


def test_the_readme_is_about_the_crate_and_the_pyodide_guide_has_a_file_of_its_own(render):
    project = render(project_name="hello", module_name="hellomod")
    readme = (project / "README.md").read_text()
    assert len(readme.splitlines()) <= 60, readme
    assert "[docs/pyodide.md](docs/pyodide.md)" in readme
    assert ">>> hellomod.add(2, 3)\n5\n" in readme
    guide = (project / "docs/pyodide.md").read_text()
    for heading in ("Sessions", "Build for Pyodide", "Test inside Pyodide", "Demo page", "Pins"):
        assert f"\n## {heading}\n" in guide and f"\n## {heading}\n" not in readme, heading
    assert "\n## Use the module in a web app\n" in guide
    assert 'await app.loadPackage("hello");' in guide


def test_the_package_exports_no_demo_only_function(render):
    project = render(project_name="hello")
    init = ast.parse((project / "python/hello/__init__.py").read_text())
    [exports] = [node.value for node in init.body if isinstance(node, ast.Assign)]
    assert ast.literal_eval(exports) == ["Counter", "add", "parse_fraction"]
    stub = (project / "python/hello/_core.pyi").read_text()
    assert "def panic_with(message: str) -> None:" in stub and "def trap() -> NoReturn:" in stub
