"""runtime/pytest_inside.py: what runs beside pytest inside Pyodide, called here on the host."""

from pyo3_pyodide.runtime import pytest_inside


def test_known_failure_entries_match_ids_patterns_files_and_parametrized_tests():
    assert pytest_inside.matches("t/a.py::test_x", "t/a.py::test_x")
    assert pytest_inside.matches("t/a.py::test_x[1-2]", "t/a.py::test_x")
    assert pytest_inside.matches("t/a.py::C::test_x", "t/a.py::C")
    assert pytest_inside.matches("t/a.py::test_x", "t/a.py")
    assert pytest_inside.matches("t/a.py::test_xy", "t/*::test_x*")
    assert not pytest_inside.matches("t/a.py::test_xy", "t/a.py::test_x")
    assert not pytest_inside.matches("t/ab.py::test_x", "t/a")
    assert pytest_inside.lacking("AttributeError: module 'signal' has no attribute 'setitimer'").startswith(
        "signals"
    )
    assert pytest_inside.lacking("RuntimeError: can't start new thread") == "threads"
    assert pytest_inside.lacking("ValueError: bad input") is None
