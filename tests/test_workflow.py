"""The generated GitHub workflows: valid (actionlint), no security finding (zizmor), pins from the matrix.

The tools run as tests/helpers/workflow.py says (actionlint built with `go install`, zizmor from PyPI).
"""

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pyo3_pyodide.cache import MARKER, XBUILDENV, write_json
from pyo3_pyodide.runtime import browsers
from pyo3_pyodide.toolchain import emsdk as engine_emsdk

from template_tools import REPO_DIR, matrix
from tests.helpers.mirrors import make_patches
from tests.helpers.project import nox as run_nox
from tests.helpers.workflow import (
    PINNED_USES,
    actionlint_executable,
    actionlint_findings,
    expand,
    zizmor_findings,
)

MATRIX = matrix.load()
WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/release.yml")
PIN_KEYS = ("python", "emscripten", "platform_tag", "rust_toolchain", "npm")
NOX_SESSION = re.compile(r"\bnox -s (\w+)")


@pytest.fixture(scope="session")
def actionlint():
    return actionlint_executable()


# A stable-or-legacy line older than the default one, for the project that builds for two lines.
OLDER = next(
    release
    for release in MATRIX.releases.values()
    if release.status == "legacy" and release.pep783_platform_version is not None
)


# Two lines with one Emscripten and one Rust toolchain (0.29 and 0.28 today): their jobs could share an emsdk
# entry, and once raced for one cargo key. Both use Pyodide's wasm-eh sysroot.
SAME_EMSCRIPTEN = next(
    (first, second)
    for first in MATRIX.releases.values()
    for second in MATRIX.releases.values()
    if first.line != second.line
    and (first.emscripten, first.rust_toolchain) == (second.emscripten, second.rust_toolchain)
    and first.rust_sysroot_url
)
PINNED_DIGEST = "ab" * 32  # a made-up sha256: what the release job does with a pinned one


def matrix_with_pinned_sysroot() -> dict:
    """copier's pyodide_matrix with a rust_sysroot_sha256 for the first of SAME_EMSCRIPTEN."""
    data = copy.deepcopy(yaml.safe_load(matrix.MIRROR_PATH.read_text())["pyodide_matrix"]["default"])
    data["release"][SAME_EMSCRIPTEN[0].version]["rust_sysroot_sha256"] = PINNED_DIGEST
    return data


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """release -> a project rendered for it; "two lines" -> one that builds for an older line too."""
    from template_tools.render import render_project

    folder = tmp_path_factory.mktemp("workflows")
    rendered = {
        version: render_project(folder / version, {"project_name": "Flow-Check", "pyodide_version": version})
        for version in MATRIX.releases
    }
    rendered["two lines"] = render_project(
        folder / "two-lines",
        {
            "project_name": "Flow-Check",
            "pyodide_extra_versions": [OLDER.line, MATRIX.releases[MATRIX.default].line],
        },
    )
    two_old_lines = {
        "pyodide_version": SAME_EMSCRIPTEN[0].line,
        "pyodide_extra_versions": [SAME_EMSCRIPTEN[1].line],
    }
    rendered["one emscripten"] = render_project(
        folder / "one-emscripten", {"project_name": "Flow-Check", **two_old_lines}
    )
    rendered["pinned sysroot"] = render_project(
        folder / "pinned-sysroot",
        {"project_name": "Flow-Check", **two_old_lines, "pyodide_matrix": matrix_with_pinned_sysroot()},
    )
    adopted = folder / "adopted"  # an existing maturin project, as adoption needs
    adopted.mkdir()
    (adopted / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["maturin>=1.16,<2"]\nbuild-backend = "maturin"\n'
    )
    (adopted / "Cargo.toml").write_text('[package]\nname = "flow-check"\nversion = "1.0.0"\n')
    rendered["adopted"] = render_project(adopted, {"project_kind": "adopt", "project_name": "Flow-Check"})
    return rendered


def workflow(project: Path, name: str) -> dict:
    return yaml.safe_load((project / ".github/workflows" / name).read_text())


def include_of(job: dict) -> list[dict]:
    return job["strategy"]["matrix"]["include"]


def expected_entry(version: str) -> dict:
    release = MATRIX.releases[version]
    entry = {"pyodide": version, **{key: getattr(release, key) for key in PIN_KEYS}}
    entry["xbuildenv_sha256"] = release.xbuildenv_sha256 or "none"
    return entry


def expected_release_entry(version: str) -> dict:
    """release.yml's entry: the sysroot's pinned sha256 as well, or what stands in for one."""
    release = MATRIX.releases[version]
    sysroot = (release.rust_sysroot_sha256 or "not pinned") if release.rust_sysroot_url else "no sysroot"
    return {**expected_entry(version), "rust_sysroot_sha256": sysroot}


CASES = [*MATRIX.releases, "two lines", "one emscripten", "pinned sysroot", "adopted"]


def workflow_files(project: Path) -> list[str]:
    return sorted(str(path.relative_to(project)) for path in (project / ".github/workflows").glob("*.yml"))


@pytest.mark.parametrize("case", CASES)
def test_actionlint_finds_nothing(actionlint, projects, case):
    project = projects[case]
    code, findings, stderr = actionlint_findings(actionlint, project, workflow_files(project))
    assert code == 0 and findings == [], json.dumps(findings, indent=1) + stderr


@pytest.mark.parametrize("case", CASES)
def test_zizmor_finds_nothing_even_as_auditor(projects, case):
    code, findings, stderr = zizmor_findings(projects[case])
    assert code == 0 and findings == [], json.dumps(findings, indent=1) + stderr


@pytest.mark.parametrize("version", MATRIX.releases)
def test_each_job_carries_the_pins_of_its_release(projects, version):
    project = projects[version]
    assert include_of(workflow(project, "ci.yml")["jobs"]["pyodide"]) == [expected_entry(version)]
    assert include_of(workflow(project, "release.yml")["jobs"]["wheels"]) == [expected_release_entry(version)]
    text = (project / ".github/workflows/ci.yml").read_text()
    assert "key: xbuildenv-${{ matrix.xbuildenv_sha256 }}" in text
    assert "key: emsdk-${{ steps.emsdk.outputs.folder }}" in text
    assert (
        "key: cargo-wasm-${{ matrix.pyodide }}-${{ matrix.rust_toolchain }}-${{ matrix.emscripten }}-" in text
    )
    assert "key: npm-pyodide-${{ matrix.npm }}-" in text


def test_two_lines_get_one_job_each_target_first(projects):
    project = projects["two lines"]
    expected = [expected_entry(MATRIX.default), expected_entry(OLDER.version)]
    assert include_of(workflow(project, "ci.yml")["jobs"]["pyodide"]) == expected
    expected = [expected_release_entry(MATRIX.default), expected_release_entry(OLDER.version)]
    assert include_of(workflow(project, "release.yml")["jobs"]["wheels"]) == expected


def test_the_publish_job_alone_may_get_a_token(projects):
    project = projects[MATRIX.default]
    for name in ("ci.yml", "release.yml"):
        flow = workflow(project, name)
        assert flow["permissions"] == {}
        for job_name, job in flow["jobs"].items():
            if (name, job_name) == ("release.yml", "pypi"):
                assert job["permissions"] == {"id-token": "write"}
                assert job["environment"]["name"] == "pypi"
            else:
                assert job["permissions"] == {"contents": "read"}, (name, job_name)
        text = (project / ".github/workflows" / name).read_text()
        assert "secrets." not in text and "password:" not in text
    release = workflow(project, "release.yml")
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    publish_steps = release["jobs"]["pypi"]["steps"]
    assert publish_steps[-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert publish_steps[-1]["with"] == {"packages-dir": "upload/"}
    assert "dist/*-pyemscripten_*_wasm32.whl" in publish_steps[-2]["run"]


def test_the_release_workflow_builds_without_caches(projects):
    text = (projects[MATRIX.default] / ".github/workflows/release.yml").read_text()
    assert "actions/cache" not in text and not re.search(r"(?<![\w-])cache:", text)
    assert "package-manager-cache: false" in text


def test_every_action_is_pinned_by_commit(projects):
    project = projects[MATRIX.default]
    for name in WORKFLOWS:
        for line in (project / name).read_text().splitlines():
            if "uses:" in line:
                assert PINNED_USES.search(line), line


def test_the_workflows_call_sessions_the_noxfile_has(projects):
    project = projects[MATRIX.default]
    called = set()
    for name in WORKFLOWS:
        called |= set(NOX_SESSION.findall((project / name).read_text()))
    assert called == {"tests", "lint", "toolchain", "wasm_build", "wasm_test"}
    listed = run_nox(project, "--list")
    assert listed.returncode == 0, listed.stderr
    for session in called:
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout


def test_each_pyodide_job_runs_the_suite_in_webkit_too_with_the_packages_the_engine_names(projects):
    job = workflow(projects[MATRIX.default], "ci.yml")["jobs"]["pyodide"]
    steps = job["steps"]
    node = [step.get("run") for step in steps].index('nox -s wasm_test -- --pyodide "$PYODIDE_VERSION"')
    [webkit] = [step for step in steps if "--browser webkit" in step.get("run", "")]
    assert steps.index(webkit) == node + 1 and webkit["name"] == "wasm_test in WebKit"
    assert (
        "sudo apt-get install -y --no-install-recommends webkit2gtk-driver xvfb" in webkit["run"].splitlines()
    )
    # the runner is Ubuntu 24.04: the packages are those the engine names for it when WebKit is missing
    assert job["runs-on"] == "ubuntu-24.04"
    assert "Ubuntu 24.04: `apt-get install webkit2gtk-driver xvfb`" in browsers.WEBKIT_PACKAGES


def test_an_adopted_project_gets_the_same_pyodide_job_in_a_workflow_of_its_own(projects):
    adopted = projects["adopted"]
    assert workflow_files(adopted) == [".github/workflows/pyodide.yml"]
    generated = workflow(projects[MATRIX.default], "ci.yml")["jobs"]["pyodide"]
    assert workflow(adopted, "pyodide.yml")["jobs"] == {"pyodide": generated}
    listed = run_nox(adopted, "--list")
    assert listed.returncode == 0, listed.stderr
    for session in set(NOX_SESSION.findall((adopted / ".github/workflows/pyodide.yml").read_text())):
        assert re.search(rf"^[*-] {session}\b", listed.stdout, re.MULTILINE), listed.stdout


# Caches of the Pyodide job, as a run sees them


def steps_by_id(job: dict) -> dict[str, dict]:
    return {step["id"]: step for step in job["steps"] if "id" in step}


def cache_step(job: dict, key_start: str) -> dict:
    [step] = [step for step in job["steps"] if step.get("with", {}).get("key", "").startswith(key_start)]
    return step


def run_step(project: Path, step: dict, home: Path, pyodide: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run a step's script as the runner does (`bash -e`, the job's env, a GITHUB_OUTPUT file), with `home`
    as HOME and this environment's nox; return the result and the outputs the step wrote."""
    output = home / "github-output"
    output.write_text("")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYO3_PYODIDE_CACHE", "XDG_CACHE_HOME")
    }
    env.update(
        HOME=str(home),
        PYODIDE_VERSION=pyodide,
        GITHUB_OUTPUT=str(output),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]),
    )
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    return result, dict(line.split("=", 1) for line in output.read_text().splitlines())


def folder_found(project: Path, step: dict, home: Path, pyodide: str) -> dict:
    result, outputs = run_step(project, step, home, pyodide)
    assert result.returncode == 0, result.stdout + result.stderr
    return outputs


def cache_patches(release, patches: dict[str, bytes]) -> list[Path]:
    """Pyodide's patches of `release` in the cache's xbuildenv folder, as the xbuildenv cache restores them
    (what the engine wrote there when it downloaded the cross-build environment)."""
    folder = engine_emsdk.xbuildenv_dir(release)
    (folder / "patches").mkdir(parents=True)
    for name, content in patches.items():
        (folder / "patches" / name).write_bytes(content)
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in patches.items()}
    write_json(
        folder / MARKER,
        {"url": release.xbuildenv_url, "sha256": release.xbuildenv_sha256, "patches": digests},
    )
    known = engine_emsdk.known_patches(release)
    assert known is not None, f"the engine does not take {folder} for the patches of {release.version}"
    return known


def test_one_emscripten_and_the_same_patches_share_one_emsdk_entry_named_as_the_engine_names_it(
    projects, tmp_path, monkeypatch
):
    project = projects["one emscripten"]
    job = workflow(project, "ci.yml")["jobs"]["pyodide"]
    steps = steps_by_id(job)
    restore, save = steps["emsdk-cache"], cache_step(job, "emsdk-${{ steps.emsdk-installed.")
    xbuildenv = cache_step(job, "xbuildenv-")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(home / ".cache/pyo3-pyodide"))  # the engine's default there
    assert expand(xbuildenv["with"]["path"], {}).replace("~", str(home)) == str(XBUILDENV.path)

    # First run of these cross-build environments: the patches are unknown, so nothing is restored.
    for release in SAME_EMSCRIPTEN:
        assert folder_found(project, steps["emsdk"], home, release.version) == {"folder": ""}
    assert restore["if"] == "steps.emsdk.outputs.folder != ''"

    # Both with the same patches: one folder, one key, for the lookup before the install and after it.
    patches = make_patches()
    entries = set()
    for release in SAME_EMSCRIPTEN:
        engine_dir = engine_emsdk.emsdk_dir_for(release.emscripten, cache_patches(release, patches))
        for step_id in ("emsdk", "emsdk-installed"):
            outputs = folder_found(project, steps[step_id], home, release.version)
            assert outputs == {"folder": engine_dir.name}
            context = {f"steps.{step_id}.outputs.folder": outputs["folder"]}
            cached = restore if step_id == "emsdk" else save
            path, key = (expand(cached["with"][name], context) for name in ("path", "key"))
            assert path.replace("~", str(home)) == str(engine_dir)
            entries.add((path, key))
    assert entries == {(f"~/.cache/pyo3-pyodide/emsdk/{engine_dir.name}", f"emsdk-{engine_dir.name}")}
    assert engine_dir.name.startswith(f"{SAME_EMSCRIPTEN[0].emscripten}-pyodide-")

    # Other patches for one of them: another folder, another entry.
    second = SAME_EMSCRIPTEN[1]
    other = {name: content + b"\n" for name, content in patches.items()}
    monkeypatch.setenv("PYO3_PYODIDE_CACHE", str(tmp_path / "other-home/.cache/pyo3-pyodide"))
    (tmp_path / "other-home").mkdir()
    other_dir = engine_emsdk.emsdk_dir_for(second.emscripten, cache_patches(second, other))
    assert folder_found(project, steps["emsdk"], tmp_path / "other-home", second.version) == {
        "folder": other_dir.name
    }
    assert other_dir.name != engine_dir.name


def test_the_lookup_after_the_install_fails_when_the_patches_are_still_unknown(projects, tmp_path):
    # The save step would otherwise store the whole emsdk folder under a key naming no patches.
    project = projects["one emscripten"]
    step = steps_by_id(workflow(project, "ci.yml")["jobs"]["pyodide"])["emsdk-installed"]
    result, outputs = run_step(project, step, tmp_path, SAME_EMSCRIPTEN[0].version)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "::error::the toolchain is installed, yet nox -s toolchain -- --dry-run does not know"
        in result.stdout
    )
    assert outputs == {}


def test_each_pyodide_job_has_a_cargo_key_of_its_own(projects):
    # Two jobs with one key race to save it (SAME_EMSCRIPTEN's lines share the Rust toolchain and Emscripten).
    job = workflow(projects["one emscripten"], "ci.yml")["jobs"]["pyodide"]
    cargo = cache_step(job, "cargo-wasm-")
    keys = {}
    for entry in include_of(job):
        context = {f"matrix.{name}": value for name, value in entry.items()}
        keys[entry["pyodide"]] = (
            expand(cargo["with"]["key"], context),
            expand(cargo["with"]["restore-keys"], context),
        )
    assert len({key for key, _ in keys.values()}) == len(keys) == 2, keys
    for version, (key, prefix) in keys.items():
        # A job restores only its own entries, never another line's.
        assert [other for other, (k, _) in keys.items() if k.startswith(prefix)] == [version], keys


# What release.yml verifies, and says it does not


def release_header(project: Path) -> str:
    return (project / ".github/workflows/release.yml").read_text().split("\nname: Release\n", 1)[0]


def releases_section(project: Path) -> str:
    return (project / "README.md").read_text().split("\n## Releases\n", 1)[1].split("\n## ", 1)[0]


def test_release_yml_says_that_an_unpinned_sysroot_is_not_verified(projects):
    project = projects["one emscripten"]
    header = release_header(project)
    versions = ", ".join(release.version for release in SAME_EMSCRIPTEN)
    url = SAME_EMSCRIPTEN[0].rust_sysroot_url
    owner, repository = url.split("/")[3:5]
    assert (
        f"# NOT VERIFIED: pyodide-matrix.toml pins no sha256 for the wasm-eh Rust sysroot of Pyodide {versions}\n"
        in header
    )
    assert "builds with whatever the URL serves on the day, its content unchecked" in header
    for release in SAME_EMSCRIPTEN:
        assert f"#   - Pyodide {release.version}: {release.rust_sysroot_url}\n" in header
    assert f"`gh attestation verify {url.rsplit('/', 1)[1]} --repo {owner}/{repository}`" in header
    assert "record its sha256 as rust_sysroot_sha256 in pyodide-matrix.toml" in header
    assert "checked against sha256" not in header
    job = workflow(project, "release.yml")["jobs"]["wheels"]
    assert [entry["rust_sysroot_sha256"] for entry in include_of(job)] == ["not pinned", "not pinned"]
    [warning] = [
        step for step in job["steps"] if step.get("if") == "matrix.rust_sysroot_sha256 == 'not pinned'"
    ]
    assert warning["run"].startswith(
        'echo "::warning::Pyodide $PYODIDE_VERSION: pyodide-matrix.toml pins no sha256'
    )
    readme = releases_section(project)
    assert (
        f"**Not verified:** the matrix pins no sha256 for the wasm-eh sysroot of Pyodide {versions}\n"
        in readme
    )
    assert "`gh attestation verify`" in readme


def test_a_pinned_sysroot_digest_reaches_the_release_job(projects):
    project = projects["pinned sysroot"]
    pinned, unpinned = SAME_EMSCRIPTEN
    header = release_header(project)
    assert (
        f"# Pyodide {pinned.version}: its wasm-eh Rust sysroot is checked against sha256 {PINNED_DIGEST}\n"
        in header
    )
    assert f"of Pyodide {unpinned.version}\n" in header and f"- Pyodide {pinned.version}:" not in header
    job = workflow(project, "release.yml")["jobs"]["wheels"]
    assert [entry["rust_sysroot_sha256"] for entry in include_of(job)] == [PINNED_DIGEST, "not pinned"]
    assert f"sysroot of Pyodide {unpinned.version}\n" in releases_section(project)


def test_without_a_sysroot_there_is_nothing_to_say(projects):
    project = projects[MATRIX.default]
    assert MATRIX.releases[MATRIX.default].rust_sysroot_url is None
    assert "NOT VERIFIED" not in release_header(project)
    assert "Not verified" not in releases_section(project)
    [entry] = include_of(workflow(project, "release.yml")["jobs"]["wheels"])
    assert entry["rust_sysroot_sha256"] == "no sysroot"


def test_the_repository_readme_names_the_lines_whose_sysroot_is_not_verified():
    readme = (REPO_DIR / "README.md").read_text()
    publishing = " ".join(readme.split("\nPublishing: ", 1)[1].split("\n## ", 1)[0].split())
    [named] = re.findall(r"Not verified today: the wasm-eh sysroot of the (.+?) lines?\b", publishing)
    unpinned = [r.line for r in MATRIX.releases.values() if r.rust_sysroot_url and not r.rust_sysroot_sha256]
    assert re.split(r", | and ", named) == unpinned, publishing
    assert "gh attestation verify" in publishing and "rust_sysroot_sha256" in publishing
