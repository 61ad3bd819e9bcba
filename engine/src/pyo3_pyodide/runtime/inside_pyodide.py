"""What wasm_test runs inside Pyodide before pytest (run_pytest.mjs writes this file there): the snapshot's
recipe, and the check of the installed wheels. Standard library only: it runs before any wheel is installed.
pytest_inside.py holds what runs around pytest itself.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import sysconfig
import traceback
import zipfile


def warm_up(wheel_dir: str) -> None:
    """The snapshot's recipe: the pure test wheels in `wheel_dir` unpacked, pytest and the plugins
    pytest.main imports first imported (compiling them is most of their cost), nothing else."""
    site_packages = sysconfig.get_path("purelib")
    for name in sorted(os.listdir(wheel_dir)):
        with zipfile.ZipFile(os.path.join(wheel_dir, name)) as wheel:
            wheel.extractall(site_packages)
    importlib.invalidate_caches()
    import _pytest.config

    for plugin in _pytest.config.default_plugins:
        importlib.import_module(f"_pytest.{plugin}")


def check_installed(distributions: dict[str, str], imports: list[str]) -> dict:
    """After the wheels are loaded: each distribution has its version and each module of the wheel under
    test imports. The problems found, and Python's version."""
    problems = []
    for name, version in distributions.items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found = "nothing"
        if found != version:
            problems.append(f"{name} {version} should be installed, found {found}")
    for module in imports:
        try:
            importlib.import_module(module)
        except BaseException:  # noqa: BLE001 (an import may raise anything, SystemExit included)
            problems.append(f"import {module} failed:\n{traceback.format_exc()}")
    return {"problems": problems, "python": sys.version.split()[0]}
