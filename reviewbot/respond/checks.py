"""Patchwork checks for a review: one context per stage, state from the worst finding (pure).

Every patch of the series gets one check per stage that ran (`<prefix>-static`,
`<prefix>-kconfig`, `<prefix>-build`): fail when the stage found an error on that patch,
warning for a warning, success otherwise; a finding not tied to one patch counts on every
patch. `decide` says whether a post is needed given what patchwork already shows: never a
pending over a final state, never a post that would change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reviewbot.model import Severity
from reviewbot.respond.model import CheckPost, CheckState, PatchInfo, ReplyFinding, Stage

MAX_DESCRIPTION = 100


def stage_of(rule: str) -> Stage:
    """The stage a rule runs in: BLD* builds, KC* Kconfig, everything else static."""
    if rule.upper().startswith("BLD"):
        return Stage.BUILD
    if rule.upper().startswith("KC"):
        return Stage.KCONFIG
    return Stage.STATIC


def state_of(findings: Iterable[ReplyFinding]) -> CheckState:
    worst = max((f.severity.rank for f in findings), default=-1)
    if worst >= Severity.ERROR.rank:
        return CheckState.FAIL
    if worst >= Severity.WARNING.rank:
        return CheckState.WARNING
    return CheckState.SUCCESS


def _description(stage: Stage, findings: Sequence[ReplyFinding]) -> str:
    serious = [f for f in findings if f.severity.rank >= Severity.WARNING.rank]
    if not serious:
        notes = len(findings)
        return f"{stage.value}: no problems" + (f" ({notes} note(s))" if notes else "")
    rules = ", ".join(dict.fromkeys(f.rule for f in serious))
    text = f"{stage.value}: {len(serious)} problem(s): {rules}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."


def plan_checks(
    patches: Sequence[PatchInfo],
    findings: Sequence[ReplyFinding],
    stages: Sequence[Stage],
    prefix: str,
    target_url: str,
) -> list[CheckPost]:
    """One final check per (patch with a diff, stage that ran)."""
    posts: list[CheckPost] = []
    for patch in patches:
        if patch.diff is None:
            continue
        mine = [f for f in findings if f.patch_message_id in ("", patch.message_id)]
        for stage in stages:
            of_stage = [f for f in mine if stage_of(f.rule) is stage]
            posts.append(
                CheckPost(
                    patch_message_id=patch.message_id,
                    context=f"{prefix}-{stage.value}",
                    state=state_of(of_stage),
                    target_url=target_url,
                    description=_description(stage, of_stage),
                )
            )
    return posts


def pending_checks(
    patches: Sequence[PatchInfo], stages: Sequence[Stage], prefix: str, target_url: str
) -> list[CheckPost]:
    """Pending checks while the stages run."""
    return [
        CheckPost(
            p.message_id, f"{prefix}-{s.value}", CheckState.PENDING, target_url, f"{s}: running"
        )
        for p in patches
        if p.diff is not None
        for s in stages
    ]


class Decision(StrEnum):
    POST = "post"
    UNCHANGED = "unchanged"  # patchwork already shows exactly this
    FINAL_KEPT = "final-kept"  # a pending would hide a final state: not posted


@dataclass(frozen=True)
class Shown:
    """The newest check patchwork shows for one context (ours)."""

    state: CheckState
    target_url: str | None
    description: str | None


def decide(post: CheckPost, shown: Shown | None) -> Decision:
    if shown is None:
        return Decision.POST
    if post.state is CheckState.PENDING and shown.state.final:
        return Decision.FINAL_KEPT
    same = (
        shown.state is post.state
        and (shown.target_url or "") == post.target_url
        and (shown.description or "") == post.description
    )
    return Decision.UNCHANGED if same else Decision.POST
