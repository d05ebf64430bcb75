"""Read what the kernel's conf prints and writes, and compare two runs (pure).

conf's stderr carries three kinds of message (Linux 6.12, scripts/kconfig):
- `file:line: text` from the lexer, parser and preprocessor (`syntax error`,
  `unknown statement "boolean"`, `can't open file`, `$(error-if)`), and
  `file:line:warning: text` from menu.c / lexer.l / parser.y;
- the unmet-dependency block of symbol.c (`WARNING: unmet direct dependencies detected
  for X`, `  Depends on [n]: ...`, `  Selected by [y]:`, `  - ...`);
- the recursive-dependency block of symbol.c (`error: recursive dependency detected!`,
  tab-indented `symbol A depends on B` lines, then a pointer to the documentation).
Anything else (a `$(shell,...)` command's own stderr, `can't find file`) is kept as a
diagnostic without a location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class ConfSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class ConfDiagnostic:
    """One message of conf; path is relative to the tree, None when conf gave none."""

    severity: ConfSeverity
    path: str | None
    line: int | None
    text: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path is not None else ""
        return f"{where}{self.severity}: {self.text}"


@dataclass(frozen=True)
class UnmetDependency:
    """symbol.c's `WARNING: unmet direct dependencies detected for <symbol>` block."""

    symbol: str
    depends_value: str  # 'n' or 'm': the value of the symbol's direct dependencies
    depends_on: str  # as conf prints it, e.g. "VFIO [=n]"
    selected_by: tuple[str, ...] = ()  # "Selected by [y]" lines, without the "- "
    selected_by_m: tuple[str, ...] = ()  # "Selected by [m]" lines

    @property
    def text(self) -> str:
        """The block as conf printed it."""
        lines = [
            f"WARNING: unmet direct dependencies detected for {self.symbol}",
            f"  Depends on [{self.depends_value}]: {self.depends_on}",
        ]
        for header, items in (("y", self.selected_by), ("m", self.selected_by_m)):
            if items:
                lines.append(f"  Selected by [{header}]:")
                lines += [f"  - {item}" for item in items]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RecursiveDependency:
    """symbol.c's `error: recursive dependency detected!` block."""

    chain: tuple[str, ...]  # e.g. "symbol VFIO depends on IOMMUFD_DRIVER"
    symbols: tuple[str, ...]  # the symbols of the loop, in conf's order

    @property
    def text(self) -> str:
        """The block as conf printed it (without the pointer to the documentation)."""
        return "\n".join(["error: recursive dependency detected!", *(f"\t{c}" for c in self.chain)])

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ConfMessages:
    """Everything recognised on one conf run's stderr."""

    diagnostics: tuple[ConfDiagnostic, ...] = ()
    unmet: tuple[UnmetDependency, ...] = ()
    recursions: tuple[RecursiveDependency, ...] = ()


_LOCATED = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):\s*(?P<text>.*)$")
_SEVERITY = re.compile(r"^(?P<sev>warning|error)\s*:\s*(?P<text>.*)$", re.IGNORECASE)
_RECURSION = re.compile(r"^(?:[^\s:][^:]*:\d+:)?\s*error: recursive dependency detected!")
_UNMET = re.compile(r"^WARNING: unmet direct dependencies detected for (\S+)")
_DEPENDS = re.compile(r"^\s+Depends on \[(\w)\]: (.*)$")
_SELECTED = re.compile(r"^\s+Selected by \[(\w)\]:$")
_ITEM = re.compile(r"^\s+- (.*)$")
_LOOP_SYMBOL = re.compile(r"^\s*symbol (\S+)")
_RESOLUTION = ("For a resolution refer to", 'subsection "Kconfig recursive dependency')


def _relative(path: str, roots: Iterable[str]) -> str:
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _diagnostic(line: str, failed: bool, roots: tuple[str, ...]) -> ConfDiagnostic:
    default = ConfSeverity.ERROR if failed else ConfSeverity.WARNING
    path: str | None = None
    lineno: int | None = None
    text = line.strip()
    located = _LOCATED.match(line)
    if located:
        path = _relative(located["path"], roots)
        lineno = int(located["line"])
        text = located["text"].strip()
    severity = _SEVERITY.match(text)
    if severity:
        return ConfDiagnostic(ConfSeverity(severity["sev"].lower()), path, lineno, severity["text"])
    return ConfDiagnostic(default, path, lineno, text)


def _unmet(symbol: str, lines: list[str], i: int) -> tuple[UnmetDependency, int]:
    depends_value, depends_on = "n", ""
    if i < len(lines) and (dep := _DEPENDS.match(lines[i])):
        depends_value, depends_on = dep[1], dep[2].strip()
        i += 1
    selected: dict[str, list[str]] = {"y": [], "m": []}
    bucket: list[str] | None = None
    while i < len(lines):
        if header := _SELECTED.match(lines[i]):
            bucket = selected.setdefault(header[1], [])
        elif bucket is not None and (item := _ITEM.match(lines[i])):
            bucket.append(item[1].strip())
        else:
            break
        i += 1
    found = UnmetDependency(
        symbol, depends_value, depends_on, tuple(selected["y"]), tuple(selected["m"])
    )
    return found, i


def _recursion(lines: list[str], i: int) -> tuple[RecursiveDependency, int]:
    chain: list[str] = []
    while i < len(lines) and lines[i].startswith(("\t", " ")):
        chain.append(lines[i].strip())
        i += 1
    while i < len(lines) and lines[i].startswith(_RESOLUTION):
        i += 1
    symbols: list[str] = []
    for step in chain:
        if (m := _LOOP_SYMBOL.match(step)) and m[1] not in symbols:
            symbols.append(m[1])
    return RecursiveDependency(tuple(chain), tuple(symbols)), i


def parse_messages(stderr: str, failed: bool, roots: tuple[str, ...] = ()) -> ConfMessages:
    """Sort conf's stderr into diagnostics, unmet dependencies and recursions.

    failed says whether conf exited non-zero: a located message without `warning:` or
    `error:` (parser errors, `$(error-if)`) is an error then, a warning otherwise
    (`$(warning-if)`). roots are absolute tree prefixes to strip from paths.
    """
    lines = stderr.splitlines()
    diagnostics: list[ConfDiagnostic] = []
    unmet: list[UnmetDependency] = []
    recursions: list[RecursiveDependency] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if _RECURSION.match(line):
            loop, i = _recursion(lines, i)
            if loop not in recursions:
                recursions.append(loop)
        elif m := _UNMET.match(line):
            found, i = _unmet(m[1], lines, i)
            if found not in unmet:
                unmet.append(found)
        elif line[0].isspace() and diagnostics:
            last = diagnostics[-1]
            diagnostics[-1] = ConfDiagnostic(
                last.severity, last.path, last.line, f"{last.text}\n{line.rstrip()}"
            )
        else:
            diag = _diagnostic(line, failed, roots)
            if diag not in diagnostics:
                diagnostics.append(diag)
    return ConfMessages(tuple(diagnostics), tuple(unmet), tuple(recursions))


_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_CONFIG_LINE = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")
_NUMBER = re.compile(r"^(-?\d+|0[xX][0-9a-fA-F]+)$")


def symbol_name(name: str) -> str:
    """A symbol name without CONFIG_; ValueError for anything but [A-Za-z0-9_]."""
    bare = name.removeprefix("CONFIG_")
    if not _NAME.match(bare):
        raise ValueError(f"not a Kconfig symbol name: {name!r}")
    return bare


def config_value(value: str) -> str:
    """value as a .config spells it: y/m/n and numbers bare, anything else quoted."""
    if value in ("y", "m", "n") or _NUMBER.match(value):
        return value
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value
    if "\n" in value:
        raise ValueError(f"a .config value cannot span lines: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(assignments: Mapping[str, str]) -> str:
    """A .config with one line per assignment (n written as `# CONFIG_X is not set`)."""
    lines = []
    for name, value in assignments.items():
        bare, spelled = symbol_name(name), config_value(value)
        lines.append(
            f"# CONFIG_{bare} is not set" if spelled == "n" else f"CONFIG_{bare}={spelled}"
        )
    return "".join(line + "\n" for line in lines)


def parse_config(text: str) -> dict[str, str]:
    """Symbol -> value as the .config spells it ('n' for `is not set`)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if m := _CONFIG_LINE.match(line):
            values[m[1]] = m[2]
        elif m := _NOT_SET.match(line):
            values[m[1]] = "n"
    return values


@dataclass(frozen=True)
class ConfDiff:
    """What a patched conf run reports that the base run did not."""

    diagnostics: tuple[ConfDiagnostic, ...] = ()
    unmet: tuple[UnmetDependency, ...] = ()
    recursions: tuple[RecursiveDependency, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.diagnostics or self.unmet or self.recursions)


_VALUE = re.compile(r" \[=[^\]]*\]")


def _unmet_key(item: UnmetDependency) -> tuple[str, str, frozenset[str]]:
    selectors = frozenset(_VALUE.sub("", s) for s in (*item.selected_by, *item.selected_by_m))
    return item.symbol, _VALUE.sub("", item.depends_on), selectors


def diff_messages(base: ConfMessages, patched: ConfMessages) -> ConfDiff:
    """Messages of patched absent from base, matched by file, symbol and text.

    Line numbers are ignored (a patch moves lines), and so are the `[=y]` values conf
    prints inside expressions (the two runs may not start from the same config).
    """
    seen = {(d.severity, d.path, d.text) for d in base.diagnostics}
    unmet_seen = {_unmet_key(u) for u in base.unmet}
    loops_seen = {frozenset(r.symbols) for r in base.recursions}
    return ConfDiff(
        tuple(d for d in patched.diagnostics if (d.severity, d.path, d.text) not in seen),
        tuple(u for u in patched.unmet if _unmet_key(u) not in unmet_seen),
        tuple(r for r in patched.recursions if frozenset(r.symbols) not in loops_seen),
    )
