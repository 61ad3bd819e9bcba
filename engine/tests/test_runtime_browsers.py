"""runtime/browsers.py: how each browser's programs are found, or named with the command that installs them."""

from pathlib import Path

import pytest
from pyo3_pyodide.runtime import browsers
from pyo3_pyodide.runtime_info import RuntimeSetupError


def stand_in(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_webkit_is_found_with_its_minibrowser_and_xvfb_or_named_with_the_install_command(
    tmp_path, monkeypatch
):
    webkit = browsers.BROWSERS["webkit"]
    monkeypatch.delenv(webkit.variable, raising=False)
    driver = stand_in(tmp_path / "usr/bin/WebKitWebDriver")
    monkeypatch.setenv("PATH", str(driver.parent))
    with pytest.raises(RuntimeSetupError) as error:
        webkit.programs()
    assert f"found {driver}, but no MiniBrowser beside it or under {tmp_path}/usr/" in str(error.value)
    assert "`apt-get install webkit2gtk-driver xvfb`" in str(error.value)
    # Debian's and Ubuntu's: under the multiarch folder of the driver's prefix
    minibrowser = stand_in(tmp_path / "usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
    with pytest.raises(RuntimeSetupError) as error:
        webkit.programs()
    assert f"found {driver}, but no `Xvfb` on PATH" in str(error.value)
    assert "`apt-get install xvfb`" in str(error.value)
    xvfb = stand_in(tmp_path / "usr/bin/Xvfb")
    found = {"executable": str(driver), "minibrowser": str(minibrowser), "xvfb": str(xvfb)}
    assert webkit.programs() == found
    # a WebKit built from source keeps MiniBrowser beside WebKitWebDriver; the variable names it
    built = stand_in(tmp_path / "WebKitBuild/Release/bin/WebKitWebDriver")
    beside = stand_in(built.with_name("MiniBrowser"))
    monkeypatch.setenv(webkit.variable, str(built))
    assert webkit.programs() == {"executable": str(built), "minibrowser": str(beside), "xvfb": str(xvfb)}
