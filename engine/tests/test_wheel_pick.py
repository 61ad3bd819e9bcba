"""wheel/pick.py: which wheels a runtime's micropip accepts."""

from pyo3_pyodide.wheel import pick

from template_tools import matrix
from tests.helpers.pyodide import fake_runtime

RELEASES = matrix.load().releases


def test_accepted_tags_follow_the_runtimes_micropip(tmp_path):
    release = RELEASES["0.29.5"]  # its npm package ships micropip 0.11.1; 0.28.x shipped 0.10.1
    wheel = (
        tmp_path / f"demo-1.0-{release.python_tag}-{release.python_tag}-pyemscripten_{release.abi}_wasm32.whl"
    )
    assert pick.micropip_problem(wheel, fake_runtime(release, "0.11.1"), RELEASES.values()) is None
    problem = pick.micropip_problem(wheel, fake_runtime(release, "0.10.1"), RELEASES.values())
    assert (
        f"accepts {release.python_tag} (or abi3, or pure Python) wheels for pyodide_{release.abi}_wasm32 or "
        in problem
    )
    legacy = wheel.with_name(
        f"demo-1.0-{release.python_tag}-{release.python_tag}-pyodide_{release.abi}_wasm32.whl"
    )
    assert pick.micropip_problem(legacy, fake_runtime(release, "0.10.1"), RELEASES.values()) is None
    pure = wheel.with_name("demo-1.0-py3-none-any.whl")
    abi3 = wheel.with_name(
        f"demo-1.0-cp310-abi3-emscripten_{release.emscripten.replace('.', '_')}_wasm32.whl"
    )
    for fitting in (pure, abi3):
        assert pick.micropip_problem(fitting, fake_runtime(release, "0.10.1"), ()) is None
