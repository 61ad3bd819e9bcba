"""A corpus of real PyO3/maturin projects from PyPI sdists, adopted, built and tested as a user would.

`projects.toml` lists each project (name==version, what it covers, how its suite runs, its known failures
inside Pyodide with the reason); `python -m corpus` (or `nox -s corpus`) runs them and writes
`results.json`, which `corpus.report.table` renders as the README's table. Nothing in a project's own
files is edited: its Pyodide settings reach wasm_test through `--config FILE`.
"""
