"""What a Pyodide runtime is, as its npm package's pyodide-lock.json describes it: the release, ABI, platform,
Python and micropip, and so the platform tags its micropip accepts (wheel/pick.py applies them).

Below resolve/ and runtime/, which both need it: runtime/npm.py installs runtimes and reads this from them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from packaging.version import Version

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import Release

# micropip accepts pyemscripten_<abi> tags (PEP 783) from this version on; older ones only pyodide_<abi>
# and emscripten_X_Y_Z (read in micropip's _utils.sys_tags of each version).
MICROPIP_PEP783 = Version("0.11.1")


class RuntimeSetupError(EngineError):
    """Node, npm or a runtime package is missing or wrong; the message says what was found and the fix."""


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One installed Pyodide runtime, as its pyodide-lock.json describes itself."""

    release: Release
    folder: Path  # node_modules/pyodide
    abi: str  # info.abi_version, YYYY_N
    platform: str  # info.platform, e.g. emscripten_5_0_3
    python: str  # info.python, e.g. 3.14.2
    micropip: str  # the version of the micropip package the lock names

    @property
    def python_tag(self) -> str:
        major, minor = self.python.split(".")[:2]
        return f"cp{major}{minor}"

    def micropip_platform_tags(self) -> list[str]:
        """The wheel platform tags this runtime's micropip accepts, best first (as its sys_tags)."""
        extra = [f"pyodide_{self.abi}_wasm32"]
        if Version(self.micropip) >= MICROPIP_PEP783:
            extra.insert(0, f"pyemscripten_{self.abi}_wasm32")
        return [*extra, f"{self.platform}_wasm32"]

    def describe(self) -> str:
        return (
            f"Pyodide {self.release.version} (npm pyodide@{self.release.npm}: Python {self.python}, "
            f"ABI {self.abi}, {self.platform}, micropip {self.micropip})"
        )

    def package_base_url(self) -> str:
        """The URL this release's own packages (the wheels its pyodide-lock.json names) are served from,
        as Pyodide itself computes it: loadPyodide() in the npm package's pyodide.mjs sets
        `cdnUrl = packageBaseUrl ?? `https://cdn.jsdelivr.net/pyodide/v${version}/full/``, and in Node
        its package manager downloads from cdnUrl what packageCacheDir lacks (read in pyodide.mjs and
        pyodide.asm.mjs of the 0.28, 314 and 315 lines; `cdnUrl`, `packageBaseUrl` in
        pyodide.d.ts). `version` is pyodide.mjs's own (PEP 440's spelling of a prerelease, not
        npm's); the template is read from the file, so a release that moves it is followed."""
        script = self.folder / "pyodide.mjs"
        try:
            text = script.read_text(encoding="utf-8")
        except OSError as error:
            raise RuntimeSetupError(
                f"{script} is unreadable ({error}); delete {self.folder.parents[1]}"
            ) from None
        template = re.search(r"`(https://[^`$]*)\$\{[\w$]+\}(/[^`$]*)`", text)
        version = str(Version(self.release.npm))
        if template is None or f'"{version}"' not in text:
            raise RuntimeSetupError(
                f"{script} holds no CDN URL template (`https://...${{version}}/...`) or no version "
                f"{version}: this npm package is not laid out like the ones this engine knows. Name the "
                "folder that serves the release's packages with --package-base-url (or "
                "PYO3_PYODIDE_PACKAGE_BASE_URL)"
            )
        return f"{template.group(1)}{version}{template.group(2)}"
