"""`inv release --version X`: tag a version of the template that `copier update` picks up.

copier offers projects the highest PEP 440 version among the template's git tags, so a release is an annotated
tag `vX` on a commit whose CHANGELOG.md says what vX brings. In order, nothing changing before the last step:
1. X is a canonical PEP 440 version, higher than every v-tag so far, and the tag does not exist yet;
2. the working tree is clean (untracked files count) and copier-matrix.yml matches the matrix;
3. CHANGELOG.md's "## Unreleased" section says something, and names every Pyodide release that the previous
   tag's matrix had and this one drops: copier discards an answer that is no longer a choice, so
   `copier update --defaults` moves a project pinned to a dropped release to "stable" unless its owner re-pins;
   the notes are where owners learn it;
4. `nox -s tests` passes (skipped only when asked: a CI job that has just run them);
5. the Unreleased notes become "## vX (date)" with the matrix's releases appended, committed as "Release vX",
   and that commit is tagged vX. Nothing is pushed: the last line printed says what to push.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from template_tools import matrix

CHANGELOG = "CHANGELOG.md"
UNRELEASED = "## Unreleased"


class ReleaseError(Exception):
    """The release cannot be made; the message says why and what to do."""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"`git {' '.join(args)}` failed in {repo}: {result.stderr.strip()}")
    return result.stdout


def version_tags(repo: Path) -> list[tuple[Version, str]]:
    """The repository's tags that copier reads as versions: (version, tag name)."""
    found = []
    for name in git(repo, "tag", "--list", "v*").split():
        try:
            found.append((Version(name[1:]), name))
        except InvalidVersion:
            continue
    return found


def check_version(repo: Path, version: str | None) -> str:
    """The tag name for `version`, after checking it can be released."""
    if not version:
        raise ReleaseError("Give the version to release: `inv release --version X.Y.Z` (the tag is vX.Y.Z).")
    if version.startswith("v"):
        raise ReleaseError(
            f"Give the version without its v: --version {version[1:]} (the tag will be {version})."
        )
    try:
        canonical = str(Version(version))
    except InvalidVersion:
        raise ReleaseError(f"{version!r} is not a version (PEP 440), e.g. 1.2.0.") from None
    if canonical != version:
        raise ReleaseError(f"Write the version as copier compares it: --version {canonical}.")
    tag = f"v{version}"
    released = version_tags(repo)
    if any(name == tag for _, name in released):
        raise ReleaseError(f"Tag {tag} exists already; release a higher version.")
    if released and max(released)[0] >= Version(version):
        raise ReleaseError(
            f"{tag} is not higher than {max(released)[1]}: `copier update` offers the highest tag, so projects "
            "would never get it. Release a higher version."
        )
    return tag


def check_tree(repo: Path) -> None:
    changed = git(repo, "status", "--porcelain").splitlines()
    if changed:
        listed = "\n".join(changed[:10]) + ("\n..." if len(changed) > 10 else "")
        raise ReleaseError(f"The working tree is not clean; commit or remove these first:\n{listed}")
    matrix_path = repo / "template" / matrix.MATRIX_PATH.name
    mirror_path = repo / matrix.MIRROR_PATH.name
    if mirror_path.read_text(encoding="utf-8") != matrix.mirror_text(matrix_path):
        raise ReleaseError(
            f"{mirror_path.name} differs from {matrix_path.name}: run `inv matrix.sync`, commit, and release again."
        )


def dropped_releases(repo: Path) -> list[str]:
    """Releases of the matrix at the highest v-tag that the working tree's matrix no longer has."""
    tags = version_tags(repo)
    if not tags:
        return []
    previous_text = git(repo, "show", f"{max(tags)[1]}:template/{matrix.MATRIX_PATH.name}")
    previous = tomllib.loads(previous_text).get("release", {})
    current = matrix.raw(repo / "template" / matrix.MATRIX_PATH.name)["release"]
    return [version for version in previous if version not in current]


def unreleased_notes(text: str) -> str:
    """The text of CHANGELOG.md's Unreleased section, stripped."""
    match = re.search(rf"^{re.escape(UNRELEASED)}[^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise ReleaseError(
            f'{CHANGELOG} has no "{UNRELEASED}" heading; add one with the notes of this release.'
        )
    return match.group(1).strip()


def released_changelog(text: str, tag: str, date: datetime.date, releases: str) -> str:
    """CHANGELOG.md with the Unreleased notes filed under `tag`, and a new empty Unreleased section."""
    notes = unreleased_notes(text)
    section = f"## {tag} ({date.isoformat()})\n\n{notes}\n- Pyodide releases: {releases}.\n"
    pattern = rf"^{re.escape(UNRELEASED)}[^\n]*\n.*?(?=^## |\Z)"
    replacement = f"{UNRELEASED}\n\n{section}\n"
    return re.sub(pattern, lambda _: replacement, text, count=1, flags=re.MULTILINE | re.DOTALL)


def release(
    version: str | None,
    run_tests: bool = True,
    repo: Path = matrix.REPO_DIR,
    progress: Callable[[str], object] = print,
) -> str:
    """Check, test, file the changelog, commit and tag; returns the tag."""
    repo = Path(repo)
    tag = check_version(repo, version)
    check_tree(repo)
    changelog = repo / CHANGELOG
    if not changelog.exists():
        raise ReleaseError(f"{changelog} is missing: it says what each version brings; restore it.")
    text = changelog.read_text(encoding="utf-8")
    notes = unreleased_notes(text)
    if not notes:
        raise ReleaseError(
            f'{CHANGELOG}\'s "{UNRELEASED}" section is empty: write what {tag} brings users (new pins, '
            "template changes, anything `copier update` may ask of them) first."
        )
    missing = [dropped for dropped in dropped_releases(repo) if dropped not in notes]
    if missing:
        raise ReleaseError(
            f"{tag} drops Pyodide release(s) {', '.join(missing)} from the matrix, and {CHANGELOG}'s Unreleased "
            "notes do not name them. copier discards answers that are no longer choices, so `copier update "
            '--defaults` moves projects pinned to them to "stable". Name each with its replacement, e.g. '
            f'"- {missing[0]} is replaced by ...: pinned projects run `copier update --data pyodide_version=...`".'
        )
    if run_tests:
        progress("nox -s tests (this takes a while)")
        nox = shutil.which("nox")
        if nox is None:
            raise ReleaseError("`nox` is not on PATH: `pip install nox`, then release again.")
        if subprocess.run([nox, "-s", "tests"], cwd=repo, check=False).returncode != 0:
            raise ReleaseError("`nox -s tests` failed (see above); nothing was changed or tagged.")
    else:
        progress("tests skipped (--skip-tests)")
    checked = matrix.load(repo / "template" / matrix.MATRIX_PATH.name)
    releases = ", ".join(checked.releases) + f" (default {checked.default})"
    changelog.write_text(released_changelog(text, tag, datetime.date.today(), releases), encoding="utf-8")
    try:
        git(repo, "add", CHANGELOG)
        git(repo, "commit", "--quiet", "-m", f"Release {tag}")
    except ReleaseError:
        changelog.write_text(text, encoding="utf-8")
        raise
    git(repo, "tag", "-a", tag, "-m", f"pyo3-pyodide-template {tag}")
    commit = git(repo, "rev-parse", "--short", "HEAD").strip()
    progress(
        f"Tagged {tag} at {commit}. Publish it: `git push origin HEAD {tag}`; projects get it by `copier update`."
    )
    return tag
