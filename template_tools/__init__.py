"""Maintainer code of the pyo3-pyodide-template repository (tasks.py and the tests call it)."""

import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = REPO_DIR / "template"
ENGINE_DIR = REPO_DIR / "engine"

# The engine package (engine/src/pyo3_pyodide) is imported straight from its source folder: the maintainer
# tasks read the matrix with the very code that generated projects run.
sys.path.insert(0, str(ENGINE_DIR / "src"))
