"""What a rule is and what it sees (pure).

A rule has a stable id (KC001), a readable name (kconfig-undefined-symbol), a default
severity kept apart from the id, a one-line summary, and `check(ctx)` that yields
Findings about what the patch adds. Rules read only the PatchContext: the patch's
parsed diff, tree views before and after it, and the index as it was and as it becomes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from reviewbot.analysis.diff import ChangeKind, FileChange, Line
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.build.model import BuildOutcome
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.model import Finding, Message, Series, Severity
from reviewbot.tree.index import TreeIndex, classify


@dataclass(frozen=True)
class PatchContext:
    """Everything a rule may look at for one patch of a series."""

    patch: Message
    series: Series
    changes: tuple[FileChange, ...]
    before: TreeView
    after: TreeView
    index: TreeIndex
    index_before: PatchedIndex
    index_after: PatchedIndex
    index_final: PatchedIndex
    applied: bool = True
    arches: tuple[str, ...] = ()
    kconfig: Mapping[str, KconfigDelta] = field(default_factory=dict)
    kconfig_plan: KconfigPlan | None = None
    builds: tuple[BuildOutcome, ...] = ()  # quick builds of this patch (build provider)

    def files(self, *kinds: str) -> Iterator[FileChange]:
        """Changed files, optionally only of some kinds ('kconfig', 'kbuild', 'source')."""
        for change in self.changes:
            if change.binary:
                continue
            if not kinds or classify(change.path) in kinds or _kind(change.path) in kinds:
                yield change

    def added(self, *kinds: str) -> Iterator[tuple[FileChange, Line]]:
        """Added lines of changed files of the given kinds, with their post-image numbers."""
        for change in self.files(*kinds):
            if change.kind is ChangeKind.DELETED:
                continue
            for line in change.added:
                yield change, line

    def text_after(self, change: FileChange) -> str | None:
        return self.after.read(change.path)

    def text_before(self, change: FileChange) -> str | None:
        return self.before.read(change.old_path or change.path)


def _kind(path: str) -> str | None:
    if path.endswith((".c", ".h", ".S")):
        return "c"
    return None


CheckFn = Callable[["Rule", PatchContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One check: id, name, default severity, summary and the function that runs it."""

    id: str
    name: str
    severity: Severity
    summary: str
    run: CheckFn = field(repr=False, compare=False)
    needs_base: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{2,3}\d{3}", self.id):
            raise ValueError(f"bad rule id {self.id!r}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", self.name):
            raise ValueError(f"bad rule name {self.name!r}")

    def check(self, ctx: PatchContext) -> Iterable[Finding]:
        return self.run(self, ctx)

    def finding(
        self,
        path: str,
        line: int | None,
        message: str,
        hint: str = "",
        severity: Severity | None = None,
        evidence: Iterable[str] = (),
    ) -> Finding:
        return Finding(
            rule=self.id,
            name=self.name,
            severity=severity or self.severity,
            path=path,
            line=line,
            message=message,
            hint=hint,
            evidence=tuple(evidence),
        )


def rule(
    id: str, name: str, severity: Severity, summary: str, *, needs_base: bool = True
) -> Callable[[CheckFn], Rule]:
    """Decorator turning `def check(rule, ctx)` into a Rule (registration is explicit)."""

    def wrap(fn: CheckFn) -> Rule:
        return Rule(id, name, severity, summary, fn, needs_base)

    return wrap
