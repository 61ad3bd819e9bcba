"""Maintainer code of the pyo3-pyodide-template repository (tasks.py and the tests call it)."""
