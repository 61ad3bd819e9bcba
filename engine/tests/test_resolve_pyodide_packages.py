"""resolve/pyodide_packages.py on the host: where a test run's wheels come from, the release's own package
set or PyPI, without running Pyodide.

The sets are served from 127.0.0.1 (tests/helpers/package_sets.py): the stable release's (314) real
pyodide-lock.json with `greeting` (a pure wheel built here) and jiter 0.19.0 (a real PyO3 wheel from PyPI) as
Pyodide packages; the prerelease's (315) as it is, whose pytest 8.3.5 a project may ask more of. "Cannot be
reached" is the same server once closed (a refused port). The stories that run a rendered project's
`nox -s wasm_test` against them are tests/test_pyodide_packages.py and tests/test_pure_from_pypi.py.
"""

import hashlib
import json
import re
import subprocess

import pytest
from packaging.version import Version
from pyo3_pyodide.cache import CACHE_ENV, cache_dir
from pyo3_pyodide.download import DownloadError
from pyo3_pyodide.resolve import pip, pyodide_packages

from template_tools import matrix
from tests.helpers import package_sets, real_builds
from tests.helpers.package_mirror import ENV, folder_mirror, pypi_wheel
from tests.helpers.package_sets import UNREACHABLE, own_lock, shared_runtime

pytestmark = pytest.mark.network

RELEASES = matrix.load().releases
STABLE = RELEASES[matrix.load().default]
PRERELEASE = real_builds.SID_RELEASE  # 315: its set holds pytest 8.3.5


@pytest.fixture(scope="module")
def stable_runtime():
    return package_sets.shared_runtime(STABLE)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """greeting's pure wheel and jiter's binary one: the Pyodide packages the stable set adds."""
    return package_sets.greeting_and_jiter(tmp_path_factory.mktemp("greeting"))


@pytest.fixture
def stable_mirror(stable_runtime, wheels, monkeypatch, tmp_path):
    """The stable set with greeting and jiter, served as the package base URL; an empty per-user cache."""
    package_sets.empty_user_cache(stable_runtime, tmp_path / "cache", monkeypatch)
    with package_sets.served_set(stable_runtime, monkeypatch, wheels) as packages:
        yield packages


@pytest.fixture(scope="module")
def prerelease_runtime():
    return package_sets.shared_runtime(PRERELEASE)


@pytest.fixture
def cache(prerelease_runtime, monkeypatch, tmp_path):
    """An empty per-user cache with the prerelease's npm runtime copied in."""
    return package_sets.empty_user_cache(prerelease_runtime, tmp_path / "cache", monkeypatch)


@pytest.fixture
def prerelease_mirror(prerelease_runtime, cache, monkeypatch):
    """The prerelease's set (HARNESS's wheels at the set's versions) served as the package base URL."""
    with package_sets.served_set(prerelease_runtime, monkeypatch) as packages:
        yield packages


def set_version(runtime, name: str) -> str:
    return json.loads((runtime.folder / "pyodide-lock.json").read_text())["packages"][name]["version"]


def by_name(wheels: list[pip.LockedWheel]) -> dict[str, pip.LockedWheel]:
    return {wheel.name: wheel for wheel in wheels}


def assert_from_pypi(wheel: pip.LockedWheel) -> None:
    """PyPI's URL and sha256, and the cached file is that wheel."""
    assert wheel.source == pip.PYPI and wheel.url.startswith("https://files.pythonhosted.org/"), wheel
    assert wheel.url.endswith("/" + wheel.file)
    assert hashlib.sha256((pip.wheel_cache() / wheel.file).read_bytes()).hexdigest() == wheel.sha256


# The stable set, greeting and jiter added


def test_the_package_base_url_is_the_one_pyodide_computes(stable_runtime, monkeypatch):
    """Without a setting, the URL that the runtime's own pyodide.mjs falls back to (jsDelivr's folder of the
    version it reports); --package-base-url and the variable replace it, `{version}` filled in."""
    script = f'const m = await import("{(stable_runtime.folder / "pyodide.mjs").as_uri()}"); console.log(m.version)'
    version = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version == str(Version(STABLE.npm))
    monkeypatch.delenv(ENV, raising=False)
    source = pyodide_packages.package_source(stable_runtime)
    assert (source.base_url, source.own) == (f"https://cdn.jsdelivr.net/pyodide/v{version}/full/", True)
    monkeypatch.setenv(ENV, "file:///srv/pyodide/{version}")
    assert pyodide_packages.package_source(stable_runtime).base_url == f"file:///srv/pyodide/{version}/"
    chosen = pyodide_packages.package_source(stable_runtime, "https://mirror.example/p/v{version}/full/")
    assert (chosen.base_url, chosen.origin) == (
        f"https://mirror.example/p/v{version}/full/",
        "from --package-base-url",
    )
    with pytest.raises(pip.ResolveError, match="is not an http"):
        pyodide_packages.package_source(stable_runtime, "ftp://mirror.example/")


def test_pip_is_not_asked_for_what_the_release_provides(stable_mirror, stable_runtime, tmp_path):
    """cattrs (PyPI only) needs attrs and typing-extensions, which the release provides: pip resolves
    cattrs against the release's versions and fetches neither; they come from the package base URL."""
    packages = own_lock(stable_runtime)["packages"]
    attrs = pypi_wheel(stable_runtime, "attrs", packages["attrs"]["version"])
    typing = pypi_wheel(stable_runtime, "typing-extensions", packages["typing-extensions"]["version"])
    stable_mirror.serve_release(stable_runtime, [attrs, typing])
    source = pyodide_packages.package_source(stable_runtime)
    locked = {
        wheel.name: wheel
        for wheel in pyodide_packages.resolve(stable_runtime, ["cattrs", "greeting"], source)
    }
    assert set(locked) == {"cattrs", "attrs", "typing-extensions", "greeting"}
    assert locked["cattrs"].source == pip.PYPI and locked["cattrs"].url.startswith("https://")
    for name, wheel in [("attrs", attrs), ("typing-extensions", typing)]:
        assert locked[name].source == pip.PYODIDE
        assert locked[name].url == source.base_url + wheel.name
        assert locked[name].version == packages[name]["version"]
    assert stable_mirror.requested(stable_runtime) == [
        "pyodide-lock.json",
        *sorted([attrs.name, "greeting-1.2.0-py3-none-any.whl", typing.name]),
    ]


def test_a_specifier_the_release_does_not_meet_names_both(stable_mirror, stable_runtime):
    source = pyodide_packages.package_source(stable_runtime)
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.resolve(stable_runtime, ["jiter>=1"], source)
    message = str(error.value)
    version = stable_mirror.served["packages"]["jiter"]["version"]  # 0.19.0, jiter_wheel()'s
    assert (
        f"jiter>=1 is not met by jiter {version}, the version that Pyodide {STABLE.version}'s own package set holds"
        in message
    )
    assert stable_mirror.base_url.format(version=Version(STABLE.npm)) + "pyodide-lock.json" in message
    assert "so pip is not asked for it" in message
    # markers are Pyodide's: a requirement for another platform is left out, and pip is never run
    assert [
        w.name
        for w in pyodide_packages.resolve(
            stable_runtime, ["jiter>=1; sys_platform == 'linux'", "greeting"], source
        )
    ] == ["greeting"]


def test_a_lock_for_another_runtime_is_refused(stable_mirror, stable_runtime):
    release = next(release for release in RELEASES.values() if release.abi != STABLE.abi)
    other = own_lock(shared_runtime(release))
    folder = stable_mirror.folder(stable_runtime)
    stable_mirror.server.serve(folder + "pyodide-lock.json", json.dumps(other).encode())
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.load_package_set(stable_runtime, pyodide_packages.package_source(stable_runtime))
    info = other["info"]
    python = ".".join(info["python"].split(".")[:2])
    assert (
        f"is the lock of ABI {info['abi_version']}, {info['platform']}, Python {python}, not of "
        f"Pyodide {STABLE.version}" in str(error.value)
    )
    assert not list((cache_dir() / "pyodide-packages").rglob("*.json"))  # not kept


def test_an_unpacked_release_as_a_file_url_serves_its_wheels_checked(
    stable_runtime, wheels, tmp_path, monkeypatch
):
    """A file:// package base URL (an unpacked release): its lock and wheels come through the downloader
    like any other, each checked against the lock's sha256; a changed file is refused and not kept."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "unpacked release"  # a space: the URL quotes it
    source = pyodide_packages.package_source(stable_runtime, folder_mirror(stable_runtime, folder, wheels))
    locked = {
        wheel.name: wheel for wheel in pyodide_packages.resolve(stable_runtime, ["greeting", "jiter"], source)
    }
    assert {name: wheel.source for name, wheel in locked.items()} == {
        "greeting": pip.PYODIDE,
        "jiter": pip.PYODIDE,
    }
    cached = pyodide_packages.release_folder(stable_runtime.release.npm)
    for wheel in wheels:
        assert (cached / wheel.name).read_bytes() == wheel.read_bytes()

    greeting = locked["greeting"]
    (cached / greeting.file).unlink()
    (folder / greeting.file).write_bytes(b"not the wheel the lock names")
    with pytest.raises(DownloadError, match=f"but {greeting.sha256} was expected"):
        pyodide_packages.wheel_paths([greeting], stable_runtime, source, "the test")
    assert not (cached / greeting.file).exists() and not list(cached.glob("*.part"))


# The prerelease's set: pure packages it does not meet, or cannot serve, come from PyPI


def test_a_pure_package_the_set_does_not_meet_comes_from_pypi(prerelease_mirror, prerelease_runtime, capsys):
    """pytest>=9.0.1 against 315's pytest 8.3.5: PyPI's pytest 9; its dependencies as usual: those the set
    holds at versions that fit (pluggy, iniconfig, packaging) from the set, pygments (not in it) from PyPI."""
    assert set_version(prerelease_runtime, "pytest") == "8.3.5"
    source = pyodide_packages.package_source(prerelease_runtime)
    locked = by_name(pyodide_packages.resolve(prerelease_runtime, ["pytest>=9.0.1"], source))
    assert set(locked) == {"pytest", "pluggy", "iniconfig", "packaging", "pygments"}
    assert Version(locked["pytest"].version) >= Version("9.0.1")
    assert_from_pypi(locked["pytest"])
    assert_from_pypi(locked["pygments"])
    for name in ("pluggy", "iniconfig", "packaging"):
        assert locked[name].source == pip.PYODIDE and locked[name].url.startswith(source.base_url)
        assert locked[name].version == set_version(prerelease_runtime, name)
    output = capsys.readouterr().err
    line = "pytest>=9.0.1 (the set holds 8.3.5): not met by Pyodide"
    assert output.count(line) == 1 and UNREACHABLE not in output, output
    assert "pytest-8.3.5-py3-none-any.whl" not in prerelease_mirror.requested(prerelease_runtime)


def test_a_binary_package_the_set_does_not_meet_is_still_refused(prerelease_mirror, prerelease_runtime):
    source = pyodide_packages.package_source(prerelease_runtime)
    version = set_version(prerelease_runtime, "numpy")
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.resolve(prerelease_runtime, ["numpy>=99"], source)
    message = str(error.value)
    assert f"numpy>=99 is not met by numpy {version}, the version that Pyodide" in message
    assert "not a pure wheel: PyPI has none for Pyodide), so pip is not asked for it" in message


def test_an_unreachable_package_base_url_sends_pure_packages_to_pypi(
    prerelease_mirror, prerelease_runtime, capsys
):
    """The server closed (its port refuses): the pure packages come from PyPI with one line saying why; a
    binary one still needs the URL, and its error names the settings that point elsewhere."""
    source = pyodide_packages.package_source(prerelease_runtime)
    pyodide_packages.load_package_set(
        prerelease_runtime, source
    )  # the set's lock, fetched and kept in the cache
    prerelease_mirror.server.__exit__(None)
    assert pyodide_packages.unreachable(source) is not None
    locked = by_name(pyodide_packages.resolve(prerelease_runtime, ["pytest"], source))
    assert {"pytest", "pluggy", "iniconfig", "packaging"} <= set(locked)
    for wheel in locked.values():
        assert_from_pypi(wheel)
    output = capsys.readouterr().err
    assert output.count(UNREACHABLE) == 1 and "Connection refused" in output, output
    assert f"{source.base_url} {UNREACHABLE}" in output
    numpy = json.loads((prerelease_runtime.folder / "pyodide-lock.json").read_text())["packages"]["numpy"][
        "file_name"
    ]
    with pytest.raises(DownloadError) as error:
        pyodide_packages.resolve(prerelease_runtime, ["numpy"], source)
    message = str(error.value)
    assert f"could not download {source.base_url}{numpy}" in message
    assert pyodide_packages.BASE_URL_OPTION in message and ENV in message


def test_a_lock_made_when_the_url_answered_says_how_to_take_pypis_wheels(
    prerelease_mirror, prerelease_runtime, cache
):
    """A lock that took pytest from the set, used where the set's URL refuses connections and the cache
    lacks the wheel: the error says that resolving again takes the pure wheels from PyPI."""
    source = pyodide_packages.package_source(prerelease_runtime)
    locked = pyodide_packages.resolve(prerelease_runtime, ["pytest"], source)
    assert {wheel.source for wheel in locked} == {pip.PYODIDE}
    prerelease_mirror.server.__exit__(None)
    (cache / "pyodide-packages" / prerelease_runtime.release.npm / "pytest-8.3.5-py3-none-any.whl").unlink()
    with pytest.raises(pip.ResolveError) as error:
        pyodide_packages.wheel_paths(locked, prerelease_runtime, source, "tests/pylock.pyodide-315.toml")
    message = str(error.value)
    assert "could not download" in message and "Connection refused" in message
    assert (
        "pytest-8.3.5-py3-none-any.whl is a pure wheel, which tests/pylock.pyodide-315.toml took" in message
    )
    assert "`nox -s wasm_test -- --relock`" in message


def test_a_missing_file_is_not_an_unreachable_url(prerelease_mirror, prerelease_runtime, capsys):
    """A 404 of one wheel is the mirror's fault, reported as such: pip is not asked for it instead."""
    pluggy = f"pluggy-{set_version(prerelease_runtime, 'pluggy')}-py3-none-any.whl"
    del prerelease_mirror.server.files[prerelease_mirror.folder(prerelease_runtime) + pluggy]
    source = pyodide_packages.package_source(prerelease_runtime)
    assert pyodide_packages.unreachable(source) is None
    with pytest.raises(
        DownloadError, match=rf"could not download {re.escape(source.base_url + pluggy)} .*: HTTP 404"
    ):
        pyodide_packages.resolve(prerelease_runtime, ["pytest"], source)
    assert UNREACHABLE not in capsys.readouterr().err


def test_a_file_url_of_no_folder_cannot_be_reached(prerelease_runtime, tmp_path):
    missing = pyodide_packages.package_source(prerelease_runtime, (tmp_path / "nowhere").as_uri())
    assert pyodide_packages.unreachable(missing) == f"{tmp_path / 'nowhere'} is not a folder"
    (tmp_path / "here").mkdir()
    assert (
        pyodide_packages.unreachable(
            pyodide_packages.package_source(prerelease_runtime, (tmp_path / "here").as_uri())
        )
        is None
    )
