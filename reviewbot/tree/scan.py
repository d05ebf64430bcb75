"""Extract index facts from one file's text: Kconfig symbols, Makefile objects, exports (pure).

These scanners are deliberately textual (like scripts/checkkconfigsymbols.py): they see every
arch's files at once, which a per-arch Kconfig evaluation cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONFIG = re.compile(r"^\s*(menuconfig|config)\s+([A-Za-z0-9_]+)\s*(?:#.*)?$")
_TYPE = re.compile(r"^\s*(bool|boolean|tristate|string|int|hex|def_bool|def_tristate)\b\s*(.*)$")
_PROMPT = re.compile(r"^\s*prompt\b\s*(\S.*)$")
_SELECT = re.compile(r"^\s*(select|imply)\s+([A-Za-z0-9_]+)")
_HELP = re.compile(r"^\s*(help|---help---)\s*$")
_ENTRY_END = re.compile(
    r"^\s*(menuconfig|config|choice|endchoice|menu|endmenu|if|endif|source|rsource|osource|"
    r"orsource|comment|mainmenu)\b"
)
_EXPORT = re.compile(
    r"^[ \t]*(EXPORT_SYMBOL(?:_GPL|_NS|_NS_GPL|_GPL_FOR_MODULES|_FOR_MODULES)?|"
    r"EXPORT_DATA_SYMBOL(?:_GPL)?|EXPORT_TRACEPOINT_SYMBOL(?:_GPL)?)\s*\(\s*([A-Za-z_]\w*)",
    re.MULTILINE,
)
_ASSIGN = re.compile(
    r"^\s*(?P<prefix>[A-Za-z0-9_.\-]+?)-(?P<suffix>y|m|objs|\$\(CONFIG_[A-Za-z0-9_]+\))\s*"
    r"(?::=|\+=|=|\?=)\s*(?P<value>.*)$"
)
_CONFIG_VAR = re.compile(r"^\$\(CONFIG_([A-Za-z0-9_]+)\)$")

KCONFIG_TYPES = {"bool", "tristate", "string", "int", "hex"}


@dataclass(frozen=True)
class SymbolDef:
    """One `config X` entry: where, its type, whether it has a prompt and help."""

    name: str
    path: str
    line: int
    type: str
    prompt: bool
    help: bool
    in_choice: bool
    selects: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ExportDef:
    name: str
    path: str
    line: int
    macro: str


@dataclass(frozen=True)
class ObjRef:
    """One word of a kbuild list: `obj-$(CONFIG_FOO) += bar.o` in drivers/x/Makefile."""

    makefile: str
    line: int
    prefix: str  # obj, lib, or a composite module's name
    config: str | None  # symbol name; None for -y/-m/-objs
    suffix: str  # y, m, objs or config
    target: str  # as written: bar.o, sub/


def scan_kconfig(text: str, path: str) -> list[SymbolDef]:
    """Every config/menuconfig entry in a Kconfig file, with type, prompt, help, selects."""
    out: list[SymbolDef] = []
    lines = text.split("\n")
    choice_depth = 0
    current: dict[str, object] | None = None
    selects: list[tuple[str, int]] = []

    def close() -> None:
        nonlocal current, selects
        if current is not None:
            out.append(SymbolDef(selects=tuple(selects), **current))  # type: ignore[arg-type]
        current = None
        selects = []

    in_help = False
    help_indent = 0
    for number, raw in enumerate(lines, 1):
        line = raw.expandtabs(8)
        if in_help:
            stripped = line.strip()
            if not stripped:
                continue
            indent = len(line) - len(line.lstrip())
            if help_indent == 0:
                help_indent = indent
            if indent >= help_indent > 0:
                continue
            in_help = False
        match = _CONFIG.match(line)
        if match:
            close()
            current = {
                "name": match.group(2),
                "path": path,
                "line": number,
                "type": "",
                "prompt": False,
                "help": False,
                "in_choice": choice_depth > 0,
            }
            continue
        keyword = line.strip().split(" ", 1)[0]
        if keyword == "choice":
            close()
            choice_depth += 1
            continue
        if keyword == "endchoice":
            close()
            choice_depth = max(choice_depth - 1, 0)
            continue
        if _ENTRY_END.match(line):
            close()
            continue
        if current is None:
            if _HELP.match(line):
                in_help, help_indent = True, 0
            continue
        typed = _TYPE.match(line)
        if typed:
            kind = typed.group(1)
            kind = {"boolean": "bool", "def_bool": "bool", "def_tristate": "tristate"}.get(
                kind, kind
            )
            current["type"] = kind
            if typed.group(1) not in ("def_bool", "def_tristate") and typed.group(2).startswith(
                ('"', "'")
            ):
                current["prompt"] = True
            continue
        if _PROMPT.match(line):
            current["prompt"] = True
            continue
        selected = _SELECT.match(line)
        if selected and selected.group(1) == "select":
            selects.append((selected.group(2), number))
            continue
        if _HELP.match(line):
            current["help"] = True
            in_help, help_indent = True, 0
    close()
    return out


def scan_exports(text: str, path: str) -> list[ExportDef]:
    """Every EXPORT_SYMBOL*-style line at the start of a line."""
    out: list[ExportDef] = []
    if "EXPORT_" not in text:
        return out
    for match in _EXPORT.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        out.append(ExportDef(match.group(2), path, line, match.group(1)))
    return out


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Makefile lines with backslash continuations joined, comments dropped: (first line, text)."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        if not buffer:
            if not raw.endswith("\\"):
                out.append((number, _strip_comment(raw)))
                continue
            start = number
        if raw.endswith("\\"):
            buffer.append(raw[:-1])
            continue
        buffer.append(raw)
        joined = " ".join(part.strip() if i else part for i, part in enumerate(buffer))
        buffer = []
        out.append((start, _strip_comment(joined)))
    if buffer:
        out.append((start, _strip_comment(" ".join(buffer))))
    return out


_COMMENT = re.compile(r"(?<!\\)#")


def _strip_comment(line: str) -> str:
    """Drop a make comment: from the first '#' not escaped by a backslash."""
    if "#" not in line:
        return line
    found = _COMMENT.search(line)
    return line[: found.start()] if found else line


def scan_makefile(text: str, path: str) -> list[ObjRef]:
    """Every object or directory word in obj-/lib-/<module>- assignments of a kbuild file."""
    out: list[ObjRef] = []
    for number, line in logical_lines(text):
        if line.startswith("\t"):
            continue
        match = _ASSIGN.match(line)
        if not match:
            continue
        suffix = match.group("suffix")
        config_match = _CONFIG_VAR.match(suffix)
        config = config_match.group(1) if config_match else None
        for word in match.group("value").split():
            if "$" in word or "%" in word:
                continue
            if word.endswith((".o", "/")):
                out.append(
                    ObjRef(
                        path,
                        number,
                        match.group("prefix"),
                        config,
                        "config" if config else suffix,
                        word,
                    )
                )
    return out
