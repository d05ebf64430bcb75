"""Base selection: base-commit trailer, else the newest branch head it applies to (pure).

The order is the issue's: the tree the author says they used (`base-commit:`, when that
object is known), else the newest configured branch head on which every patch of the
series applies in order (in memory, with offsets but no fuzz), else the embedded default
tree, where findings that need the base are lowered when a patch does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reviewbot.analysis.apply import ApplyError, apply_change
from reviewbot.analysis.diff import ChangeKind, parse_diff
from reviewbot.analysis.view import Overlay, TreeView
from reviewbot.errors import BadDiffError
from reviewbot.model import Series
from reviewbot.review import BaseKind


@dataclass(frozen=True)
class Head:
    """A configured branch and where it points."""

    branch: str
    commit: str
    time: int  # committer time: newest first


@dataclass(frozen=True)
class Choice:
    """Where a series is reviewed."""

    kind: BaseKind
    ref: str
    commit: str | None


def applies(series: Series, view: TreeView) -> bool:
    """Whether every patch of the series applies, in order, to the tree in view."""
    changes: dict[str, str | None] = {}
    patched = Overlay(view, changes)
    touched = False
    for patch in series.patches:
        try:
            files = parse_diff(patch.diff or "")
        except BadDiffError:
            return False
        for change in files:
            if change.binary:
                continue  # says nothing about the base
            if change.kind is ChangeKind.ADDED:
                if patched.read(change.path) is not None:
                    return False  # git am refuses to create a file that exists
                base_text = None
            else:
                base_text = patched.read(change.old_path or change.path)
            try:
                text = apply_change(base_text, change)
            except ApplyError:
                return False
            if change.kind is ChangeKind.RENAMED and change.old_path:
                changes[change.old_path] = None
            changes[change.path] = text
            touched = True
    return touched


def choose(
    series: Series,
    resolve: Callable[[str], str | None],
    heads: Sequence[Head],
    view_of: Callable[[str], TreeView],
) -> Choice:
    """Pick the base: trailer when its commit is known, else a branch head, else default."""
    if series.base_commit:
        commit = resolve(series.base_commit)
        if commit is not None:
            return Choice(BaseKind.TRAILER, "base-commit", commit)
    for head in sorted(heads, key=lambda h: h.time, reverse=True):
        if applies(series, view_of(head.commit)):
            return Choice(BaseKind.BRANCH, head.branch, head.commit)
    return Choice(BaseKind.DEFAULT, "", None)
