"""Read a Makefile's text into logical lines, conditionals, assignments and rules (pure).

Just enough of GNU make's syntax for the kbuild rules: backslash continuations, comments,
`ifdef`/`ifeq` nesting, `define` blocks, `var := value` assignments, and explicit rules
with their prerequisites and recipe lines. Words are split at the top level, so
`$(and $(X),vmlinux)` stays one word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from reviewbot.analysis.diff import FileChange

_COND_OPEN = re.compile(r"^\s*(ifdef|ifndef|ifeq|ifneq)\b(.*)$")
_COND_ELSE = re.compile(r"^\s*else\b(.*)$")
_COND_END = re.compile(r"^\s*endif\b")
_DEFINE = re.compile(r"^\s*(?:(?:override|export)\s+)*define\b")
_ENDEF = re.compile(r"^\s*endef\b")
_DIRECTIVE = re.compile(
    r"^\s*(-?include|sinclude|export|unexport|override|private|vpath|undefine|\$\(\s*(?:eval|info|"
    r"warning|error))\b"
)
_ASSIGN_OP = re.compile(r"(::?=|:::=|\+=|\?=|!=|=)")


@dataclass(frozen=True)
class MakeLine:
    """One logical line: physical span, joined text without comment, enclosing conditions."""

    first: int
    last: int
    text: str
    conditions: tuple[str, ...]
    in_define: bool = False
    is_recipe: bool = False


@dataclass(frozen=True)
class MakeRule:
    """An explicit rule: its header line, targets, prerequisites and recipe lines."""

    header: MakeLine
    targets: tuple[str, ...]
    prerequisites: tuple[str, ...]
    recipe: tuple[MakeLine, ...]


def strip_comment(line: str) -> str:
    """The line up to an unescaped `#`."""
    out = []
    escaped = False
    for char in line:
        if char == "#" and not escaped:
            break
        escaped = char == "\\"
        out.append(char)
    return "".join(out)


def make_lines(text: str) -> list[MakeLine]:
    """Logical lines of a Makefile, with the conditionals that enclose each one."""
    out: list[MakeLine] = []
    stack: list[str] = []
    in_define = False
    physical = text.split("\n")
    number = 0
    while number < len(physical):
        first = number
        parts = [physical[number]]
        while parts[-1].endswith("\\") and number + 1 < len(physical):
            parts[-1] = parts[-1][:-1]
            number += 1
            parts.append(physical[number])
        number += 1
        joined = " ".join(part.strip() if i else part.rstrip() for i, part in enumerate(parts))
        joined = strip_comment(joined)
        if in_define:
            in_define = not _ENDEF.match(joined)
            out.append(MakeLine(first + 1, number, joined, tuple(stack), True))
            continue
        if _DEFINE.match(joined):
            in_define = True
        _track_conditions(joined, stack)
        out.append(MakeLine(first + 1, number, joined, tuple(stack), in_define))
    return _mark_recipes(out)


def _mark_recipes(lines: list[MakeLine]) -> list[MakeLine]:
    """Tab-started lines are recipe lines only after a rule header (make's own reading)."""
    out: list[MakeLine] = []
    in_rule = False
    for line in lines:
        text = line.text
        if in_rule and text.startswith("\t") and not line.in_define:
            out.append(replace(line, is_recipe=True))
            continue
        if not text.strip() or _is_conditional(text):
            out.append(line)
            continue
        in_rule = _rule_header(line) is not None
        out.append(line)
    return out


def _is_conditional(text: str) -> bool:
    return condition_kind(text) is not None


def condition_kind(text: str) -> str | None:
    """'open', 'else' or 'end' for a conditional directive line, else None."""
    if _COND_OPEN.match(text):
        return "open"
    if _COND_ELSE.match(text):
        return "else"
    if _COND_END.match(text):
        return "end"
    return None


def _track_conditions(line: str, stack: list[str]) -> None:
    opened = _COND_OPEN.match(line)
    if opened:
        stack.append(line.strip())
        return
    other = _COND_ELSE.match(line)
    if other and stack:
        stack[-1] = f"{stack[-1]} else {other.group(1).strip()}".strip()
        return
    if _COND_END.match(line) and stack:
        stack.pop()


def is_directive(line: str) -> bool:
    """Conditionals, define/endef, include, export and friends: not rules or assignments."""
    return bool(
        _is_conditional(line) or _DEFINE.match(line) or _ENDEF.match(line) or _DIRECTIVE.match(line)
    )


def top_level(text: str) -> Iterator[tuple[int, str]]:
    """(index, char) of the characters of text outside $(...) and ${...}."""
    depth = 0
    for index, char in enumerate(text):
        if char in "({" and index and text[index - 1] == "$":
            depth += 1
            continue
        if depth and char in "({":
            depth += 1
            continue
        if depth and char in ")}":
            depth -= 1
            continue
        if depth == 0:
            yield index, char


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, keeping $(...) groups whole."""
    words: list[str] = []
    start: int | None = None
    inside = {i for i, _ in top_level(text)}
    for index, char in enumerate(text):
        if index in inside and char.isspace():
            if start is not None:
                words.append(text[start:index])
                start = None
        elif start is None:
            start = index
    if start is not None:
        words.append(text[start:])
    return words


def assignment(line: MakeLine) -> tuple[str, str, str] | None:
    """(variable, operator, value) when the line assigns a variable, else None."""
    text = line.text
    if line.is_recipe or line.in_define or _COND_OPEN.match(text) or _DEFINE.match(text):
        return None
    text = re.sub(r"^\s*(?:(?:export|override|private)\s+)+", "", text)
    for index, char in top_level(text):
        if (
            char == ":"
            and not text.startswith("=", index + 1)
            and not text.startswith(":=", index + 1)
        ):
            return None
        if char in ":+?!=":
            match = _ASSIGN_OP.match(text, index)
            if match:
                name = text[:index].strip()
                if not name or " " in name:
                    return None
                return name, match.group(1), text[match.end() :].strip()
    return None


def parse_rules(lines: list[MakeLine]) -> list[MakeRule]:
    """Every explicit rule (outside define blocks) with the recipe lines that follow it."""
    rules: list[MakeRule] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        header = _rule_header(line)
        if header is None:
            continue
        targets, prerequisites = header
        recipe: list[MakeLine] = []
        while index < len(lines):
            following = lines[index]
            if following.is_recipe:
                recipe.append(following)
            elif following.text.strip() and not _is_conditional(following.text):
                break
            index += 1
        rules.append(MakeRule(line, targets, prerequisites, tuple(recipe)))
    return rules


def _rule_header(line: MakeLine) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    text = line.text
    if line.is_recipe or line.in_define or not text.strip() or is_directive(text):
        return None
    colon = None
    for index, char in top_level(text):
        if char == "=":
            return None
        if char == ":":
            colon = index
            break
    if colon is None or text.startswith("=", colon + 1) or text.startswith(":=", colon + 1):
        return None
    rest = text[colon + 1 :].lstrip(":")
    for index, char in top_level(rest):
        if char == ";":
            rest = rest[:index]
            break
        if char == "=":
            return None  # a target-specific variable
    cut = [i for i, c in top_level(rest) if c == ":"]
    if cut:  # static pattern rule: targets: pattern: prerequisites
        rest = rest[cut[-1] + 1 :]
    targets = tuple(split_words(text[:colon]))
    prerequisites = tuple(w for w in split_words(rest) if w != "|")
    return targets, prerequisites


def physical_line_of(text: str, line: MakeLine, needle: str) -> int:
    """The physical line of `line` holding needle as a whole word (else its first line)."""
    physical = _physical_lines(text)
    pattern = re.compile(r"(?<![\w.$/-])" + re.escape(needle) + r"(?![\w.-])")
    for number in range(line.first, min(line.last, len(physical)) + 1):
        if pattern.search(physical[number - 1]):
            return number
    return line.first


@lru_cache(maxsize=8)
def _physical_lines(text: str) -> tuple[str, ...]:
    """text split once (callers ask for one line at a time of the same text)."""
    return tuple(text.split("\n"))


def consistent_text(change: FileChange, text: str | None) -> str | None:
    """The patched text when it really holds the change's added lines (the patch applied)."""
    if text is None:
        return None
    physical = text.split("\n")
    for line in change.added:
        if line.number > len(physical) or physical[line.number - 1] != line.text:
            return None
    return text


def added_numbers(change: FileChange) -> set[int]:
    """Post-image numbers of the lines a change adds."""
    return {line.number for line in change.added}


def touches(line: MakeLine, numbers: Iterable[int]) -> bool:
    """Whether any physical line of a logical line is among numbers.

    With a set (added_numbers) it looks up the line's own span, so a pass over every
    line of a file stays linear; scanning the set per line was quadratic."""
    if isinstance(numbers, set | frozenset) and line.last - line.first < len(numbers):
        return any(number in numbers for number in range(line.first, line.last + 1))
    return any(line.first <= number <= line.last for number in numbers)


@dataclass(frozen=True)
class Call:
    """One `$(call name,arg,...)` in a line: the function name and its top-level arguments."""

    name: str
    args: tuple[str, ...]
    text: str


_LONGEST_LINE = 20_000
_CALL = re.compile(r"\$\(call\s+([\w.-]+)\s*(,|\))")


def calls(text: str) -> list[Call]:
    """Every `$(call ...)`, outer and nested, with arguments split at top-level commas.

    A logical line longer than any real Makefile line is not parsed: each call scans to its
    closing parenthesis, which is quadratic on hostile input."""
    out: list[Call] = []
    if len(text) > _LONGEST_LINE:
        return out
    for match in _CALL.finditer(text):
        start = match.start()
        depth = 0
        end = None
        for index in range(start + 1, len(text)):
            char = text[index]
            if char in "({":
                depth += 1
            elif char in ")}":
                depth -= 1
                if depth == 0:
                    end = index
                    break
        if end is None:
            continue
        body = text[match.end() : end] if match.group(2) == "," else ""
        out.append(Call(match.group(1), tuple(_split_args(body)), text[start : end + 1]))
    return out


def _split_args(body: str) -> list[str]:
    args: list[str] = []
    depth = 0
    current: list[str] = []
    for char in body:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(char)
    args.append("".join(current))
    return args
