"""What wasm_test runs inside Pyodide around the project's pytest suite (run_pytest.mjs loads this file there).

It imports only the standard library and pytest, so the same file runs natively (its tests use pytester).
- Known failures (`[tool.pyodide-target] known-failures`): each test they name becomes a strict xfail, so a
  test that starts passing is reported; how many there are, and any entry that names no test, is said once.
- Progress: each test's start and each outcome reach the runner as they happen (`record`), so that when
  Pyodide dies inside a test the runner knows which test it was and what the others did, and goes on in a
  fresh Pyodide with the tests given here as `skip`.
- Plugins: an INTERNALERROR raised in a plugin's code is named with the plugin, what Pyodide lacks, and the fix.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Callable

import pytest

# What Pyodide's Python lacks, by a word of the error it gives (checked against an error's text).
LACKS = {
    "signal": "signals (signal.setitimer, signal.alarm)",
    "setitimer": "signals (signal.setitimer, signal.alarm)",
    "thread": "threads",
    "subprocess": "subprocesses",
    "fork": "subprocesses",
    "socket": "sockets",
}


def matches(nodeid: str, entry: str) -> bool:
    """Whether a known-failures entry names this test: its id, a pattern (fnmatch), or a file, class or
    function whose tests (parametrized ones included) it holds."""
    return (
        nodeid == entry
        or fnmatch.fnmatchcase(nodeid, entry)
        or nodeid.startswith((f"{entry}::", f"{entry}["))
    )


def lacking(text: str) -> str | None:
    """What Pyodide lacks that an error's text points at, if any."""
    lowered = text.lower()
    return next((what for word, what in LACKS.items() if word in lowered), None)


class WasmTest:
    """The plugin: known failures, skipped tests, progress, plugin failures."""

    def __init__(
        self,
        known_failures: dict[str, str],
        source: str,
        skip: set[str],
        record: Callable[..., object],
        first_run: bool,
    ):
        self.known_failures = known_failures
        self.source = source  # where the known failures were read, for messages
        self.skip = skip
        self.record = record
        self.first_run = first_run
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter") if self.config else None
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: an entry is matched against all collected
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        matched: dict[str, int] = {}
        for item in items:
            entry = next((entry for entry in self.known_failures if matches(item.nodeid, entry)), None)
            if entry is None:
                continue
            reason = f"known failure in Pyodide ({self.source}): {self.known_failures[entry]}"
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            matched[entry] = matched.get(entry, 0) + 1
            self.record("known", item.nodeid)
        if self.known_failures and self.first_run:
            tests = sum(matched.values())
            self.say(
                f"wasm_test: {len(self.known_failures)} known failures ({self.source}) mark {tests} tests as "
                "strict xfails inside Pyodide"
            )
            for entry in self.known_failures:
                if entry not in matched:
                    self.say(
                        f"wasm_test: the known failure {entry!r} ({self.source}) matches no test collected: "
                        "fix its test id or pattern (as pytest prints them), or remove it"
                    )
        if self.skip:
            kept = [item for item in items if item.nodeid not in self.skip]
            gone = [item for item in items if item.nodeid in self.skip]
            if gone:
                config.hook.pytest_deselected(items=gone)
                items[:] = kept

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.record("start", nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if category:
            self.record("outcome", report.nodeid, report.when, category)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.record("outcome", report.nodeid, "collect", "error")
        elif report.skipped:
            self.record("outcome", report.nodeid, "collect", "skipped")

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.record("finish", nodeid)

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo) -> None:
        found = plugin_failure(self.config, excinfo)
        if found:
            self.record("internal-error", found)


def plugin_failure(config: pytest.Config | None, excinfo: pytest.ExceptionInfo) -> str | None:
    """Which plugin an internal error was raised in, what it met, and the fix; None when no plugin's code
    is in the traceback (pytest's own error, or the project's)."""
    if config is None:
        return None
    owners = {}
    for plugin, distribution in config.pluginmanager.list_plugin_distinfo():
        path = getattr(plugin, "__file__", None)
        if path:
            owned = os.path.dirname(path) if os.path.basename(path) == "__init__.py" else path
            owners[owned] = (config.pluginmanager.get_name(plugin), distribution)
    for entry in reversed(excinfo.traceback):
        path = str(entry.path)
        for owned, (name, distribution) in owners.items():
            if path == owned or path.startswith(owned + os.sep):
                error = f"{excinfo.typename}: {excinfo.value}"
                lack = lacking(error)
                why = f"Pyodide has no {lack}" if lack else "it does not work inside Pyodide"
                return (
                    f"the plugin {distribution.metadata['Name']} {distribution.version} stopped pytest: "
                    f"{error} ({os.path.basename(path)}, line {entry.lineno + 1}); {why}. Run without it "
                    f"(`nox -s wasm_test -- {without_plugin(config, name)}`), or deselect the tests that need "
                    "it (--deselect, or [tool.pyodide-target] known-failures)"
                )
    return None


def without_plugin(config: pytest.Config, name: str) -> str:
    """The pytest options that leave plugin `name` out. Without the plugin, the options the project's
    configuration sets for it and the marks its tests use are unknown (PytestConfigWarning,
    PytestUnknownMarkWarning), which `filterwarnings = error` turns into errors before the first test:
    those two warnings are then ignored too."""
    options = f"-p no:{name}"
    if any(rule.split(":")[0].strip() == "error" for rule in config.getini("filterwarnings")):
        options += " -W ignore::pytest.PytestConfigWarning -W ignore::pytest.PytestUnknownMarkWarning"
    return options


def run(
    arguments: list[str],
    folder: str,
    known_failures: dict[str, str],
    source: str,
    skip: list[str],
    record: Callable[..., object],
    first_run: bool,
) -> int:
    """pytest.main(arguments) run from `folder`; its exit code."""
    sys.dont_write_bytecode = True  # no __pycache__ written into the mounted project folder
    os.chdir(folder)
    plugin = WasmTest(known_failures, source, set(skip), record, first_run)
    return int(pytest.main(arguments, plugins=[plugin]))
