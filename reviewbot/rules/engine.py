"""Run rules over a series, patch by patch, against an in-memory patched tree (pure).

Each patch sees the tree as the earlier patches of its series left it, and its changes
renumbered where they applied (a hunk found at an offset carries its real lines; the
result lists such hunks so reports can say the base differs). A rule that
raises becomes one RB000 finding; the other rules still report. When a patch does not
apply to the tree, findings from rules that need the base are lowered to info and say
so: the tree is probably not the one the author used.

Every stage runs within its budget (reviewbot.limits): reading a patch's diff, applying
it, its rules, its Kconfig evaluation and its builds. A stage that runs out becomes one
RB004 warning ("review incomplete: ...") on the patch, never a silent clean.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from reviewbot.analysis.apply import Applied, ApplyError, HunkOffset, apply_located
from reviewbot.analysis.diff import ChangeKind, FileChange, parse_diff
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import Overlay, TreeView
from reviewbot.budget import BudgetExceeded, budget
from reviewbot.budget import check as check_budget
from reviewbot.build.model import BuildOutcome
from reviewbot.errors import BadDiffError, ReviewbotError
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import DEFAULT_ARCHES, KconfigPlan, plan
from reviewbot.limits import DEFAULT_LIMITS, ReviewLimits
from reviewbot.model import Finding, Message, Series, Severity
from reviewbot.rules.base import PatchContext, Rule
from reviewbot.rules.internal import (
    RULE_CRASHED,
    kconfig_evaluation_failed,
    patch_does_not_apply,
    patch_unreadable,
    review_incomplete,
)
from reviewbot.tree.index import FileFacts, TreeIndex, classify, facts_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesResult:
    series: Series
    findings: tuple[Finding, ...]
    # hunks that applied away from their header's line (the tree differs from the base)
    offsets: tuple[HunkOffset, ...] = ()


KconfigProvider = Callable[[KconfigPlan], Mapping[str, KconfigDelta]]
# (changes, index after the patch, overlay before it, overlay after it) -> build outcomes
BuildProvider = Callable[
    [tuple[FileChange, ...], PatchedIndex, Mapping[str, str | None], Mapping[str, str | None]],
    Sequence[BuildOutcome],
]


@runtime_checkable
class WitnessBuilds(Protocol):
    """A build provider that also builds Kconfig witnesses (reviewbot.build.witness)."""

    def witness_builds(
        self,
        plan: KconfigPlan | None,
        deltas: Mapping[str, KconfigDelta],
        before: Mapping[str, str | None],
        after: Mapping[str, str | None],
    ) -> Sequence[BuildOutcome]: ...


def review_series(
    series: Series,
    base: TreeView,
    index: TreeIndex,
    rules: Sequence[Rule],
    arches: tuple[str, ...] = (),
    kconfig: KconfigProvider | None = None,
    build: BuildProvider | None = None,
    limits: ReviewLimits = DEFAULT_LIMITS,
) -> SeriesResult:
    """Apply the series patch by patch in memory and run every rule on each patch.

    kconfig, when given, evaluates the Kconfig plan of each patch that touches Kconfig
    files (it does the I/O: a sandboxed worker); its results reach rules as ctx.kconfig.
    build, when given, runs the quick builds of each patch that applied (sandboxed);
    its outcomes reach rules as ctx.builds.
    """
    findings: list[Finding] = []
    parsed: list[tuple[Message, tuple[FileChange, ...] | None]] = []
    for patch in series.patches:
        try:
            with budget("reading the diff", limits.parse_seconds):
                parsed.append((patch, parse_diff(patch.diff or "")))
        except BudgetExceeded as exc:
            findings.append(_incomplete(exc, patch))
            parsed.append((patch, None))
        except BadDiffError as exc:
            findings.append(
                _tag(
                    patch_unreadable.finding(
                        "",
                        None,
                        f"{exc}{_damage((patch.diff or '') + patch.body)}",
                        hint="resend with git send-email (or b4 send); mail clients mangle diffs",
                    ),
                    patch,
                )
            )
            parsed.append((patch, None))

    changes_so_far: dict[str, str | None] = {}
    per_patch: list[tuple[Message, tuple[FileChange, ...], dict[str, str | None], bool]] = []
    offsets: list[HunkOffset] = []
    for patch, parsed_changes in parsed:
        if parsed_changes is None:
            continue
        before = dict(changes_so_far)
        failed: list[str] = []
        relocated: list[FileChange] = []
        try:
            with budget("applying the patch", limits.apply_seconds):
                _apply_all(
                    Overlay(base, changes_so_far),
                    parsed_changes,
                    changes_so_far,
                    failed,
                    relocated,
                    offsets,
                    patch.message_id,
                )
        except BudgetExceeded as exc:
            findings.append(_incomplete(exc, patch))
            changes_so_far = dict(before)
            continue
        # Rules see each change as it applied: line numbers of the real files.
        changes = tuple(relocated)
        ok = not failed
        if failed:
            first = failed[0].split(":", 1)[0]
            findings.append(
                _tag(
                    patch_does_not_apply.finding(
                        first,
                        None,
                        f"does not apply to the checked tree ({len(failed)} of {len(changes)} "
                        f"file(s)): {'; '.join(failed[:3])}",
                        hint="findings that depend on the tree are lowered to info; say the base "
                        "with base-commit: (git format-patch --base)",
                    ),
                    patch,
                )
            )
        per_patch.append((patch, changes, before, ok))

    final_touched = _facts(changes_so_far)
    index_final = PatchedIndex(index, final_touched)
    for number, (patch, changes, before, ok) in enumerate(per_patch):
        after = per_patch[number + 1][2] if number + 1 < len(per_patch) else changes_so_far
        index_after = PatchedIndex(index, _facts(after))
        kplan, deltas, failure, incomplete = _evaluate_kconfig(
            changes,
            (before, Overlay(base, before)),
            (after, Overlay(base, after)),
            index_after,
            arches,
            # On a tree the patch does not apply to, an evaluation answers the wrong
            # question (and costs seconds per patch): Kconfig rules stay silent there.
            kconfig if ok else None,
        )
        if failure:
            findings.append(_tag(kconfig_evaluation_failed.finding("", None, failure), patch))
        if incomplete is not None:
            findings.append(_incomplete(incomplete, patch))
        builds: tuple[BuildOutcome, ...] = ()
        if ok:
            builds, trouble = _builds(build, changes, index_after, before, after)
            if not trouble and deltas and isinstance(build, WitnessBuilds):
                builds, trouble = _witness_builds(build, builds, kplan, deltas, before, after)
            if trouble:
                findings.append(
                    _tag(
                        review_incomplete.finding("", None, f"review incomplete: {trouble}"), patch
                    )
                )
        ctx = PatchContext(
            patch=patch,
            series=series,
            changes=changes,
            before=Overlay(base, before),
            after=Overlay(base, after),
            index=index,
            index_before=PatchedIndex(index, _facts(before)),
            index_after=index_after,
            index_final=index_final,
            applied=ok,
            arches=arches,
            kconfig=deltas,
            kconfig_plan=kplan,
            builds=builds,
        )
        findings.extend(run_rules(ctx, rules, limits.rules_seconds))
    findings.sort(key=Finding.sort_key)
    return SeriesResult(series, tuple(findings), tuple(offsets))


def _evaluate_kconfig(
    changes: tuple[FileChange, ...],
    before: tuple[dict[str, str | None], TreeView],
    after: tuple[dict[str, str | None], TreeView],
    index_after: PatchedIndex,
    arches: tuple[str, ...],
    provider: KconfigProvider | None,
) -> tuple[KconfigPlan | None, Mapping[str, KconfigDelta], str, BudgetExceeded | None]:
    if provider is None:
        return None, {}, "", None
    kplan = plan(
        changes, before[0], after[0], index_after, arches or DEFAULT_ARCHES, before[1], after[1]
    )
    if kplan is None:
        return None, {}, "", None
    try:
        return kplan, provider(kplan), "", None
    except BudgetExceeded as exc:
        log.warning("Kconfig evaluation stopped: %s", exc)
        return kplan, {}, "", exc
    except ReviewbotError as exc:
        log.warning("Kconfig evaluation failed: %s", exc)
        return kplan, {}, f"Kconfig evaluation failed: {exc}", None


def _builds(
    provider: BuildProvider | None,
    changes: tuple[FileChange, ...],
    index_after: PatchedIndex,
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
) -> tuple[tuple[BuildOutcome, ...], str]:
    """The builds' outcomes, and why they did not run ('' when they did)."""
    if provider is None:
        return (), ""
    try:
        return tuple(provider(changes, index_after, before, after)), ""
    except ReviewbotError as exc:
        log.warning("builds failed: %s", exc)
        return (), f"the quick builds did not run: {exc}"


def _witness_builds(
    provider: WitnessBuilds,
    builds: tuple[BuildOutcome, ...],
    kplan: KconfigPlan | None,
    deltas: Mapping[str, KconfigDelta],
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
) -> tuple[tuple[BuildOutcome, ...], str]:
    """The patch's builds plus those of its Kconfig witnesses (KC015, KC017, KC021)."""
    try:
        return builds + tuple(provider.witness_builds(kplan, deltas, before, after)), ""
    except ReviewbotError as exc:
        log.warning("witness builds failed: %s", exc)
        return builds, f"the Kconfig witness builds did not run: {exc}"


def _incomplete(exc: BudgetExceeded, patch: Message) -> Finding:
    return _tag(
        review_incomplete.finding(
            "",
            None,
            f"review incomplete: {exc}; this patch was not fully checked",
            hint="a patch this costly to check is unusual: look for a Kconfig $(shell,...) "
            "that hangs or a generated file; the limits are in the [limits] config table",
        ),
        patch,
    )


def _apply_all(
    view: TreeView,
    changes: tuple[FileChange, ...],
    changes_so_far: dict[str, str | None],
    failed: list[str],
    relocated: list[FileChange],
    offsets: list[HunkOffset],
    patch_id: str,
) -> None:
    """Apply each file's change on top of changes_so_far (failures listed in failed); the
    changes renumbered where they applied go to relocated, the hunks that moved to offsets."""
    for change in changes:
        try:
            _check_shape(view, change, changes_so_far)
            applied = _apply(view, change)
        except ApplyError as exc:
            failed.append(str(exc))
            relocated.append(change)
            continue
        relocated.append(applied.change)
        offsets.extend(replace(o, patch=patch_id) for o in applied.offsets)
        if change.kind is ChangeKind.RENAMED and change.old_path:
            changes_so_far[change.old_path] = None
        changes_so_far[change.path] = applied.text


def _damage(diff: str) -> str:
    """Name the usual mail-client damage when it shows."""
    if "\n\u00a0" in diff or diff.startswith("\u00a0"):
        return " (context lines start with non-breaking spaces: the mail client damaged it)"
    return ""


def _check_shape(
    view: TreeView, change: FileChange, changes_so_far: Mapping[str, str | None]
) -> None:
    """A file cannot be put under a path that stays a file (drivers/misc/Kconfig/Kconfig
    while drivers/misc/Kconfig is kept): no tree can hold both."""
    if change.kind is ChangeKind.DELETED:
        return
    parts = change.path.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if parent in changes_so_far:
            is_file = changes_so_far[parent] is not None
        else:
            is_file = view.read(parent) is not None
        if is_file:
            raise ApplyError(f"{change.path}: {parent} is a file, not a directory")


def _apply(view: TreeView, change: FileChange) -> Applied:
    if change.binary:
        return Applied(view.read(change.path), change)
    source = change.old_path or change.path
    base_text = None if change.kind is ChangeKind.ADDED else view.read(source)
    return apply_located(base_text, change)


_FACTS_CACHE: dict[tuple[str, int], FileFacts] = {}


def _facts(changes: dict[str, str | None]) -> dict[str, FileFacts | None]:
    out: dict[str, FileFacts | None] = {}
    for path, text in changes.items():
        if classify(path) is None:
            continue
        if text is None:
            out[path] = None
            continue
        key = (path, hash(text))
        found = _FACTS_CACHE.get(key)
        if found is None:
            if len(_FACTS_CACHE) > 2048:
                _FACTS_CACHE.clear()
            found = _FACTS_CACHE[key] = facts_for(path, text)
        out[path] = found
    return out


def run_rules(
    ctx: PatchContext, rules: Sequence[Rule], seconds: float = DEFAULT_LIMITS.rules_seconds
) -> list[Finding]:
    """Run each rule in isolation; a crash becomes an RB000 finding, rules past the
    patch's time budget one RB004 finding (the findings made so far are kept)."""
    out: list[Finding] = []
    try:
        with budget("the rules", seconds):
            _run_each(ctx, rules, out)
    except BudgetExceeded as exc:
        out.append(_incomplete(exc, ctx.patch))
    return out


def _run_each(ctx: PatchContext, rules: Sequence[Rule], out: list[Finding]) -> None:
    for current in rules:
        try:
            found = list(current.check(ctx))
        except BudgetExceeded:
            raise
        except Exception as exc:  # one rule must never lose the report
            log.exception("rule %s crashed on <%s>", current.id, ctx.patch.message_id)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            out.append(
                _tag(
                    RULE_CRASHED.finding(
                        "",
                        None,
                        f"rule {current.id} ({current.name}) crashed: {type(exc).__name__}: {exc} "
                        f"at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}",
                    ),
                    ctx.patch,
                )
            )
            continue
        for finding in found:
            if current.needs_base and not ctx.applied and finding.severity is not Severity.INFO:
                finding = replace(
                    finding,
                    severity=Severity.INFO,
                    evidence=(
                        *finding.evidence,
                        f"lowered from {finding.severity}: the patch does not apply to "
                        "this tree, so the tree may not be the author's base",
                    ),
                )
            out.append(_tag(finding, ctx.patch))
        check_budget()  # where no timer interrupts (not the main thread)


def _tag(finding: Finding, patch: Message) -> Finding:
    return replace(finding, patch=patch.message_id)
