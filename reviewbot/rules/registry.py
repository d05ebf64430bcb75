"""The one table of rules, and selecting them by id, name or prefix per policy (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from reviewbot.model import Severity
from reviewbot.rules import (
    build,
    build_kbuild,
    exports,
    internal,
    kbuild,
    kconfig_dropped,
    kconfig_eval,
    kconfig_link,
    kconfig_redefine,
    kconfig_static,
)
from reviewbot.rules.base import Rule

RULES: tuple[Rule, ...] = (
    internal.RULE_CRASHED,
    internal.patch_unreadable,
    internal.patch_does_not_apply,
    internal.kconfig_evaluation_failed,
    internal.review_incomplete,
    *kconfig_static.RULES,
    *kbuild.RULES,
    *exports.RULES,
    *kconfig_eval.RULES,
    *kconfig_link.RULES,
    *kconfig_redefine.RULES,
    *kconfig_dropped.RULES,
    *build.RULES,
    *build_kbuild.RULES,
)


def _check_unique(rules: Iterable[Rule]) -> None:
    ids: set[str] = set()
    names: set[str] = set()
    for current in rules:
        if current.id in ids or current.name in names:
            raise ValueError(f"duplicate rule {current.id} {current.name}")
        ids.add(current.id)
        names.add(current.name)


_check_unique(RULES)


@dataclass(frozen=True)
class RulePolicy:
    """Which rules run and at what severity: selectors are ids, names or their prefixes."""

    disable: tuple[str, ...] = ()
    enable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)

    def merged(self, other: RulePolicy) -> RulePolicy:
        return RulePolicy(
            disable=self.disable + other.disable,
            enable=self.enable + other.enable,
            severity={**self.severity, **other.severity},
        )


def matches(current: Rule, selector: str) -> bool:
    """A selector names a rule by id (KC001), id prefix (KC), name or name prefix (kconfig-)."""
    selector = selector.strip()
    if not selector:
        return False
    if selector.upper() == "ALL":
        return True
    return (
        current.id == selector.upper()
        or (current.id.startswith(selector.upper()) and selector.isalnum())
        or current.name == selector
        or (selector.endswith("-") and current.name.startswith(selector))
    )


def _specificity(selector: str) -> int:
    return len(selector)


def select_rules(policy: RulePolicy, rules: Iterable[Rule] = RULES) -> list[Rule]:
    """The rules a policy runs, re-graded; the most specific selector wins a conflict."""
    out: list[Rule] = []
    for current in rules:
        on = [s for s in policy.enable if matches(current, s)]
        off = [s for s in policy.disable if matches(current, s)]
        if off and (not on or max(map(_specificity, off)) >= max(map(_specificity, on))):
            continue
        grades = [(len(s), sev) for s, sev in policy.severity.items() if matches(current, s)]
        if grades:
            current = replace(current, severity=max(grades, key=lambda g: g[0])[1])
        out.append(current)
    return out


def known_selector(selector: str, rules: Iterable[Rule] = RULES) -> bool:
    return any(matches(current, selector) for current in rules)
