"""The generated guide's table of what Pyodide can do in each engine, against what a wasm_test run measured.

The run's last line says what the engine offers, in the runner's words (run_pytest.mjs, engineFeatures():
"in Chromium 156.0.7632.0 (JSPI yes, SharedArrayBuffer yes, ...)"): those words are the only list of the
capabilities. The guide's table (docs/pyodide.md) has a column for each and a row for each engine, labelled
with the engine's name and the version it was measured with ("Chromium 156", "WebKit 2.50"); a row fails
only when the engine now offers something else.
"""

import re

# "... in Chromium 156.0.7632.0 (JSPI yes, ...)", and for Node "in Node v20.20.2 (...)"
RUN_LINE = re.compile(r"^wasm_test: pytest exited .* in (\w+) v?(\S+) \(([^)]*)\)", re.MULTILINE)
TABLE_HEAD = "| engine |"


def measured(output: str) -> tuple[str, str, dict[str, str]]:
    """(engine, version, {capability: "yes" | "no"}) from a wasm_test run's output."""
    found = RUN_LINE.search(output)
    assert found, output[-3000:]
    engine, version, features = found.groups()
    pairs = [feature.rsplit(" ", 1) for feature in features.split(", ")]
    return engine, version, {name: offered for name, offered in pairs}


def table(guide: str) -> tuple[list[str], dict[str, list[str]]]:
    """The guide's table: its capability columns, and each row's label with its cells."""
    lines = guide[guide.index(TABLE_HEAD) :].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    head, _rule, *body = rows
    return head[1:], {row[0]: row[1:] for row in body}


def check_row(guide: str, output: str) -> None:
    """Fail, with the row to write, unless the guide's row for the run's engine says what the run measured."""
    engine, version, features = measured(output)
    columns, rows = table(guide)
    written = f"| {engine} {version} | {' | '.join(features.values())} |"
    assert columns == list(features), (
        f"the guide's table has the columns {columns}; the run measures {list(features)} "
        f"(run_pytest.mjs, engineFeatures()): make its head `| engine | {' | '.join(features)} |`"
    )
    labels = [label for label in rows if label.split()[0] == engine]
    assert len(labels) == 1, f"the guide's table has no single row for {engine}: write one such as\n{written}"
    # The row's version says which release it was measured with; another release of the same engine (a
    # newer Chromium from Debian, say) fails only where it offers Pyodide something else.
    assert rows[labels[0]] == list(features.values()), (
        f"the guide's row for {labels[0]} says {rows[labels[0]]}, the run measured {list(features.values())} "
        f"in {engine} {version}: write\n{written}"
    )
