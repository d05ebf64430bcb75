"""Makefile and Kbuild rules over added lines and patched kbuild files (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kbuild_libs import lib_never_linked
from reviewbot.rules.kbuild_lists import (
    module_name_conflict,
    object_without_source,
    orphan_source,
)
from reviewbot.rules.kbuild_recipes import (
    extmod_needs_vmlinux,
    if_changed_without_force,
    probe_defines_macro,
)

_EXTRA_FLAGS = re.compile(r"^\s*(EXTRA_(?:C|A|CPP|LD)FLAGS)\b\s*[:+?]?=")
_REPLACEMENT = {
    "EXTRA_CFLAGS": "ccflags-y",
    "EXTRA_AFLAGS": "asflags-y",
    "EXTRA_CPPFLAGS": "cppflags-y",
    "EXTRA_LDFLAGS": "ldflags-y",
}


@rule(
    "MK001",
    "kbuild-extra-flags-deprecated",
    Severity.WARNING,
    "EXTRA_CFLAGS/AFLAGS/CPPFLAGS/LDFLAGS are deprecated in kbuild files.",
    needs_base=False,
)
def extra_flags(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, line in ctx.added("kbuild"):
        match = _EXTRA_FLAGS.match(line.text)
        if not match:
            continue
        old = match.group(1)
        yield rule.finding(
            change.path,
            line.number,
            f"{old} is deprecated; use {_REPLACEMENT[old]} "
            "(Documentation/kbuild/makefiles.rst, 'Compilation flags')",
            hint=f"replace {old} with {_REPLACEMENT[old]}",
        )


RULES: tuple[Rule, ...] = (
    extra_flags,
    object_without_source,
    orphan_source,
    probe_defines_macro,
    module_name_conflict,
    if_changed_without_force,
    extmod_needs_vmlinux,
    lib_never_linked,
)
