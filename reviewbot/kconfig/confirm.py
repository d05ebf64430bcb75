"""The kernel's own conf as ground truth: confirm witnesses, decide parse errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from reviewbot.budget import BudgetExceeded
from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.conf import (
    DEFAULT_LIMITS,
    ConfParse,
    UnmetDependency,
    conf_diff_warnings,
    conf_olddefconfig,
    conf_parse,
)
from reviewbot.kconfig.facts import Witness
from reviewbot.kconfig.links import condition_state, condition_value
from reviewbot.kconfig.provider import Confirm, ParseCheck
from reviewbot.quoting import inside_tree
from reviewbot.sandbox import Limits

log = logging.getLogger(__name__)


def make_confirm(tree: Path, cache_dir: Path, limits: Limits = DEFAULT_LIMITS) -> Confirm:
    """A confirm function backed by the tree's scripts/kconfig/conf.

    It answers (True, conf's warning) when conf prints the same unmet-dependency warning
    for the witness configuration, (False, "") when it does not, and (None, reason) when
    conf cannot run here (a missing tool): rules then lower the finding to info.
    """

    def confirm(
        overlay: Mapping[str, str | None], arch: str, witness: Witness
    ) -> tuple[bool | None, str]:
        try:
            run = conf_olddefconfig(
                tree, overlay, arch, dict(witness.assignments), cache_dir, limits
            )
        except InfrastructureError as exc:
            log.warning("conf unavailable, witness not confirmed: %s", exc)
            return None, f"conf unavailable: {exc}"
        return judge(witness, run.parse.unmet, run.values)

    return confirm


def judge(
    witness: Witness, unmet: tuple[UnmetDependency, ...], values: Mapping[str, str]
) -> tuple[bool, str]:
    """Whether conf's run on a witness configuration shows what the witness claims."""
    if witness.kind == "unmet-select":
        for item in unmet:
            if item.symbol == witness.other:
                return True, item.text
        return False, ""
    # a consumer condition 'A&B' holds as its weakest part: code in B's module when B=m
    subject = condition_value(values, witness.subject)
    other = values.get(witness.other, "n") if witness.other else ""
    shown = f"conf --olddefconfig: {condition_state(values, witness.subject)}" + (
        f" {witness.other}={other}" if witness.other else ""
    )
    if witness.kind == "builtin-module":
        return (subject == "y" and other == "m"), shown
    if witness.kind == "enabled-without":
        return (subject in ("y", "m") and other == "n"), shown
    if witness.kind == "module-with":
        return (subject == "m" and other in ("y", "m")), shown
    if witness.kind == "reachable":
        return subject in ("y", "m"), shown
    return False, ""


def make_parse_check(tree: Path, cache_dir: Path, limits: Limits = DEFAULT_LIMITS) -> ParseCheck:
    """A check that runs conf on the tree before and after a patch and returns new messages.

    Base runs are cached per (arch, overlay), so a series or a benchmark pays once.
    """
    cache: dict[tuple[str, str], ConfParse] = {}

    def key(overlay: Mapping[str, str | None]) -> str:
        return repr(sorted((path, hash(text)) for path, text in overlay.items()))

    def check(
        before: Mapping[str, str | None], after: Mapping[str, str | None], arch: str
    ) -> tuple[tuple[str | None, int | None, str, str], ...] | None:
        try:
            slot = (arch, key(before))
            if slot not in cache:
                cache[slot] = conf_parse(tree, before, arch, cache_dir, limits)
            patched = conf_parse(tree, after, arch, cache_dir, limits)
        except InfrastructureError as exc:
            log.warning("conf unavailable, Kconfig parse not checked: %s", exc)
            return None
        if patched.timed_out:
            raise BudgetExceeded(
                "scripts/kconfig/conf (a Kconfig $(shell,...) may hang)", limits.wall_seconds
            )
        diff = conf_diff_warnings(cache[slot], patched)
        # Only conf's own messages located in the tree are quoted: unlocated lines are what
        # a $(shell,...) printed, and a file outside the tree may be anything.
        shown = [d for d in diff.diagnostics if d.path is not None and inside_tree(d.path)]
        out = [(d.path, d.line, str(d.severity), d.text) for d in shown]
        withheld = len(diff.diagnostics) - len(shown)
        if withheld:
            out.append(
                (
                    None,
                    None,
                    "info",
                    f"{withheld} new line(s) of output that name no file of the tree (a "
                    "command the patched Kconfig runs, or a file outside the tree); not quoted",
                )
            )
        return tuple(out)

    return check
