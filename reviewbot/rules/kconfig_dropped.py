"""Dependencies a patch drops (KC021) and options it hides (KC022), with witnesses (pure).

KC021: a removed `select X` / `depends on X`, a stricter `if` around X, or the symbol made
tristate, while the symbol's code still calls what X's objects provide; the witness is a
configuration (confirmed by conf) with the symbol on and X off, X at m under the symbol
at y, or (made tristate) the symbol at m calling what X does not export. KC022: a new
`depends on X` on a symbol the tree means to be selected, after which the option cannot
be enabled at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.kconfig.dropped import Dropped
from reviewbot.kconfig.facts import KconfigDelta, Witness
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kconfig_build import built
from reviewbot.rules.kconfig_eval import added_in_entry


def _new_witness(delta: KconfigDelta, kind: str, subject: str, other: str) -> Witness | None:
    """Found on the patched tree, not refuted by conf, and not found on the base."""

    def pick(witnesses: Iterable[Witness]) -> Witness | None:
        for w in witnesses:
            if (w.kind, w.subject, w.other) == (kind, subject, other) and w.found:
                return w
        return None

    found = pick(delta.patched.witnesses)
    if found is None or found.confirmed is False or pick(delta.base.witnesses) is not None:
        return None
    return found


@rule(
    "KC021",
    "kconfig-dropped-dependency",
    Severity.WARNING,
    "A removed select or dependency while the symbol's code still calls into what it provided.",
)
def dropped_dependency(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    plan = ctx.kconfig_plan
    if plan is None:
        return
    stubbed = set().union(*(d.stubbed for d in ctx.kconfig.values()))
    items = list(plan.dropped)
    for delta in ctx.kconfig.values():
        items += [d for d in delta.dropped if d not in items]
    reported: set[tuple[str, str, str, int]] = set()
    for item in items:
        place = (item.how, item.provider, item.path, item.line)
        if item.how == "if" and place in reported:
            continue  # one finding per narrowed `if` and provider (the first caller named)
        # a header stub makes the call link with X=n; a module still needs the export
        functions = [f for f in item.functions if item.how == "modular" or f not in stubbed]
        if not functions:
            continue  # every call has a static inline stub for X=n
        calls = ", ".join(f"{f}()" for f in functions[:4]) + ("..." if len(functions) > 4 else "")
        for delta in ctx.kconfig.values():
            if item.how == "modular":
                witness = _new_witness(delta, "module-with", item.subject, item.provider)
                state = f"{item.symbol}=m with {item.provider} built"
            else:
                off = _new_witness(delta, "enabled-without", item.subject, item.provider)
                modular = _new_witness(delta, "builtin-module", item.subject, item.provider)
                witness = off or modular
                state = f"{item.provider}=n" if off else f"{item.provider}=m under {item.symbol}=y"
            if witness is None:
                continue
            confirmed, build_evidence = built(ctx, delta.arch, witness)
            message, hint = _words(item, calls)
            reported.add(place)
            yield rule.finding(
                item.path,
                item.line,
                f"{message}: {witness.text()} gives {state} ({delta.arch}), and the link "
                + (
                    f'fails (modpost: "{functions[0]}" [{item.consumer_file[:-2]}.ko] undefined!)'
                    if item.how == "modular"
                    else "fails (modpost: undefined symbol, or vmlinux cannot reach a module)"
                )
                + confirmed,
                hint=hint,
                severity=None if witness.confirmed else Severity.INFO,
                evidence=[
                    "confirmed by scripts/kconfig/conf olddefconfig"
                    if witness.confirmed
                    else "not confirmed by the kernel's conf",
                    *([witness.conf_output] if witness.conf_output else []),
                    # plain data for a build job: the witness .config and what to build
                    f"witness .config ({delta.arch}): " + " | ".join(witness.config_lines()),
                    f"objects: {item.consumer_file[:-2]}.o, {item.provider_object}",
                    *build_evidence,
                ],
            )
            break


def _words(item: Dropped, calls: str) -> tuple[str, str]:
    """The finding's message (before the witness) and its hint, by how X was dropped."""
    where = f"{item.consumer_file} still calls {calls} from {item.provider_object}"
    if item.how == "modular":
        return (
            f"{item.symbol} can now be a module, but {item.consumer_file} calls {calls}, "
            f"which {item.provider_object} (CONFIG_{item.provider}) defines without "
            "EXPORT_SYMBOL",
            f"export the function(s) (EXPORT_SYMBOL_GPL) or keep {item.symbol} bool",
        )
    if item.how == "if":
        return (
            f"'{item.removed}' now also guards {item.provider}, but {where} "
            f"(CONFIG_{item.provider}), built by {item.symbol}",
            f"make {item.symbol} depend on (or select) {item.provider}, keep {item.provider} "
            "outside the `if`, or give the functions a static inline stub in the header",
        )
    return (
        f"'{item.removed}' is removed from {item.symbol}, but {where} (CONFIG_{item.provider})",
        f"keep '{item.removed}', guard the calls with IS_ENABLED(CONFIG_{item.provider}) / a "
        f"stub in the header, or, where a module provider is the problem, 'depends on "
        f"{item.provider}=y' for a bool symbol ('depends on {item.provider} || "
        f"!{item.provider}' for a tristate one)",
    )


@rule(
    "KC022",
    "kconfig-option-hidden",
    Severity.WARNING,
    "A new dependency on a select-only symbol makes an option impossible to enable.",
)
def option_hidden(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    plan = ctx.kconfig_plan
    if plan is None or not ctx.kconfig:
        return
    for symbol, needed in plan.hidden:
        lost, kept, before, after = [], [], None, None
        for arch, delta in ctx.kconfig.items():
            was = _reachable(delta.base.witnesses, symbol)
            now = _reachable(delta.patched.witnesses, symbol)
            if was is None or not was.found or was.confirmed is False or now is None:
                continue
            if now.found and now.confirmed is not False:
                kept.append(arch)
                # visible only when unrelated options are on: the witness needs more lines
                extra = set(now.assignments) - set(was.assignments) - {(symbol, "y"), (symbol, "m")}
                if extra:
                    after = after or (arch, now)
            elif not now.found:
                lost.append(arch)
                before = before or (arch, was)
        pattern = re.compile(rf"^\s*depends\s+on\b.*\b{re.escape(needed)}\b")
        path, line = next(((p, n) for p, n, _ in added_in_entry(ctx, symbol, pattern)), ("", None))
        if lost and before is not None:
            arch, was = before
            where = ", ".join(lost) + (f" (still reachable on {', '.join(kept)})" if kept else "")
            yield rule.finding(
                path,
                line,
                f"{symbol} can no longer be enabled on {where}: {needed} is meant to be "
                f"selected (no prompt, or only selectors), and nothing selects it where "
                f"{symbol} is visible; before the patch {was.text()} gave {symbol} on ({arch})",
                hint=f"'select {needed}' from {symbol} (if {needed}'s own dependencies allow), "
                f"or depend on what {needed} stands for instead",
                severity=None if not kept and was.confirmed else Severity.INFO,
                evidence=[was.conf_output] if was.conf_output else [],
            )
        elif after is not None and not needed.startswith(("HAVE_", "ARCH_")):
            arch, now = after
            yield rule.finding(
                path,
                line,
                f"{symbol} is now visible only when something selects {needed}, which has no "
                f"prompt (or only selectors): e.g. {now.text()} ({arch}); a user looking for "
                f"{symbol} will not find it otherwise",
                hint=f"'select {needed}' from {symbol}, or depend on a user-visible option",
                severity=Severity.INFO,
            )


def _reachable(witnesses: Iterable[Witness], symbol: str) -> Witness | None:
    return next((w for w in witnesses if w.kind == "reachable" and w.subject == symbol), None)


RULES: tuple[Rule, ...] = (dropped_dependency, option_hidden)
