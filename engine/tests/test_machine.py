"""machine.py: the doctor's checks of a machine and a project, called directly."""

from pyo3_pyodide import machine
from pyo3_pyodide.project import Project

from template_tools import matrix

MATRIX = matrix.load()
[PRE] = [release for release in MATRIX.releases.values() if release.status == "prerelease"]


def test_the_msrv_check_reads_the_crate_maturin_builds_in_a_workspace(tmp_path):
    """An adopted workspace: [tool.maturin] manifest-path names a member whose rust-version it inherits
    from the workspace; the check reads that crate, not the root's Cargo.toml (which has no [package])."""
    (tmp_path / "pyproject.toml").write_text('[tool.maturin]\nmanifest-path = "name-py/Cargo.toml"\n')
    (tmp_path / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["name-py"]\n\n[workspace.package]\nrust-version = "9.0"\n'
    )
    (tmp_path / "name-py").mkdir()
    (tmp_path / "name-py" / "Cargo.toml").write_text(
        '[package]\nname = "name-py"\nversion = "1.0.0"\nrust-version.workspace = true\n'
    )
    check = machine.check_msrv(PRE, Project.read(tmp_path))
    assert not check.ok and "rust-version 9.0 is newer than the pinned Rust" in check.detail, check
    (tmp_path / "name-py" / "Cargo.toml").write_text(
        '[package]\nname = "name-py"\nversion = "1.0.0"\nrust-version = "1.60"\n'
    )
    assert machine.check_msrv(PRE, Project.read(tmp_path)).ok
