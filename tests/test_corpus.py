"""The corpus (corpus/projects.toml): its data, its table, and its small projects run for real.

The `corpus` tests adopt a real project from its PyPI sdist with the README's block, build it for the 315
prerelease in the Debian root, run its own suite inside Pyodide (wasm_test with the corpus's --config) and
natively with the root's python3.15, and hold the two runs to the same suite.
"""

import pytest

from corpus import projects, report, run

PROJECTS = projects.load()


def test_every_project_is_pinned_says_what_it_covers_and_how_its_suite_runs():
    assert len(PROJECTS) >= 3
    for project in PROJECTS.values():
        assert project.version and project.covers and project.test_paths, project
        assert any(requirement.startswith("pytest") for requirement in project.test_requirements), project
    assert sum(project.small for project in PROJECTS.values()) >= 3


def test_an_unknown_key_is_refused_with_the_keys_allowed(tmp_path):
    data = tmp_path / "projects.toml"
    data.write_text(
        '[[project]]\nname = "x"\nversion = "1"\ncovers = []\ntest-paths = []\n'
        'test-requirements = []\ntest-path = "oops"\n'
    )
    with pytest.raises(ValueError, match=r"project 'x' has unknown keys \['test-path'\]; expected"):
        projects.load(data)


def test_the_config_file_is_a_pyodide_target_table_of_the_project(tmp_path):
    import tomllib

    project = projects.Project(
        "p", "1", ("x",), ("tests",), ("pytest", "hypothesis"), "p-py", {'tests/t.py::a["b"]': "no threads"}
    )
    assert tomllib.loads(project.pyodide_config()) == {
        "tool": {
            "pyodide-target": {
                "test-dir": "p-py",
                "test-requirements": ["pytest", "hypothesis"],
                "known-failures": {'tests/t.py::a["b"]': "no threads"},
            }
        }
    }


def test_counts_are_read_from_wasm_tests_last_line_and_pytests_summary():
    output = "noise\nwasm_test: pytest exited with 1 inside Pyodide 315.0.0a2 (Python 3.15.0rc1) in Node: 3 passed, 1 failed, 2 xfailed\n"
    assert run.wasm_test_counts(output) == (1, {"passed": 3, "failed": 1, "xfailed": 2})
    assert run.wasm_test_counts("no such line") is None
    native = "....\n=========== 5 passed, 2 skipped, 1 error, 7 warnings in 3.21s ===========\n"
    assert run.pytest_counts(native) == {"passed": 5, "skipped": 2, "error": 1}


def test_the_table_has_a_row_per_project_with_counts_times_and_their_ratio():
    ran = run.Result("a", "1", ["x"], 42.0, True)
    ran.pyodide = run.Suite(0, {"passed": 10, "skipped": 2, "xfailed": 1}, 20.0, 1)
    ran.native = run.Suite(0, {"passed": 13}, 4.0)
    ran.browsers["firefox"] = run.Suite(1, {"passed": 9, "failed": 1}, 31.0)
    stopped = run.Result("b", "2", ["y"], 3.0, False, blocked=["wasm_build failed:\nerror: x"])
    stopped.native = run.Suite(3, {}, 0.8)
    lines = report.table([ran.as_dict(), stopped.as_dict()]).splitlines()
    assert lines[0].startswith("| project | passed | failed | skipped | known failures | build |")
    assert lines[2] == (
        "| a 1 | 10 | 0 | 2 | 1 | 42 s | 20 s | 4.0 s | 5.0x | natively 13 passed; "
        "in Firefox 9 passed, 1 failed (31 s) |"
    )
    assert lines[3] == (
        "| b 2 | – | – | – | – | 3.0 s (failed) | – | 0.8 s | – | natively pytest exited with 3, no counts; "
        "wasm_build failed: |"
    )


@pytest.mark.wasm
@pytest.mark.network
@pytest.mark.corpus
@pytest.mark.parametrize("name", [name for name, project in PROJECTS.items() if project.small])
def test_a_small_corpus_project_passes_its_own_suite_in_pyodide_as_natively(name, tmp_path_factory):
    project = PROJECTS[name]
    result = run.run_project(project, tmp_path_factory.mktemp("corpus"))
    print(report.row(result.as_dict()))
    assert result.blocked == [], "\n".join(result.blocked)
    pyodide, native = result.pyodide, result.native
    assert pyodide.exit_code == 0 and pyodide.counts.get("failed", 0) == 0, pyodide
    assert native.exit_code == 0, native
    # The same suite ran in both: every test native pytest ran is counted inside Pyodide too.
    assert sum(pyodide.counts.values()) == sum(native.counts.values()), (pyodide.counts, native.counts)
    assert pyodide.counts.get("xfailed", 0) == len(project.known_failures), pyodide.counts
