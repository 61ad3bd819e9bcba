"""A size budget for extension modules (issue 15): `[tool.pyodide-target] max-extension-bytes`.

`nox -s audit` (and so `nox -s wasm_build`, which audits what it built) fails when an extension module is
larger than the budget, with the figure and the budget, and lists its largest functions and its sections,
read from the WebAssembly itself by the engine. On real wheels: jiter 0.19.0 from PyPI (no name section:
functions by index) and the wheel the Debian root builds from a rendered project; the root's
llvm-objdump checks the engine's figures.
"""

import re
import zipfile

import pytest
from pyo3_pyodide.wheel import audit

from template_tools import matrix, sidroot
from tests.helpers.project import nox, output_of
from tests.helpers.pyodide import jiter_wheel

MATRIX = matrix.load()
STABLE = MATRIX.releases[MATRIX.default]  # jiter 0.19.0's wheel is for the stable line


def extension(wheel):
    """The wheel's one extension module: (member, bytes)."""
    with zipfile.ZipFile(wheel) as archive:
        [member] = [name for name in archive.namelist() if name.endswith(".so")]
        return member, archive.read(member)


def set_budget(project, value):
    """Write `max-extension-bytes = value` into the project's [tool.pyodide-target] (None: remove it)."""
    pyproject = project / "pyproject.toml"
    lines = [
        line for line in pyproject.read_text().splitlines() if not line.startswith("max-extension-bytes")
    ]
    if value is not None:
        lines.insert(lines.index("[tool.pyodide-target]") + 1, f"max-extension-bytes = {value}")
    pyproject.write_text("\n".join(lines) + "\n")


def audited(project, wheel, *options):
    result = nox(project, "-s", "audit", "--", str(wheel), *options)
    return result.returncode, output_of(result)


def listed_functions(output):
    """(size, name) of each function the audit listed, between its heading and the sections."""
    if "largest of its" not in output:
        return []
    block = output.split("functions (code section bodies):\n")[1].split("    sections:")[0]
    return [
        (int(size.replace(",", "")), name)
        for size, name in re.findall(r"^\s+([\d,]+)  (.+)$", block, re.MULTILINE)
    ]


@pytest.fixture(scope="module")
def jiter():
    return jiter_wheel()


def test_budget_on_jiter_below_at_and_above(render, jiter):
    member, data = extension(jiter)
    size = len(data)
    module = audit.parse_wasm(data)
    assert not module.function_names  # PyPI's build keeps no name section

    # The boundary, through the API: at the budget is within it.
    assert audit.audit_wheel(jiter, STABLE, size).findings == []
    [finding] = audit.audit_wheel(jiter, STABLE, size - 1).findings
    assert f"{member} is {size:,} bytes, over the size budget of {size - 1:,} bytes" in finding

    project = render(project_name="budget-check")
    budget = size * 3 // 4
    set_budget(project, f"{budget:_}")  # TOML's digit separators are fine
    code, output = audited(project, jiter)
    assert code != 0, output
    assert f"{member}: {size:,} bytes ({size / 1024:,.1f} KiB), budget {budget:,} bytes" in output
    assert (
        f"{member} is {size:,} bytes, over the size budget of {budget:,} bytes (max-extension-bytes in "
        f"pyproject.toml's [tool.pyodide-target]) by {size - budget:,} bytes" in output
    )
    # Its largest functions, by index where there are no names, biggest first, as the engine reads them.
    functions = listed_functions(output)
    expected = module.largest_functions()
    assert functions == [(function.size, function.name) for function in expected]
    assert len(functions) == audit.LARGEST_SHOWN and all(
        name.startswith("wasm-function[") for _, name in functions
    )
    assert [size for size, _ in functions] == sorted((size for size, _ in functions), reverse=True)
    assert functions[0][0] == max(module.function_sizes)
    assert f"largest of its {len(module.function_sizes):,} functions (code section bodies):" in output
    # Its sections: each with its size, and with their headers they make up the whole file.
    code_section = next(section for section in module.sections if section.name == "code")
    assert re.search(rf"^ +{code_section.size:,}  code$", output, re.MULTILINE)
    assert sum(module.function_sizes) < code_section.size
    headers = sum(1 + len(audit._leb128_bytes(section.size)) for section in module.sections)
    assert 8 + headers + sum(section.size for section in module.sections) == size

    set_budget(project, size + 1)
    code, output = audited(project, jiter)
    assert code == 0, output
    assert f"{member}: {size:,} bytes ({size / 1024:,.1f} KiB), budget {size + 1:,} bytes" in output
    assert "largest of its" not in output and "over the size budget" not in output

    # Without a budget, --sizes lists them all the same.
    set_budget(project, None)
    code, output = audited(project, jiter, "--sizes")
    assert code == 0 and listed_functions(output) == functions, output

    set_budget(project, '"300 KiB"')
    code, output = audited(project, jiter)
    assert code != 0
    assert (
        "pyproject.toml's [tool.pyodide-target] max-extension-bytes = '300 KiB': expected a positive whole "
        "number of bytes, e.g. max-extension-bytes = 150_000" in output
    )


def objdump(root, project, *arguments):
    result = sidroot.run(root, ["llvm-objdump-21", *arguments], cwd=str(project), bind=project)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.wasm
def test_budget_on_the_sid_built_wheel_and_in_wasm_build(sid_built_project):
    project, build = sid_built_project
    assert build.returncode == 0, output_of(build)[-3000:]
    [wheel] = (project / "dist").glob("*.whl")
    member, data = extension(wheel)
    size = len(data)
    module = audit.parse_wasm(data)

    # The engine's figures against llvm-objdump's, from the Debian root, on the same file.
    scratch = project / "target" / "objdump"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "module.wasm").write_bytes(data)
    root = sidroot.ensure_root()
    headers = objdump(root, project, "-h", str(scratch / "module.wasm"))
    theirs = {
        name.lower(): int(hexsize, 16)
        for name, hexsize in re.findall(r"^\s*\d+ (\S+)\s+([0-9a-f]{8})", headers, re.MULTILINE)
    }
    spelled = {"element": "elem", "data count": "datacount"}
    for section in module.sections:
        if not section.custom:
            assert theirs[spelled.get(section.name, section.name)] == section.size, headers
    symbols = objdump(root, project, "-t", str(scratch / "module.wasm"))
    exported = {f.name: f.size for f in module.functions() if f.name in module.exports}
    assert "PyInit__core" in exported, exported
    for hexsize, name in re.findall(r"F CODE\s+([0-9a-f]{8}) (\S+)", symbols):
        if name in exported:  # llvm counts a body's size field too
            assert int(hexsize, 16) == exported[name] + len(audit._leb128_bytes(exported[name])), symbols

    budget = size - 1024
    try:
        set_budget(project, budget)
        code, output = audited(project, wheel)
        assert code != 0, output
        assert f"{member} is {size:,} bytes, over the size budget of {budget:,} bytes" in output
        assert listed_functions(output) == [(f.size, f.name) for f in module.largest_functions()]
        # wasm_build audits what it built: a no-op rebuild in the root fails on the budget as well.
        rebuilt = sidroot.run(
            root, ["nox", "-s", "wasm_build", "--", "--toolchain", "system"], cwd=str(project), bind=project
        )
        output = output_of(rebuilt)
        assert rebuilt.returncode != 0, output[-3000:]
        assert f"over the size budget of {budget:,} bytes" in output and "the audit found problems" in output

        set_budget(project, size + 1024)
        code, output = audited(project, wheel)
        assert code == 0, output
        assert f"{member}: {size:,} bytes ({size / 1024:,.1f} KiB), budget {size + 1024:,} bytes" in output
    finally:
        set_budget(project, None)
    print(f"{wheel.name}: extension {size:,} bytes; largest function {module.largest_functions()[0]}")
