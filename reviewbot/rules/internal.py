"""Findings the engine itself makes: a crashed rule, an unreadable diff, a patch that
does not apply (pure). They are rules like any other: ids, docs and fixtures."""

from __future__ import annotations

from collections.abc import Iterable

from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule


def _none(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    return ()


RULE_CRASHED = Rule(
    "RB000",
    "internal-rule-crashed",
    Severity.INFO,
    "A rule failed on this patch; the rest of the report is complete.",
    _none,
    needs_base=False,
)


@rule(
    "RB001",
    "patch-unreadable",
    Severity.ERROR,
    "The mail carries a diff that cannot be read, or one with a hostile path.",
    needs_base=False,
)
def patch_unreadable(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    return ()  # reported by the engine when parsing fails


@rule(
    "RB002",
    "patch-does-not-apply",
    Severity.INFO,
    "The patch does not apply to the tree reviewbot checks against.",
    needs_base=False,
)
def patch_does_not_apply(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    return ()  # reported by the engine when applying fails


@rule(
    "RB003",
    "kconfig-evaluation-failed",
    Severity.INFO,
    "Kconfig evaluation of this patch did not complete; Kconfig rules did not run.",
    needs_base=False,
)
def kconfig_evaluation_failed(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    return ()  # reported by the engine when the Kconfig provider fails


@rule(
    "RB004",
    "review-incomplete",
    Severity.WARNING,
    "A stage of the review ran out of its time, disk or memory budget on this patch.",
    needs_base=False,
)
def review_incomplete(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    return ()  # reported by the engine when a stage exhausts its budget
