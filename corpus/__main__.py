"""`python -m corpus [NAME ...]`: run the corpus's projects (all by default), save and print the table."""

from __future__ import annotations

import argparse
from pathlib import Path

from corpus import projects, report, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s corpus --", description=__doc__)
    parser.add_argument("names", nargs="*", help="projects of corpus/projects.toml (default: all)")
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/pyo3-pyodide-corpus"), help="their files")
    parser.add_argument("--results", type=Path, default=report.RESULTS_FILE)
    parser.add_argument("--table", action="store_true", help="only print the table of the saved results")
    options = parser.parse_args(argv)
    if options.table:
        print(report.table(report.load(options.results), report.release_of(options.results)))
        return 0
    known = projects.load()
    unknown = [name for name in options.names if name not in known]
    if unknown:
        parser.error(f"not in {projects.PROJECTS_FILE.name}: {', '.join(unknown)}; it has {', '.join(known)}")
    for name in options.names or list(known):
        result = run.run_project(known[name], options.work)
        report.save([result.as_dict()], options.results, run.RELEASE.version)
        print(report.row(result.as_dict()), flush=True)
    print(report.table(report.load(options.results), report.release_of(options.results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
