"""What kinds of arguments a user file passes to the names a header hunk changed (pure).

A header change can break only some users of a macro: `min()` of two pointers, a
negative constant, a float. `site_kinds(text, numbers, names)` finds the calls of
`names` on the given lines of a C file (the lines a tree search matched) and classifies
each argument by kind with cheap static analysis of that file only:

- pointer: a string literal, `&x`, a cast to a pointer type, an identifier the file
  declares with `*` or as an array, pointer arithmetic on such (`p + 4`)
- negative: a negative constant (`-1`); signed: `-x`, a variable declared int/long/s32...
- unsigned: `sizeof`, `ARRAY_SIZE()`, a `U`-suffixed constant, a size_t/u32/... variable
- floating: a float literal or float/double variable; aggregate: a struct/union value
- call: a function's result; constant: a plain integer or an upper-case macro constant;
  other: anything else (members declared elsewhere, expressions it does not follow)

An identifier's kind is that of its nearest declaration before the call (comments
blanked out first; `n * x` is a product, `type *x` a declaration, as kernel style spaces
them). Bounded: at most MAX_SITES calls per file, MAX_CALL_CHARS per call, SITE_LINES
lines per call; a declaration is looked for only where the identifier occurs, in the
MAX_LOOKBACK characters of its line before it.
`preferred_kinds(touches)` orders the kinds a hunk plausibly affects first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import partial
from itertools import accumulate

POINTER = "pointer"
NEGATIVE = "negative"
SIGNED = "signed"
UNSIGNED = "unsigned"
FLOATING = "floating"
AGGREGATE = "aggregate"
CALL = "call"
CONSTANT = "constant"
OTHER = "other"

# What the changed lines do (reviewbot.build.users.touches).
CAST = "cast"
COMPARE = "compare"
ARITH = "arith"

MAX_SITES = 24
MAX_CALL_CHARS = 600
SITE_LINES = 6
_TYPED = (POINTER, FLOATING, NEGATIVE, AGGREGATE, SIGNED, UNSIGNED)
_LAST = (CALL, CONSTANT, OTHER)

_UNSIGNED_TYPE = re.compile(
    r"^(?:unsigned(?:\s+\w+)*|size_t|u\d+|__u\d+|uint\d*_t|u_int\d+_t|uintptr_t|ulong|uint"
    r"|ushort|resource_size_t|phys_addr_t|dma_addr_t|sector_t|pgoff_t|__le\d+|__be\d+)$"
)
_SIGNED_TYPE = re.compile(
    r"^(?:int|long|short|char|long\s+long|long\s+int|signed(?:\s+\w+)*|s\d+|__s\d+|int\d+_t"
    r"|ssize_t|loff_t|off_t|ptrdiff_t|time64_t|ktime_t|intptr_t)$"
)
_FLOAT_TYPE = re.compile(r"^(?:float|double|long\s+double)$")
_QUALIFIERS = r"(?:(?:const|static|volatile|register|unsigned|signed|long|short)\s+)*"
_CAST = re.compile(r"^\(\s*((?:struct\s+|union\s+|enum\s+)?[A-Za-z_][\w\s]*?)\s*(\**)\s*\)\s*(.)")
_NUMBER = re.compile(r"^(?:0[xX][0-9a-fA-F]+|\d+)([uUlL]*)$")
_FLOAT = re.compile(r"^(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?[fFlL]?$|^\d+[eE][-+]?\d+[fFlL]?$")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_MEMBER = re.compile(r"^[A-Za-z_]\w*(?:\s*(?:->|\.)\s*[A-Za-z_]\w*|\s*\[[^\]]*\])+$")
_CALLED = re.compile(r"^([A-Za-z_]\w*)\s*\(")
_OPERAND = r"[A-Za-z_]\w*(?:\s*(?:->|\.)\s*[A-Za-z_]\w*|\s*\[[^\]]*\])*"
_LEADING = re.compile(rf"^({_OPERAND})\s*([-+])(?![->+=])\s*(.+)$", re.S)
_SIZE_WORDS = ("sizeof", "ARRAY_SIZE", "offsetof", "sizeof_field", "struct_size", "array_size")


def preferred_kinds(touches: Collection[str]) -> tuple[str, ...]:
    """Every kind, those the changed code plausibly treats differently first.

    A changed cast or comparison on a parameter matters for non-integer arguments first
    (pointers, floats, negative values); changed arithmetic for signedness first.
    """
    if CAST in touches or COMPARE in touches:
        first: tuple[str, ...] = _TYPED
    elif ARITH in touches:
        first = (NEGATIVE, SIGNED, UNSIGNED, POINTER, FLOATING, AGGREGATE)
    else:
        first = (POINTER, NEGATIVE, UNSIGNED, SIGNED, FLOATING, AGGREGATE)
    return first + _LAST


def call_args(text: str, start: int) -> list[str] | None:
    """The top-level arguments of the call whose `(` is at text[start], or None when
    the call does not close within MAX_CALL_CHARS."""
    depth = 0
    args: list[str] = []
    current: list[str] = []
    quote = ""
    end = min(len(text), start + MAX_CALL_CHARS)
    index = start
    while index < end:
        char = text[index]
        if quote:
            current.append(char)
            if char == "\\" and index + 1 < end:
                current.append(text[index + 1])
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char in "([{":
            depth += 1
            if depth > 1:
                current.append(char)
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return [a for a in args if a] if any(args) else []
            current.append(char)
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    return None


def _encloses(arg: str) -> bool:
    """Whether the `(` at arg[0] closes at arg[-1] (quotes are not followed)."""
    depth = 0
    for index, char in enumerate(arg):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return index == len(arg) - 1
    return False


def _strip(arg: str) -> str:
    """arg without comments, spaces and parentheses that enclose all of it."""
    arg = re.sub(r"/\*.*?\*/|//[^\n]*", " ", arg, flags=re.S).strip()
    while arg.startswith("(") and _encloses(arg) and not _CAST.match(arg):
        arg = arg[1:-1].strip()
    return arg


def _type_kind(words: str, stars: str = "") -> str | None:
    words = " ".join(w for w in words.split() if w not in ("const", "volatile", "static"))
    if stars:
        return POINTER
    if _FLOAT_TYPE.match(words):
        return FLOATING
    if _UNSIGNED_TYPE.match(words):
        return UNSIGNED
    if _SIGNED_TYPE.match(words):
        return SIGNED
    if words.startswith(("struct ", "union ")):
        return AGGREGATE
    return None


_DECL_START = r"[;{}(,\n]\s*"  # a declaration starts a line, statement or parameter
# `type *name`, `type * const name`, `, *name`: kernel style puts the star against the
# name in a declaration, and spaces around it in a product (`n * name`).
_POINTER_DECL = re.compile(
    _DECL_START + _QUALIFIERS + r"(?:struct\s+|union\s+|enum\s+)?\w+\s*(?:const\s*)?\*+"
    r"(?:\s*(?:const|__\w+)\s+)*$|[,(]\s*\*+$"
)
_NAMED_DECL = re.compile(
    _DECL_START + r"(?:(?:const|static|volatile|register)\s+)*"
    r"((?:struct\s+|union\s+|enum\s+)?(?:(?:unsigned|signed|long|short)\s+)*\w+)\s+"
    r"(?:const\s+)?$"
)
# `u64 a, b = 0, name`: a later name of a declaration list (a `*` on it is a pointer).
_LIST_DECL = re.compile(
    r"[;{}\n]\s*(?:(?:const|static|volatile|register)\s+)*"
    r"((?:struct\s+|union\s+|enum\s+)?(?:(?:unsigned|signed|long|short)\s+)*\w+)\s+"
    r"(?:\**\w+(?:\s*\[[^\]]*\])?(?:\s*=\s*[^,;(){}]*)?\s*,\s*)+$"
)
_DECL_END = re.compile(r"\s*[;,=)\[]")
MAX_LOOKBACK = 160  # characters of its line before a declared name


def _occurrences(name: str, text: str) -> Iterator[int]:
    """Where name occurs in text as a whole word (str.find: fast on large files)."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            yield start
        start = text.find(name, end)


def declared_kind(name: str, text: str, at: int | None = None) -> str | None:
    """The kind of identifier `name` as `text` (one C file) declares it, if it does: a
    whole word followed by `;`, `,`, `=`, `)` or `[` and preceded by a type. With `at`
    (an offset), the last declaration before it (the nearest scope), else the first."""
    found: str | None = None
    for start in _occurrences(name, text):
        if found is not None and (at is None or start > at):
            break
        kind = _declaration_at(text, start, len(name))
        if kind is not None:
            found = kind
            if at is None:
                break
    return found


def _declaration_at(text: str, start: int, size: int) -> str | None:
    follow = _DECL_END.match(text, start + size)
    if not follow:
        return None
    line = max(text.rfind("\n", 0, start) + 1, start - MAX_LOOKBACK)
    before = "\n" + text[line:start]
    last = before.rstrip()[-1:]
    if not last or not (last in "*,_" or last.isalnum()):
        return None  # a use (`f(x`, `= x`, `x + 1`), not a declaration
    if _POINTER_DECL.search(before):
        return POINTER
    named = _LIST_DECL.search(before) if last == "," else _NAMED_DECL.search(before)
    if named is None or named.group(1) in ("return", "case", "goto", "else", "sizeof"):
        return None
    if follow.group().strip() == "[":
        return POINTER  # an array: its name is a pointer where it is passed
    # declared, maybe with a typedef it cannot see through (`CLST vcn`): the nearest
    # declaration still wins over one of another function
    return _type_kind(named.group(1)) or OTHER


def arg_kind(arg: str, lookup: Callable[[str], str | None]) -> str:
    """The kind of one call argument; lookup(identifier) names a declared kind."""
    arg = _strip(arg)
    if not arg:
        return OTHER
    if arg.startswith(('"', 'L"')):
        return POINTER
    if arg.startswith("&") and not arg.startswith("&&"):
        return POINTER
    cast = _CAST.match(arg)
    if cast and (cast.group(2) or _type_kind(cast.group(1)) is not None):
        if cast.group(3) == "{":
            return AGGREGATE
        return _type_kind(cast.group(1), cast.group(2)) or OTHER
    if arg.startswith("-") and not arg.startswith("--"):
        rest = _strip(arg[1:])
        return NEGATIVE if _NUMBER.match(rest) or _FLOAT.match(rest) else SIGNED
    number = _NUMBER.match(arg)
    if number:
        return UNSIGNED if "u" in number.group(1).lower() else CONSTANT
    if _FLOAT.match(arg):
        return FLOATING
    if arg.startswith("'"):
        return CONSTANT
    called = _CALLED.match(arg)
    if called and called.group(1) in _SIZE_WORDS:
        return UNSIGNED
    leading = _LEADING.match(arg)
    if leading:
        kind = _operand_kind(leading.group(1), lookup)
        if kind == POINTER and leading.group(2) == "-":
            rest = _strip(leading.group(3))
            if (_MEMBER.match(rest) or _IDENT.match(rest)) and _operand_kind(
                rest, lookup
            ) == POINTER:
                return SIGNED  # the distance between two pointers
        return kind if kind in (POINTER, FLOATING, SIGNED, UNSIGNED) else OTHER
    if called and len(arg) > called.end() and arg.endswith(")"):
        return CONSTANT if called.group(1).isupper() else CALL
    if _IDENT.match(arg) or _MEMBER.match(arg):
        return _operand_kind(arg, lookup)
    return OTHER


def _operand_kind(operand: str, lookup: Callable[[str], str | None]) -> str:
    """The kind of `x`; a member (`a->b`) or an element (`a[i]`) is "other": their
    declarations are mostly in other files, and a variable of the same name misleads."""
    if _IDENT.match(operand):
        return _identifier_kind(operand, lookup)
    return OTHER


def _identifier_kind(name: str, lookup: Callable[[str], str | None]) -> str:
    if name.isupper() or (name[:1].isupper() and "_" in name and name.upper() == name):
        return CONSTANT
    return lookup(name) or OTHER


def call_sites(
    lines: Sequence[str], numbers: Iterable[int], names: Collection[str]
) -> list[tuple[int, list[str]]]:
    """(line, arguments) of the calls of `names` that start on the given lines (1-based)."""
    if not names:
        return []
    pattern = re.compile(r"(?<![\w.>])(" + "|".join(map(re.escape, names)) + r")\s*\(")
    found: list[tuple[int, list[str]]] = []
    for number in sorted(set(numbers)):
        if not 0 < number <= len(lines) or lines[number - 1].lstrip().startswith("#"):
            continue
        first = lines[number - 1]
        window = "\n".join(lines[number - 1 : number - 1 + SITE_LINES])
        for match in pattern.finditer(first):
            args = call_args(window, match.end() - 1)
            if args:
                found.append((number, args))
            if len(found) >= MAX_SITES:
                return found
    return found


def site_kinds(text: str, numbers: Iterable[int], names: Collection[str]) -> frozenset[str]:
    """The kinds of the arguments `text` passes to `names` on the given lines; an
    identifier's kind is that of its nearest declaration before the call."""
    text = _COMMENT.sub(_blank, text)
    lines = text.split("\n")
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    kinds: set[str] = set()
    for number, args in call_sites(lines, numbers, names):
        lookup = partial(_lookup, text, starts[number - 1], {})
        kinds.update(arg_kind(arg, lookup) for arg in args)
    return frozenset(kinds)


_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def _blank(match: re.Match[str]) -> str:
    """A comment as spaces (its newlines kept: offsets and line numbers stay)."""
    return "\n".join(" " * len(part) for part in match.group().split("\n"))


def _lookup(text: str, at: int, known: dict[str, str | None], name: str) -> str | None:
    if name not in known:
        known[name] = declared_kind(name, text, at)
    return known[name]
