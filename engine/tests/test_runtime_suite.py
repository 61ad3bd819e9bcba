"""runtime/suite.py: the planning of a test run, on the host."""

import pytest
from pyo3_pyodide.runtime import suite


def test_pytest_arguments_keep_options_and_replace_the_default_folder(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "test_x.py").write_text("")
    args, paths = suite.pytest_arguments(tmp_path, ["-k", "add", "-x"])
    assert (args[:4], paths) == (["-k", "add", "-x", "tests"], ["tests"])
    args, paths = suite.pytest_arguments(tmp_path, [str(tmp_path / "more" / "test_x.py") + "::test_a", "-q"])
    assert (args[:2], paths) == (["more/test_x.py::test_a", "-q"], ["more/test_x.py"])
    assert args[-2:] == ["-p", "no:cacheprovider"]
    with pytest.raises(suite.WasmTestError, match="is outside the project folder"):
        suite.pytest_arguments(tmp_path / "more", [str(tmp_path / "tests")])
