"""Parse build output into Diagnostics and find what the patched build adds (pure).

Understands gcc/clang (`file:line:col: warning|error: text [-Wflag]`), objtool,
`ERROR:/WARNING: modpost: ...`, make's `No rule to make target` and its other `***`
errors, and ld errors. Paths are made relative to the source tree (the sandbox mounts it
at a fixed place; `roots` are stripped). A patched diagnostic is new when no base
diagnostic has the same file, line and text, where the line of a file the patch changed is
first mapped back to the base through the diff's hunks (a warning that only moved is not
new; one on an added line always is). Never compared by count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from reviewbot.analysis.diff import FileChange
from reviewbot.build.model import DiagKind, Diagnostic, StepResult
from reviewbot.quoting import inside_tree

_CC = re.compile(
    r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)?\s+"
    r"(?P<kind>warning|error|fatal error):\s+(?P<text>.*)$"
)
_OBJTOOL = re.compile(
    r"^(?P<path>[^\s:]+\.o):\s+(?P<kind>warning|error):\s+objtool:\s+(?P<text>.*)$"
)
_MODPOST = re.compile(r"^(?P<kind>ERROR|WARNING): modpost: (?P<text>.*)$")
_MAKE_NO_RULE = re.compile(
    r"^(?:g?make(?:\[\d+\])?: )?\*\*\* (?P<text>No rule to make target .*?)\.?\s*(?:Stop\.)?$"
)
_MAKE_ERROR = re.compile(r"^g?make(?:\[\d+\])?: \*\*\* (?P<text>.*)$")
_LD_UNDEF = re.compile(r"^(?P<path>[^\s:]+):\(\.[^)]*\): (?P<text>undefined reference to .*)$")
_LD = re.compile(r"^(?:\S*/)?(?:\S+-)?ld(?:\.\w+)?: (?P<text>.*)$")
_MODPOST_CONT = re.compile(r"^Is \"\w+\" prototyped in <asm/asm-prototypes\.h>\?$")
_OFFSET = re.compile(r"\+0x[0-9a-f]+")
_UNIT = re.compile(
    r"^(?:(?:In file included from |\s+from )(?P<path>[^\s:]+\.[cS]):\d+[:,]"
    r"|(?P<where>[^\s:]+\.[cS]): In function )"
)


def _relative(path: str, roots: Sequence[str]) -> str:
    for root in roots:
        root = root.rstrip("/") + "/"
        if path.startswith(root):
            path = path[len(root) :]
            break
    while path.startswith("./"):
        path = path[2:]
    return path


def _clean(text: str, roots: Sequence[str]) -> str:
    for root in roots:
        text = text.replace(root.rstrip("/") + "/", "")
    return text.strip()


def parse_output(output: str, roots: Sequence[str] = ()) -> list[Diagnostic]:
    """Every diagnostic in output, in order, duplicates removed; a compiler diagnostic in
    a header names the source whose compilation printed it (gcc's `x.c: In function`
    and `In file included from x.c` lines before it)."""
    out: list[Diagnostic] = []
    seen: set[tuple[str, int | None, str, str]] = set()
    unit = ""
    for raw in output.splitlines():
        context = _UNIT.match(raw)
        if context:
            unit = _relative(context["path"] or context["where"], roots)
            continue
        found = _parse_line(raw.rstrip(), roots)
        if found is None or (found.path and not inside_tree(found.path)):
            continue  # a location outside the tree and output dir: never quoted
        if found.tool == "cc" and unit and found.path.endswith(".h") and inside_tree(unit):
            found = replace(found, unit=unit)
        if found.key() not in seen:
            seen.add(found.key())
            out.append(found)
    return out


def _kind(word: str) -> DiagKind:
    return DiagKind.WARNING if word.lower() == "warning" else DiagKind.ERROR


def _parse_line(line: str, roots: Sequence[str]) -> Diagnostic | None:
    match = _OBJTOOL.match(line)
    if match:
        text = _OFFSET.sub("", _clean(match["text"], roots))
        return Diagnostic(
            _kind(match["kind"]), _relative(match["path"], roots), None, text, "objtool"
        )
    match = _CC.match(line)
    if match and not match["path"].endswith((".o", ".ko")):
        kind = _kind(match["kind"].split()[-1])
        return Diagnostic(
            kind, _relative(match["path"], roots), int(match["line"]), _clean(match["text"], roots)
        )
    match = _MODPOST.match(line)
    if match:
        return Diagnostic(_kind(match["kind"]), "", None, _clean(match["text"], roots), "modpost")
    match = _MAKE_NO_RULE.match(line)
    if match:
        return Diagnostic(DiagKind.ERROR, "", None, _clean(match["text"], roots), "make")
    match = _LD_UNDEF.match(line)
    if match:
        return Diagnostic(
            DiagKind.ERROR,
            _relative(match["path"], roots),
            None,
            _clean(match["text"], roots),
            "ld",
        )
    match = _LD.match(line)
    if match:
        text = _OFFSET.sub("", _clean(match["text"], roots))
        kind = DiagKind.WARNING if text.startswith("warning: ") else DiagKind.ERROR
        return Diagnostic(kind, "", None, text.removeprefix("warning: "), "ld")
    return None


def make_errors(output: str, roots: Sequence[str] = ()) -> list[str]:
    """make's own `*** ...` lines (consequences of other errors; used when nothing parsed)."""
    return [_clean(m["text"], roots) for m in map(_MAKE_ERROR.match, output.splitlines()) if m]


def map_line(change: FileChange, line: int) -> int | None:
    """The base line of a patched line of change's file; None for an added line."""
    offset = 0
    for hunk in change.hunks:
        if line < hunk.target_start:
            break
        if line >= hunk.target_start + hunk.target_length:
            offset = (hunk.source_start + hunk.source_length) - (
                hunk.target_start + hunk.target_length
            )
            continue
        source, target = hunk.source_start, hunk.target_start
        for op, _text in hunk.lines:
            if op == "-":
                source += 1
                continue
            if target == line:
                return None if op == "+" else source
            target += 1
            if op == " ":
                source += 1
        return None
    return line + offset


def _base_key(
    diag: Diagnostic, changes: Mapping[str, FileChange]
) -> tuple[str, int | None, str, str] | None:
    """diag's key as the base build would print it; None when it sits on an added line."""
    change = changes.get(diag.path)
    if change is None or diag.line is None:
        return diag.key()
    if change.old_path is None and change.kind.value == "added":
        return None
    mapped = map_line(change, diag.line)
    if mapped is None:
        return None
    return (change.old_path or diag.path, mapped, diag.tool, diag.text)


def new_diagnostics(
    base: Iterable[Diagnostic], patched: Iterable[Diagnostic], changes: Iterable[FileChange]
) -> list[Diagnostic]:
    """Patched diagnostics the base does not have (by file, mapped line and text)."""
    by_path = {c.path: c for c in changes}
    known = {d.key() for d in base}
    return [d for d in patched if _base_key(d, by_path) not in known]


def step_failure(base: StepResult, patched: StepResult) -> Diagnostic | None:
    """A diagnostic for a patched step that failed (or was killed) where the base passed."""
    if patched.ok or not base.ok:
        return None
    command = patched.commands[-1] if patched.commands else "make"
    if patched.disk_full:
        text = (
            f"`{command}` ran out of disk: the build wrote more than the sandbox allows "
            "(limits.disk_bytes in all, limits.file_bytes per file, limits.tmp_bytes in /tmp)"
        )
        return Diagnostic(DiagKind.ERROR, "", None, text, "sandbox")
    if patched.timed_out:
        text = f"`{command}` was stopped by the wall-clock limit ({patched.seconds:.0f} s)"
        return Diagnostic(DiagKind.ERROR, "", None, text, "sandbox")
    if patched.status < 0:
        text = f"`{command}` was killed by signal {-patched.status} (CPU, memory or process limit)"
        return Diagnostic(DiagKind.ERROR, "", None, text, "sandbox")
    text = f"`{command}` failed (exit status {patched.status})"
    if patched.tail:
        text += ": " + patched.tail.strip().splitlines()[-1][:300]
    return Diagnostic(DiagKind.ERROR, "", None, text, "make")
