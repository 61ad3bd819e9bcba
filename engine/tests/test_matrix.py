"""The matrix module (engine matrix.py, read by generated projects and the template): reading the matrix, with
clear errors (the target a project names: engine/tests/test_project.py)."""

import copy

import pytest

from template_tools import matrix

tools = matrix.pyo3_pyodide.matrix
GOOD = matrix.raw()
SHIPPED = matrix.load()
DEFAULT = SHIPPED.default  # a stable release: the tables below break a copy of it
[PRERELEASE] = [version for version, release in SHIPPED.releases.items() if release.status == "prerelease"]
[WITH_SYSROOT, *_] = [version for version, release in SHIPPED.releases.items() if release.rust_sysroot_url]
[WITHOUT_SYSROOT, *_] = [
    version for version, release in SHIPPED.releases.items() if not release.rust_sysroot_url
]
PRE_PEP783 = next(release for release in SHIPPED.releases.values() if release.pep783_platform_version is None)
# The platform tag of another ABI than the default's: refused for the default.
OTHER_TAG = next(
    release.platform_tag
    for release in SHIPPED.releases.values()
    if release.abi != SHIPPED.resolve(DEFAULT).abi
)


def broken(edit):
    data = copy.deepcopy(GOOD)
    edit(data)
    return data


def test_the_shipped_matrix_parses():
    parsed = tools.parse_matrix(GOOD)
    assert parsed.resolve("stable").version == GOOD["default"]
    # Python X.Y makes the tag cpXY; an emscripten_X_Y_Z tag has no PEP 783 platform version.
    release = parsed.resolve(PRE_PEP783.version)
    assert release.python_tag == "cp" + "".join(release.python.split(".")[:2])
    assert release.platform_tag.startswith("emscripten_") and release.pep783_platform_version is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("release"), r'has no \[release."X"\] tables'),
        (lambda d: d.update(default="1.2.3"), r"default = '1.2.3' is not one of its releases"),
        (lambda d: d.update(default=PRERELEASE), r"has status 'prerelease', not stable"),
        (lambda d: d["release"][DEFAULT].pop("emscripten"), rf'\[release."{DEFAULT}"\] lacks emscripten'),
        (lambda d: d["release"][DEFAULT].update(rustflag=[]), r"unknown keys rustflag"),
        (lambda d: d["release"][DEFAULT].update(emscripten="5.0"), r"emscripten = '5.0' is not X.Y.Z"),
        (
            lambda d: d["release"][DEFAULT].update(rustflags="-C x"),
            r"rustflags must be an array of strings",
        ),
        (lambda d: d["release"][DEFAULT].update(status="beta"), r"status = 'beta' is not one of"),
        (lambda d: d["release"][DEFAULT].update(python=3.14), r"python must be a string"),
        (
            lambda d: d["release"][DEFAULT].update(platform_tag=OTHER_TAG),
            f"does not name this release's platform; expected one of pyemscripten_{SHIPPED.resolve(DEFAULT).abi}_wasm32",
        ),
        (
            lambda d: d["release"][WITHOUT_SYSROOT].update(rust_sysroot_sha256="0" * 64),
            r"but no rust_sysroot_url",
        ),
        (
            lambda d: d["release"][WITH_SYSROOT].update(rust_sysroot_sha256="abc"),
            r"is not 64 lowercase hex digits",
        ),
    ],
)
def test_malformed_matrix_is_refused_with_the_reason(edit, message):
    with pytest.raises(tools.MatrixError, match=message):
        tools.parse_matrix(broken(edit))


def test_unknown_target_names_the_known_ones():
    lines = ", ".join(release.line for release in SHIPPED.releases.values())
    assert "0.99" not in lines.split(", ")
    with pytest.raises(tools.MatrixError) as raised:
        tools.parse_matrix(GOOD).resolve("0.99.0")
    assert str(raised.value) == (
        f"Pyodide release '0.99.0' is not in pyodide-matrix.toml; known: stable, {lines}, "
        f"{', '.join(SHIPPED.releases)}. Pick one of those, or run `copier update` to get newer releases."
    )
