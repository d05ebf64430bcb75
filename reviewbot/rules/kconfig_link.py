"""Link rules: new calls into code another CONFIG builds, checked with witnesses (pure).

KC015: code that can be built in calls into a tristate provider that can be =m at the
same time (vmlinux cannot link against a module); also when a patch makes a provider
tristate that built-in code already calls. KC017: code that can be enabled while the
provider of a function it calls is off (the missing `select REGMAP_I2C` class). With
builds on, each witness is also built (reviewbot.rules.kconfig_build): the message says
when a real build confirms it, and the evidence gives the commands either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.kconfig.facts import Witness
from reviewbot.kconfig.links import Call, condition_parts, describe_consumer
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kconfig_build import built

_IF = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif)\b(.*)$")
_ENDIF = re.compile(r"^\s*#\s*endif\b")


def _witness(
    ctx: PatchContext, kind: str, consumer: str, provider: str
) -> tuple[str, Witness] | None:
    """(arch, witness) found on the patched tree of some arch (None if none)."""
    for arch, delta in ctx.kconfig.items():
        for witness in delta.patched.witnesses:
            if witness.confirmed is False:
                continue  # the kernel's conf does not agree: never reported
            if (witness.kind, witness.subject, witness.other, witness.found) == (
                kind,
                consumer,
                provider,
                True,
            ):
                return arch, witness
    return None


def _guarded(ctx: PatchContext, call: Call) -> bool:
    """True when the call sits inside an #if that mentions the provider's CONFIG."""
    text = ctx.after.read(call.path)
    if text is None:
        return False
    stack: list[str] = []
    for line in text.split("\n")[: call.line - 1]:
        opened = _IF.match(line)
        if opened and opened.group(1) == "elif" and stack:
            stack[-1] += " " + opened.group(2)
        elif opened:
            stack.append(opened.group(2))
        elif _ENDIF.match(line) and stack:
            stack.pop()
    return any(f"CONFIG_{call.provider}" in condition for condition in stack)


def _stubbed(ctx: PatchContext, function: str) -> bool:
    return any(function in delta.stubbed for delta in ctx.kconfig.values())


def _calls(ctx: PatchContext) -> Iterable[Call]:
    if ctx.kconfig_plan is None:
        return ()
    return [c for c in ctx.kconfig_plan.calls if not _guarded(ctx, c)]


@rule(
    "KC015",
    "kconfig-builtin-calls-modular",
    Severity.ERROR,
    "Code that can be built in calls a function of a provider that can be a module.",
)
def builtin_calls_modular(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for call in _calls(ctx):
        found = _witness(ctx, "builtin-module", call.consumer, call.provider)
        if found is None:
            continue
        arch, witness = found
        confirmed, evidence = built(ctx, arch, witness)
        gate = condition_parts(call.consumer)[0]
        yield rule.finding(
            call.path,
            call.line,
            f"{call.function}() comes from {call.provider_object} (CONFIG_{call.provider}, "
            f"tristate) but this code is built by {describe_consumer(call.consumer)}, which "
            f"can be built in while {call.provider}=m ({witness.text()}): vmlinux cannot "
            f"call into a module{confirmed}",
            hint=f"add 'depends on {call.provider}' to {gate} (or "
            f"'{call.provider} || !{call.provider}' with IS_REACHABLE() guards)",
            evidence=evidence,
        )
    if ctx.kconfig_plan is None:
        return
    for symbol, old, new in ctx.kconfig_plan.type_changes:
        if (old, new) != ("bool", "tristate"):
            continue
        for delta in ctx.kconfig.values():
            hits = [
                w
                for w in delta.patched.witnesses
                if w.kind == "builtin-module" and w.other == symbol and w.found
            ]
            if not hits:
                continue
            where = delta.patched.symbols.get(symbol)
            path, line = where.locations[0] if where and where.locations else ("", None)
            users = ", ".join(sorted({describe_consumer(w.subject) for w in hits}))
            yield rule.finding(
                path,
                line + 1 if line else None,
                f"{symbol} becomes tristate, but built-in code calls into it: {users} can be "
                f"y while {symbol}=m ({hits[0].text()}, {delta.arch}); IS_ENABLED() is then "
                "true but the functions are in a module: vmlinux fails to link",
                hint=f"keep {symbol} bool, or make the callers depend on {symbol} (or use "
                "IS_REACHABLE())",
            )
            break


@rule(
    "KC017",
    "kconfig-missing-link-dependency",
    Severity.WARNING,
    "New code calls a function whose provider can be off while the code is built.",
)
def missing_link_dependency(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for call in _calls(ctx):
        found = _witness(ctx, "enabled-without", call.consumer, call.provider)
        if found is None or _stubbed(ctx, call.function):
            continue
        arch, witness = found
        confirmed, evidence = built(ctx, arch, witness)
        name = call.export
        yield rule.finding(
            call.path,
            call.line,
            f"{call.function}() needs {call.provider_object} (CONFIG_{call.provider}), but "
            f"{describe_consumer(call.consumer)} can be enabled with {call.provider}=n "
            f"({witness.text()}): '{name}' is then undefined (modpost: \"{name}\" undefined!, "
            f"or a link error){confirmed}",
            hint=f"add 'select {call.provider}' (library symbols) or 'depends on "
            f"{call.provider}' to {condition_parts(call.consumer)[0]}",
            evidence=evidence,
        )


RULES: tuple[Rule, ...] = (builtin_calls_modular, missing_link_dependency)
