"""apps/pyodide_lock.py: which wheels a pyodide-lock.json takes (every spelling of the release's platform), what
micropip would refuse, and the output folder it may replace. (`nox -s lock` and `bundle` for real:
tests/test_lock_bundle.py.)"""

import pytest
from pyo3_pyodide.apps import pyodide_lock as lock
from pyo3_pyodide.wheel import pick

from template_tools import matrix
from tests.helpers.pyodide import fake_runtime

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]


def test_the_lock_takes_every_spelling_of_the_platform_while_micropip_follows_its_version(tmp_path):
    release = RELEASES["0.28.3"]
    runtime = fake_runtime(release, "0.10.1")
    spellings = [f"pyemscripten_{release.abi}", f"pyodide_{release.abi}", "emscripten_4_0_9"]
    for platform in spellings:
        wheel = tmp_path / f"demo-0.1.0-cp313-cp313-{platform}_wasm32.whl"
        assert pick.release_problem(wheel, runtime) is None, platform
    pep783 = tmp_path / f"demo-0.1.0-cp313-cp313-pyemscripten_{release.abi}_wasm32.whl"
    assert lock.micropip_problem(pep783, runtime) == (
        f"micropip.install(url) refuses {pep783.name} on Pyodide 0.28.3: the micropip it ships (0.10.1) "
        "accepts cp313 wheels tagged pyodide_2025_0_wasm32 or emscripten_4_0_9_wasm32, and this one is "
        "tagged cp313-cp313-pyemscripten_2025_0_wasm32 (micropip knows PEP 783's pyemscripten_* tags from "
        "0.11.1 on). pyodide.loadPackage(url) and this project's pyodide-lock.json load it all the same: "
        "they check no tag. For micropip on this release, host a wheel tagged emscripten_4_0_9_wasm32, "
        "which `nox -s wasm_build -- --pyodide 0.28.3` builds (pyodide-matrix.toml's platform_tag)"
    )
    assert lock.micropip_problem(pep783, fake_runtime(RELEASES["0.29.5"], "0.11.1")) is None
    for legacy in ("pyodide_2025_0", "emscripten_4_0_9"):
        legacy_wheel = tmp_path / f"demo-0.1.0-cp313-cp313-{legacy}_wasm32.whl"
        assert lock.micropip_problem(legacy_wheel, runtime) is None
    other_abi = tmp_path / f"demo-0.1.0-cp314-cp314-pyemscripten_{STABLE.abi}_wasm32.whl"
    problem = pick.release_problem(other_abi, runtime)
    assert "would load it without complaint and fail only at import" in problem


def test_one_platform_spelling_per_lock_and_no_foreign_output_folder_replaced(tmp_path):
    pure = tmp_path / "attrs-26.1.0-py3-none-any.whl"
    binary = tmp_path / "demo-0.1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    legacy = tmp_path / "other-0.1.0-cp314-cp314-emscripten_5_0_3_wasm32.whl"
    assert lock.wheel_platform([pure]) is None
    assert lock.wheel_platform([pure, binary]) == "pyemscripten_2026_0"
    with pytest.raises(lock.LockError, match="carry platform tags emscripten_5_0_3_wasm32, pyemscripten"):
        lock.wheel_platform([binary, legacy])
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("mine")
    with pytest.raises(lock.LockError, match="holds no pyodide-lock.json, so it is not a folder"):
        lock.refuse_foreign_output(mine)
    assert (mine / "todo.txt").read_text() == "mine"
