"""Rendering the template: the files a project gets, and that its pins equal the matrix."""

import dataclasses
import json
import re
import tomllib

import pytest
import yaml

from template_tools import matrix
from tests.project_helpers import rendered_target

MATRIX = matrix.load()

EXPECTED_FILES = {
    ".cargo/config.toml",
    ".copier-answers.yml",
    ".gitignore",
    "Cargo.toml",
    "LICENSE-APACHE",
    "LICENSE-MIT",
    "README.md",
    "noxfile.py",
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
    assert "extension-module" in cargo["dependencies"]["pyo3"]["features"]
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
    assert {name for name in code if not name.startswith(("tests/", "python/"))} == {"noxfile.py"}
    noxfile = (project / "noxfile.py").read_text()
    # The noxfile names the engine of the very source it was rendered from, at the rendered commit.
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert f'ENGINE = "pyo3-pyodide @ file://{answers["_src_path"]}/engine"' in noxfile
    assert re.search(r'ENGINE_COMMIT = "[0-9a-f]{40}"', noxfile)
    assert "sys.path.insert" not in noxfile
