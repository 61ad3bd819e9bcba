"""`inv matrix.update`: merge new Pyodide releases from upstream into template/pyodide-matrix.toml.

The matrix keeps one release per line (0.Y before Pyodide's new version scheme, the major version after it).
For each line it holds, a newer npm release replaces the table's version (its comments and the fields upstream
does not give, such as platform_tag and rust_sysroot_sha256, are kept); a line newer than every line held is
added as a new table at the top. Older lines the matrix does not hold are left out on purpose.
The values come from Makefile.envs at the release's tag and from the cross-build environment metadata
(template_tools/upstream.py). Where those are out of reach (GitHub blocked, a firewall), a new patch release of a
line the matrix holds takes Python, Emscripten, ABI and the platform tag from its own npm package
(pyodide-lock.json and the micropip it names) and keeps the line's Rust pins and cross-build environment, as long as
its Emscripten and ABI are the line's; a new line needs every source. The table's mark and the output say which
sources were read and which could not be reached. Then each changed release gets its status ("prerelease" for alpha/beta/rc,
"stable" for the newest release, "legacy" for the rest), and `default` moves to the newest stable release.

The file is edited table by table with tomlkit: a table travels with the comment lines right above it, so
every comment stays where it was. Nothing is written unless the result passes the same checks as every other
reader of the matrix (pyo3_pyodide.matrix); then the matrix and copier-matrix.yml are each replaced
atomically. A line of output names every change, and a note names every comment that may now be out of date.

Exit status of `run`: 0 up to date (or updated), 1 stale (with --check: npm has releases the matrix lacks,
listed from npm alone if need be), 2 an error in the data or the matrix, 3 a source needed could not be reached.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import tempfile
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pyo3_pyodide.matrix
import tomlkit
from pyo3_pyodide.matrix import MATRIX_FILE, MatrixError, Release, parse_matrix

from template_tools import matrix
from template_tools.upstream import (
    CrossBuildEnvironment,
    MakefileEnvs,
    NpmPackage,
    RuntimeLock,
    Sources,
    UpstreamError,
    UpstreamUnreachable,
    line_of,
    makefile_envs,
    npm_package,
    platform_tags,
    runtime_lock,
    tag_of,
    version_of,
    xbuildenv_entries,
    xbuildenv_for,
)

TABLE_HEADER = re.compile(r'\[release\."([^"]+)"\]')
UPDATED_MARK = "# Updated by `inv matrix.update`"
MARK_CONTINUED = "#   "  # the mark's further lines
KEY_ORDER = (
    pyo3_pyodide.matrix.REQUIRED_KEYS + pyo3_pyodide.matrix.OPTIONAL_KEYS
)  # the order tables are written in


class MatrixUpdateError(Exception):
    """The matrix cannot be merged automatically; the message says why and what to do."""


@dataclasses.dataclass
class Block:
    """One `[release."X"]` table of the matrix file, with the comment lines right above it."""

    version: str
    text: str


def split_blocks(text: str) -> tuple[str, list[Block]]:
    """The file's text before the first table (header comments, `default`), and its tables in order."""
    lines = text.splitlines(keepends=True)
    starts: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        if not line.startswith("["):
            continue
        match = TABLE_HEADER.fullmatch(line.strip())
        if not match:
            raise MatrixUpdateError(
                f"{MATRIX_FILE} line {index + 1} is {line.strip()!r}; `inv matrix.update` merges only tables "
                'written as [release."VERSION"]. Write it that way, or merge this release by hand.'
            )
        start = index
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        starts.append((start, match.group(1)))
    if not starts:
        raise MatrixUpdateError(f'{MATRIX_FILE} has no [release."VERSION"] table to merge into.')
    ends = [start for start, _ in starts[1:]] + [len(lines)]
    blocks = [Block(version, "".join(lines[start:end])) for (start, version), end in zip(starts, ends)]
    return "".join(lines[: starts[0][0]]), blocks


def join_blocks(header: str, blocks: list[Block]) -> str:
    """The file again: header and tables, one blank line between them."""
    parts = [header.rstrip("\n") + "\n", *(block.text.rstrip("\n") + "\n" for block in blocks)]
    return "\n".join(parts)


def edit_block(block: Block, new_version: str, values: dict, removed: list[str]) -> Block:
    """`block` renamed to `new_version`, with `values` set and `removed` keys deleted; comments kept."""
    text = block.text
    if new_version != block.version:
        text = text.replace(f'[release."{block.version}"]', f'[release."{new_version}"]', 1)
    document = tomlkit.parse(text)
    table = document["release"][new_version]
    for key, value in values.items():
        if table.get(key) != value:
            table[key] = value
    for key in removed:
        if key in table:
            del table[key]
    return Block(new_version, document.as_string())


def set_mark(block: Block, mark: str) -> Block:
    """Put `mark` (wrapped into comment lines) right above the table header, replacing an earlier mark of
    `inv matrix.update`."""
    lines = block.text.splitlines(keepends=True)
    kept, in_mark = [], False
    for text in lines:
        in_mark = text.startswith(UPDATED_MARK) or (in_mark and text.startswith(MARK_CONTINUED))
        if not in_mark:
            kept.append(text)
    header = next(index for index, text in enumerate(kept) if text.startswith("["))
    wrapped = textwrap.wrap(mark, width=116, subsequent_indent=MARK_CONTINUED, break_on_hyphens=False)
    kept[header:header] = [text + "\n" for text in wrapped]
    return Block(block.version, "".join(kept))


def comments_to_review(block: Block, old: Release, changed: dict[str, object]) -> list[str]:
    """Comments of `block` that may now be wrong: comment lines naming the old version or an old value that
    changed (a release named in an old cross-build environment URL included), and the inline comments of
    changed keys."""
    terms = {old.version, tag_of(old.version)}
    terms |= {
        value for key, value in changed.items() if isinstance(value, str) and key not in ("status", "npm")
    }
    if "xbuildenv_url" in changed and old.xbuildenv_url:
        terms |= set(re.findall(r"/download/([^/]+)/", old.xbuildenv_url))
    pattern = re.compile("|".join(rf"(?<![\w.]){re.escape(term)}(?![\w])" for term in sorted(terms)))
    found = []
    for line in block.text.splitlines():
        if line.startswith((UPDATED_MARK, MARK_CONTINUED)):
            continue
        if line.lstrip().startswith("#"):
            if pattern.search(line):
                found.append(line.strip())
        elif "#" in line and line.split("=", 1)[0].strip() in changed:
            found.append(line.strip())
    return found


# ---------------------------------------------------------------------------------------------------------------
# What upstream has that the matrix lacks
# ---------------------------------------------------------------------------------------------------------------
def newest_per_line(versions: list[str]) -> dict[str, str]:
    """line -> its newest release on npm, a final release where the line has one."""
    newest: dict[str, str] = {}
    for version in sorted(versions, key=version_of):
        line = line_of(version)
        held = newest.get(line)
        if held is None or version_of(held).is_prerelease or not version_of(version).is_prerelease:
            newest[line] = version
    return newest


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which tables get a newer release of their line, and which new lines are added."""

    renamed: dict[str, str]  # version in the matrix -> newer release of its line
    added: list[str]  # newest release of each line newer than every line the matrix holds


def plan(held: list[str], upstream_versions: list[str]) -> Plan:
    for version in held:
        try:
            version_of(version)
        except ValueError:
            raise MatrixUpdateError(
                f'{MATRIX_FILE}: [release."{version}"] is not spelled as npm spells Pyodide releases '
                "(X.Y.Z or X.Y.Z-alpha.N), so upstream cannot be matched to it."
            ) from None
    newest = newest_per_line(upstream_versions)
    current_of_line: dict[str, str] = {}
    for version in sorted(held, key=version_of):
        current_of_line[line_of(version)] = version  # where a line is held twice, the newer one moves
    renamed = {
        current: newest[line]
        for line, current in current_of_line.items()
        if line in newest and version_of(newest[line]) > version_of(current)
    }
    newest_held_line = max((version_of(version) for version in held), default=None)
    added = [
        version
        for line, version in newest.items()
        if line not in current_of_line
        and (newest_held_line is None or version_of(version) > newest_held_line)
    ]
    return Plan(renamed=renamed, added=sorted(added, key=version_of, reverse=True))


# ---------------------------------------------------------------------------------------------------------------
# Values of one release
# ---------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Reading:
    """Which upstream documents were read (their URLs), and which sources could not be reached (the errors)."""

    read: list[str] = dataclasses.field(default_factory=list)
    unreachable: list[str] = dataclasses.field(default_factory=list)


def upstream_values(
    old: Release | None,
    pins: MakefileEnvs | RuntimeLock,
    xbuildenv: CrossBuildEnvironment | None,
    metadata_read: bool,
    notes: list[str],
) -> tuple[dict, list[str]]:
    """The values a table takes from upstream, and the keys it loses; `old` is the table being moved on.

    `pins` is Makefile.envs at the release's tag, or, where it is out of reach, the release's npm lock (which
    gives no Rust pins: the line's are kept, so the release must have the line's Emscripten and ABI).
    `metadata_read` says whether the cross-build environment metadata could be read.
    """
    values: dict = {"python": pins.python, "emscripten": pins.emscripten, "abi": pins.abi}
    removed: list[str] = []
    if isinstance(pins, RuntimeLock):
        assert old is not None, "only a line the matrix holds moves by its npm lock"
        if (old.emscripten, old.abi) != (pins.emscripten, pins.abi):
            raise MatrixUpdateError(
                f"{pins.url} gives Emscripten {pins.emscripten} and ABI {pins.abi} where {old.version} has "
                f"{old.emscripten} and {old.abi}, so its Rust pins and cross-build environment may not fit: the "
                "update needs Makefile.envs and the cross-build environment metadata. Run `inv matrix.update` "
                "where they can be reached, or point --pyodide-source and --xbuildenv-metadata at a mirror."
            )
        notes.append(f"  note: Makefile.envs could not be reached: the Rust pins of {old.version} were kept")
    elif pins.rust_toolchain is not None:
        values["rust_toolchain"] = pins.rust_toolchain
        values["rustflags"] = list(pins.rustflags or ())
        if pins.rust_sysroot_url is not None:
            values["rust_sysroot_url"] = pins.rust_sysroot_url
            if old is not None and old.rust_sysroot_sha256 and old.rust_sysroot_url != pins.rust_sysroot_url:
                removed.append("rust_sysroot_sha256")
                notes.append("  note: the sysroot URL changed, so its recorded sha256 was dropped")
        else:
            removed += ["rust_sysroot_url", "rust_sysroot_sha256"]
    elif old is None:
        raise MatrixUpdateError(
            f"Makefile.envs ({pins.url}) sets no RUST_TOOLCHAIN, so the Rust pins of this new line are unknown: "
            'add its [release."X"] table by hand.'
        )
    else:
        notes.append(
            f"  note: Makefile.envs ({pins.url}) sets no Rust pins; rust_toolchain and rustflags were kept"
        )
    same_emscripten = old is not None and old.xbuildenv_url and old.emscripten == pins.emscripten
    if xbuildenv is not None:
        values["xbuildenv_url"] = xbuildenv.url
        values["xbuildenv_sha256"] = xbuildenv.sha256
    elif not metadata_read and same_emscripten:
        notes.append(
            "  note: the cross-build environment metadata could not be reached; the table's one was kept"
        )
    elif not metadata_read:
        raise MatrixUpdateError(
            f"the release has Emscripten {pins.emscripten}, so its cross-build environment must come from the "
            "metadata, which could not be reached. Run again where it can be, or point --xbuildenv-metadata "
            "at a mirror."
        )
    elif same_emscripten:
        notes.append("  note: no newer cross-build environment is published; the table's one was kept")
    else:
        removed += ["xbuildenv_url", "xbuildenv_sha256"]
        notes.append("  note: no cross-build environment with these pins is published: no Emscripten patches")
    accepted = platform_tags(pins.abi, pins.emscripten, getattr(pins, "micropip", None))
    if old is None or old.platform_tag not in accepted:
        values["platform_tag"] = accepted[0]
    return values, removed


def status_of(version: str, newest_final: str | None) -> str:
    if version_of(version).is_prerelease:
        return "prerelease"
    return "stable" if version == newest_final else "legacy"


def new_block(version: str, status: str, values: dict, xbuildenv: CrossBuildEnvironment | None) -> Block:
    """A table for a line the matrix did not hold, with a comment saying where its values come from."""
    row = {"status": status, "npm": version, **values}
    xbuildenv_source = (
        f"pyodide-cross-build-environments.json ({xbuildenv.version})"
        if xbuildenv is not None
        else "no cross-build environment (none published yet)"
    )
    comment = (
        f"# {line_of(version)} line ({status}): added by `inv matrix.update` from Makefile.envs at tag "
        f"{tag_of(version)},\n# npm pyodide@{version} and {xbuildenv_source}.\n"
        "# Review the values against Pyodide's ABI notes, then say here where they come from.\n"
    )
    body = tomlkit.dumps({key: row[key] for key in KEY_ORDER if key in row})
    return Block(version, f'{comment}[release."{version}"]\n{body}')


# ---------------------------------------------------------------------------------------------------------------
# The update
# ---------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Update:
    """The merged file and what changed; `changes` is empty when the matrix is up to date."""

    text: str
    changes: list[str]
    notes: list[str]
    lines: dict[str, str]  # line -> its release in the merged matrix
    reading: Reading


def format_value(value) -> str:
    return tomlkit.item(value).as_string() if value is not None else "(none)"


def move_release(
    block: Block,
    old: Release,
    new_version: str,
    sources: Sources,
    package: NpmPackage,
    entries: list[CrossBuildEnvironment] | None,
    newest_final: str | None,
    reading: Reading,
) -> tuple[Block, list[str], list[str]]:
    """`block` moved on to a newer release of its line: the table, the changes, the notes. Makefile.envs
    gives the pins; where it cannot be reached, the release's npm lock does (upstream_values says what)."""
    tag = tag_of(new_version)
    try:
        pins: MakefileEnvs | RuntimeLock = makefile_envs(sources, new_version)
        source = f"Makefile.envs at {tag}"
    except UpstreamUnreachable as error:
        reading.unreachable.append(str(error))
        pins = runtime_lock(sources, package, new_version)
        source = f"the pyodide-lock.json of npm pyodide@{new_version} (micropip {pins.micropip})"
    reading.read.append(pins.url)
    xbuildenv = xbuildenv_for(new_version, pins, entries)
    notes: list[str] = []
    values, removed = upstream_values(old, pins, xbuildenv, entries is not None, notes)
    values = {"status": status_of(new_version, newest_final), "npm": new_version, **values}
    edited = edit_block(block, new_version, values, removed)
    if xbuildenv is not None:
        source += f"; xbuildenv {xbuildenv.version}"
    from_lock, no_metadata = isinstance(pins, RuntimeLock), entries is None
    unread = [f"Makefile.envs at {tag}"] * from_lock + ["the cross-build environment metadata"] * no_metadata
    if unread:
        kept = " and ".join(["Rust pins"] * from_lock + ["xbuildenv"] * no_metadata)
        source += f"; not reached: {' and '.join(unread)}, so the {kept} stayed as in {old.version}"
    edited = set_mark(edited, f"{UPDATED_MARK} from {old.version} ({source}).")
    changes = [f"{line_of(new_version)} line: {old.version} -> {new_version}"]
    before = dataclasses.asdict(old)
    after = tomllib.loads(edited.text)["release"][new_version]
    changed = {}
    for key in KEY_ORDER:
        was = list(before[key]) if isinstance(before.get(key), tuple) else before.get(key)
        if was != after.get(key):
            changed[key] = was
            changes.append(f"  {key}: {format_value(was)} -> {format_value(after.get(key))}")
    notes += [f"  review this comment: {line}" for line in comments_to_review(edited, old, changed)]
    notes.append(
        f"  note: {old.version} is no longer a choice: `copier update --defaults` moves projects pinned to it "
        f'to "stable"; name {old.version} -> {new_version} in CHANGELOG.md (`inv release` checks)'
    )
    return edited, changes, [f"{new_version}:", *notes]


def add_line(
    version: str,
    sources: Sources,
    entries: list[CrossBuildEnvironment],
    newest_final: str | None,
    reading: Reading,
) -> tuple[Block, list[str], list[str]]:
    """A table for a new line (every source was read): the table, the changes, the notes."""
    makefile = makefile_envs(sources, version)
    reading.read.append(makefile.url)
    xbuildenv = xbuildenv_for(version, makefile, entries)
    notes = ["  note: a new table: review its values and its comment"]
    values, _ = upstream_values(None, makefile, xbuildenv, True, notes)
    status = status_of(version, newest_final)
    block = new_block(version, status, values, xbuildenv)
    changes = [f"{line_of(version)} line: new, {version} ({status})"]
    for key, value in tomllib.loads(block.text)["release"][version].items():
        changes.append(f"  {key}: {format_value(value)}")
    return block, changes, [f"{version}:", *notes]


def held_releases(text: str):
    """The checked matrix in `text` (a pyo3_pyodide.matrix.Matrix)."""
    try:
        return parse_matrix(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, MatrixError) as error:
        raise MatrixUpdateError(
            f"{MATRIX_FILE} is not valid before the update: {error}. Fix it first."
        ) from None


def merge(text: str, sources: Sources, package: NpmPackage) -> Update:
    """The matrix `text` with the new releases of npm's `package` merged in (nothing is written)."""
    current = held_releases(text)
    header, blocks = split_blocks(text)
    if [block.version for block in blocks] != list(current.releases):
        raise MatrixUpdateError(
            f'{MATRIX_FILE} defines releases outside [release."X"] tables; merge by hand.'
        )

    reading = Reading(read=[package.url])
    steps = plan(list(current.releases), package.versions)
    entries = None
    if steps.renamed or steps.added:
        try:
            entries = xbuildenv_entries(sources)
            reading.read.append(sources.xbuildenv_metadata)
        except UpstreamUnreachable as error:
            if steps.added:
                raise UpstreamUnreachable(
                    f"{error} A new line ({', '.join(steps.added)}) needs every upstream source."
                ) from None
            reading.unreachable.append(str(error))
    final_versions = [steps.renamed.get(version, version) for version in current.releases] + steps.added
    finals = [version for version in final_versions if not version_of(version).is_prerelease]
    newest_final = max(finals, key=version_of) if finals else None

    merged: list[Block] = []
    changes: list[str] = []
    notes: list[str] = []
    for block in blocks:
        old = current.releases[block.version]
        if block.version in steps.renamed:
            moved, moved_changes, moved_notes = move_release(
                block, old, steps.renamed[block.version], sources, package, entries, newest_final, reading
            )
            merged.append(moved)
            changes += moved_changes
            notes += moved_notes
        elif old.status == "stable" and newest_final not in (None, old.version):
            merged.append(edit_block(block, block.version, {"status": "legacy"}, []))
            changes.append(
                f"{old.version}: status stable -> legacy (the newest stable release is {newest_final})"
            )
        else:
            merged.append(block)
    for version in steps.added:
        added, added_changes, added_notes = add_line(version, sources, entries, newest_final, reading)
        position = next(
            (index for index, held in enumerate(merged) if version_of(held.version) < version_of(version)),
            len(merged),
        )
        merged.insert(position, added)
        changes += added_changes
        notes += added_notes

    header_document = tomlkit.parse(header)
    if newest_final is not None and header_document.get("default") != newest_final:
        changes.append(f"default: {current.default} -> {newest_final}")
        header_document["default"] = newest_final
    merged_text = join_blocks(header_document.as_string(), merged) if changes else text
    try:
        checked = parse_matrix(tomllib.loads(merged_text))
    except (tomllib.TOMLDecodeError, MatrixError) as error:
        raise MatrixUpdateError(
            f"merging upstream's releases gave an invalid matrix ({error}); nothing was written. "
            "Upstream data may have changed shape: merge by hand and report it."
        ) from None
    lines = {line_of(version): version for version in checked.releases}
    return Update(text=merged_text, changes=changes, notes=notes, lines=lines, reading=reading)


def write(update: Update, matrix_path: Path, mirror_path: Path) -> None:
    """Replace the matrix and copier's mirror of it, each atomically; both are computed before either is written."""
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / MATRIX_FILE
        staged.write_text(update.text, encoding="utf-8")
        mirror = matrix.mirror_text(staged)
    matrix.write_atomically(matrix_path, update.text)
    matrix.write_atomically(mirror_path, mirror)


def run(
    sources: Sources,
    check: bool = False,
    matrix_path: Path = matrix.MATRIX_PATH,
    mirror_path: Path = matrix.MIRROR_PATH,
    out: Callable[[str], object] = print,
) -> int:
    """Merge and write (or with `check`, only compare). Exit status: 0 up to date or updated, 1 stale
    (with `check`), 2 an error in the data, 3 a source could not be reached (the files are left as they were).

    With `check`, npm alone decides "stale": where another source needed for the details cannot be reached,
    the releases npm has that the matrix lacks are listed all the same, with the source that was not reached.
    """
    name = Path(matrix_path).name
    try:
        text = Path(matrix_path).read_text(encoding="utf-8")
        package = npm_package(sources)
        try:
            update = merge(text, sources, package)
        except UpstreamUnreachable as error:
            if not check:
                raise
            steps = plan(list(held_releases(text).releases), package.versions)
            out(f"npm ({package.url}) has releases that {name} lacks:")
            for old, new in steps.renamed.items():
                out(f"  {line_of(new)} line: {old} -> {new}")
            for new in steps.added:
                out(f"  {line_of(new)} line: new, {new}")
            out(f"could not reach: {error}")
            out(f"{name} is stale: run `inv matrix.update` where the source above can be reached.")
            return 1
    except UpstreamUnreachable as error:
        print(f"error: {error}\n{name} was left as it was.", file=sys.stderr)
        return 3
    except (UpstreamError, MatrixUpdateError, OSError) as error:
        print(f"error: {error}\n{name} was left as it was.", file=sys.stderr)
        return 2
    releases = ", ".join(update.lines.values())
    sources_lines = [f"read: {url}" for url in update.reading.read]
    sources_lines += [f"could not reach: {error}" for error in update.reading.unreachable]
    if not update.changes:
        out(f"{name} is up to date: {releases} are the newest releases of their lines upstream.")
        for line in sources_lines:
            out(line)
        return 0
    for line in update.changes + update.notes + sources_lines:
        out(line)
    if check:
        out(f"{name} is stale: run `inv matrix.update` to merge the changes above.")
        return 1
    write(update, Path(matrix_path), Path(mirror_path))
    out(
        f"{name} and {Path(mirror_path).name} rewritten. Review the notes above, run `nox -s tests`, then commit."
    )
    return 0
