"""The corpus's results as the README's Markdown table."""

from __future__ import annotations

import json
from pathlib import Path

from pyo3_pyodide.runtime.browsers import BROWSERS

RESULTS_FILE = Path(__file__).with_name("results.json")
HEADER = (
    "| project | passed | failed | skipped | known failures | build | suite in Pyodide | natively | ratio | notes |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
)


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def outcomes(suite: dict) -> str:
    """The suite's counts as pytest words them (3 passed, 1 failed), or that it gave none."""
    if not suite["counts"]:
        return f"no counts (exit code {suite['exit_code']})"
    return ", ".join(f"{n} {kind}" for kind, n in suite["counts"].items())


def row(result: dict) -> str:
    pyodide, native = result["pyodide"], result["native"]
    counts = pyodide["counts"]
    ran = bool(counts)
    ratio = "–"
    if ran and native["counts"] and pyodide["seconds"] and native["seconds"]:
        ratio = f"{pyodide['seconds'] / native['seconds']:.1f}x"
    skipped = counts.get("skipped", 0) + counts.get("deselected", 0)
    notes = "; ".join(line.splitlines()[0] for line in result["blocked"])
    if counts.get("crashed"):
        notes = "; ".join(filter(None, [f"{counts['crashed']} crashed Pyodide (counted as failed)", notes]))
    for browser, suite in result.get("browsers", {}).items():
        notes = "; ".join(
            filter(
                None, [f"in {BROWSERS[browser].title} {outcomes(suite)} ({seconds(suite['seconds'])})", notes]
            )
        )
    if native["counts"]:
        notes = "; ".join(filter(None, [f"natively {outcomes(native)}", notes]))
    elif native["exit_code"] is not None:
        notes = "; ".join(
            filter(None, [f"natively pytest exited with {native['exit_code']}, no counts", notes])
        )
    cells = [
        f"{result['project']} {result['version']}",
        str(counts.get("passed", 0)) if ran else "–",
        str(counts.get("failed", 0) + counts.get("error", 0) + counts.get("crashed", 0)) if ran else "–",
        str(skipped) if ran else "–",
        str(pyodide["known_failures"]) if ran else "–",
        seconds(result["build_seconds"]) + ("" if result["build_ok"] else " (failed)"),
        seconds(pyodide["seconds"]),
        seconds(native["seconds"]),
        ratio,
        notes.replace("|", "\\|"),
    ]
    return "| " + " | ".join(cells) + " |"


CAPTION = (
    "Counts are wasm_test's inside Pyodide {release} in Node (skipped includes deselected); build is "
    "`nox -s wasm_build -- --toolchain system` in the Debian root (std from source, CARGO_BUILD_JOBS=1); "
    "the suite in Pyodide is the whole `nox -s wasm_test` command (Node, boot from the memory snapshot, "
    "installs), natively it is pytest alone with the root's python3.15; ratio = Pyodide / native."
)


def table(results: list[dict], release: str = "") -> str:
    """One row per project: its counts inside Pyodide, build time, suite times in Pyodide and natively."""
    return "\n".join([*HEADER, *map(row, results), "", CAPTION.format(release=release)]) + "\n"


def load(path: Path = RESULTS_FILE) -> list[dict]:
    return json.loads(path.read_text())["results"] if path.exists() else []


def release_of(path: Path = RESULTS_FILE) -> str:
    return json.loads(path.read_text())["release"] if path.exists() else ""


def save(results: list[dict], path: Path = RESULTS_FILE, release: str = "") -> None:
    """Write `results`, replacing earlier ones of the same project and keeping the others."""
    by_name = {result["project"]: result for result in load(path)}
    by_name.update({result["project"]: result for result in results})
    path.write_text(json.dumps({"release": release, "results": list(by_name.values())}, indent=2) + "\n")
