"""The engine's structure (issue 21): its layers import downward only, and every error it raises for
people derives from one base that the sessions turn into nox's session.error, never a traceback."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pyo3_pyodide
import pytest
from pyo3_pyodide import sessions
from pyo3_pyodide.errors import EngineError

ENGINE = Path(pyo3_pyodide.__file__).parents[2]
INSIDE_PYODIDE = (
    "pyo3_pyodide.apps.add_wheels",
    "pyo3_pyodide.runtime.pytest_inside",
)  # need Pyodide's packages


def engine_modules():
    for found in pkgutil.walk_packages(pyo3_pyodide.__path__, "pyo3_pyodide."):
        if found.name not in INSIDE_PYODIDE:
            yield importlib.import_module(found.name)


def test_the_layers_import_downward_only():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), str(ENGINE / "pyproject.toml")],
        cwd=ENGINE,
        env={**os.environ, "PYTHONPATH": str(ENGINE / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 kept, 0 broken" in result.stdout


def test_every_error_class_of_the_engine_derives_from_the_one_base():
    errors = {
        f"{module.__name__}.{name}": value
        for module in engine_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.__name__
    }
    assert len(errors) >= 8, errors
    assert [name for name, error in errors.items() if not issubclass(error, EngineError)] == []


class Stopped(Exception):
    """What nox's session.error raises: the session ends with its message."""


class Session:
    def error(self, message):
        raise Stopped(message)


def test_every_session_turns_an_engine_error_into_session_error_not_a_traceback():
    for name in ("toolchain", "wasm_build", "audit", "doctor", "wasm_test", "lock", "bundle", "serve"):
        assert getattr(sessions, name).__wrapped__, name  # each is wrapped by sessions.reported

    @sessions.reported
    def failing(session, target=None):
        raise EngineError("found X, expected Y: run Z")

    with pytest.raises(Stopped, match="found X, expected Y: run Z"):
        failing(Session())
