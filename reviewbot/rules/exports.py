"""Exported-symbol and module-tag rules: what modpost would reject, found at diff time (pure).

EX001-EX005 read the exporting file as the patch leaves it (reviewbot.rules.exports_ctext
finds the symbol's declarations) and the tree-wide export index before and after the
patch; EX006-EX007 ask which objects can become modules (reviewbot.rules.exports_modcheck).
Each rule reports only what the patch introduced: a problem the file or tree already had
is left alone.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from reviewbot.analysis.diff import FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.exports_ctext import (
    INIT_ATTRIBUTES,
    CDecl,
    CFile,
    ExportUse,
    parse_c,
)
from reviewbot.rules.exports_dup import duplicate_exports
from reviewbot.rules.exports_modcheck import Missing, describe_sources, missing_tags
from reviewbot.rules.exports_modules import has_tag
from reviewbot.rules.exports_patch import added_exports, added_numbers, after_text, before_text
from reviewbot.rules.exports_place import misplaced_exports

_CHECKPATCH = "checkpatch.pl EXPORT_SYMBOL; Documentation/process/coding-style.rst section 6"


def _old_exports(old_file: CFile | None, name: str) -> list[ExportUse]:
    if old_file is None:
        return []
    return [e for e in old_file.exports() if e.name == name]


def _static_decls(cfile: CFile, export: ExportUse) -> list[CDecl]:
    return [
        d
        for d in cfile.declarations(export.name)
        if d.static and d.column0 and not cfile.exclusive(d.line, export.line)
    ]


def _init_decls(cfile: CFile, export: ExportUse) -> list[CDecl]:
    return [
        d
        for d in cfile.declarations(export.name)
        if d.is_definition
        and d.column0
        and d.attributes & INIT_ATTRIBUTES.keys()
        and not cfile.exclusive(d.line, export.line)
    ]


def _added_word(change: FileChange, text: str, decl: CDecl, word: str) -> int | None:
    """The added line, within decl's head, that carries `word` (static, __init...)."""
    pattern = re.compile(rf"\b{re.escape(word)}\b")
    lines = text.split("\n")
    last = decl.end if decl.kind == "variable" else decl.line
    for number in sorted(added_numbers(change)):
        if decl.start <= number <= last and pattern.search(lines[number - 1]):
            return number
    return None


def _changed_exported(
    ctx: PatchContext, word: str
) -> Iterator[tuple[FileChange, str, CFile, ExportUse, CFile | None]]:
    """Exports the patch did not add, in .c files whose added lines carry `word`."""
    for change in ctx.files("c"):
        if not change.path.endswith(".c"):
            continue
        if not any(re.search(rf"\b{word}", line.text) for line in change.added):
            continue
        text = after_text(ctx, change)
        if text is None or "EXPORT_" not in text:
            continue
        cfile = parse_c(text)
        old = before_text(ctx, change)
        old_file = parse_c(old) if old is not None else None
        added = added_numbers(change)
        for export in cfile.exports():
            if export.line not in added and not export.macro.startswith("EXPORT_TRACEPOINT"):
                yield change, text, cfile, export, old_file


@rule(
    "EX001",
    "export-static-symbol",
    Severity.ERROR,
    "An exported symbol is static in its file; modpost rejects the export.",
)
def export_static(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, cfile, export, old_file in added_exports(ctx, (".c",)):
        statics = _static_decls(cfile, export)
        if statics and not _was_static_export(old_file, export.name):
            yield _static_finding(rule, change.path, export.line, export, statics[0])
    for change, text, cfile, export, old_file in _changed_exported(ctx, "static"):
        for decl in _static_decls(cfile, export):
            line = _added_word(change, text, decl, "static")
            if line is not None and not _was_static_export(old_file, export.name):
                yield _static_finding(rule, change.path, line, export, decl)
                break


def _was_static_export(old_file: CFile | None, name: str) -> bool:
    if old_file is None:
        return False
    return any(_static_decls(old_file, e) for e in _old_exports(old_file, name))


def _static_finding(rule: Rule, path: str, line: int, export: ExportUse, decl: CDecl) -> Finding:
    name = export.name
    what = f"is static (line {decl.line})"
    if decl.kind == "prototype":
        what = f"is declared static at line {decl.line}, which makes its definition static too,"
    return rule.finding(
        path,
        line,
        f"{name} {what} but {export.macro}({name}) exports it "
        f"(line {export.line}); modpost fails: \"local symbol '{name}' was exported\"",
        hint=f"drop 'static' from {name} (and declare it in a header), or drop the export",
        evidence=(f"{path}:{decl.line}: static declaration of {name}",),
    )


@rule(
    "EX002",
    "export-init-symbol",
    Severity.WARNING,
    "An __init/__exit symbol is exported; modules would reach freed memory.",
)
def export_init(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, cfile, export, old_file in added_exports(ctx, (".c",)):
        decls = _init_decls(cfile, export)
        if decls and not _was_init_export(old_file, export.name):
            yield _init_finding(rule, change.path, export.line, export, decls[0])
    for attribute in INIT_ATTRIBUTES:
        for change, text, cfile, export, old_file in _changed_exported(ctx, attribute):
            for decl in _init_decls(cfile, export):
                line = _added_word(change, text, decl, attribute)
                if line is not None and not _was_init_export(old_file, export.name):
                    yield _init_finding(rule, change.path, line, export, decl)
                    break


def _was_init_export(old_file: CFile | None, name: str) -> bool:
    if old_file is None:
        return False
    return any(_init_decls(old_file, e) for e in _old_exports(old_file, name))


def _init_finding(rule: Rule, path: str, line: int, export: ExportUse, decl: CDecl) -> Finding:
    attribute = sorted(decl.attributes & INIT_ATTRIBUTES.keys())[0]
    which = INIT_ATTRIBUTES[attribute]
    short = "__init" if which == "init" else "__exit"
    return rule.finding(
        path,
        line,
        f"{export.name} is {attribute} (line {decl.line}) but exported; its memory is freed "
        f"after {which}, so a module calling it jumps into freed memory. modpost warns: "
        f'"{export.name}: EXPORT_SYMBOL used for {which} symbol. Remove {short} or '
        'EXPORT_SYMBOL."',
        hint=f"drop {attribute} from {export.name}, or drop the export",
    )


@rule(
    "EX003",
    "export-not-adjacent",
    Severity.WARNING,
    "EXPORT_SYMBOL does not immediately follow the function or variable it exports.",
)
def export_not_adjacent(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for item in misplaced_exports(ctx):
        export, decl = item.exports[0]
        if len(item.exports) == 1:
            message = (
                f"{export.macro}({export.name}) should immediately follow the definition of "
                f"{export.name}, which ends at line {decl.end} ({_CHECKPATCH})"
            )
            hint = f"move the export to the line after line {decl.end}"
        else:
            last = item.exports[-1][0].line
            names = ", ".join(e.name for e, _ in item.exports[:3])
            more = "" if len(item.exports) <= 3 else f" and {len(item.exports) - 3} more"
            message = (
                f"lines {export.line}-{last} export {names}{more} away from their "
                "definitions; each EXPORT_SYMBOL should immediately follow its function or "
                f"variable ({_CHECKPATCH})"
            )
            hint = (
                "move each export to the line after its definition "
                f"({export.name}: after line {decl.end})"
            )
        yield rule.finding(
            item.path,
            export.line,
            message,
            hint=hint,
            severity=Severity.INFO if item.file_keeps_a_list else None,
        )


@rule(
    "EX004",
    "export-in-header",
    Severity.ERROR,
    "EXPORT_SYMBOL in a header exports the symbol once per file that includes it.",
)
def export_in_header(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for change, _cfile, export, _old in added_exports(ctx, (".h",)):
        if _fragment_header(ctx, change.path):
            continue
        yield rule.finding(
            change.path,
            export.line,
            f"{export.macro}({export.name}) in a header: every .c file that includes "
            f"{posixpath.basename(change.path)} exports {export.name} again, and modpost "
            f"fails: \"'{export.name}' exported twice\"",
            hint=f"move the export next to the definition of {export.name} in its .c file",
        )


def _fragment_header(ctx: PatchContext, path: str) -> bool:
    """A private header included by at most one .c file of its directory (a .c fragment)."""
    if path.startswith("include/") or "/include/" in path:
        return False
    directory = posixpath.dirname(path)
    include = re.compile(rf'#\s*include\s+"{re.escape(posixpath.basename(path))}"')
    users = 0
    for name in ctx.after.listdir(directory):
        if not name.endswith((".c", ".h")) or name == posixpath.basename(path):
            continue
        text = ctx.after.read(posixpath.join(directory, name)) or ""
        if include.search(text):
            users += 1
    return users <= 1


@rule(
    "EX005",
    "export-duplicate",
    Severity.ERROR,
    "The patch exports a symbol that is already exported; modpost: 'exported twice'.",
)
def export_duplicate(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for dup in duplicate_exports(ctx):
        other = dup.other
        same_file = other.path == dup.path
        where = f"line {other.line}" if same_file else f"{other.path}:{other.line}"
        message = (
            f"{dup.name} is already exported ({other.macro} at {where}); modpost fails: "
            f"\"'{dup.name}' exported twice\""
        )
        if not same_file:
            message += " if both files are built into the same kernel"
        yield rule.finding(
            dup.path,
            dup.line,
            message,
            hint=f"drop one of the two exports of {dup.name}",
            severity=None if same_file else Severity.INFO,
        )


def _module_finding(rule: Rule, item: Missing, tag: str) -> Finding:
    cand = item.candidate
    obj = cand.obj
    macro = f"MODULE_{tag.upper()}()"
    when = "(obj-m)" if item.reason == "obj-m" else f"when {item.reason}=m"
    if len(item.sources.files) == 1:
        lacks = f"{item.sources.files[0]} has no {macro}"
    else:
        lacks = f"none of its parts ({describe_sources(item.sources)}) has {macro}"
    if cand.trigger == "tristate":
        why = f"{cand.symbol} becomes tristate, so {obj} can be built as a module, but {lacks}"
    elif cand.trigger == "removed":
        why = (
            f"the patch removes {macro} from {cand.path}, leaving {obj} (a module "
            f"{when}) without one"
        )
    else:
        why = f"{obj} is a new module {when}, but {lacks}"
    quote = f"missing {macro} in {obj}"
    if tag == "license":
        consequence = f'modpost fails: "ERROR: modpost: {quote}"'
    else:
        consequence = f'modpost warns with W=1: "WARNING: modpost: {quote}"'
    example = '"GPL"' if tag == "license" else '"<what the module does>"'
    return rule.finding(
        cand.path,
        cand.line,
        f"{why}; {consequence}",
        hint=f"add MODULE_{tag.upper()}({example}) to {item.sources.files[0]}"
        + (" (matching its SPDX-License-Identifier)" if tag == "license" else ""),
    )


@rule(
    "EX006",
    "module-license-missing",
    Severity.ERROR,
    "An object that can now be built as a module has no MODULE_LICENSE().",
)
def module_license(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for item in missing_tags(ctx, "license"):
        yield _module_finding(rule, item, "license")


@rule(
    "EX007",
    "module-description-missing",
    Severity.WARNING,
    "A new module has no MODULE_DESCRIPTION() (modpost W=1 warning).",
)
def module_description(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for item in missing_tags(ctx, "description"):
        finding = _module_finding(rule, item, "description")
        if item.candidate.trigger == "tristate":
            if not has_tag(ctx.after, item.sources.files, "license"):
                continue  # EX006 already reports this module
            finding = replace(finding, severity=Severity.INFO)
        yield finding


RULES: tuple[Rule, ...] = (
    export_static,
    export_init,
    export_not_adjacent,
    export_in_header,
    export_duplicate,
    module_license,
    module_description,
)
