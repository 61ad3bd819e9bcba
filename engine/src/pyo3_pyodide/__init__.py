"""pyo3-pyodide: build, audit and test Rust/PyO3 wheels for Pyodide (see the package's README for its layers)."""
