"""Check that wheels will load in one Pyodide release: its tags, and a WebAssembly side module inside.

What `nox -s audit -- WHEEL... [--pyodide VERSION]` runs. Each problem becomes one finding: a line that
names the wheel (and the member), what was found, what was expected, and the fix. It needs only the
standard library and `packaging`: it reads WebAssembly's binary format itself (the few sections it needs).

What a side module built with threads looks like, seen in Emscripten's own output for
`emcc -pthread -sSIDE_MODULE=2` (and read in Emscripten's tools/link.py and libdylink.js): its imported
`env.memory` has the `shared` limits flag, it exports `_emscripten_tls_init`, and unoptimized builds keep a
`target_features` section that lists `+atomics`. Imports named `pthread_mutex_*` or `pthread_self` are
normal: Rust's std and libc call them without threads too, and Pyodide's main module provides them.
"""

from __future__ import annotations

import dataclasses
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

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

CUSTOM_SECTION, IMPORT_SECTION, EXPORT_SECTION = 0, 2, 7
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


class WasmError(Exception):
    """The bytes are not a complete, well-formed WebAssembly module; the message says where."""


@dataclasses.dataclass(frozen=True)
class WasmImport:
    module: str
    name: str
    kind: int
    shared_memory: bool = False


@dataclasses.dataclass
class WasmModule:
    """The parts of a WebAssembly module that the audit looks at."""

    custom_sections: list[str] = dataclasses.field(default_factory=list)
    imports: list[WasmImport] = dataclasses.field(default_factory=list)
    exports: list[str] = dataclasses.field(default_factory=list)
    # feature name -> prefix: "+" used, "-" disallowed, "=" required
    target_features: dict[str, str] = dataclasses.field(default_factory=dict)


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
        if section_id == CUSTOM_SECTION:
            _read_custom_section(section, module)
        elif section_id == IMPORT_SECTION:
            module.imports = _read_imports(section)
        elif section_id == EXPORT_SECTION:
            module.exports = _read_exports(section)
    return module


def _read_custom_section(section: _Reader, module: WasmModule) -> None:
    name = section.name()
    module.custom_sections.append(name)
    if name == "target_features":
        for _ in range(section.leb128()):
            prefix = chr(section.byte())
            module.target_features[section.name()] = prefix


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


def _read_exports(section: _Reader) -> list[str]:
    names = []
    for _ in range(section.leb128()):
        names.append(section.name())
        section.byte()  # kind
        section.leb128()  # index
    return names


@dataclasses.dataclass(frozen=True)
class ExtensionModule:
    member: str  # its path inside the wheel
    size: int  # bytes, uncompressed


@dataclasses.dataclass
class WheelReport:
    """What the audit of one wheel found; no findings means it fits the release."""

    wheel: Path
    release: str  # the Pyodide version audited against
    size: int | None = None  # None when the file is missing
    extension_modules: list[ExtensionModule] = dataclasses.field(default_factory=list)
    findings: list[str] = dataclasses.field(default_factory=list)


def audit_wheels(paths: Iterable[Path], release: Release) -> list[WheelReport]:
    """Audit each wheel against one release."""
    return [audit_wheel(Path(path), release) for path in paths]


def audit_wheel(path: Path, release: Release) -> WheelReport:
    """Check one wheel's tags and every extension module in it against `release`."""
    path = Path(path)
    report = WheelReport(wheel=path, release=release.version)
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
            report.extension_modules.append(ExtensionModule(info.filename, len(data)))
            problems = module_problems(info.filename, data, release)
            report.findings += [f"{path.name}: {info.filename} {problem}" for problem in problems]


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
    if not wheel_tags.python_fits(filename, release.python_tag):
        python_tags = sorted({f"{tag.interpreter}-{tag.abi}" for tag in found})
        problems.append(
            f"has Python tag {', '.join(python_tags)}, expected {release.python_tag}-{release.python_tag} "
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
    init_problem = _init_problem(member, module)
    if init_problem:
        problems.append(init_problem)
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


def _init_problem(member: str, module: WasmModule) -> str | None:
    # Python imports pkg/name.cpython-314-wasm32-emscripten.so as `name` and calls PyInit_name.
    name = PurePosixPath(member).name.split(".")[0]
    init = f"PyInit_{name}"
    if init in module.exports:
        return None
    shown = ", ".join(module.exports[:EXPORTS_SHOWN]) or "nothing"
    if len(module.exports) > EXPORTS_SHOWN:
        shown += f" and {len(module.exports) - EXPORTS_SHOWN} more"
    return (
        f"does not export {init} (it exports {shown}), so importing {name} fails. "
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


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / 1024:,.1f} KiB)"


def format_report(report: WheelReport) -> str:
    """The lines to print for one wheel: its size and verdict, each extension module's size, findings."""
    size = _size(report.size) if report.size is not None else "missing"
    verdict = "ok" if not report.findings else f"{len(report.findings)} problem(s)"
    lines = [f"{report.wheel.name}: {size}, for Pyodide {report.release}: {verdict}"]
    lines += [f"  {module.member}: {_size(module.size)}" for module in report.extension_modules]
    lines += [f"  problem: {finding}" for finding in report.findings]
    return "\n".join(lines)
