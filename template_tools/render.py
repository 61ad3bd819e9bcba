"""Rendering projects from this template with copier, the way users do (no --trust)."""

from __future__ import annotations

from pathlib import Path

import copier

from template_tools.matrix import REPO_DIR


def render_project(destination: Path, answers: dict[str, str], vcs_ref: str = "HEAD") -> Path:
    """Scaffold a project into `destination` with `answers` (defaults for the rest); returns its path.

    vcs_ref "HEAD" renders the working tree, uncommitted changes included.
    """
    copier.run_copy(
        str(REPO_DIR),
        str(destination),
        data=answers,
        defaults=True,
        vcs_ref=vcs_ref,
        unsafe=False,
        quiet=True,
    )
    return Path(destination)
