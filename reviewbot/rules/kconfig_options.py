"""Rules over the Kconfig entries a patch writes: defaults (KC002) and help text (KC003) (pure).

The patched file is parsed into entries; what the file held before (by symbol name)
tells a new entry or a new attribute from one the patch only moves or re-indents.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from reviewbot.analysis.diff import FileChange, parse_diff
from reviewbot.errors import BadDiffError
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.kconfig_refs import changed_files, file_kind
from reviewbot.rules.kconfig_text import (
    Image,
    KDefault,
    KEntry,
    kconfig_entries,
    kconfig_lines,
    post_image,
    strip_macros,
)

LANGUAGE_DOC = "Documentation/kbuild/kconfig-language.rst"


@dataclass(frozen=True)
class _KFile:
    """A changed Kconfig file: its entries after the patch and, by name, before it."""

    change: FileChange
    image: Image
    entries: tuple[KEntry, ...]
    before: dict[str, list[KEntry]]
    gates: frozenset[str]  # names used in `if NAME` blocks: menus of options


def _entries_of(text: str) -> list[KEntry]:
    return kconfig_entries(kconfig_lines(tuple(enumerate(text.split("\n"), 1))))


def _kconfig_files(ctx: PatchContext) -> Iterator[_KFile]:
    for change, _, image in changed_files(ctx, "kconfig"):
        entries: list[KEntry] = []
        gates: set[str] = set()
        for segment in image.segments:
            statements = kconfig_lines(segment, image.complete)
            entries.extend(kconfig_entries(statements, image.complete))
            gates.update(s.args.strip() for s in statements if s.keyword == "if")
        before: dict[str, list[KEntry]] = {}
        old = ctx.text_before(change) if image.complete else None
        for entry in _entries_of(old) if old else ():
            before.setdefault(entry.name, []).append(entry)
        yield _KFile(change, image, tuple(entries), before, frozenset(gates))


def _series_entries(ctx: PatchContext) -> dict[str, list[tuple[str, KEntry]]]:
    """Entries the series' patches write, read from their hunks alone: name -> (path, entry)."""
    out: dict[str, list[tuple[str, KEntry]]] = {}
    for patch in ctx.series.patches:
        try:
            changes = parse_diff(patch.diff or "")
        except BadDiffError:
            continue
        for change in changes:
            if file_kind(change.path) != "kconfig":
                continue
            image = post_image(None, change)
            for segment in image.segments:
                for entry in kconfig_entries(kconfig_lines(segment, False), False):
                    if entry.line in image.added:
                        out.setdefault(entry.name, []).append((change.path, entry))
    return out


@dataclass
class _Parents:
    """Finds the driver or feature an option belongs to: a symbol of the same directory."""

    ctx: PatchContext
    kfile: _KFile
    parsed: dict[str, list[KEntry]] = field(default_factory=dict)
    series: dict[str, list[tuple[str, KEntry]]] | None = None

    def _entries(self, name: str) -> list[KEntry]:
        """The symbol's entries in Kconfig files of this file's directory."""
        here = self.kfile.change.path
        found = [e for e in self.kfile.entries if e.name == name]
        for definition in self.ctx.index_after.symbol_defs(name):
            if posixpath.dirname(definition.path) != posixpath.dirname(here):
                continue
            if definition.path == here and self.kfile.image.complete:
                continue
            if definition.path not in self.parsed:
                text = self.ctx.after.read(definition.path)
                self.parsed[definition.path] = _entries_of(text) if text else []
            found += [e for e in self.parsed[definition.path] if e.line == definition.line]
        if not found:
            if self.series is None:
                self.series = _series_entries(self.ctx)
            found = [
                e
                for path, e in self.series.get(name, ())
                if posixpath.dirname(path) == posixpath.dirname(here)
            ]
        return found

    def opt_in(self, name: str) -> bool:
        """Visible, and nothing defaults it on: a local driver or feature that defaults to n."""
        entries = self._entries(name)
        if not entries or not any(e.prompts for e in entries):
            return False
        return all(d.value == "n" for e in entries for d in e.defaults)

    def parent(self, entry: KEntry) -> str:
        """An opt-in local symbol the entry depends on (documented exception c), or ''."""
        for expression in entry.depends:
            for conjunct in strip_macros(expression).split("&&"):
                if re.search(r"[!=<>]", conjunct):
                    continue
                words: list[str] = re.findall(r"[A-Za-z0-9_]+", conjunct)
                names = [w for w in words if w not in ("y", "m", "n")]
                if names and all(self.opt_in(n) for n in names):
                    return names[0]
        return ""


def _moved(ctx: PatchContext) -> set[str]:
    """Symbols whose `config` line this patch removes somewhere: moved, not new."""
    out: set[str] = set()
    for change in ctx.files("kconfig"):
        for line in change.removed:
            match = re.match(r"\s*(?:menu)?config\s+([A-Za-z0-9_]+)", line.text)
            if match:
                out.add(match.group(1))
    return out


def _is_new(kfile: _KFile, entry: KEntry) -> bool:
    """A symbol entry the patch writes (its config line is added), not one it edits."""
    return entry.line in kfile.image.added and not kfile.before.get(entry.name)


def _visible_symbol(entry: KEntry) -> bool:
    return entry.kind in ("config", "menuconfig") and bool(entry.prompts)


@rule(
    "KC002",
    "kconfig-new-default-y",
    Severity.WARNING,
    "A new 'default y/m' on a user-visible option, or a redundant 'default n'.",
    needs_base=False,
)
def new_default_y(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    moved = _moved(ctx)
    for kfile in _kconfig_files(ctx):
        for entry in kfile.entries:
            if entry.kind == "choice" or entry.type not in ("bool", "tristate"):
                continue
            if entry.name in moved or (
                not kfile.image.complete and entry.line not in kfile.image.added
            ):
                continue
            yield from _default_findings(rule, ctx, kfile, entry)


def _old_defaults(kfile: _KFile, entry: KEntry) -> set[str]:
    """The default values the symbol already had in this file."""
    return {d.value for old in kfile.before.get(entry.name, ()) for d in old.defaults}


def _default_findings(
    rule: Rule, ctx: PatchContext, kfile: _KFile, entry: KEntry
) -> Iterator[Finding]:
    """A new entry's defaults are all new; an old entry's only when the line is added."""
    new_entry = _is_new(kfile, entry)
    old = _old_defaults(kfile, entry)
    for number, found in enumerate(entry.defaults):
        if not new_entry and found.line not in kfile.image.added:
            continue
        if found.value in ("y", "m") and _visible_symbol(entry) and not entry.in_choice:
            if "KUNIT_ALL_TESTS" in found.condition or old & {"y", "m"}:
                continue
            parent = _Parents(ctx, kfile).parent(entry)
            yield _default_yes(rule, kfile, entry, found, parent)
        elif (
            found.keyword == "default"
            and found.value == "n"
            and not found.condition
            and number == len(entry.defaults) - 1
            and "n" not in old
        ):
            yield rule.finding(
                kfile.change.path,
                found.line,
                f"'default n' is redundant: {entry.name} is n unless something sets it",
                hint="drop the line; n is every symbol's default",
                severity=Severity.INFO,
            )


def _default_yes(rule: Rule, kfile: _KFile, entry: KEntry, found: KDefault, parent: str) -> Finding:
    line, value, condition = found.line, found.value, found.condition
    reasons = []
    if parent:
        reasons.append(f"a sub-option of {parent}, which users switch on (exception c)")
    if entry.kind == "menuconfig" or entry.name in kfile.gates:
        reasons.append("it looks like a menu of options (exception b)")
    if condition:
        reasons.append(f"the default applies only if {condition}")
    if any(cond for _, cond in entry.prompts):
        reasons.append("the prompt is conditional, so others get the default unasked")
    new = _is_new(kfile, entry)
    subject = f"new option {entry.name}" if new else f"{entry.name}"
    verb = "defaults to" if new else "now defaults to"
    return rule.finding(
        kfile.change.path,
        line,
        f"{subject} {verb} {value}; new options should default to n ({LANGUAGE_DOC}: "
        "\"The default value deliberately defaults to 'n'\")",
        hint="Drop the default unless a documented exception applies and the commit "
        "message says which: a) it replaces code that was always built, b) it only "
        "shows or hides other options, c) it is a sub-option of a driver that defaults "
        "to n, d) hardware or infrastructure everybody expects (like NET or BLOCK).",
        severity=Severity.INFO if reasons else None,
        evidence=reasons,
    )


@rule(
    "KC003",
    "kconfig-help-missing",
    Severity.WARNING,
    "A user-visible symbol is added, or gains a prompt, without help text.",
    needs_base=False,
)
def help_missing(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    moved = _moved(ctx)
    for kfile in _kconfig_files(ctx):
        added = kfile.image.added
        for entry in kfile.entries:
            if not _visible_symbol(entry) or entry.help_line is not None or not entry.closed:
                continue
            if entry.name in moved:
                continue
            old = kfile.before.get(entry.name, [])
            if any(o.prompts for o in old):
                continue  # the prompt was there before: not this patch's doing
            prompt_lines = [line for line, _ in entry.prompts if line in added]
            if entry.line in added and not old:
                where, what = entry.line, f"new option {entry.name} has a prompt"
            elif prompt_lines and kfile.image.complete:
                where, what = prompt_lines[0], f"{entry.name} gains a prompt"
            else:
                continue
            yield rule.finding(
                kfile.change.path,
                where,
                f"{what} but no help text",
                hint="Add a help paragraph saying what the option does and when to enable "
                "it (checkpatch.pl CONFIG_DESCRIPTION asks for at least 4 lines).",
                severity=Severity.INFO if entry.in_choice else None,
                evidence=["a choice member: the choice's own help may cover it"]
                if entry.in_choice
                else [],
            )
