"""Helpers behind this project's noxfile, one module per job.

matrix     the target Pyodide release and its pins (pyodide-matrix.toml, pyproject.toml)
"""
