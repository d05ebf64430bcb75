"""Kconfig rules that need the tree evaluated (kconfiglib base vs patched, per arch) (pure).

They read ctx.kconfig (arch -> KconfigDelta), made by the sandboxed worker, and report
only what differs between the tree before and after the patch, with a witness
configuration where one applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from reviewbot.kconfig.facts import KconfigDelta, SymbolFacts, Witness
from reviewbot.kconfig.links import describe_consumer
from reviewbot.model import Finding, Severity
from reviewbot.quoting import quotable
from reviewbot.rules.base import PatchContext, Rule, rule

_WORD = re.compile(r"\b[A-Z0-9_]+\b")
_PROMPT_LINE = re.compile(r"^\s*(prompt\b|(bool|tristate|string|int|hex)\s+[\"'])")


def _entry_lines(text: str) -> list[str | None]:
    """For each line (1-based index - 1), the config entry it belongs to."""
    out: list[str | None] = []
    current: str | None = None
    for line in text.split("\n"):
        words = line.split()
        if words and words[0] in ("config", "menuconfig") and len(words) > 1:
            current = words[1]
        elif words and words[0] in (
            "endmenu",
            "menu",
            "endif",
            "if",
            "choice",
            "endchoice",
            "source",
            "comment",
            "rsource",
            "osource",
            "orsource",
        ):
            current = None
        out.append(current)
    return out


def added_in_entry(
    ctx: PatchContext, entry: str, pattern: re.Pattern[str] | None = None
) -> Iterator[tuple[str, int, str]]:
    """Added Kconfig lines inside `config entry`, optionally matching pattern."""
    for change in ctx.files("kconfig"):
        text = ctx.after.read(change.path)
        if text is None:
            continue
        owners = _entry_lines(text)
        for line in change.added:
            inside = 0 < line.number <= len(owners) and owners[line.number - 1] == entry
            if inside and (pattern is None or pattern.search(line.text)):
                yield change.path, line.number, line.text


def where_added(
    ctx: PatchContext, entry: str, pattern: re.Pattern[str] | None, symbol: SymbolFacts | None
) -> tuple[str, int | None]:
    for path, number, _ in added_in_entry(ctx, entry, pattern):
        return path, number
    for path, number, _ in added_in_entry(ctx, entry):
        return path, number
    if symbol and symbol.locations:
        return symbol.locations[0][0], symbol.locations[0][1]
    return "", None


def _deltas(ctx: PatchContext) -> Iterable[KconfigDelta]:
    return ctx.kconfig.values()


@rule(
    "KC010",
    "kconfig-recursive-dependency",
    Severity.ERROR,
    "The patch creates a Kconfig dependency loop.",
)
def recursive_dependency(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    # kconfiglib names whichever loop its set order meets first, which differs between
    # runs and arches: one finding per place in the patch, not per loop.
    seen: set[tuple[str, int | None]] = set()
    for delta in _deltas(ctx):
        loop = delta.patched.loop
        if not loop or delta.base.loop:
            continue
        names = list(dict.fromkeys(name for name, _, _ in loop))
        cycle = delta.patched.cycle or tuple(
            f"symbol {a} depends on {b}" for a, b in zip(names, names[1:] + names[:1], strict=True)
        )
        path, line = _loop_place(ctx, cycle, names)
        if not path:
            path, line = loop[0][1], loop[0][2]
        if (path, line) in seen:
            continue
        seen.add((path, line))
        yield rule.finding(
            path,
            line,
            "this change closes a Kconfig dependency loop: "
            + " / ".join(cycle)
            + f" (conf: 'recursive dependency detected', {delta.arch})",
            hint="see Documentation/kbuild/kconfig-language.rst, 'Kconfig recursive dependency "
            "limitations': usually turn one 'select' into 'depends on' or the reverse",
            evidence=[f"{name} defined at {file}:{number}" for name, file, number in loop],
        )


_EDGE = re.compile(r"^symbol (\w+) (depends on|is selected by|is implied by) (\w+)")


def _loop_place(
    ctx: PatchContext, cycle: tuple[str, ...], names: list[str]
) -> tuple[str, int | None]:
    """The added line that makes one edge of the loop: the select, imply or dependency."""
    for edge in cycle:
        match = _EDGE.match(edge)
        if match is None:
            continue
        first, verb, second = match.groups()
        if verb == "depends on":
            entry, pattern = first, re.compile(rf"\b{re.escape(second)}\b")
        else:
            keyword = "select" if verb == "is selected by" else "imply"
            entry, pattern = second, re.compile(rf"^\s*{keyword}\s+{re.escape(first)}\b")
        for path, number, _ in added_in_entry(ctx, entry, pattern):
            return path, number
    for name in names:
        others = re.compile(r"\b(" + "|".join(re.escape(n) for n in names if n != name) + r")\b")
        for path, number, _ in added_in_entry(ctx, name, others):
            return path, number
    return "", None


def _found(delta_facts: Iterable[Witness], kind: str, subject: str, other: str) -> Witness | None:
    for witness in delta_facts:
        if (witness.kind, witness.subject, witness.other) == (kind, subject, other):
            return witness if witness.found else None
    return None


@rule(
    "KC011",
    "kconfig-select-unmet-deps",
    Severity.WARNING,
    "A select forces a symbol on while its own dependencies are off.",
)
def select_unmet_deps(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    reported: set[tuple[str, str]] = set()
    for delta in _deltas(ctx):
        for witness in delta.patched.witnesses:
            pair = (witness.subject, witness.other)
            if witness.kind != "unmet-select" or not witness.found or pair in reported:
                continue
            if _found(delta.base.witnesses, "unmet-select", *pair) is not None:
                continue  # already broken before the patch
            if witness.confirmed is False:
                continue  # the kernel's conf does not agree: stay silent
            reported.add(pair)
            selector, target = pair
            select = re.compile(rf"^\s*select\s+{re.escape(target)}\b")
            path, line = where_added(ctx, selector, select, None)
            if not any(True for _ in added_in_entry(ctx, selector, select)):
                path, line = where_added(
                    ctx, target, re.compile(r"^\s*depends\s+on"), delta.patched.symbols.get(target)
                )
                removed = _removed_select(ctx, selector, target)
                if removed is not None and not any(
                    True for _ in added_in_entry(ctx, target, re.compile(r"^\s*depends\s+on"))
                ):
                    path, line = removed
                narrowed = _narrowed_if(ctx, target)
                if narrowed is not None and not any(True for _ in added_in_entry(ctx, target)):
                    path, line = narrowed
            severity = None if witness.confirmed else Severity.INFO
            note = (
                "confirmed by scripts/kconfig/conf olddefconfig"
                if witness.confirmed
                else "not confirmed by the kernel's conf"
            )
            yield rule.finding(
                path,
                line,
                f"'select {target}' by {selector} ignores {target}'s "
                f"'{witness.detail}': {witness.text()} gives \"unmet direct dependencies "
                f'detected for {target}" ({delta.arch})',
                hint=f"use 'select {target} if <its dependencies>', make {selector} depend on "
                f"them, or have {selector} select a HAVE_ symbol {target} depends on",
                severity=severity,
                evidence=[
                    note,
                    *([witness.conf_output] if witness.conf_output else []),
                    f"witness .config ({delta.arch}): " + " | ".join(witness.config_lines()),
                ],
            )


def _narrowed_if(ctx: PatchContext, target: str) -> tuple[str, int] | None:
    """Where the patch put target under a new or stricter `if` (the added line)."""
    plan = ctx.kconfig_plan
    for name, path, line, _ in plan.narrowed if plan is not None else ():
        if name == target:
            return path, line
    return None


def _removed_select(ctx: PatchContext, selector: str, target: str) -> tuple[str, int] | None:
    """Where the patch removed a select of selector's that target depends on."""
    plan = ctx.kconfig_plan
    if plan is None:
        return None
    facts = next((d.patched.symbols.get(target) for d in _deltas(ctx)), None)
    needs = set(_WORD.findall(facts.direct_dep)) if facts else set()
    for symbol, provider, how, path, line in plan.removed:
        if symbol == selector and how == "select" and provider in needs:
            return path, line
    return None


def _new_selects(ctx: PatchContext, delta: KconfigDelta) -> Iterator[tuple[str, str]]:
    for name, facts in delta.patched.symbols.items():
        old = delta.base.symbols.get(name)
        old_targets = {t for t, _ in old.selects} if old else set()
        for target, _ in facts.selects:
            if target not in old_targets:
                yield name, target


@rule(
    "KC012",
    "kconfig-select-computed-symbol",
    Severity.WARNING,
    "A select forces a symbol whose value is computed (def_bool <expr>, no prompt).",
)
def select_computed(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    reported: set[tuple[str, str]] = set()
    for delta in _deltas(ctx):
        pairs = set(_new_selects(ctx, delta))
        for name, facts in delta.patched.symbols.items():
            old = delta.base.symbols.get(name)
            if facts.computed and old is not None and not old.computed:
                pairs |= {(selector, name) for selector in facts.selected_by}
        for selector, target in sorted(pairs):
            facts_target = delta.patched.symbols.get(target)
            if facts_target is None or not facts_target.computed or (selector, target) in reported:
                continue
            reported.add((selector, target))
            value = next(v for v, _ in facts_target.defaults if v not in ("y", "n", "m"))
            select = re.compile(rf"^\s*select\s+{re.escape(target)}\b")
            path, line = where_added(ctx, selector, select, None)
            if not path or not any(True for _ in added_in_entry(ctx, selector, select)):
                path, line = where_added(ctx, target, None, facts_target)
            yield rule.finding(
                path,
                line,
                f"{target} is computed ({value}) but {selector} selects it, forcing it on "
                f"even when {value} is n ({delta.arch}); conf gives no warning for this",
                hint=f"select the symbols {target} is computed from (a HAVE_ symbol) instead of "
                f"{target}",
            )


@rule(
    "KC013",
    "kconfig-prompt-on-library-symbol",
    Severity.WARNING,
    "A prompt is added to a symbol that other options select.",
)
def prompt_on_library(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    reported: set[str] = set()
    for delta in _deltas(ctx):
        for name, facts in delta.patched.symbols.items():
            old = delta.base.symbols.get(name)
            if old is None or old.prompt or not facts.prompt or name in reported:
                continue
            if not old.selected_by:
                continue
            reported.add(name)
            path, line = where_added(ctx, name, _PROMPT_LINE, facts)
            users = ", ".join(old.selected_by[:4]) + ("..." if len(old.selected_by) > 4 else "")
            yield rule.finding(
                path,
                line,
                f"{name} is selected by {users}; a library symbol should stay prompt-less "
                "(select-only): a prompt makes users guess what selectors set anyway",
                hint="drop the prompt; selectors turn it on (kconfig-language.rst: select is "
                "for non-visible symbols)",
            )


@rule(
    "KC014",
    "kconfig-bool-to-tristate",
    Severity.INFO,
    "A bool symbol becomes tristate: its objects can now be modules.",
)
def bool_to_tristate(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    reported: set[str] = set()
    for delta in _deltas(ctx):
        for name, facts in delta.patched.symbols.items():
            old = delta.base.symbols.get(name)
            if old is None or name in reported or (old.type, facts.type) != ("bool", "tristate"):
                continue
            reported.add(name)
            objects = sorted(ctx.index.objects_by_config.get(name, []))
            builtin = [
                w
                for w in delta.patched.witnesses
                if w.kind == "builtin-module" and w.other == name and w.found
            ]
            path, line = where_added(ctx, name, re.compile(r"^\s*(tristate|def_tristate)\b"), facts)
            users = (
                f"; {describe_consumer(builtin[0].subject)}=y can call it at =m "
                f"({builtin[0].text()})"
                if builtin
                else ""
            )
            yield rule.finding(
                path,
                line,
                f"{name} becomes tristate: "
                f"{', '.join(objects[:4]) or 'its objects'} can now be built as modules"
                f"{users}",
                hint="keep it bool if it is a library for built-in code; what breaks is "
                "reported by EX006/EX007 (module metadata) and KC015 (built-in callers)",
            )


@rule(
    "KC016",
    "kconfig-select-choice-member",
    Severity.WARNING,
    "A select or imply of a choice member, which has no effect.",
)
def select_choice(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    reported: set[tuple[str, str]] = set()
    for delta in _deltas(ctx):
        for selector, target in _new_selects(ctx, delta):
            facts = delta.patched.symbols.get(target)
            if facts is None or not facts.choice or (selector, target) in reported:
                continue
            reported.add((selector, target))
            select = re.compile(rf"^\s*select\s+{re.escape(target)}\b")
            path, line = where_added(ctx, selector, select, None)
            yield rule.finding(
                path,
                line,
                f"{target} is a choice member: 'select {target}' has no effect "
                "(kconfiglib: select/imply has no effect on choice symbols)",
                hint="make the choice's default depend on the selector, or depend on the "
                "choice member instead",
            )


@rule(
    "KC019",
    "kconfig-kconfiglib-unsupported",
    Severity.INFO,
    "kconfiglib cannot evaluate the patched Kconfig; evaluated rules did not run.",
)
def kconfiglib_unsupported(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    seen: set[str] = set()
    for delta in _deltas(ctx):
        error = delta.patched.error
        if not error or delta.patched.loop or delta.base.error or error in seen:
            continue
        seen.add(error)
        first = next((x for x in error.strip().splitlines() if x.strip()), error).strip()
        if not quotable(first):
            first = "the error names a file outside the tree (not quoted)"
        yield rule.finding(
            "", None, f"kconfiglib cannot load the patched tree ({delta.arch}): {first}"
        )


@rule(
    "KC018",
    "kconfig-parse-error",
    Severity.ERROR,
    "The kernel's own conf rejects the patched Kconfig or prints new warnings for it.",
)
def parse_error(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for delta in _deltas(ctx):
        errors: dict[str | None, list[tuple[int | None, str]]] = {}
        for path, line, severity, text in delta.conf_new:
            if severity == "error" or "syntax error" in text:
                errors.setdefault(path, []).append((line, text))
                continue
            yield rule.finding(
                path or "",
                line,
                f"scripts/kconfig/conf ({delta.arch}): {text}",
                severity=Severity.INFO if severity == "info" else Severity.WARNING,
            )
        for path, items in errors.items():
            # The parser's first error is the real one; what follows cascades from it.
            first = items[0][0]
            texts = [text for line, text in items if line == first]
            yield rule.finding(
                path or "",
                first,
                f"scripts/kconfig/conf ({delta.arch}) rejects this: {'; '.join(texts)}",
                hint="see Documentation/kbuild/kconfig-language.rst",
                evidence=[f"line {line}: {text}" for line, text in items[len(texts) :]],
            )
        if delta.conf_checked:
            return  # conf runs on one arch; its verdict is not repeated per arch


RULES: tuple[Rule, ...] = (
    recursive_dependency,
    select_unmet_deps,
    select_computed,
    prompt_on_library,
    bool_to_tristate,
    select_choice,
    parse_error,
    kconfiglib_unsupported,
)
