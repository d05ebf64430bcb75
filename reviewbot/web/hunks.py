"""The hunk a finding points at, the witness configuration it names, reproduce commands (pure)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from reviewbot.analysis.diff import FileChange, Hunk

CONTEXT = 6  # lines shown either side of the finding's line
MAX_LINES = 40  # lines shown of a hunk when the finding has no line


@dataclass(frozen=True)
class HunkLine:
    op: str  # " ", "-", "+"
    old: int | None
    new: int | None
    text: str
    mark: bool  # the finding's own line


@dataclass(frozen=True)
class Excerpt:
    """Part of one hunk of a patch, around the line a finding names."""

    path: str
    header: str
    lines: tuple[HunkLine, ...]


@dataclass(frozen=True)
class Witness:
    """A configuration that shows the problem: symbol assignments, and the arch if named."""

    assignments: tuple[tuple[str, str], ...]
    arch: str | None

    def config_lines(self) -> tuple[str, ...]:
        return tuple(
            f"# CONFIG_{name} is not set" if value == "n" else f"CONFIG_{name}={value}"
            for name, value in self.assignments
        )


def _rows(hunk: Hunk, line: int | None) -> list[HunkLine]:
    rows: list[HunkLine] = []
    old, new = hunk.source_start, hunk.target_start
    for op, text in hunk.lines:
        mark = line is not None and op != "-" and new == line
        rows.append(
            HunkLine(op, None if op == "+" else old, None if op == "-" else new, text, mark)
        )
        old += op != "+"
        new += op != "-"
    return rows


def _header(hunk: Hunk) -> str:
    return (
        f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    )


def excerpt(changes: Sequence[FileChange], path: str, line: int | None) -> Excerpt | None:
    """The lines of the hunk of `path` that holds post-image `line`, else its first hunk."""
    change = next((c for c in changes if path in (c.path, c.old_path)), None)
    if change is None or not change.hunks:
        return None
    for hunk in change.hunks:
        rows = _rows(hunk, line)
        marked = [i for i, row in enumerate(rows) if row.mark]
        if marked:
            start, end = max(0, marked[0] - CONTEXT), marked[-1] + CONTEXT + 1
            return Excerpt(change.path, _header(hunk), tuple(rows[start:end]))
    first = change.hunks[0]
    return Excerpt(change.path, _header(first), tuple(_rows(first, None)[:MAX_LINES]))


_ASSIGNMENTS = re.compile(
    r"\(((?:[A-Z0-9_]+=(?:[ymn]|\d+|0x[0-9a-fA-F]+|\"[^\"]*\")\s*)+)(?:,\s*([a-z0-9_]+))?\)"
)


def witness(message: str, evidence: Sequence[str]) -> Witness | None:
    """The first `(A=y B=m ..., arch)` group of a finding's text, or CONFIG_ lines of its
    evidence."""
    for text in (message, *evidence):
        found = _ASSIGNMENTS.search(text)
        if found:
            pairs = tuple(
                (name, value)
                for name, _, value in (item.partition("=") for item in found.group(1).split())
            )
            return Witness(pairs, found.group(2))
    lines = [
        line.strip()
        for text in evidence
        for line in text.splitlines()
        if re.fullmatch(r"CONFIG_[A-Z0-9_]+=\S+", line.strip())
    ]
    if lines:
        pairs = tuple(
            (name.removeprefix("CONFIG_"), value)
            for name, _, value in (line.partition("=") for line in lines)
        )
        return Witness(pairs, None)
    return None


def reproduce_series(
    mbox_url: str, list_id: str, base_commit: str | None, base_ref: str
) -> tuple[str, ...]:
    """Shell commands that review the same series again with reviewbot."""
    check = "reviewbot check -"
    if list_id:
        check = f"reviewbot check --list {shlex.quote(list_id)} -"
    commands = []
    if base_commit:
        commands.append(f"git checkout {shlex.quote(base_commit)}")
        check = check[: -len(" -")] + " --tree . -"
    elif base_ref:
        commands.append(f"git checkout {shlex.quote(base_ref)}")
        check = check[: -len(" -")] + " --tree . -"
    commands.append(f"curl -sSf {shlex.quote(mbox_url)} | {check}")
    return tuple(commands)


_MAKE_ARCH = {"powerpc64le": "powerpc", "riscv64": "riscv", "s390x": "s390", "sparc64": "sparc"}


def reproduce_witness(found: Witness, default_arch: str = "x86_64") -> tuple[str, ...]:
    """Commands that build the witness configuration with the kernel's own Kconfig."""
    arch = found.arch or default_arch
    base = arch.removesuffix("-clang")
    make_arch = _MAKE_ARCH.get(base, base)
    body = "\\n".join(found.config_lines())
    return (
        f"printf '{body}\\n' > witness.config",
        f"make ARCH={shlex.quote(make_arch)} KCONFIG_ALLCONFIG=witness.config allnoconfig",
        "grep -E '^CONFIG_(" + "|".join(n for n, _ in found.assignments) + ")=' .config",
    )
