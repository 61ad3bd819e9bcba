"""pyo3_pyodide.wheel.audit on real PyO3 wheels from PyPI, and on broken wheels made from them.

The real wheels (jiter, pydantic-core; built by maturin for Pyodide 314) are downloaded once into a per-user
cache that outlives test runs. Broken wheels are rewritten copies of them, or tiny modules built here.
"""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import platformdirs
import pytest
from pyo3_pyodide.wheel import audit

from engine.tests.test_wheel_tags import name
from template_tools import matrix

RELEASES = matrix.load().releases
WHEEL_CACHE = platformdirs.user_cache_path("pyo3-pyodide-template-tests") / "pypi-wheels"
PLATFORM = "pyemscripten_2026_0_wasm32"  # the PyPI wheels' platform (PEP 783), named in their file names
# The release of the matrix those wheels are for (its line's newest), and the prerelease, which rejects them.
[STABLE] = [release for release in RELEASES.values() if release.platform_tag == PLATFORM]
[PRERELEASE] = [release for release in RELEASES.values() if release.status == "prerelease"]
REAL_WHEELS = {
    "jiter": "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    "pydantic-core": "pydantic_core-2.50.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
}
JITER_MODULE = "jiter/jiter.cpython-314-wasm32-emscripten.so"


@pytest.fixture(scope="session")
def real_wheels() -> dict[str, Path]:
    """The real wheels by project name, downloaded from PyPI only when the cache lacks them."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    for project, filename in REAL_WHEELS.items():
        if not (WHEEL_CACHE / filename).is_file():
            version = filename.split("-")[1]
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
                + ["--platform", PLATFORM, "--python-version", "314", "--implementation", "cp"]
                + ["--abi", "cp314", "-d", str(WHEEL_CACHE), f"{project}=={version}"],
                check=True,
            )
    return {project: WHEEL_CACHE / filename for project, filename in REAL_WHEELS.items()}


@pytest.fixture
def jiter(real_wheels) -> Path:
    return real_wheels["jiter"]


def rewrite_wheel(source: Path, target: Path, edit) -> Path:
    """Copy a wheel member by member; `edit(name, data)` returns the new bytes, or None to drop it."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = edit(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def replace_module(source: Path, target: Path, change) -> Path:
    """A copy of a jiter wheel whose extension module is `change(its bytes)`."""
    return rewrite_wheel(source, target, lambda name, data: change(data) if name == JITER_MODULE else data)


def only_finding(wheel: Path, release=STABLE) -> str:
    findings = audit.audit_wheel(wheel, release).findings
    assert len(findings) == 1, findings
    return findings[0]


# Tiny WebAssembly modules, written byte by byte (https://webassembly.github.io/spec/core/binary/).


def leb128(value: int) -> bytes:
    encoded = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        encoded.append(low | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def wasm_name(text: str) -> bytes:
    return leb128(len(text.encode())) + text.encode()


def wasm_vector(items: list[bytes]) -> bytes:
    return leb128(len(items)) + b"".join(items)


def wasm_section(section_id: int, contents: bytes) -> bytes:
    return bytes([section_id]) + leb128(len(contents)) + contents


def side_module(exports: list[str], shared_memory: bool = False) -> bytes:
    """A valid side module shaped like emcc's: dylink.0 first, env.memory imported, one empty
    function per export. With shared_memory, its memory import is what `emcc -pthread` writes."""
    mem_info = bytes([1]) + leb128(4) + bytes(4)  # WASM_DYLINK_MEM_INFO: no memory, no table
    memory_limits = b"\x03\x01\x01" if shared_memory else b"\x00\x01"  # flags (0x03: max, shared), min, max
    memory_import = wasm_name("env") + wasm_name("memory") + b"\x02" + memory_limits
    export_entries = [wasm_name(name) + b"\x00" + leb128(index) for index, name in enumerate(exports)]
    return b"".join(
        [
            b"\0asm\x01\0\0\0",
            wasm_section(0, wasm_name("dylink.0") + mem_info),
            wasm_section(1, wasm_vector([b"\x60\x00\x00"])),  # type 0: () -> ()
            wasm_section(2, wasm_vector([memory_import])),
            wasm_section(3, wasm_vector([b"\x00"] * len(exports))),  # every function has type 0
            wasm_section(7, wasm_vector(export_entries)),
            wasm_section(10, wasm_vector([b"\x02\x00\x0b"] * len(exports))),  # no locals, `end`
        ]
    )


def demo_wheel(folder: Path, module: bytes) -> Path:
    wheel = folder / f"demo-1.0-cp314-cp314-{PLATFORM}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "from .demo import *\n")
        archive.writestr("demo/demo.cpython-314-wasm32-emscripten.so", module)
    return wheel


# Real wheels pass.


@pytest.mark.parametrize("project", REAL_WHEELS)
def test_real_pyo3_wheels_pass(real_wheels, project):
    # Both import pthread_mutex_* and pthread_cond_* (Rust's std does without threads): no finding.
    report = audit.audit_wheel(real_wheels[project], STABLE)
    assert report.findings == []
    [module] = report.extension_modules
    assert module.member.endswith(".cpython-314-wasm32-emscripten.so")
    assert module.size > 100_000


def test_report_prints_the_sizes_of_the_wheel_and_its_module(jiter):
    report = audit.audit_wheel(jiter, STABLE)
    module_size = zipfile.ZipFile(jiter).getinfo(JITER_MODULE).file_size
    lines = audit.format_report(report).splitlines()
    assert lines[0].startswith(f"{jiter.name}: {jiter.stat().st_size:,} bytes (")
    assert lines[0].endswith(f"for Pyodide {STABLE.version}: ok")
    assert lines[1] == f"  {JITER_MODULE}: {module_size:,} bytes ({module_size / 1024:,.1f} KiB)"
    assert lines[2] == "    imported by its PyInit_jiter export (the module init function)"


def test_audit_wheels_reports_each_wheel_in_order(real_wheels):
    paths = [real_wheels["pydantic-core"], real_wheels["jiter"]]
    assert [report.wheel for report in audit.audit_wheels(paths, STABLE)] == paths


def test_hand_built_side_module_passes(tmp_path):
    # Keeps the broken tiny modules below honest: without the flaw, the same module passes.
    assert audit.audit_wheel(demo_wheel(tmp_path, side_module(["PyInit_demo"])), STABLE).findings == []


# Broken wheels: each problem has its own message.


def test_renamed_platform_tag(jiter, tmp_path):
    renamed = tmp_path / jiter.name.replace(PLATFORM, "pyemscripten_2025_0_wasm32")
    shutil.copy(jiter, renamed)
    finding = only_finding(renamed)
    assert finding.startswith(f"{renamed.name}: has platform tag pyemscripten_2025_0_wasm32, ")
    assert f"expected {PLATFORM} (Pyodide {STABLE.version}, Emscripten {STABLE.emscripten})" in finding
    assert "renaming a wheel does not change the ABI" in finding


def test_cp314_wheel_against_the_315_prerelease(jiter):
    python_finding, platform_finding = audit.audit_wheel(jiter, PRERELEASE).findings
    rebuild = f"rebuild with `nox -s wasm_build -- --pyodide {PRERELEASE.version}`"
    tag = PRERELEASE.python_tag
    assert python_finding == (
        f"{jiter.name}: has Python tag cp314-cp314, expected {tag}-{tag} "
        f"or an abi3 tag of Python {PRERELEASE.python} or older "
        f"(Pyodide {PRERELEASE.version} runs Python {PRERELEASE.python}). Fix: {rebuild}"
    )
    assert platform_finding == (
        f"{jiter.name}: has platform tag {PLATFORM}, expected {PRERELEASE.platform_tag} "
        f"(Pyodide {PRERELEASE.version}, Emscripten {PRERELEASE.emscripten}). Fix: {rebuild}; "
        "renaming a wheel does not change the ABI it was built for"
    )


def test_invalid_wheel_filename(jiter, tmp_path):
    renamed = shutil.copy(jiter, tmp_path / "jiter.whl")
    assert only_finding(renamed).startswith("jiter.whl: is not a wheel file name (")


def test_native_elf_module(jiter, tmp_path):
    # A native library of this Python's, else its own executable: an ELF file either way on Linux.
    native = sorted(Path(sysconfig.get_config_var("DESTSHARED")).glob("*.so")) or [
        Path(sys.executable).resolve()
    ]
    assert native[0].read_bytes()[:4] == b"\x7fELF", f"{native[0]} is not an ELF file"
    wheel = replace_module(jiter, tmp_path / jiter.name, lambda _: native[0].read_bytes())
    finding = only_finding(wheel)
    assert finding.startswith(f"{jiter.name}: {JITER_MODULE} is an ELF (native) shared object for ")
    assert "not WebAssembly; expected a wasm32-emscripten side module" in finding


def test_truncated_module(jiter, tmp_path):
    wheel = replace_module(jiter, tmp_path / jiter.name, lambda data: data[: len(data) // 2])
    half = zipfile.ZipFile(jiter).getinfo(JITER_MODULE).file_size // 2
    finding = only_finding(wheel)
    assert f"{JITER_MODULE} is truncated or corrupt WebAssembly ({half:,} bytes: section " in finding
    assert "remain); expected a complete module" in finding


def test_module_without_dylink_section(jiter, tmp_path):
    # Renaming emcc's dylink.0 section leaves a valid module that no longer says it is a side module.
    def rename_dylink(data: bytes) -> bytes:
        assert data[8:19] == b"\x00\x12\x08dylink.0"  # the first section: custom, 18 bytes
        return data.replace(b"\x08dylink.0", b"\x08dylink.x", 1)

    finding = only_finding(replace_module(jiter, tmp_path / jiter.name, rename_dylink))
    assert f"{JITER_MODULE} has no dylink.0 section, so it is not a side module" in finding
    assert "Fix: link with -sSIDE_MODULE=2" in finding


def test_module_without_pyinit_export(jiter, tmp_path):
    def rename_export(data: bytes) -> bytes:
        # The export's length-prefixed name; a name of the same length keeps every size right.
        assert data.count(b"\x0cPyInit_jiter") == 1
        return data.replace(b"\x0cPyInit_jiter", b"\x0cPyInit_jitex")

    wheel = replace_module(jiter, tmp_path / jiter.name, rename_export)
    finding = only_finding(wheel)
    assert finding == (
        f"{jiter.name}: {JITER_MODULE} does not export PyInit_jiter (it exports __wasm_call_ctors, "
        "PyInit_jitex, __wasm_apply_data_relocs), so importing jiter fails. Fix: name the #[pymodule] "
        'function jiter, or give it #[pyo3(name = "jiter")], to match the file name '
        "(module-name in pyproject.toml)"
    )


def test_module_with_shared_memory(tmp_path):
    # What `emcc -pthread -sSIDE_MODULE=2` writes (seen with Emscripten 6.0.5): a shared env.memory
    # import and an _emscripten_tls_init export.
    module = side_module(["PyInit_demo", "_emscripten_tls_init"], shared_memory=True)
    finding = only_finding(demo_wheel(tmp_path, module))
    assert finding.startswith(
        f"demo-1.0-cp314-cp314-{PLATFORM}.whl: demo/demo.cpython-314-wasm32-emscripten.so was built "
        "with threads: it imports shared memory env.memory, exports _emscripten_tls_init; "
    )
    assert "Fix: remove -pthread, -sSHARED_MEMORY and `-C target-feature=+atomics`" in finding


def test_wheel_without_extension_module(jiter, tmp_path):
    def drop_module(name, data):
        return None if name == JITER_MODULE else data

    finding = only_finding(rewrite_wheel(jiter, tmp_path / jiter.name, drop_module))
    assert finding.startswith(f"{jiter.name}: no extension module (*.so) inside; expected a WebAssembly")


def test_file_that_is_not_a_zip(tmp_path):
    # What a failed download often leaves behind under the wheel's name.
    fake = tmp_path / REAL_WHEELS["jiter"]
    fake.write_text("<html><body>404 Not Found</body></html>")
    assert only_finding(fake) == (
        f"{fake.name}: not a readable zip archive (File is not a zip file); expected a wheel, "
        "which is a zip. Fix: build or download it again"
    )


def test_missing_file(tmp_path):
    missing = tmp_path / REAL_WHEELS["jiter"]
    assert only_finding(missing).startswith(f"{missing}: no such file; expected a wheel")


# abi3t (PEP 803) and PEP 793's module export hook: the extension `_name.abi3t.so` exports `PyModExport__name`
# and no `PyInit__name`.


def abi3t_wheel(folder: Path, release, exports: list[str], abi: str = "abi3.abi3t") -> Path:
    """A wheel shaped like maturin's for PyO3's abi3t-py315: cp315-abi3.abi3t, demo/_demo.abi3t.so."""
    wheel = folder / name(release, abi, python="cp315")
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "from ._demo import *\n")
        archive.writestr("demo/_demo.abi3t.so", side_module(exports))
    return wheel


def test_audit_accepts_the_export_hook_on_315_and_names_it(tmp_path):
    report = audit.audit_wheel(abi3t_wheel(tmp_path, PRERELEASE, ["PyModExport__demo"]), PRERELEASE)
    assert report.findings == []
    [module] = report.extension_modules
    assert module.hook == "PyModExport__demo"
    lines = audit.format_report(report).splitlines()
    assert lines[0].endswith(f"for Pyodide {PRERELEASE.version}: ok")
    assert lines[2] == "    imported by its PyModExport__demo export (PEP 793's module export hook)"


def test_audit_names_the_hook_python_315_looks_for_first(tmp_path):
    # A module exporting both is imported through PyModExport_ on 3.15, PyInit_ on 3.14.
    wheel = abi3t_wheel(tmp_path, PRERELEASE, ["PyInit__demo", "PyModExport__demo"], abi="abi3")
    assert [module.hook for module in audit.audit_wheel(wheel, PRERELEASE).extension_modules] == [
        "PyModExport__demo"
    ]


def test_audit_refuses_a_module_exporting_neither_hook(tmp_path):
    wheel = abi3t_wheel(tmp_path, PRERELEASE, ["PyInit_demo", "PyModExport_other"])
    [finding] = audit.audit_wheel(wheel, PRERELEASE).findings
    assert finding == (
        f"{wheel.name}: demo/_demo.abi3t.so does not export PyModExport__demo or PyInit__demo (it exports "
        "PyInit_demo, PyModExport_other), so importing _demo fails. Fix: name the #[pymodule] function "
        '_demo, or give it #[pyo3(name = "_demo")], to match the file name (module-name in pyproject.toml)'
    )
    assert audit.audit_wheel(wheel, PRERELEASE).extension_modules[0].hook is None


def test_audit_refuses_abi3t_for_a_314_release_by_its_tag_and_its_hook(tmp_path):
    wheel = abi3t_wheel(tmp_path, STABLE, ["PyModExport__demo"])
    tag_finding, hook_finding = audit.audit_wheel(wheel, STABLE).findings
    assert tag_finding.startswith(
        f"{wheel.name}: has Python tag cp315-abi3, cp315-abi3t, for Pyodide {STABLE.version}: it is tagged "
        "abi3t, PEP 803's stable ABI, which CPython imports from 3.15 on only"
    )
    assert hook_finding == (
        f"{wheel.name}: demo/_demo.abi3t.so exports PyModExport__demo (PEP 793's hook, which Python looks "
        f"for from 3.15 on) but not PyInit__demo, which Python 3.14 (Pyodide {STABLE.version}) calls, so "
        "importing _demo fails. Fix: build it for a Pyodide on Python 3.15 or newer, or with PyO3's "
        "abi3-py3X feature instead of abi3t"
    )
