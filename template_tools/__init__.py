"""Maintainer code of the pyo3-pyodide-template repository (tasks.py and the tests call it)."""

import sys
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "template"

# The generated project's helper package is imported straight from template/: its code has one home,
# the one users get, and the template's own tests exercise that very code.
sys.path.insert(0, str(TEMPLATE_DIR))
