"""Added exports that do not sit right after their definitions, grouped by run (pure).

An export list the patch adds in one block (eight EXPORT lines at the end of a new
file) is one finding, not eight. An export line the patch only rewrites (renamed
symbol, EXPORT_SYMBOL to EXPORT_SYMBOL_GPL) keeps the placement it already had, and a
file that already keeps two or more exports away from their definitions gets info only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reviewbot.rules.base import PatchContext
from reviewbot.rules.exports_ctext import EXPORT_LINE, CDecl, CFile, ExportUse
from reviewbot.rules.exports_patch import added_exports, replaced_export


@dataclass(frozen=True)
class Misplaced:
    """A run of consecutive added exports, each away from its definition."""

    path: str
    exports: tuple[tuple[ExportUse, CDecl], ...]
    file_keeps_a_list: bool

    @property
    def line(self) -> int:
        return self.exports[0][0].line


def misplaced_exports(ctx: PatchContext) -> Iterator[Misplaced]:
    runs: dict[str, list[list[tuple[ExportUse, CDecl]]]] = {}
    keeps_list: dict[str, bool] = {}
    for change, cfile, export, old_file in added_exports(ctx, (".c",)):
        decl = _misplaced(cfile, export)
        replaced = replaced_export(change, old_file, export.line)
        if decl is None or _was_apart(old_file, export, replaced):
            continue
        if change.path not in keeps_list:
            keeps_list[change.path] = _keeps_list(old_file)
        file_runs = runs.setdefault(change.path, [])
        if file_runs and file_runs[-1][-1][0].line == export.line - 1:
            file_runs[-1].append((export, decl))
        else:
            file_runs.append([(export, decl)])
    for path, file_runs in runs.items():
        for run in file_runs:
            yield Misplaced(path, tuple(run), keeps_list[path])


def _misplaced(cfile: CFile, export: ExportUse) -> CDecl | None:
    where, decl = placement(cfile, export)
    if where != "apart" or decl is None:
        return None
    for other in cfile.exports():
        same = other.name == export.name and other.line != export.line
        if same and placement(cfile, other)[0] == "adjacent":
            return None  # a second export of the name: EX005's business
    return decl


def _was_apart(old_file: CFile | None, export: ExportUse, replaced: ExportUse | None) -> bool:
    """Whether the old file already had this export (or the one it rewrites) apart."""
    if old_file is None:
        return False
    olds = [e for e in old_file.exports() if e.name == export.name]
    if replaced is not None:
        olds.append(replaced)
    return any(placement(old_file, e)[0] == "apart" for e in olds)


def _keeps_list(old_file: CFile | None) -> bool:
    if old_file is None:
        return False
    apart = sum(
        placement(old_file, e)[0] == "apart"
        for e in old_file.exports()
        if not e.macro.startswith("EXPORT_TRACEPOINT")
    )
    return apart >= 2


def definitions_for(cfile: CFile, export: ExportUse) -> list[CDecl]:
    """File-scope definitions of an export's symbol that can be compiled with the export."""
    return [
        d
        for d in cfile.declarations(export.name)
        if d.is_definition and d.column0 and not cfile.exclusive(d.line, export.line)
    ]


def placement(cfile: CFile, export: ExportUse) -> tuple[str, CDecl | None]:
    """Where an export sits relative to its definition: adjacent, apart, or elsewhere.

    Like checkpatch, comment lines and directives (`#endif`) may sit between the end of
    the definition and the export, and so may other EXPORT lines (an export list right
    after the last function); a blank line just before the export may not.
    """
    defs = definitions_for(cfile, export)
    if not defs:
        return "elsewhere", None
    before = [d for d in defs if d.end < export.line]
    if not before:
        return "apart", defs[0]
    last = before[-1]
    raw = cfile.raw_lines
    code = cfile.code_lines
    if export.line >= 2 and not raw[export.line - 2].strip():
        return "apart", last
    for number in range(last.end + 1, export.line):
        if not raw[number - 1].strip() or cfile.in_directive(number):
            continue
        line = code[number - 1]
        if line.strip() and not EXPORT_LINE.match(line):
            return "apart", last
    return "adjacent", last
