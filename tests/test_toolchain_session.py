"""`nox -s toolchain -- --list/--prune` in a rendered project: every cache area listed, only what the project's
matrix does not need pruned. (The managed provider itself: engine/tests/test_toolchain_managed.py.)"""

from pyo3_pyodide import cache


def test_the_toolchain_session_lists_every_area_and_prunes_what_the_matrix_does_not_need(render, tmp_path):
    """`nox -s toolchain -- --list` then `-- --prune` in a rendered project, on a cache holding an npm
    runtime of a release its matrix has and one of a release it lacks, a wheel, and a leftover."""
    from template_tools import matrix
    from tests.helpers.project import nox, output_of

    project = render(project_name="hello")
    home = tmp_path / "cache"
    pinned = home / "npm" / f"pyodide-{matrix.load().releases[matrix.load().default].npm}"
    gone = home / "npm" / "pyodide-0.21.0"
    for folder in (pinned, gone):
        folder.mkdir(parents=True)
        (folder / "data").write_bytes(b"x" * 5000)
        (folder / cache.MARKER).write_text("{}")
    wheel = home / "wheels" / "pluggy-1.6.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"w" * 100)
    leftover = home / "downloads" / "sysroot.tar.bz2.part"
    leftover.parent.mkdir()
    leftover.write_bytes(b"p" * 1000)
    env = {"PYO3_PYODIDE_CACHE": str(home), "COLUMNS": "250"}

    listed = nox(project, "-s", "toolchain", "--", "--list", env=env)
    output = output_of(listed)
    assert listed.returncode == 0, output[-3000:]
    for area in cache.AREAS:
        assert area.name in output
    assert str(gone) in output and "4.9 KiB" in output and "to prune" in output

    pruned = nox(project, "-s", "toolchain", "--", "--prune", env=env)
    output = output_of(pruned)
    assert pruned.returncode == 0, output[-3000:]
    assert f"freed {cache.format_size(5002 + 1000)}" in output
    assert pinned.is_dir() and wheel.is_file() and not gone.exists() and not leftover.exists()
