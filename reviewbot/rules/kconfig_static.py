"""The static Kconfig rule family: undefined symbols (KC001) and the table of KC rules (pure).

KC001 checks every symbol an added line names, in Kconfig expressions, Makefiles and
C, against the Kconfig files of all architectures plus what the series defines. The
other rules live in kconfig_options (KC002, KC003) and kconfig_cpp (KC004, KC005).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kconfig_cpp import ifdef_tristate, uapi_config_leak
from reviewbot.rules.kconfig_options import help_missing, new_default_y
from reviewbot.rules.kconfig_refs import (
    SKIP_PREFIXES,
    Ref,
    also_lines,
    c_refs,
    changed_files,
    defines_in_c,
    defines_in_make,
    group_refs,
    is_placeholder,
    kconfig_refs,
    local_headers,
    makefile_refs,
    old_text_mentions,
    series_definitions,
)

MAX_SUGGESTIONS = 50


class _Names:
    """Defined symbol names (every arch, plus the series), asked one at a time.

    Building the set of all ~20k names costs ~50 ms; it is built only when a "did you
    mean" suggestion is needed, so patches without undefined symbols stay cheap.
    """

    def __init__(self, ctx: PatchContext) -> None:
        self._ctx = ctx
        self._series: set[str] | None = None
        self._all: set[str] | None = None
        self._asked = 0

    @property
    def series(self) -> set[str]:
        if self._series is None:
            self._series = series_definitions(p.diff for p in self._ctx.series.patches)
        return self._series

    @property
    def names(self) -> set[str]:
        if self._all is None:
            self._all = {
                name for name in self._ctx.index_final.all_symbol_names() if self._defined(name)
            } | self.series
        return self._all

    def _defined(self, symbol: str) -> bool:
        defs = self._ctx.index_final.symbol_defs(symbol)
        return any(not d.path.startswith(SKIP_PREFIXES) for d in defs)

    def known(self, symbol: str) -> bool:
        if self._defined(symbol) or symbol in self.series:
            return True
        return symbol.endswith("_MODULE") and self.known(symbol[: -len("_MODULE")])

    def similar(self, symbol: str) -> list[str]:
        """Close names (difflib): the very close ones (>= 0.85) if any, else up to two.

        Each answer scans every name: a patch naming thousands of undefined symbols gets
        suggestions for the first MAX_SUGGESTIONS only, so the rule stays linear."""
        self._asked += 1
        if self._asked > MAX_SUGGESTIONS:
            return []
        width = max(4, len(symbol) // 2)
        candidates = [
            name
            for name in self.names
            if abs(len(name) - len(symbol)) <= width
            and (name[:3] == symbol[:3] or name[-3:] == symbol[-3:])
        ]
        close = difflib.get_close_matches(symbol, candidates, n=3, cutoff=0.72)
        strong = difflib.get_close_matches(symbol, close, n=3, cutoff=0.85)
        return strong or close[:2]


def _suggestion(names: _Names, written: str, symbol: str, kind: str) -> tuple[str, str]:
    """(' (did you mean ...?)', hint) for an undefined symbol."""
    if kind == "kconfig" and symbol.startswith("CONFIG_") and names.known(symbol[7:]):
        return (
            f" (did you mean {symbol[7:]}?)",
            "Kconfig expressions name symbols without the CONFIG_ prefix.",
        )
    if kind == "kconfig" and symbol in ("Y", "M", "N"):
        return (
            f" (did you mean {symbol.lower()}?)",
            "Kconfig's tristate constants are lower case: y, m, n.",
        )
    close = names.similar(symbol)
    shown = [("CONFIG_" + c if written.startswith("CONFIG_") else c) for c in close]
    extra = f" (did you mean {' or '.join(shown)}?)" if shown else ""
    return extra, ""


_WHY = {
    "kconfig": "an undefined symbol is always n: 'depends on' it is never met and "
    "'select'/'imply' of it does nothing, silently",
    "kbuild": "an undefined CONFIG_ variable is empty: objects or flags under it are "
    "never built or set",
    "c": "an undefined CONFIG_ macro is never set: the code under it is dead (or always "
    "built when negated)",
}


def _locally_defined(ctx: PatchContext, change: FileChange, kind: str, symbol: str) -> bool:
    """Whether the file (or its quoted headers, or its directory's Makefile) defines it."""
    after = ctx.text_after(change)
    before = ctx.text_before(change)
    if kind == "kbuild":
        return defines_in_make(after, symbol) or defines_in_make(before, symbol)
    if kind != "c":
        return False
    if defines_in_c(after, symbol) or defines_in_c(before, symbol):
        return True
    for header in local_headers(change.path, after):
        if defines_in_c(ctx.after.read(header), symbol):
            return True
    directory = change.directory
    return any(
        defines_in_make(ctx.after.read(f"{directory}/{name}"), symbol)
        for name in ("Makefile", "Kbuild")
    )


@rule(
    "KC001",
    "kconfig-undefined-symbol",
    Severity.ERROR,
    "A Kconfig expression, Makefile or C line names a symbol no Kconfig file defines.",
)
def undefined_symbol(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    names = _Names(ctx)
    scanners = {"kconfig": kconfig_refs, "kbuild": makefile_refs, "c": c_refs}
    for change, kind, image in changed_files(ctx, "kconfig", "kbuild", "c"):
        before = ctx.text_before(change)
        if not image.complete and before is None and change.kind is not ChangeKind.ADDED:
            continue  # the file is newer than this tree: so, likely, are its symbols
        for symbol, refs in group_refs(scanners[kind](image)).items():
            written = refs[0].written
            if names.known(symbol) or is_placeholder(symbol):
                continue
            if old_text_mentions(change, before, written):
                continue
            if _locally_defined(ctx, change, kind, symbol):
                continue
            yield _undefined(rule, names, change, kind, refs)


def _undefined(
    rule: Rule, names: _Names, change: FileChange, kind: str, refs: list[Ref]
) -> Finding:
    symbol, written = refs[0].symbol, refs[0].written
    extra, hint = _suggestion(names, written, symbol, kind)
    what = symbol if written == symbol else f"{written} refers to {symbol}, which"
    return rule.finding(
        change.path,
        refs[0].line,
        f"{what} is not defined by any Kconfig file{extra}",
        hint=hint or f"Fix the name, or define the symbol in this series; {_WHY[kind]}.",
        severity=Severity.WARNING if kind == "c" else None,
        evidence=[
            "checked against the Kconfig files of every architecture, plus the "
            "symbols this series defines",
            *also_lines(refs),
        ],
    )


RULES: tuple[Rule, ...] = (
    undefined_symbol,
    new_default_y,
    help_missing,
    ifdef_tristate,
    uapi_config_leak,
)
