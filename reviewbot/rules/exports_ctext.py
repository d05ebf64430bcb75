"""Find a symbol's file-scope declarations and definitions in C source text (pure).

Not a C parser: comments, strings and preprocessor directives are blanked (keeping every
offset and line number), `#else`/`#elif` branches and `#if 0` blocks are set aside so
braces balance the way the first branch compiles, and the text is cut into top-level
statements (a function definition ends at its closing brace, anything else at `;`). A
name then counts as declared by a statement when it stands where a declarator stands:
before a `(` parameter list, before `;`/`=`/`[`/`,`/an attribute, as `(*name)`, or as
the first argument of a DEFINE_*/DECLARE_*/LIST_HEAD-style macro. Rules use this to
learn whether an exported symbol is `static`, `__init`, and where its definition ends.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property

_COMMENT_OR_LITERAL = re.compile(
    r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL
)
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(\w*)[ \t]*(.*)$")
_TOKEN = re.compile(r"[{}()\[\];=,]|[A-Za-z_]\w*|[^\s{}()\[\];=,A-Za-z_]+")
# Each attribute is a whole word (\b): `__\w+` cannot split a run of underscores in
# many ways, which made the old pattern backtrack exponentially.
_FUNC_HEAD = re.compile(r"\)\s*(?:(?:__\w+|notrace|noinline)\b(?:\s*\([^()]*\))?\s*)*$")
EXPORT_LINE = re.compile(
    r"^[ \t]*(EXPORT_SYMBOL(?:_GPL|_NS|_NS_GPL|_GPL_FOR_MODULES|_FOR_MODULES)?|"
    r"EXPORT_DATA_SYMBOL(?:_GPL)?|EXPORT_TRACEPOINT_SYMBOL(?:_GPL)?)\s*\(\s*([A-Za-z_]\w*)"
    r"\s*([,)])"
)
_DEFINER = re.compile(r"^(?:DEFINE|DECLARE)_\w+$|^\w*(?:LIST_HEAD|NOTIFIER_HEAD)$")
_TYPE_TAGS = {"struct", "union", "enum"}
_DECL_FOLLOW = frozenset(";=[,:")

INIT_ATTRIBUTES = {
    "__init": "init",
    "__initdata": "init",
    "__initconst": "init",
    "__exit": "exit",
    "__exitdata": "exit",
}


@dataclass(frozen=True)
class CDecl:
    """One file-scope statement that declares or defines a name."""

    name: str
    kind: str  # function, prototype, variable, macro
    line: int  # line of the name
    start: int  # first line of the statement
    end: int  # line of the closing brace or the terminating semicolon
    static: bool
    extern: bool
    attributes: frozenset[str]
    column0: bool  # the statement starts in column 0, as kernel file-scope code does

    @property
    def is_definition(self) -> bool:
        return not self.extern and self.kind != "prototype"


@dataclass(frozen=True)
class ExportUse:
    """An EXPORT_SYMBOL*(name) statement outside comments and macro definitions."""

    name: str
    macro: str
    line: int


@dataclass(frozen=True)
class _Stmt:
    start: int  # offset of the first character
    end: int  # offset after the last character
    body: int  # offset of a function body's '{', or -1


class CFile:
    """One C file's text, prepared for declaration lookups (build with parse_c)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._declared: dict[str, tuple[CDecl, ...]] = {}
        blanked = _COMMENT_OR_LITERAL.sub(_spaces, text)
        lines = blanked.split("\n")
        self._directive_lines: set[int] = set()
        self._branches: list[tuple[_Branch, ...]] = []
        dead = _preprocess(lines, self._directive_lines, self._branches)
        self.code = "\n".join(
            " " * len(line) if number in self._directive_lines else line
            for number, line in enumerate(lines, 1)
        )
        self.live = "\n".join(
            " " * len(line) if number in dead else line
            for number, line in enumerate(self.code.split("\n"), 1)
        )

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    def in_directive(self, line: int) -> bool:
        """Whether the line is part of a preprocessor directive (a #define body, say)."""
        return line in self._directive_lines

    def exclusive(self, line_a: int, line_b: int) -> bool:
        """Whether two lines can never be compiled together: different branches of one
        #if/#elif/#else, or branches of `#ifdef X` and `#ifndef X` (or `#if
        IS_ENABLED(X)` and its negation) blocks."""
        a = {ident: branch for ident, branch, _literal in self._branch(line_a)}
        literals = {literal for _ident, _branch, literal in self._branch(line_a) if literal}
        for ident, branch, literal in self._branch(line_b):
            if ident in a and a[ident] != branch:
                return True
            if literal and _negate(literal) in literals:
                return True
        return False

    def conditional(self, line: int) -> bool:
        return bool(self._branch(line))

    def _branch(self, line: int) -> tuple[_Branch, ...]:
        if 1 <= line <= len(self._branches):
            return self._branches[line - 1]
        return ()

    def exports(self) -> list[ExportUse]:
        """EXPORT_* statements in code (not in comments, #define bodies or `##` pastes)."""
        return list(self._exports)

    @cached_property
    def _exports(self) -> tuple[ExportUse, ...]:
        out = []
        for number, line in enumerate(self.code_lines, 1):
            if "EXPORT_" not in line:
                continue
            match = EXPORT_LINE.match(line)
            if match:
                out.append(ExportUse(match.group(2), match.group(1), number))
        return tuple(out)

    @cached_property
    def raw_lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def code_lines(self) -> list[str]:
        return self.code.split("\n")

    @cached_property
    def statements(self) -> tuple[_Stmt, ...]:
        return tuple(_split(self.live))

    def statement_before(self, line: int) -> _Stmt | None:
        """The last top-level statement ending on a line before `line`."""
        limit = self._line_starts[line - 1] if line - 1 < len(self._line_starts) else len(self.text)
        ends = [s.end for s in self.statements]
        index = bisect.bisect_right(ends, limit) - 1
        return self.statements[index] if index >= 0 else None

    def declarations(self, name: str) -> list[CDecl]:
        """Every file-scope statement that declares or defines `name`, in file order."""
        found = self._declared.get(name)
        if found is None:
            found = self._declared[name] = tuple(self._find_declarations(name))
        return list(found)

    def _find_declarations(self, name: str) -> list[CDecl]:
        if name not in self.live:
            return []
        word = re.compile(rf"\b{re.escape(name)}\b")
        out = []
        for stmt in self.statements:
            head_end = stmt.body if stmt.body >= 0 else stmt.end
            head = self.live[stmt.start : head_end]
            if name not in head:
                continue
            cut = _top_level(head).find("=")
            for match in word.finditer(head, 0, cut if cut >= 0 else len(head)):
                decl = self._declaration(stmt, head, match.start(), name)
                if decl is not None:
                    out.append(decl)
                    break
        return out

    def _declaration(self, stmt: _Stmt, head: str, pos: int, name: str) -> CDecl | None:
        kind = _role(head, pos, len(name), stmt.body >= 0)
        if kind is None:
            return None
        words = _top_words(head[:pos]) + _top_words(_before_initialiser(head[pos:]))
        if words and words[0] == "typedef":
            return None
        start_line = self.line_of(stmt.start)
        column0 = stmt.start == self._line_starts[start_line - 1]
        return CDecl(
            name=name,
            kind=kind,
            line=self.line_of(stmt.start + pos),
            start=start_line,
            end=self.line_of(stmt.end - 1),
            static="static" in words,
            extern="extern" in words,
            attributes=frozenset(w for w in words if w.startswith("__")),
            column0=column0,
        )


def _spaces(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


@dataclass
class _Frame:
    """One open #if: its id, current branch, whether that branch is dead, its condition."""

    ident: int
    branch: int
    dead: bool
    literal: str  # "X" or "!X" for simple one-symbol conditions, else ""
    has_else: bool = False

    def key(self) -> _Branch:
        if not self.literal:
            return (self.ident, self.branch, "")
        if self.branch == 0:
            return (self.ident, 0, self.literal)
        if self.branch == 1 and self.has_else:
            return (self.ident, 1, _negate(self.literal))
        return (self.ident, self.branch, "")


_Branch = tuple[int, int, str]
_SIMPLE_IF = re.compile(
    r"^(!)?\s*(?:defined\s*\(?\s*(\w+)\s*\)?|IS_ENABLED\s*\(\s*(\w+)\s*\)|(\w+))\s*$"
)


def _negate(literal: str) -> str:
    return literal[1:] if literal.startswith("!") else "!" + literal


def _literal(keyword: str, rest: str) -> str:
    if keyword in ("ifdef", "ifndef"):
        name = rest.split(maxsplit=1)[0] if rest.strip() else ""
        return ("!" if keyword == "ifndef" else "") + name if name else ""
    match = _SIMPLE_IF.match(rest)
    if not match or rest == "0":
        return ""
    name = match.group(2) or match.group(3) or match.group(4)
    return ("!" if match.group(1) else "") + name


def _preprocess(
    lines: list[str], directive_lines: set[int], branches: list[tuple[_Branch, ...]]
) -> set[int]:
    """Mark directive lines and per-line #if branches; return the lines of dead branches."""
    dead: set[int] = set()
    stack: list[_Frame] = []
    counter = 0
    continued = False
    for number, line in enumerate(lines, 1):
        branches.append(tuple(frame.key() for frame in stack))
        if continued:
            directive_lines.add(number)
            continued = line.rstrip().endswith("\\")
            continue
        match = _DIRECTIVE.match(line)
        if match is None:
            if any(frame.dead for frame in stack):
                dead.add(number)
            continue
        directive_lines.add(number)
        continued = line.rstrip().endswith("\\")
        keyword, rest = match.group(1), match.group(2).strip()
        if keyword in ("if", "ifdef", "ifndef"):
            counter += 1
            zero = keyword == "if" and rest == "0"
            stack.append(_Frame(counter, 0, zero, _literal(keyword, rest)))
        elif keyword in ("elif", "else") and stack:
            frame = stack[-1]
            was_zero = frame.branch == 0 and frame.dead
            frame.branch += 1
            frame.dead = not was_zero
            frame.has_else = keyword == "else" and frame.branch == 1
        elif keyword == "endif" and stack:
            stack.pop()
    return dead


def _split(code: str) -> list[_Stmt]:
    """Cut blanked code into top-level statements."""
    out: list[_Stmt] = []
    depth = 0
    start = -1
    body = -1
    for token in _TOKEN.finditer(code):
        text = token.group(0)
        if start < 0:
            if depth == 0 and text in ";}":
                continue
            start = token.start()
        if text in "([{":
            if text == "{" and depth == 0 and _FUNC_HEAD.search(code, start, token.start()):
                head = code[start : token.start()]
                if "=" not in _top_level(head):
                    body = token.start()
            depth += 1
        elif text in ")]}":
            depth = max(depth - 1, 0)
            if text == "}" and depth == 0 and body >= 0:
                out.append(_Stmt(start, token.end(), body))
                start, body = -1, -1
        elif text == ";" and depth == 0:
            out.append(_Stmt(start, token.end(), body))
            start, body = -1, -1
    return out


def _top_level(text: str) -> str:
    """The characters of text at bracket depth 0 (others replaced by spaces)."""
    out = []
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        if depth == 0:
            out.append(char)
        else:
            out.append(" ")
        if char in ")]}":
            depth = max(depth - 1, 0)
    return "".join(out)


def _top_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z_]\w*", _top_level(text))


def _before_initialiser(text: str) -> str:
    top = _top_level(text)
    cut = top.find("=")
    return text[:cut] if cut >= 0 else text


def _role(head: str, pos: int, length: int, has_body: bool) -> str | None:
    """What the name at head[pos:pos+length] is: a declarator's kind, or None."""
    before = head[:pos]
    depth = _depth(before)
    prev = before.rstrip()
    if prev.endswith((".", "->", "##")) or (prev.split() and prev.split()[-1] in _TYPE_TAGS):
        return None
    after = head[pos + length :].lstrip()
    follow = after[:1]
    if after.startswith("##"):
        return None
    if depth == 0:
        if follow == "(":
            return "function" if has_body else "prototype"
        if follow in _DECL_FOLLOW or follow == "" or re.match(r"__\w+|asm\b", after):
            return None if has_body else "variable"
        return None
    if depth == 1 and re.search(r"\(\s*\*\s*$", prev) and follow == ")":
        return "variable"
    if depth == 1 and follow in ",)" and prev.endswith(("(", ",")):
        return _macro_role(before, prev)
    return None


def _macro_role(before: str, prev: str) -> str | None:
    """`DEFINE_MUTEX(name)`, `static DEFINE_PER_CPU(int, name)`: a macro defining name."""
    match = re.match(r"\s*(?:static\s+)?([A-Z][A-Z0-9_]*)\s*\(", before)
    if not match or not _DEFINER.match(match.group(1)):
        return None
    args = before[match.end() :]
    if "(" in args or ")" in args:
        return None
    first = prev.endswith("(")
    if first or ("PER_CPU" in match.group(1) and args.count(",") == 1):
        return "macro"
    return None


def _depth(text: str) -> int:
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
    return depth


_CACHE: dict[int, CFile] = {}


def parse_c(text: str) -> CFile:
    """A CFile for text, cached by content (a review reads the same file many times)."""
    key = hash(text)
    found = _CACHE.get(key)
    if found is None or found.text != text:
        if len(_CACHE) > 64:
            _CACHE.clear()
        found = _CACHE[key] = CFile(text)
    return found
