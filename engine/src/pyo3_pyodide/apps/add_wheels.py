"""Runs inside Pyodide, never on the host: make_lock.mjs runs `main` with lock.py's job.

pyodide-lock's add_wheels_to_spec adds the staged wheels to the runtime's own lock: name, version,
sha256, top-level imports, and `depends` from each wheel's Requires-Dist, with markers evaluated by this
very runtime. Paths in the job are relative to the staging folder, the current directory here.
"""

import json
from pathlib import Path

import attrs
from pyodide_lock import PyodideLockSpec
from pyodide_lock.utils import add_wheels_to_spec


def main(job_json: str) -> str:
    job = json.loads(job_json)
    spec = PyodideLockSpec.from_json(Path(job["runtime_lock"]))
    runtime_info = spec.info
    if job["platform"]:
        # pyodide-lock 0.2.1 checks a binary wheel's platform tag against info.platform, which the
        # runtimes' locks still spell emscripten_X_Y_Z while their wheels carry PEP 783's
        # pyemscripten_<abi> (pyodide-lock issue 44). lock.py has checked the tags against the
        # release already: name the platform the wheels carry, and keep the runtime's info.
        spec.info = attrs.evolve(spec.info, platform=job["platform"])
    wheels = [Path(name) for name in job["wheels"]]
    try:
        spec = add_wheels_to_spec(spec, wheels, base_path=Path("."), base_url=job["base_url"])
    except (RuntimeError, ValueError) as error:
        return json.dumps({"error": f"pyodide-lock's add_wheels_to_spec refused: {error}"})
    spec.info = runtime_info
    spec.to_json(Path(job["out"]))
    added = [p.name for p in spec.packages.values() if Path(p.file_name).name in job["wheels"]]
    return json.dumps({"added": sorted(added)})
