"""Read the text the Kconfig rules look at: post-images, C without comments, Kconfig lines (pure).

A patched file is seen whole when the patch applied to it; otherwise only through its
hunks (context and added lines), each hunk a separate segment whose surroundings are
unknown. Kconfig text is split into statements (help text skipped) and entries (one
`config`/`menuconfig`/`choice` with its attributes), close to what scripts/kconfig's
lexer and parser see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from reviewbot.analysis.diff import FileChange

Segment = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Image:
    """The post-image lines of one changed file that can be seen, in runs of consecutive lines."""

    segments: tuple[Segment, ...]
    complete: bool
    added: frozenset[int]


def post_image(text: str | None, change: FileChange) -> Image:
    """The whole patched text when it holds the added lines, else the hunks' target side."""
    added = frozenset(line.number for line in change.added)
    if text is not None:
        lines = [line.rstrip("\r") for line in text.split("\n")]
        if all(0 < a.number <= len(lines) and lines[a.number - 1] == a.text for a in change.added):
            return Image((tuple(enumerate(lines, 1)),), True, added)
    segments: list[Segment] = []
    for hunk in change.hunks:
        number = hunk.target_start
        run: list[tuple[int, str]] = []
        for op, value in hunk.lines:
            if op == "-":
                continue
            run.append((number, value))
            number += 1
        if run:
            segments.append(tuple(run))
    return Image(tuple(segments), False, added)


def old_lines(change: FileChange) -> list[str]:
    """Removed and context lines of a change: what the file already said around the patch."""
    return [value for hunk in change.hunks for op, value in hunk.lines if op != "+"]


# --- C and assembler -------------------------------------------------------------------

_C_TOKENS = re.compile(
    r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n])*'?",
    re.DOTALL,
)


def blank_c(text: str, *, strings: bool = True) -> str:
    """C text with comments (and string/char literals) turned to spaces; lines keep their places."""

    def blank(match: re.Match[str]) -> str:
        found = match.group(0)
        if not strings and found[0] in "\"'":
            return found
        return re.sub(r"[^\n]", " ", found)

    return _C_TOKENS.sub(blank, text)


def blank_segment(segment: Segment, *, strings: bool = True) -> dict[int, str]:
    """blank_c over one run of lines, as line number -> blanked text."""
    blanked = blank_c("\n".join(text for _, text in segment), strings=strings).split("\n")
    return {number: blanked[i] for i, (number, _) in enumerate(segment)}


def directives(blanked: dict[int, str]) -> list[tuple[int, tuple[int, ...], str]]:
    """Preprocessor lines with their backslash continuations joined: (line, lines, text)."""
    out: list[tuple[int, tuple[int, ...], str]] = []
    numbers = sorted(blanked)
    i = 0
    while i < len(numbers):
        number = numbers[i]
        text = blanked[number]
        i += 1
        if not text.lstrip().startswith("#"):
            continue
        parts = [text]
        lines = [number]
        while (
            parts[-1].rstrip().endswith("\\") and i < len(numbers) and numbers[i] == lines[-1] + 1
        ):
            parts[-1] = parts[-1].rstrip()[:-1]
            parts.append(blanked[numbers[i]])
            lines.append(numbers[i])
            i += 1
        out.append((number, tuple(lines), " ".join(p.strip() for p in parts)))
    return out


# --- Kconfig ----------------------------------------------------------------------------

ENTRY_END = frozenset(
    {
        "config",
        "menuconfig",
        "choice",
        "endchoice",
        "menu",
        "endmenu",
        "if",
        "endif",
        "source",
        "rsource",
        "osource",
        "orsource",
        "comment",
        "mainmenu",
    }
)
TYPES = {
    "bool": "bool",
    "boolean": "bool",
    "tristate": "tristate",
    "string": "string",
    "int": "int",
    "hex": "hex",
}
_MACRO_OR_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"?|'(?:\\.|[^'\\])*'?")
_IF = re.compile(r"(?<![A-Za-z0-9_])if(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class KLine:
    """One Kconfig statement (continuations joined, comment dropped), outside help text."""

    line: int
    lines: tuple[int, ...]
    keyword: str
    args: str


def strip_macros(text: str) -> str:
    """Drop quoted strings and $(...) macro calls (nested) from a Kconfig argument list."""
    text = _MACRO_OR_STRING.sub(" ", text)
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        if text.startswith("$(", i):
            depth += 1
            i += 2
            continue
        char = text[i]
        if depth and char == "(":
            depth += 1
        elif depth and char == ")":
            depth -= 1
        elif not depth:
            out.append(char)
        i += 1
    return "".join(out)


def split_if(args: str) -> tuple[str, str]:
    """'y if FOO' -> ('y', 'FOO'); the condition is '' when there is none."""
    masked = _MACRO_OR_STRING.sub(lambda m: "x" * len(m.group(0)), args)
    match = _IF.search(masked)
    if not match:
        return args.strip(), ""
    return args[: match.start()].strip(), args[match.end() :].strip()


def _strip_comment(line: str) -> str:
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def kconfig_lines(segment: Segment, complete: bool = True) -> list[KLine]:
    """The statements of a run of Kconfig lines; help text is skipped.

    When the run is only a hunk (complete=False), it may start inside help text: deeply
    indented lines before the first shallow one are taken as help.
    """
    out: list[KLine] = []
    in_help, help_indent, unsure = False, -1, not complete
    pending: list[tuple[int, str]] = []
    for number, raw in segment:
        line = raw.expandtabs(8)
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_help and not pending:
            if not stripped:
                continue
            if help_indent < 0:
                help_indent = indent
            if indent >= help_indent > 0:
                continue
            in_help = False
        if unsure and not pending:
            if not stripped or indent > 8:
                continue
            unsure = False
        code = _strip_comment(stripped).rstrip()
        if code.endswith("\\"):
            pending.append((number, code[:-1]))
            continue
        pending.append((number, code))
        joined = " ".join(part.strip() for _, part in pending).strip()
        lines = tuple(n for n, _ in pending)
        pending = []
        if not joined:
            continue
        keyword, _, args = joined.partition(" ")
        out.append(KLine(lines[0], lines, keyword, args.strip()))
        if keyword in ("help", "---help---"):
            in_help, help_indent = True, -1
    return out


@dataclass(frozen=True)
class KDefault:
    line: int
    keyword: str  # default, def_bool or def_tristate
    value: str
    condition: str


@dataclass(frozen=True)
class KEntry:
    """A config, menuconfig or choice block and the attributes written in it."""

    kind: str
    name: str
    line: int
    type: str
    prompts: tuple[tuple[int, str], ...]  # (line, condition)
    defaults: tuple[KDefault, ...]
    depends: tuple[str, ...]  # its `depends on` expressions and enclosing `if` conditions
    help_line: int | None
    in_choice: bool
    closed: bool  # its end is in view, so nothing after it is missing


@dataclass
class _Builder:
    kind: str
    name: str
    line: int
    in_choice: bool
    depends: list[str]
    type: str = ""
    prompts: list[tuple[int, str]] = field(default_factory=list)
    defaults: list[KDefault] = field(default_factory=list)
    help_line: int | None = None

    def add(self, stmt: KLine) -> None:
        keyword, args = stmt.keyword, stmt.args
        if keyword in TYPES:
            self.type = TYPES[keyword]
        if keyword == "prompt" or (keyword in TYPES and args[:1] in ('"', "'")):
            self.prompts.append((stmt.line, split_if(args)[1]))
        if keyword in ("default", "def_bool", "def_tristate"):
            if keyword != "default":
                self.type = "bool" if keyword == "def_bool" else "tristate"
            value, condition = split_if(args)
            self.defaults.append(KDefault(stmt.line, keyword, value, condition))
        if keyword == "depends" and args.startswith("on"):
            self.depends.append(args[2:].strip())
        if keyword in ("help", "---help---"):
            self.help_line = stmt.line

    def build(self, closed: bool) -> KEntry:
        return KEntry(
            self.kind,
            self.name,
            self.line,
            self.type,
            tuple(self.prompts),
            tuple(self.defaults),
            tuple(self.depends),
            self.help_line,
            self.in_choice,
            closed,
        )


def kconfig_entries(statements: Sequence[KLine], complete: bool = True) -> list[KEntry]:
    """Group statements into entries; attributes before the first entry are dropped."""
    out: list[KEntry] = []
    current: _Builder | None = None
    depth = 0
    conditions: list[str] = []
    for stmt in statements:
        keyword = stmt.keyword
        if keyword not in ENTRY_END:
            if current is not None:
                current.add(stmt)
            continue
        if current is not None:
            out.append(current.build(True))
            current = None
        if keyword == "if":
            conditions.append(stmt.args)
        elif keyword == "endif" and conditions:
            conditions.pop()
        elif keyword == "endchoice":
            depth = max(depth - 1, 0)
        elif keyword in ("config", "menuconfig", "choice"):
            name = stmt.args.split(" ")[0] if stmt.args else ""
            current = _Builder(keyword, name, stmt.line, depth > 0, list(conditions))
            depth += keyword == "choice"
    if current is not None:
        out.append(current.build(complete))
    return out


# Statements whose arguments are expressions over symbols (strings and macros dropped).
EXPR_KEYWORDS = frozenset(
    {
        "depends",
        "select",
        "imply",
        "default",
        "def_bool",
        "def_tristate",
        "bool",
        "boolean",
        "tristate",
        "string",
        "int",
        "hex",
        "prompt",
        "visible",
        "range",
        "if",
    }
)
_WORD = re.compile(r"[A-Za-z0-9_]+")
_NUMBER = re.compile(r"-?\d+|0[xX][0-9a-fA-F]+")
_HEX_VALUE = re.compile(r"[0-9A-Fa-f]+")


def kconfig_symbols(stmt: KLine) -> list[str]:
    """Symbols an expression statement names; [] for prose that only looks like one."""
    if stmt.keyword not in EXPR_KEYWORDS:
        return []
    args = strip_macros(stmt.args)
    if stmt.keyword == "depends":
        args = re.sub(r"^\s*on\b", " ", args)
    elif stmt.keyword == "visible":
        args = re.sub(r"^\s*if\b", " ", args)
    out: list[str] = []
    for word in _WORD.findall(args):
        if word in ("y", "m", "n", "if") or _NUMBER.fullmatch(word):
            continue
        if word.islower() and word.isalpha():
            return []  # lower-case words are prose (help text seen out of context)
        if stmt.keyword in ("default", "range") and _HEX_VALUE.fullmatch(word):
            continue
        if re.search(r"[A-Z0-9]", word):
            out.append(word)
    return out
