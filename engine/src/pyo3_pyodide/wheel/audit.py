"""Check that wheels will load in one Pyodide release: its tags, and a WebAssembly side module inside.

What `nox -s audit -- WHEEL... [--pyodide VERSION]` runs. Each problem becomes one finding: a line that
names the wheel (and the member), what was found, what was expected, and the fix. It needs only the
standard library and `packaging`: it reads WebAssembly's binary format itself (the few sections it needs).

What a side module built with threads looks like, seen in Emscripten's own output for
`emcc -pthread -sSIDE_MODULE=2` (and read in Emscripten's tools/link.py and libdylink.js): its imported
`env.memory` has the `shared` limits flag, it exports `_emscripten_tls_init`, and unoptimized builds keep a
`target_features` section that lists `+atomics`. Imports named `pthread_mutex_*` or `pthread_self` are
normal: Rust's std and libc call them without threads too, and Pyodide's main module provides them.

Module hooks: Python imports `pkg/name.<suffix>.so` as `name` and calls the function it exports as
`PyInit_name`; from Python 3.15 on it first looks for PEP 793's `PyModExport_name`, the only hook that
PyO3's abi3t builds export (such a wheel imports in Pyodide 315). The audit names the hook the release's
Python will call and refuses a module that exports none of the hooks that Python knows.

Sizes: each extension module's size, whether it is a debug build (a `name` section, which gives the
functions' names in a trap's stack, or DWARF `.debug_*` sections), and where a size budget
(`[tool.pyodide-target] max-extension-bytes` in pyproject.toml) is exceeded, its largest functions (the
code section's bodies, named from the `name` section where there is one) and its sections.
"""

from __future__ import annotations

import dataclasses
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from pyo3_pyodide.errors import EngineError
from pyo3_pyodide.matrix import Release
from pyo3_pyodide.wheel import tags as wheel_tags

WASM_MAGIC = b"\0asm"
WASM_VERSION = 1
# The first bytes of the native library formats a `.so` may hold when it was built for the wrong target.
NATIVE_MAGICS = {
    b"\x7fELF": "an ELF (native) shared object",
    b"\xcf\xfa\xed\xfe": "a Mach-O (native macOS) library",
    b"MZ": "a PE (native Windows) DLL",
}
ELF_MACHINES = {0x03: "x86", 0x28: "ARM", 0x3E: "x86-64", 0xB7: "AArch64", 0xF3: "RISC-V"}

CUSTOM_SECTION, IMPORT_SECTION, EXPORT_SECTION, CODE_SECTION = 0, 2, 7, 10
SECTION_NAMES = {
    1: "type",
    2: "import",
    3: "function",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "element",
    10: "code",
    11: "data",
    12: "data count",
    13: "tag",
}
FUNCTION_EXPORT = 0
NAME_SECTION = "name"
FUNCTION_NAMES = 1  # the name section's subsection of function names
# Custom sections that only debugging needs: function names, DWARF, a source map's address.
DEBUG_SECTION_PREFIXES = (".debug_",)
DEBUG_SECTION_NAMES = (NAME_SECTION, "sourceMappingURL", "external_debug_info")
LARGEST_SHOWN = 10  # functions listed when a module is over its size budget
FUNCTION_IMPORT, TABLE_IMPORT, MEMORY_IMPORT, GLOBAL_IMPORT, TAG_IMPORT = range(5)
LIMITS_HAS_MAXIMUM = 0x01
LIMITS_SHARED = 0x02
# Exports that only modules linked for threads have: emcc exports the first for -pthread; wasm-ld makes
# the second only for shared memory, and some builds export it.
THREAD_EXPORTS = ("_emscripten_tls_init", "__wasm_init_tls")
# Features that mean threads when listed as used ("+"); LLVM lists "-shared-mem" (disallowed) in objects
# built without threads, so only "+" and "=" count.
THREAD_FEATURES = ("atomics", "shared-mem")
# How many export names a finding lists before it says "and N more".
EXPORTS_SHOWN = 6
INIT_HOOK = "PyInit_"
EXPORT_HOOK = "PyModExport_"  # PEP 793's; Python looks for it before PyInit_ from EXPORT_HOOK_SINCE on
EXPORT_HOOK_SINCE = (3, 15)


class WasmError(EngineError):
    """The bytes are not a complete, well-formed WebAssembly module; the message says where."""


@dataclasses.dataclass(frozen=True)
class WasmImport:
    module: str
    name: str
    kind: int
    shared_memory: bool = False


@dataclasses.dataclass(frozen=True)
class Section:
    name: str  # a standard section's name ("code", "data", ...) or a custom section's own
    size: int  # its contents, in bytes
    custom: bool = False

    def is_debug(self) -> bool:
        return self.custom and (
            self.name in DEBUG_SECTION_NAMES or self.name.startswith(DEBUG_SECTION_PREFIXES)
        )


@dataclasses.dataclass(frozen=True)
class FunctionSize:
    index: int  # in the module's function index space (imported functions first), as V8 numbers it
    name: str  # from the name section, else the name it is exported under, else wasm-function[index]
    size: int  # its body in the code section, in bytes


@dataclasses.dataclass
class WasmModule:
    """The parts of a WebAssembly module that the audit looks at."""

    custom_sections: list[str] = dataclasses.field(default_factory=list)
    imports: list[WasmImport] = dataclasses.field(default_factory=list)
    exports: list[str] = dataclasses.field(default_factory=list)
    # feature name -> prefix: "+" used, "-" disallowed, "=" required
    target_features: dict[str, str] = dataclasses.field(default_factory=dict)
    sections: list[Section] = dataclasses.field(default_factory=list)
    function_sizes: list[int] = dataclasses.field(default_factory=list)  # the code section's bodies
    function_names: dict[int, str] = dataclasses.field(default_factory=dict)  # the name section's
    exported_functions: dict[int, str] = dataclasses.field(default_factory=dict)

    def debug_sections(self) -> list[Section]:
        return [section for section in self.sections if section.is_debug()]

    def functions(self) -> list[FunctionSize]:
        """Every function defined in the module, with its size."""
        first = sum(1 for item in self.imports if item.kind == FUNCTION_IMPORT)
        functions = []
        for offset, size in enumerate(self.function_sizes):
            index = first + offset
            name = self.function_names.get(index) or self.exported_functions.get(index)
            functions.append(FunctionSize(index, name or f"wasm-function[{index}]", size))
        return functions

    def largest_functions(self, count: int = LARGEST_SHOWN) -> list[FunctionSize]:
        return sorted(self.functions(), key=lambda function: (-function.size, function.index))[:count]


class _Reader:
    """Reads WebAssembly's binary encoding (bytes, LEB128 integers, names) from data[position:end]."""

    def __init__(self, data: bytes, position: int = 0, end: int | None = None) -> None:
        self.data = data
        self.position = position
        self.end = len(data) if end is None else end

    def at_end(self) -> bool:
        return self.position >= self.end

    def bytes(self, count: int) -> bytes:
        if self.position + count > self.end:
            raise WasmError(
                f"needs {count} bytes at offset {self.position} but only {self.end - self.position} remain"
            )
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def byte(self) -> int:
        return self.bytes(1)[0]

    def leb128(self) -> int:
        """An unsigned LEB128 integer: 7 bits a byte, low bits first, high bit set on all but the last."""
        start, value, shift = self.position, 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise WasmError(f"an integer at offset {start} runs on for more than 10 bytes")

    def name(self) -> str:
        start = self.position
        try:
            return self.bytes(self.leb128()).decode("utf-8")
        except UnicodeDecodeError:
            raise WasmError(f"the name at offset {start} is not UTF-8") from None

    def section(self, section_id: int) -> _Reader:
        """A reader for the next section's contents; this reader moves past them."""
        size = self.leb128()
        if self.position + size > self.end:
            raise WasmError(
                f"section {section_id} at offset {self.position} claims {size:,} bytes "
                f"but only {self.end - self.position:,} remain"
            )
        contents = _Reader(self.data, self.position, self.position + size)
        self.position += size
        return contents


def parse_wasm(data: bytes) -> WasmModule:
    """Read a module's custom section names, imports, exports and target features (raises WasmError)."""
    reader = _Reader(data)
    if reader.bytes(4) != WASM_MAGIC:
        raise WasmError("it does not start with the WebAssembly magic \\0asm")
    version = int.from_bytes(reader.bytes(4), "little")
    if version != WASM_VERSION:
        raise WasmError(f"binary format version {version}, expected {WASM_VERSION}")
    module = WasmModule()
    while not reader.at_end():
        section_id = reader.byte()
        section = reader.section(section_id)
        size = section.end - section.position
        if section_id == CUSTOM_SECTION:
            name = _read_custom_section(section, module)
            module.sections.append(Section(name, size, custom=True))
            continue
        module.sections.append(Section(SECTION_NAMES.get(section_id, f"section {section_id}"), size))
        if section_id == IMPORT_SECTION:
            module.imports = _read_imports(section)
        elif section_id == EXPORT_SECTION:
            module.exports, module.exported_functions = _read_exports(section)
        elif section_id == CODE_SECTION:
            module.function_sizes = _read_code(section)
    return module


def _read_custom_section(section: _Reader, module: WasmModule) -> str:
    name = section.name()
    module.custom_sections.append(name)
    if name == "target_features":
        for _ in range(section.leb128()):
            prefix = chr(section.byte())
            module.target_features[section.name()] = prefix
    elif name == NAME_SECTION:
        # Only debugging needs it, and engines ignore a malformed one: so does the audit.
        try:
            module.function_names = _read_function_names(section)
        except WasmError:
            module.function_names = {}
    return name


def _read_function_names(section: _Reader) -> dict[int, str]:
    """The name section's function names by index (its other subsections are skipped)."""
    names = {}
    while not section.at_end():
        subsection_id = section.byte()
        subsection = section.section(subsection_id)
        if subsection_id == FUNCTION_NAMES:
            for _ in range(subsection.leb128()):
                index = subsection.leb128()
                names[index] = subsection.name()
    return names


def _read_code(section: _Reader) -> list[int]:
    """The size of each function body, in the order the functions are defined."""
    sizes = []
    for _ in range(section.leb128()):
        size = section.leb128()
        section.bytes(size)
        sizes.append(size)
    return sizes


def _read_limits(section: _Reader) -> int:
    """Skip a table's or memory's limits; return their flags."""
    flags = section.byte()
    section.leb128()  # minimum
    if flags & LIMITS_HAS_MAXIMUM:
        section.leb128()
    return flags


def _read_imports(section: _Reader) -> list[WasmImport]:
    imports = []
    for _ in range(section.leb128()):
        module, name, kind = section.name(), section.name(), section.byte()
        shared_memory = False
        if kind == FUNCTION_IMPORT:
            section.leb128()  # type index
        elif kind == TABLE_IMPORT:
            section.byte()  # element type
            _read_limits(section)
        elif kind == MEMORY_IMPORT:
            shared_memory = bool(_read_limits(section) & LIMITS_SHARED)
        elif kind == GLOBAL_IMPORT:
            section.bytes(2)  # value type, mutability
        elif kind == TAG_IMPORT:
            section.byte()  # attribute
            section.leb128()  # type index
        else:
            raise WasmError(f"import {module}.{name} has unknown kind {kind}")
        imports.append(WasmImport(module, name, kind, shared_memory))
    return imports


def _read_exports(section: _Reader) -> tuple[list[str], dict[int, str]]:
    """Every export's name, and the exported functions' names by function index."""
    names, functions = [], {}
    for _ in range(section.leb128()):
        name, kind, index = section.name(), section.byte(), section.leb128()
        names.append(name)
        if kind == FUNCTION_EXPORT:
            functions.setdefault(index, name)
    return names, functions


@dataclasses.dataclass(frozen=True)
class ExtensionModule:
    member: str  # its path inside the wheel
    size: int  # bytes, uncompressed
    debug_sections: tuple[Section, ...] = ()  # a name section, DWARF: what makes it a debug build
    sections: tuple[Section, ...] = ()
    largest_functions: tuple[FunctionSize, ...] = ()
    function_count: int = 0
    hook: str | None = None  # the export Python calls to import it (PyInit_name, PyModExport_name)

    @property
    def debug_size(self) -> int:
        """The bytes that dropping the debug sections saves (each with its id and size header)."""
        return sum(1 + len(_leb128_bytes(section.size)) + section.size for section in self.debug_sections)

    @property
    def budgeted_size(self) -> int:
        """What the size budget counts: the module without its debug sections (equal for release builds)."""
        return self.size - self.debug_size


@dataclasses.dataclass
class WheelReport:
    """What the audit of one wheel found; no findings means it fits the release."""

    wheel: Path
    release: str  # the Pyodide version audited against
    size: int | None = None  # None when the file is missing
    extension_modules: list[ExtensionModule] = dataclasses.field(default_factory=list)
    findings: list[str] = dataclasses.field(default_factory=list)
    max_extension_bytes: int | None = None  # the size budget of each extension module, if any

    def over_budget(self, module: ExtensionModule) -> bool:
        return self.max_extension_bytes is not None and module.budgeted_size > self.max_extension_bytes


def audit_wheels(
    paths: Iterable[Path], release: Release, max_extension_bytes: int | None = None
) -> list[WheelReport]:
    """Audit each wheel against one release (and a size budget for each extension module, if given)."""
    return [audit_wheel(Path(path), release, max_extension_bytes) for path in paths]


def audit_wheel(path: Path, release: Release, max_extension_bytes: int | None = None) -> WheelReport:
    """Check one wheel's tags and every extension module in it against `release` (and the budget)."""
    path = Path(path)
    report = WheelReport(wheel=path, release=release.version, max_extension_bytes=max_extension_bytes)
    if not path.is_file():
        report.findings.append(
            f"{path}: no such file; expected a wheel that `nox -s wasm_build` wrote (into dist/)"
        )
        return report
    report.size = path.stat().st_size
    report.findings += [f"{path.name}: {problem}" for problem in tag_problems(path.name, release)]
    try:
        _audit_members(path, release, report)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        report.findings.append(
            f"{path.name}: not a readable zip archive ({error}); expected a wheel, which is a zip. "
            "Fix: build or download it again"
        )
    return report


def _audit_members(path: Path, release: Release, report: WheelReport) -> None:
    with zipfile.ZipFile(path) as wheel:
        members = [info for info in wheel.infolist() if info.filename.endswith(".so")]
        if not members:
            report.findings.append(
                f"{path.name}: no extension module (*.so) inside; expected a WebAssembly side module. "
                f"Fix: build it with `nox -s wasm_build -- --pyodide {release.version}`"
            )
        for info in members:
            data = wheel.read(info)
            module = extension_module(info.filename, data, release)
            report.extension_modules.append(module)
            problems = module_problems(info.filename, data, release)
            if report.over_budget(module):
                problems.append(budget_problem(module, report.max_extension_bytes))
            report.findings += [f"{path.name}: {info.filename} {problem}" for problem in problems]


def extension_module(member: str, data: bytes, release: Release) -> ExtensionModule:
    """An extension module's sizes and the hook `release`'s Python imports it by, as far as its bytes can
    be read as WebAssembly."""
    try:
        module = parse_wasm(data)
    except WasmError:  # module_problems says why
        return ExtensionModule(member, len(data))
    return ExtensionModule(
        member,
        len(data),
        debug_sections=tuple(module.debug_sections()),
        sections=tuple(sorted(module.sections, key=lambda section: -section.size)),
        largest_functions=tuple(module.largest_functions()),
        function_count=len(module.function_sizes),
        hook=found_hook(member, module, release),
    )


def budget_problem(module: ExtensionModule, budget: int) -> str:
    over = module.budgeted_size - budget
    without = f" without its {module.debug_size:,} bytes of debug sections" if module.debug_sections else ""
    return (
        f"is {module.budgeted_size:,} bytes{without}, over the size budget of {budget:,} bytes "
        f"(max-extension-bytes in pyproject.toml's [tool.pyodide-target]) by {over:,} bytes "
        f"({over / budget:.1%}); its largest functions and sections are listed above. Fix: make it "
        'smaller (the release profile\'s opt-level = "z", lto = true, codegen-units = 1, strip = true; '
        "fewer or smaller dependencies and generic instantiations), or raise the budget"
    )


def tag_problems(filename: str, release: Release) -> list[str]:
    """What is wrong with a wheel file name's Python and platform tags for `release`."""
    rebuild = f"Fix: rebuild with `nox -s wasm_build -- --pyodide {release.version}`"
    try:
        found = wheel_tags.wheel_tags(filename)
    except wheel_tags.BadWheelName as error:
        tags = f"{release.python_tag}-{release.python_tag}-{release.platform_tag}"
        reason = str(error).removeprefix(f"{filename} ")
        return [f"{reason}; expected NAME-VERSION-{tags}.whl"]
    problems = []
    python_tags = ", ".join(sorted({f"{tag.interpreter}-{tag.abi}" for tag in found}))
    abi3t = wheel_tags.abi3t_problem(filename, release.python_tag)
    if abi3t:
        problems.append(f"has Python tag {python_tags}, for Pyodide {release.version}: {abi3t}")
    elif not wheel_tags.python_fits(filename, release.python_tag):
        problems.append(
            f"has Python tag {python_tags}, expected {release.python_tag}-{release.python_tag} "
            f"or an abi3 tag of Python {release.python} or older "
            f"(Pyodide {release.version} runs Python {release.python}). {rebuild}"
        )
    platform_tags = sorted({tag.platform for tag in found})
    if platform_tags != [release.platform_tag]:
        problems.append(
            f"has platform tag {', '.join(platform_tags)}, expected {release.platform_tag} "
            f"(Pyodide {release.version}, Emscripten {release.emscripten}). {rebuild}; "
            "renaming a wheel does not change the ABI it was built for"
        )
    return problems


def module_problems(member: str, data: bytes, release: Release) -> list[str]:
    """What keeps the extension module `member` (its bytes: `data`) from loading in `release`."""
    rebuild = f"`nox -s wasm_build -- --pyodide {release.version}`"
    try:
        module = _read_module(data, rebuild)
    except WasmError as error:
        return [str(error)]
    problems = []
    if "dylink.0" not in module.custom_sections:
        problems.append(
            "has no dylink.0 section, so it is not a side module and Pyodide cannot load it. "
            "Fix: link with -sSIDE_MODULE=2 (`-C link-arg=-sSIDE_MODULE=2`, from the release's "
            "rustflags in .cargo/config.toml; a RUSTFLAGS variable in the environment replaces them)"
        )
    hook_problem = _hook_problem(member, module, release)
    if hook_problem:
        problems.append(hook_problem)
    signs = thread_signs(module)
    if signs:
        problems.append(
            f"was built with threads: it {', '.join(signs)}; Pyodide's memory is not shared, so "
            'loading fails ("mismatch in shared state of memory"). Fix: remove -pthread, '
            "-sSHARED_MEMORY and `-C target-feature=+atomics` from RUSTFLAGS, .cargo/config.toml "
            "and CFLAGS"
        )
    return problems


def _read_module(data: bytes, rebuild: str) -> WasmModule:
    """The parsed module; a WasmError says, as a finding, why it cannot be read as WebAssembly."""
    native = _native_format(data)
    if native:
        raise WasmError(
            f"is {native}, not WebAssembly; expected a wasm32-emscripten side module. "
            f"Fix: build for target wasm32-unknown-emscripten with {rebuild}"
        )
    if not data.startswith(WASM_MAGIC):
        raise WasmError(
            f"is not WebAssembly (it starts with {data[:4]!r}, expected b'\\x00asm'). "
            f"Fix: rebuild with {rebuild}"
        )
    try:
        return parse_wasm(data)
    except WasmError as error:
        raise WasmError(
            f"is truncated or corrupt WebAssembly ({len(data):,} bytes: {error}); "
            f"expected a complete module. Fix: rebuild with {rebuild}"
        ) from None


def _native_format(data: bytes) -> str | None:
    for magic, description in NATIVE_MAGICS.items():
        if data.startswith(magic):
            if magic == b"\x7fELF" and len(data) > 19:
                machine = int.from_bytes(data[18:20], "little")
                return f"{description} for {ELF_MACHINES.get(machine, f'machine {machine:#x}')}"
            return description
    return None


def hooks(release: Release) -> tuple[str, ...]:
    """The exports `release`'s Python looks for to import a module, in its order of lookup."""
    python = tuple(int(part) for part in release.python.split("."))
    return (EXPORT_HOOK, INIT_HOOK) if python >= EXPORT_HOOK_SINCE else (INIT_HOOK,)


def found_hook(member: str, module: WasmModule, release: Release) -> str | None:
    """The export that `release`'s Python calls to import `member` (pkg/name.<suffix>.so as `name`)."""
    name = PurePosixPath(member).name.split(".")[0]
    return next((hook + name for hook in hooks(release) if hook + name in module.exports), None)


def _hook_problem(member: str, module: WasmModule, release: Release) -> str | None:
    if found_hook(member, module, release):
        return None
    name = PurePosixPath(member).name.split(".")[0]
    shown = ", ".join(module.exports[:EXPORTS_SHOWN]) or "nothing"
    if len(module.exports) > EXPORTS_SHOWN:
        shown += f" and {len(module.exports) - EXPORTS_SHOWN} more"
    expected = " or ".join(hook + name for hook in hooks(release))
    if EXPORT_HOOK + name in module.exports:  # an abi3t build for an older Python
        since = ".".join(map(str, EXPORT_HOOK_SINCE))
        return (
            f"exports {EXPORT_HOOK}{name} (PEP 793's hook, which Python looks for from {since} on) but not "
            f"{INIT_HOOK}{name}, which Python {release.python} (Pyodide {release.version}) calls, so "
            f"importing {name} fails. Fix: build it for a Pyodide on Python {since} or newer, or "
            "with PyO3's abi3-py3X feature instead of abi3t"
        )
    return (
        f"does not export {expected} (it exports {shown}), so importing {name} fails. "
        f'Fix: name the #[pymodule] function {name}, or give it #[pyo3(name = "{name}")], '
        "to match the file name (module-name in pyproject.toml)"
    )


def thread_signs(module: WasmModule) -> list[str]:
    """What in a module shows it was built with -pthread or shared memory (empty: nothing)."""
    signs = [
        f"imports shared memory {item.module}.{item.name}" for item in module.imports if item.shared_memory
    ]
    signs += [f"exports {name}" for name in module.exports if name in THREAD_EXPORTS]
    signs += [
        f"uses the {feature} feature (target_features section)"
        for feature, prefix in module.target_features.items()
        if feature in THREAD_FEATURES and prefix != "-"
    ]
    return signs


def _leb128_bytes(value: int) -> bytes:
    encoded = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        encoded.append(low | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / 1024:,.1f} KiB)"


def _debug_note(module: ExtensionModule) -> str:
    if not module.debug_sections:
        return ""
    parts = []
    names = [section for section in module.debug_sections if section.name == NAME_SECTION]
    if names:
        parts.append(f"function names (name section, {names[0].size:,} bytes)")
    dwarf = [section for section in module.debug_sections if section.name.startswith(".debug_")]
    if dwarf:
        parts.append(f"DWARF ({len(dwarf)} .debug_* sections, {sum(s.size for s in dwarf):,} bytes)")
    others = [s for s in module.debug_sections if s not in names and s not in dwarf]
    parts += [f"{section.name} ({section.size:,} bytes)" for section in others]
    return f", debug build: {', '.join(parts)}"


def _hook_note(hook: str) -> str:
    return (
        " (PEP 793's module export hook)" if hook.startswith(EXPORT_HOOK) else " (the module init function)"
    )


def size_lines(module: ExtensionModule) -> list[str]:
    """The module's largest functions and its sections, with their sizes in bytes."""
    if not module.sections:
        return []
    lines = [f"    largest of its {module.function_count:,} functions (code section bodies):"]
    lines += [f"      {function.size:>9,}  {function.name}" for function in module.largest_functions]
    lines.append("    sections:")
    lines += [
        f"      {section.size:>9,}  {section.name}{' (custom)' if section.custom else ''}"
        for section in module.sections
    ]
    return lines


def format_report(report: WheelReport, sizes: bool = False) -> str:
    """The lines to print for one wheel: its size and verdict, each extension module's size (a debug
    build says so), findings; the largest functions and sections of a module over its size budget, or of
    every module with `sizes`."""
    size = _size(report.size) if report.size is not None else "missing"
    verdict = "ok" if not report.findings else f"{len(report.findings)} problem(s)"
    lines = [f"{report.wheel.name}: {size}, for Pyodide {report.release}: {verdict}"]
    for module in report.extension_modules:
        budget = report.max_extension_bytes
        within = f", budget {budget:,} bytes" if budget is not None else ""
        lines.append(f"  {module.member}: {_size(module.size)}{_debug_note(module)}{within}")
        if module.hook:
            lines.append(f"    imported by its {module.hook} export{_hook_note(module.hook)}")
        if sizes or report.over_budget(module):
            lines += size_lines(module)
    lines += [f"  problem: {finding}" for finding in report.findings]
    return "\n".join(lines)
