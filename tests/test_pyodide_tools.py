"""The generated project's helper module: reading the matrix and the target, with clear errors."""

import copy
import tomllib

import pytest

from template_tools import matrix

tools = matrix.pyo3_pyodide.matrix
GOOD = matrix.raw()


def broken(edit):
    data = copy.deepcopy(GOOD)
    edit(data)
    return data


def test_the_shipped_matrix_parses():
    parsed = tools.parse_matrix(GOOD)
    assert parsed.resolve("stable").version == GOOD["default"]
    assert parsed.resolve("0.28.3").python_tag == "cp313"
    assert parsed.resolve("0.28.3").pep783_platform_version is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("release"), r'has no \[release."X"\] tables'),
        (lambda d: d.update(default="1.2.3"), r"default = '1.2.3' is not one of its releases"),
        (lambda d: d.update(default="315.0.0-alpha.2"), r"has status 'prerelease', not stable"),
        (lambda d: d["release"]["314.0.7"].pop("emscripten"), r'\[release."314.0.7"\] lacks emscripten'),
        (lambda d: d["release"]["314.0.7"].update(rustflag=[]), r"unknown keys rustflag"),
        (lambda d: d["release"]["314.0.7"].update(emscripten="5.0"), r"emscripten = '5.0' is not X.Y.Z"),
        (
            lambda d: d["release"]["314.0.7"].update(rustflags="-C x"),
            r"rustflags must be an array of strings",
        ),
        (lambda d: d["release"]["314.0.7"].update(status="beta"), r"status = 'beta' is not one of"),
        (lambda d: d["release"]["314.0.7"].update(python=3.14), r"python must be a string"),
        (
            lambda d: d["release"]["314.0.7"].update(platform_tag="pyemscripten_2025_0_wasm32"),
            r"does not name this release's platform; expected one of pyemscripten_2026_0_wasm32",
        ),
        (lambda d: d["release"]["314.0.7"].update(rust_sysroot_sha256="0" * 64), r"but no rust_sysroot_url"),
        (
            lambda d: d["release"]["0.29.5"].update(rust_sysroot_sha256="abc"),
            r"is not 64 lowercase hex digits",
        ),
    ],
)
def test_malformed_matrix_is_refused_with_the_reason(edit, message):
    with pytest.raises(tools.MatrixError, match=message):
        tools.parse_matrix(broken(edit))


def test_unknown_target_names_the_known_ones():
    with pytest.raises(
        tools.MatrixError, match=r"'0.99.0' is not in pyodide-matrix.toml; known: stable, 315"
    ):
        tools.parse_matrix(GOOD).resolve("0.99.0")


def test_target_comes_from_pyproject_or_the_override(tmp_path):
    (tmp_path / "pyodide-matrix.toml").write_bytes(matrix.MATRIX_PATH.read_bytes())
    (tmp_path / "pyproject.toml").write_text('[tool.pyodide-target]\nrelease = "0.27.8"\n')
    assert tools.target_release(tmp_path).version == "0.27.8"
    assert tools.target_release(tmp_path, override="stable").version == GOOD["default"]


def test_missing_or_broken_files_say_what_to_do(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    with pytest.raises(
        tools.MatrixError,
        match=r"not found: this project's pins live there; restore it with `git checkout -- ",
    ):
        tools.target_release(tmp_path)
    (tmp_path / "pyodide-matrix.toml").write_text("default = \n")
    with pytest.raises(tools.MatrixError, match="is not valid TOML"):
        tools.target_release(tmp_path)
    (tmp_path / "pyodide-matrix.toml").write_bytes(matrix.MATRIX_PATH.read_bytes())
    with pytest.raises(tools.MatrixError, match=r"lacks \[tool.pyodide-target\] release"):
        tools.target_release(tmp_path)
    assert tomllib.loads((tmp_path / "pyodide-matrix.toml").read_text())["default"] == GOOD["default"]
