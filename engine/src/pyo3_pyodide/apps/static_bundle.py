"""`nox -s bundle`: a folder that static hosting serves as it is (GitHub Pages, a CDN bucket, any web server).

    dist/bundle/
        index.html ...     the demo page web/, which loads the module by name through the lock
        demo-config.json   what the page loads: the runtime folder, the lock, the package and its wheel
        pyodide/           the runtime files of the npm `pyodide` package, with this project's
                           pyodide-lock.json (lock.py) in place of the runtime's own, and beside it the
                           wheels it adds: this project's, its dependencies', and micropip's

pyodide/ is laid out like Pyodide's own distribution (runtime, lock and wheels in one folder), so an app
that sets `indexURL` to it can `loadPackage("<distribution name>")` with no other setting, and
`micropip.install(url)` of the wheel there works where the release's micropip accepts its tag (the
bundle records the verdict, lock.micropip_problem, for the page and the log). The npm package carries
none of the lock's wheels: micropip, and every dependency of the project that the release provides
itself (numpy, ...), are fetched from the release's package base URL (resolve/pyodide_packages.py,
sha256 checked) and put beside the lock. The release's other packages stay listed but are not in the
bundle: Pyodide's full release holds their wheels, to put beside the lock if an app needs them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from pyo3_pyodide import files
from pyo3_pyodide.apps import pyodide_lock as lock
from pyo3_pyodide.runtime_info import Runtime

DEFAULT_OUT = Path("dist") / "bundle"
CONFIG_FILE = "demo-config.json"
# The page of a project without web/index.html (one that adopted the Pyodide layer): loads, lists, runs Python.
GENERIC_PAGE = Path(__file__).with_name("page")


def page_folder(project_dir: Path) -> Path:
    """The project's own demo page web/, else the generic page."""
    web = project_dir / "web"
    return web if (web / "index.html").is_file() else GENERIC_PAGE


RUNTIME_DIR = "pyodide"
# npm packaging and TypeScript declarations, not runtime files; the lock is replaced by the project's.
NOT_RUNTIME_FILES = {"package.json", "README.md", lock.LOCK_FILE}


@dataclasses.dataclass(frozen=True)
class Bundle:
    folder: Path
    lock: lock.Lock
    micropip_problem: str | None  # why micropip.install(url) of the wheel fails on this release


def runtime_files(runtime: Runtime) -> list[Path]:
    return [
        path
        for path in sorted(runtime.folder.iterdir())
        if path.is_file() and path.name not in NOT_RUNTIME_FILES and not path.name.endswith(".d.ts")
    ]


def demo_config(made: lock.Lock, runtime: Runtime, micropip_problem: str | None) -> dict:
    """demo-config.json: URLs relative to the page, and what it needs to know of the release."""
    return {
        "pyodide": f"{RUNTIME_DIR}/",
        "lock": f"{RUNTIME_DIR}/{lock.LOCK_FILE}",
        "package": made.package,
        "wheel": f"{RUNTIME_DIR}/{made.wheels[0].name}",
        "imports": made.imports,
        "release": runtime.release.version,
        "micropip": {"version": runtime.micropip, "refused": micropip_problem},
    }


def write_bundle(
    runtime: Runtime,
    wheel: Path,
    web_dir: Path,
    out: Path,
    refresh: bool = False,
    package_base_url: str | None = None,
) -> Bundle:
    """Write the bundle into `out` (replacing a bundle there): page, runtime, lock and wheels.
    `package_base_url` overrides where the release's own packages come from (pyodide_packages)."""
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / CONFIG_FILE).is_file():
        raise lock.LockError(
            f"{out} exists and holds no {CONFIG_FILE}, so it is not a bundle `nox -s bundle` "
            "wrote; it is left alone. Pick another `--out`, or remove it"
        )
    with files.staged_folder(out, create=False) as staging:
        shutil.copytree(web_dir, staging)
        micropip = f"micropip=={runtime.micropip}"
        made = lock.write_pyodide_lock(
            runtime,
            wheel,
            staging / RUNTIME_DIR,
            extra_requirements=[micropip],
            refresh=refresh,
            package_base_url=package_base_url,
        )
        for path in runtime_files(runtime):
            shutil.copyfile(path, staging / RUNTIME_DIR / path.name)
        problem = lock.micropip_problem(wheel, runtime)
        config = demo_config(made, runtime, problem)
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    made = dataclasses.replace(
        made,
        folder=out / RUNTIME_DIR,
        wheels=[out / RUNTIME_DIR / path.name for path in made.wheels],
    )
    return Bundle(folder=out, lock=made, micropip_problem=problem)


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
