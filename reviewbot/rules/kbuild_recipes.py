"""Kbuild make-logic rules MK004, MK006, MK007: probes, FORCE, vmlinux (pure).

Toolchain probes that define macros, if_changed rules without FORCE, and module targets
that need an in-tree vmlinux.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kbuild_make import (
    Call,
    MakeLine,
    MakeRule,
    added_numbers,
    assignment,
    calls,
    condition_kind,
    consistent_text,
    make_lines,
    parse_rules,
    physical_line_of,
    split_words,
    touches,
)
from reviewbot.tree.index import classify

# Probe -> index of its first output argument (what the call expands to when it succeeds).
_PROBES = {
    "cc-option": 0,
    "cc-option-yn": 0,
    "cc-option-align": 0,
    "as-option": 0,
    "ld-option": 0,
    "rustc-option": 0,
    "as-instr": 1,
    "as-instr64": 1,
    "try-run": 1,
    "cc-ifversion": 2,
    "ld-ifversion": 2,
    "rustc-ifversion": 2,
    "cc-option-add": 2,
    "as-option-add": 3,  # Xen's Config.mk variants
}
_DEFINE = re.compile(r"(?<![\w-])-D\s*([A-Za-z_]\w*)")


def _make_changes(ctx: PatchContext) -> Iterator[tuple[FileChange, str]]:
    """Changed kbuild files outside tools/, with their patched text."""
    for change in ctx.files("kbuild"):
        if change.kind is ChangeKind.DELETED or change.path.startswith("tools/"):
            continue
        text = consistent_text(change, ctx.after.read(change.path))
        if text is not None and change.added:
            yield change, text


def _defines(call: Call) -> list[str]:
    outputs = call.args[_PROBES[call.name] :]
    return [m.group(1) for arg in outputs for m in _DEFINE.finditer(arg)]


def _probe_calls(text: str) -> list[Call]:
    return [c for c in calls(text) if c.name in _PROBES]


@rule(
    "MK004",
    "kbuild-probe-defines-macro",
    Severity.WARNING,
    "A Makefile toolchain probe that defines a feature macro; such capabilities belong in Kconfig.",
    needs_base=False,
)
def probe_defines_macro(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change in ctx.files():
        if change.kind is ChangeKind.DELETED or change.path.startswith("tools/"):
            continue
        if classify(change.path) != "kbuild" and not change.name.endswith(".mk"):
            continue
        text = consistent_text(change, ctx.after.read(change.path))
        if text is None:
            yield from _probes_in_lines(rule, change)  # no tree text: added lines alone
            continue
        yield from _probes_in_text(rule, change, text)


def _probes_in_lines(rule: Rule, change: FileChange) -> Iterator[Finding]:
    for line in change.added:
        for call in _probe_calls(line.text):
            macros = _defines(call)
            if macros:
                yield _probe_finding(rule, change.path, line.number, call, macros)


def _probes_in_text(rule: Rule, change: FileChange, text: str) -> Iterator[Finding]:
    added = added_numbers(change)
    stack: list[tuple[MakeLine, list[Call]]] = []
    reported: set[int] = set()
    for line in make_lines(text):
        kind = condition_kind(line.text)
        if kind == "end" and stack:
            stack.pop()
            continue
        probes = _probe_calls(line.text) if touches(line, added) else []
        for call in probes:
            macros = _defines(call)
            number = physical_line_of(text, line, call.name)
            if macros and number not in reported:
                reported.add(number)
                yield _probe_finding(rule, change.path, number, call, macros)
        if kind == "open":
            stack.append((line, probes))
            continue
        macros = [m.group(1) for m in _DEFINE.finditer(line.text)]
        for opener, guarding in stack:
            if macros and guarding and opener.first not in reported:
                reported.add(opener.first)
                yield _probe_finding(
                    rule, change.path, opener.first, guarding[0], macros, guards=True
                )


def _probe_finding(
    rule: Rule, path: str, number: int, call: Call, macros: list[str], guards: bool = False
) -> Finding:
    macro = macros[0]
    feature = re.sub(
        r"^(?:HAVE_AS_|HAVE_CC_|HAVE_|CONFIG_AS_|CONFIG_CC_|CONFIG_|CC_USING_|"
        r"CC_HAS_|AS_HAS_)",
        "",
        macro,
    )
    assembler = call.name.startswith("as-") or "-Wa" in call.text
    prefix = "AS_HAS_" if assembler else "CC_HAS_"
    function = _KCONFIG_FUNCTION.get(call.name, "as-option" if assembler else "cc-option")
    how = "guards" if guards else "defines"
    return rule.finding(
        path,
        number,
        f"the {call.name} probe {how} -D{macro} in a Makefile; a toolchain capability "
        "belongs in Kconfig, where options can depend on it and every object sees the same "
        "answer (kconfig-language.rst, 'Adding features that need compiler support')",
        hint=f"add 'config {prefix}{feature}' with 'def_bool $({function},...)' and use "
        f"CONFIG_{prefix}{feature} (or ccflags-$(CONFIG_{prefix}{feature})) instead of "
        f"-D{macro}",
        evidence=[call.text],
    )


_KCONFIG_FUNCTION = {
    "as-instr": "as-instr",
    "as-instr64": "as-instr64",
    "ld-option": "ld-option",
    "rustc-option": "rustc-option",
}


_IF_CHANGED = re.compile(r"\$\(call\s+(if_changed(?:_dep|_rule)?)\s*,")


@rule(
    "MK006",
    "kbuild-if-changed-without-force",
    Severity.WARNING,
    "A rule whose recipe uses if_changed but whose prerequisites lack FORCE.",
)
def if_changed_without_force(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, text in _make_changes(ctx):
        added = added_numbers(change)
        lines = make_lines(text)
        rules = parse_rules(lines)
        forced = _forced_targets(rules)
        forcing_vars = _forcing_variables(lines)
        for current in rules:
            uses = [m.group(1) for r in current.recipe for m in _IF_CHANGED.finditer(r.text)]
            if not uses:
                continue
            if not touches(current.header, added) and not any(
                touches(r, added) for r in current.recipe if _IF_CHANGED.search(r.text)
            ):
                continue
            if _has_force(current, forced, forcing_vars):
                continue
            yield _force_finding(rule, change.path, current, uses[0])


def _forced_targets(rules: list[MakeRule]) -> set[str]:
    return {t for r in rules if "FORCE" in r.prerequisites for t in r.targets}


def _forcing_variables(lines: list[MakeLine]) -> set[str]:
    out = set()
    for line in lines:
        found = assignment(line)
        if found and "FORCE" in split_words(found[2]):
            out.add(found[0])
    return out


def _has_force(current: MakeRule, forced: set[str], forcing_vars: set[str]) -> bool:
    if "FORCE" in current.prerequisites or all(t in forced for t in current.targets):
        return True
    for word in current.prerequisites:
        match = re.fullmatch(r"\$[({]([\w.-]+)[)}]", word)
        if match and match.group(1) in forcing_vars:
            return True
        if "FORCE" in word:  # $(if ...,FORCE) and the like
            return True
    return False


def _force_finding(rule: Rule, path: str, current: MakeRule, use: str) -> Finding:
    target = " ".join(current.targets)
    return rule.finding(
        path,
        current.header.first,
        f"the rule for {target} calls {use} but FORCE is not among its prerequisites: make "
        "skips the recipe when only the command line changed, and kbuild warns 'FORCE "
        "prerequisite is missing' (scripts/Kbuild.include, check-FORCE)",
        hint=f"add FORCE to the prerequisites of {target} (Documentation/kbuild/makefiles.rst: "
        "'It is a typical mistake to forget the FORCE prerequisite')",
    )


_MACHINERY = {
    "Makefile",
    "scripts/Makefile.modfinal",
    "scripts/Makefile.modpost",
    "scripts/Makefile.build",
    "scripts/Makefile.modinst",
    "scripts/Makefile.lib",
    "scripts/Makefile.modsign",
}
_IN_TREE = re.compile(
    r"(?<![\w.-])(?:\$\(objtree\)/)?(?:vmlinux(?:\.o|\.a|\.unstripped)?|modules\.builtin"
    r"(?:\.modinfo)?|\.vmlinux\.objs)(?![\w.-])|\$\(objtree\)/modules\.order"
)
_MODULE_TARGET = re.compile(
    r"\.ko\b|^\$\(modules\)$|^(?:modules|__modpost|__modfinal|__modinst|modules_prepare|"
    r"modules_install|modules_check|\$\(output-symdump\))$"
)
_GUARDS = ("KBUILD_EXTMOD", "KBUILD_BUILTIN", "MODPOST_VMLINUX")


@rule(
    "MK007",
    "kbuild-extmod-needs-vmlinux",
    Severity.ERROR,
    "Kbuild machinery makes module targets depend on in-tree-only files (vmlinux) "
    "without a KBUILD_EXTMOD/KBUILD_BUILTIN guard.",
)
def extmod_needs_vmlinux(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, text in _make_changes(ctx):
        if change.path not in _MACHINERY:
            continue
        before = ctx.before.read(change.path) or ""
        old = {(t, w) for t, w, _, _ in _unguarded(before, None)}
        for target, word, line, extmod in _unguarded(text, added_numbers(change)):
            if (target, word) in old:
                continue
            number = physical_line_of(text, line, word)
            via = assignment(line)
            yield _extmod_finding(
                rule, change.path, number, target, word, extmod, via[0] if via else ""
            )


def _unguarded(text: str, added: set[int] | None) -> Iterator[tuple[str, str, MakeLine, bool]]:
    """(target, in-tree word, line, in an extmod-only branch) for unguarded prerequisites,
    directly in a module rule or through a variable the rule reads; only added lines
    when `added` is given."""
    lines = make_lines(text)
    rules = [r for r in parse_rules(lines) if any(_MODULE_TARGET.search(t) for t in r.targets)]
    variables: dict[str, str] = {}
    for current in rules:
        target = " ".join(current.targets)
        for word in current.prerequisites:
            name = re.fullmatch(r"\$[({]([\w.-]+)[)}]", word)
            if name:
                variables.setdefault(name.group(1), target)
            elif _in_tree(word) and (added is None or touches(current.header, added)):
                guard = _guard(current.header.conditions)
                if guard is not True:
                    yield target, word, current.header, guard == "extmod"
    for line in lines:
        found = assignment(line)
        if not found or found[0] not in variables:
            continue
        if added is not None and not touches(line, added):
            continue
        for word in split_words(found[2]):
            guard = _guard(line.conditions)
            if _in_tree(word) and guard is not True:
                yield variables[found[0]], word, line, guard == "extmod"


def _in_tree(word: str) -> bool:
    """An in-tree-only file named bare, or inside $(...) without a KBUILD_* guard."""
    if not _IN_TREE.search(word):
        return False
    if word.startswith("$(") and not word.startswith("$(objtree)"):
        return not any(guard in word for guard in _GUARDS)
    return True


def _guard(conditions: tuple[str, ...]) -> bool | str:
    """True when an enclosing conditional keeps the line to in-tree builds; 'extmod' when
    it is in the external-module branch; False when nothing guards it."""
    guarded = False
    for condition in conditions:
        positive = _positive(condition)
        if "KBUILD_EXTMOD" in condition:
            if positive:
                return "extmod"
            guarded = True
        elif any(g in condition for g in _GUARDS[1:]):
            guarded = guarded or positive
        elif re.search(r"CONFIG_(?!MODULES\b)\w+", condition):
            guarded = True  # a feature switch (CONFIG_DEBUG_INFO_BTF_MODULES): trusted
    return guarded


def _positive(condition: str) -> bool:
    """Whether the branch is the one taken when the tested variable is set (non-empty)."""
    head = condition.split(" else", 1)[0]
    flipped = " else" in condition
    keyword = head.split(None, 1)[0]
    if keyword in ("ifdef", "ifndef"):
        positive = keyword == "ifdef"
    else:
        args = head[len(keyword) :].strip()
        empty = bool(re.search(r",\s*\)$|\(\s*,|\"\"|''", args))
        positive = (keyword == "ifeq") != empty
    return positive != flipped


def _extmod_finding(
    rule: Rule, path: str, number: int, target: str, word: str, extmod: bool, via: str
) -> Finding:
    branch = "in the external-module branch" if extmod else "unconditionally"
    found = _IN_TREE.search(word)
    name = posixpath.basename(found.group(0)) if found else word
    through = f" (through {via})" if via else ""
    needed = ".../test.ko" if ".ko" in target else target
    return rule.finding(
        path,
        number,
        f"{target} now depends on {name}{through} {branch}; external modules (make M=...) "
        f"have no rule for it and fail with \"No rule to make target '{name}', needed by "
        f"'{needed}'\" (the 5f9ae91f7c0d regression)",
        hint="keep in-tree-only prerequisites behind a guard: "
        "$(and $(KBUILD_BUILTIN),vmlinux), $(if $(KBUILD_EXTMOD),,vmlinux) or "
        "ifeq ($(KBUILD_EXTMOD),)",
    )
