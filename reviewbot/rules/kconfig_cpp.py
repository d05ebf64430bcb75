"""Preprocessor rules: #ifdef on tristate symbols (KC004), CONFIG_ in uapi headers (KC005) (pure).

Both read added lines of C, header and assembler files with comments blanked, as the
preprocessor and scripts/headers_install.sh see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.analysis.diff import FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kconfig_refs import Ref, also_lines, changed_files
from reviewbot.rules.kconfig_text import blank_segment, directives

UAPI = re.compile(r"^(?:include/uapi/|arch/[^/]+/include/uapi/).*\.h$")


_IFDEF = re.compile(r"#\s*(ifdef|ifndef|elifdef|elifndef)\s+CONFIG_([A-Za-z0-9_]+)\s*$")
_IF = re.compile(r"#\s*(if|elif)\b(.*)$")
_DEFINED = re.compile(r"defined\s*\(?\s*CONFIG_([A-Za-z0-9_]+)")


def _tested(directive: str) -> list[str]:
    """Symbols a preprocessor conditional tests with #ifdef/#ifndef/defined()."""
    match = _IFDEF.match(directive)
    if match:
        return [match.group(2)]
    match = _IF.match(directive)
    if not match:
        return []
    tested = _DEFINED.findall(match.group(2))
    return [s for s in tested if s + "_MODULE" not in tested]


def _removed_directives(ctx: PatchContext) -> set[str]:
    return {
        " ".join(line.text.split())
        for change in ctx.files("c")
        for line in change.removed
        if line.text.lstrip().startswith("#")
    }


@rule(
    "KC004",
    "kconfig-ifdef-tristate",
    Severity.WARNING,
    "#ifdef / defined() on a tristate symbol misses the =m case.",
)
def ifdef_tristate(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    moved = _removed_directives(ctx)
    for change, _, image in changed_files(ctx, "c"):
        if UAPI.match(change.path):
            continue  # any CONFIG_ there is KC005's error
        hits: dict[str, list[Ref]] = {}
        raw = {n: t for segment in image.segments for n, t in segment}
        for segment in image.segments:
            for line, _lines, text in directives(blank_segment(segment)):
                if line not in image.added or " ".join(raw[line].split()) in moved:
                    continue
                for symbol in _tested(text):
                    if "tristate" in ctx.index_final.types_of(symbol):
                        hits.setdefault(symbol, []).append(Ref(line, symbol, text))
        for symbol, refs in hits.items():
            yield _ifdef_finding(rule, ctx, change, symbol, refs)


def _ifdef_finding(
    rule: Rule, ctx: PatchContext, change: FileChange, symbol: str, refs: list[Ref]
) -> Finding:
    where = next(
        (f"{d.path}:{d.line}" for d in ctx.index_final.symbol_defs(symbol) if d.type == "tristate"),
        "",
    )
    return rule.finding(
        change.path,
        refs[0].line,
        f"CONFIG_{symbol} is tristate: '{refs[0].written}' is false when {symbol}=m "
        f"(then only CONFIG_{symbol}_MODULE is defined)",
        hint=f"Use '#if IS_ENABLED(CONFIG_{symbol})' for y or m; IS_REACHABLE() when "
        f"built-in code calls into {symbol}; IS_BUILTIN() if only built-in is meant "
        "(include/linux/kconfig.h).",
        evidence=[
            f"{symbol} is tristate at {where}" if where else f"{symbol} is tristate",
            *also_lines(refs),
        ],
    )


# --- KC005 -------------------------------------------------------------------------------

_LEAK = re.compile(r"(?<![A-Za-z0-9_])CONFIG_[A-Za-z0-9_]*")
_KERNEL_ONLY = re.compile(
    r"#\s*ifdef\s+__KERNEL__\s*$|#\s*if\s+defined\s*\(?\s*__KERNEL__\s*\)?\s*(?:&&.*)?$"
)
_USER_ONLY = re.compile(r"#\s*ifndef\s+__KERNEL__\s*$|#\s*if\s+!\s*defined\s*\(?\s*__KERNEL__\b")
_FLIP = {"kernel": "user", "user": "kernel"}


def leak_ignores(script: str | None) -> frozenset[str]:
    """The frozen `file:CONFIG_X` list of scripts/headers_install.sh."""
    if not script:
        return frozenset()
    match = re.search(r'config_leak_ignores="([^"]*)"', script)
    return frozenset(match.group(1).split()) if match else frozenset()


def _step(stack: list[str], line: str) -> bool:
    """Follow one preprocessor line; False when it closes a block opened out of view."""
    if _KERNEL_ONLY.match(line):
        stack.append("kernel")
    elif _USER_ONLY.match(line):
        stack.append("user")
    elif re.match(r"#\s*if", line):
        stack.append("other")
    elif re.match(r"#\s*(?:else|elif|endif)\b", line):
        if not stack:
            return False
        if re.match(r"#\s*else\b", line):
            stack[-1] = _FLIP.get(stack[-1], stack[-1])
        elif re.match(r"#\s*elif", line):
            stack[-1] = "kernel" if stack[-1] == "user" else "other"
        else:
            stack.pop()
    return True


def exported_lines(blanked: dict[int, str]) -> tuple[set[int], bool]:
    """Lines headers_install keeps (it runs unifdef -U__KERNEL__), and whether that is sure.

    Not sure when the lines close a conditional block that opened before them.
    """
    stack: list[str] = []
    kept: set[int] = set()
    sure = True
    for number, text in sorted(blanked.items()):
        sure = _step(stack, text.strip()) and sure
        if "kernel" not in stack:
            kept.add(number)
    return kept, sure


@rule(
    "KC005",
    "kconfig-uapi-config-leak",
    Severity.ERROR,
    "A uapi header refers to CONFIG_ symbols: headers_install fails.",
    needs_base=False,
)
def uapi_config_leak(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    ignores: frozenset[str] | None = None
    for change, _, image in changed_files(ctx, "c"):
        if not UAPI.match(change.path):
            continue
        if ignores is None:
            ignores = leak_ignores(ctx.before.read("scripts/headers_install.sh"))
        hits: dict[str, list[Ref]] = {}
        unsure: set[str] = set()
        for segment in image.segments:
            blanked = blank_segment(segment, strings=False)
            kept, sure = exported_lines(blanked)
            for number in sorted(image.added & kept):
                for token in _LEAK.findall(blanked[number]):
                    if f"{change.path}:{token}" in ignores:
                        continue
                    hits.setdefault(token, []).append(Ref(number, token, token))
                    if not sure:
                        unsure.add(token)
        for token, refs in hits.items():
            yield _leak_finding(rule, change, token, refs, token in unsure)


def _leak_finding(
    rule: Rule, change: FileChange, token: str, refs: list[Ref], unsure: bool
) -> Finding:
    return rule.finding(
        change.path,
        refs[0].line,
        f"uapi header uses {token}: headers_install fails with "
        f'"error: {change.path}: leak {token} to user-space"',
        hint="User space has no kernel configuration: move the kernel-only part to "
        "include/linux/ (or the arch's asm header), or make the uapi definition "
        "unconditional.",
        severity=Severity.INFO if unsure else None,
        evidence=[
            *(
                ["the hunk may sit inside an #ifdef __KERNEL__ block opened above it"]
                if unsure
                else []
            ),
            *also_lines(refs),
        ],
    )
