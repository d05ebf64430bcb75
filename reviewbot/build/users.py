"""What a header hunk changed, the configs its branch needs, and which users to build (pure).

`header_change(change, before, after)` reads the changed lines of a header in both
images and names what they define or sit in: macros (`#define NAME`, and the macro a
continuation line belongs to), inline functions and prototypes, struct/union members,
enum constants. It also names the CONFIG conditions the changed lines sit under
(`#ifdef CONFIG_X` -> X=y, its `#else` -> X=n, `#if IS_ENABLED(CONFIG_X)`, `#ifndef`,
`!defined(...)`); expressions over several symbols are left out. Names the header's own
macros and inline functions build on a changed name are added (up to six levels), since
users reach a changed helper through them.

`choose_users(candidates, ...)` picks a capped spread of user sources: one per kind of
argument the users pass to the changed names (reviewbot.build.argkinds: pointers,
negative constants, floats, ...), the kinds the changed code plausibly treats
differently first (`touches`: a changed cast or comparison -> non-integer kinds first);
then files that use a name the hunk changed directly, one per directory in turn, so a
macro with thousands of users is tried in several subsystems rather than in one.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reviewbot.analysis.diff import FileChange
from reviewbot.build.argkinds import ARITH, CAST, COMPARE, preferred_kinds

MAX_NAMES = 16
WRAPPER_LEVELS = 6
_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)")
_COND = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_ONE_SYMBOL = re.compile(
    r"^\s*(!?)\s*(?:defined\s*\(?\s*|IS_ENABLED\s*\(\s*|IS_BUILTIN\s*\(\s*|IS_REACHABLE\s*\(\s*)?"
    r"CONFIG_(\w+)\s*\)?\s*$"
)
_AGGREGATE = re.compile(r"^\s*(?:typedef\s+)?(struct|union|enum)\s+(\w+)?\s*\{")
_FUNC = re.compile(r"\b(\w+)\s*\([^;{]*$|\b(\w+)\s*\(.*\)\s*[;{]?\s*$")
_MEMBER = re.compile(r"(\w+)\s*(?:\[[^\]]*\])*\s*(?::\s*\w+\s*)?[;,]\s*(?:/[*/].*)?$")
_ENUM_CONST = re.compile(r"^\s*([A-Z_][A-Z0-9_]*)\s*(?:=[^,]*)?,?\s*(?:/[*/].*)?$")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_CAST = re.compile(
    r"\(\s*(?:(?:const|volatile)\s+)*(?:(?:unsigned|signed|long|short)\s+)*"
    r"(?:unsigned|signed|long|int|short|char|bool|void|float|double|(?:struct|union)\s+\w+"
    r"|[us](?:8|16|32|64)|__[us](?:8|16|32|64)|\w+_t|typeof\s*\(.*\))\s*\**\s*\)\s*[\w(]"
)
_COMPARE = re.compile(r"(?<![-<>=!])(?:[<>]=?|[!=]=)(?![<>=])")
_ARITH = re.compile(r"<<|>>|(?<=[\w)\]])\s*[-+/%]\s*(?=[\w(])")
_KEYWORDS = frozenset(
    (
        "if",
        "else",
        "for",
        "while",
        "do",
        "switch",
        "case",
        "return",
        "sizeof",
        "typeof",
        "static",
        "inline",
        "extern",
        "const",
        "volatile",
        "struct",
        "union",
        "enum",
        "unsigned",
        "signed",
        "int",
        "long",
        "short",
        "char",
        "void",
        "bool",
        "u8",
        "u16",
        "u32",
        "u64",
        "s8",
        "s16",
        "s32",
        "s64",
        "__always_inline",
        "__must_check",
        "define",
        "undef",
    )
)


class Kind:
    MACRO = "macro"
    FUNCTION = "function"
    MEMBER = "member"
    CONSTANT = "constant"


@dataclass(frozen=True)
class Changed:
    """One name a header hunk changed, how it is used, and the config its branch needs."""

    name: str
    kind: str  # Kind.*
    conditions: tuple[tuple[str, str], ...] = ()  # (SYMBOL, "y" | "n")
    via: str = ""  # the changed name this one builds on (for a header's own wrappers)


@dataclass(frozen=True)
class HeaderChange:
    path: str
    changed: tuple[Changed, ...]
    touches: frozenset[str] = frozenset()  # what the changed code does (argkinds.CAST, ...)

    @property
    def conditions(self) -> tuple[tuple[str, str], ...]:
        seen: dict[tuple[str, str], None] = {}
        for item in self.changed:
            for cond in item.conditions:
                seen.setdefault(cond, None)
        return tuple(seen)

    def direct(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.changed if not c.via)


def _changed_lines(change: FileChange) -> tuple[list[int], list[int]]:
    """(post-image line numbers of added lines, pre-image line numbers of removed lines)."""
    added: list[int] = []
    removed: list[int] = []
    for hunk in change.hunks:
        source, target = hunk.source_start, hunk.target_start
        for op, _text in hunk.lines:
            if op == "+":
                added.append(target)
                target += 1
            elif op == "-":
                removed.append(source)
                source += 1
            else:
                source += 1
                target += 1
    return added, removed


def conditions_at(lines: Sequence[str], number: int) -> tuple[tuple[str, str], ...]:
    """The single-symbol CONFIG conditions line `number` (1-based) sits under."""
    stack: list[tuple[str, str] | None] = []
    for text in lines[: max(number - 1, 0)]:
        match = _COND.match(text)
        if not match:
            continue
        word, rest = match.group(1), match.group(2).split("/*")[0].split("//")[0]
        if word in ("if", "ifdef", "ifndef"):
            stack.append(_condition(word, rest))
        elif word == "elif" and stack:
            stack[-1] = None
        elif word == "else" and stack:
            top = stack[-1]
            stack[-1] = (top[0], "n" if top[1] == "y" else "y") if top else None
        elif word == "endif" and stack:
            stack.pop()
    return tuple(c for c in stack if c is not None)


def _condition(word: str, rest: str) -> tuple[str, str] | None:
    if word in ("ifdef", "ifndef"):
        name = rest.strip()
        if not name.startswith("CONFIG_"):
            return None
        return (name[len("CONFIG_") :], "y" if word == "ifdef" else "n")
    match = _ONE_SYMBOL.match(rest)
    if not match:
        return None
    return (match.group(2).removesuffix("_MODULE"), "n" if match.group(1) else "y")


def _enclosing(lines: Sequence[str], number: int) -> Changed | None:
    """The macro, function or aggregate line `number` sits in (scanning upwards)."""
    index = number - 1
    # a continuation line of a multi-line macro
    probe = index - 1
    while probe >= 0 and lines[probe].rstrip().endswith("\\"):
        match = _DEFINE.match(lines[probe])
        if match:
            return Changed(match.group(1), Kind.MACRO)
        probe -= 1
    depth = 0
    for probe in range(index - 1, max(index - 400, -1), -1):
        text = lines[probe]
        depth += text.count("}") - text.count("{")
        if depth >= 0:
            continue
        aggregate = _AGGREGATE.match(text)
        if aggregate:
            return Changed(aggregate.group(2) or "", aggregate.group(1))
        # the function header: this line or one of the few above the brace that starts
        # at column 0 (a signature may span lines)
        for head in (lines[p] for p in range(probe, max(probe - 5, -1), -1)):
            func = re.search(r"\b(\w+)\s*\(", head)
            if func and func.group(1) not in _KEYWORDS and not head.startswith((" ", "\t")):
                return Changed(func.group(1), Kind.FUNCTION)
            if head.rstrip().endswith((";", "}")) and head is not text:
                break
        return None
    return None


def _own(text: str, enclosing: Changed | None) -> list[Changed]:
    """Names a changed line itself defines."""
    define = _DEFINE.match(text)
    if define:
        return [Changed(define.group(1), Kind.MACRO)]
    code = text.split("/*", maxsplit=1)[0].split("//", maxsplit=1)[0].strip()
    if not code or code.startswith("#"):
        return []
    if enclosing is not None and enclosing.kind in ("struct", "union"):
        member = _MEMBER.search(code)
        return [Changed(member.group(1), Kind.MEMBER)] if member else []
    if enclosing is not None and enclosing.kind == "enum":
        const = _ENUM_CONST.match(code)
        return [Changed(const.group(1), Kind.CONSTANT)] if const else []
    if enclosing is None and not text.startswith((" ", "\t")):
        func = re.search(r"\b(\w+)\s*\(", code)
        if func and func.group(1) not in _KEYWORDS:
            return [Changed(func.group(1), Kind.FUNCTION)]
    return []


def _names_in(lines: Sequence[str], numbers: Iterable[int]) -> list[Changed]:
    out: list[Changed] = []
    for number in numbers:
        if not 0 < number <= len(lines):
            continue
        conditions = conditions_at(lines, number)
        enclosing = _enclosing(lines, number)
        found = _own(lines[number - 1], enclosing)
        if enclosing is not None and enclosing.kind in (Kind.MACRO, Kind.FUNCTION):
            found.append(enclosing)
        for item in found:
            if item.name and item.name not in _KEYWORDS:
                out.append(Changed(item.name, item.kind, conditions))
    return out


def _wrappers(lines: Sequence[str], names: Sequence[str]) -> list[Changed]:
    """The header's own macros and inline functions that use a changed name, transitively."""
    out: list[Changed] = []
    known = set(names)
    frontier = list(names)
    for _level in range(WRAPPER_LEVELS):
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, frontier)) + r")\b")
        found: list[Changed] = []
        current: Changed | None = None
        for number, text in enumerate(lines, 1):
            define = _DEFINE.match(text)
            if define:
                current = Changed(define.group(1), Kind.MACRO)
            elif (
                current is not None
                and current.kind == Kind.MACRO
                and not lines[number - 2].rstrip().endswith("\\")
            ):
                current = None
            if re.match(r"^static\s+(__always_)?inline\b", text):
                func = re.search(r"\b(\w+)\s*\(", text)
                current = Changed(func.group(1), Kind.FUNCTION) if func else None
            if current is None or current.name in known:
                continue
            match = pattern.search(text if not define else text[define.end() :])
            if match:
                found.append(
                    Changed(current.name, current.kind, conditions_at(lines, number), match[1])
                )
                known.add(current.name)
        out += found
        frontier = [f.name for f in found]
        if not frontier or len(known) >= MAX_NAMES:
            break
    return out


def header_change(change: FileChange, before: str | None, after: str | None) -> HeaderChange:
    """What the patch changed in one header (names, with the conditions they sit under)."""
    added, removed = _changed_lines(change)
    post = (after or "").splitlines()
    pre = (before or "").splitlines()
    found = _names_in(post, added) + _names_in(pre, removed)
    merged: dict[str, Changed] = {}
    for item in found:
        known = merged.get(item.name)
        conditions = tuple(dict.fromkeys((known.conditions if known else ()) + item.conditions))
        merged[item.name] = Changed(item.name, item.kind, conditions)
    direct = list(merged)[:MAX_NAMES]
    wrappers = _wrappers(post, direct) if direct else []
    items = [merged[n] for n in direct] + wrappers
    texts = [post[n - 1] for n in added if 0 < n <= len(post)]
    texts += [pre[n - 1] for n in removed if 0 < n <= len(pre)]
    return HeaderChange(change.path, tuple(items[:MAX_NAMES]), touches(texts))


def touches(texts: Iterable[str]) -> frozenset[str]:
    """What changed lines of code do to values: cast them, compare them, compute with
    them (argkinds.CAST, COMPARE, ARITH); comments and #include lines are left out."""
    found: set[str] = set()
    for text in texts:
        code = re.sub(r"/\*.*?(\*/|$)|//.*$", " ", text).strip()
        if not code or code.startswith(("*", "#include", "#if", "#endif", "#else")):
            continue
        code = re.sub(r"^#\s*define\s+\w+(\([^)]*\))?", " ", code)
        if _CAST.search(code):
            found.add(CAST)
        if _COMPARE.search(code):
            found.add(COMPARE)
        if _ARITH.search(code):
            found.add(ARITH)
    return frozenset(found)


def use_pattern(item: Changed) -> str:
    """An extended regex (grep -E) matching a use of item in C source."""
    if item.kind == Kind.MEMBER:
        return rf"(->|\.)[[:space:]]*{item.name}\b"
    if item.kind in ("struct", "union", "enum"):
        return rf"\b{item.kind}[[:space:]]+{item.name}\b"
    if _short(item):
        return rf"\b{item.name}[[:space:]]*\("  # a call of `min`: not the word min
    return rf"\b{item.name}\b"


def _short(item: Changed) -> bool:
    return len(item.name) < 4 and "_" not in item.name


def searchable(item: Changed) -> bool:
    """Whether a tree-wide search for item's uses means anything (not `x`, not `list`);
    a short macro or function (`min`, `max`) is searched by its calls."""
    if item.kind == Kind.MEMBER:
        return len(item.name) >= 3
    if item.kind in (Kind.MACRO, Kind.FUNCTION):
        return len(item.name) >= 3
    return not _short(item)


@dataclass(frozen=True)
class Users:
    """The users chosen to build for one header change, and the kinds of arguments each
    passes to the changed names (reviewbot.build.argkinds; empty when not classified)."""

    change: HeaderChange
    sources: tuple[str, ...]
    kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def label(self, source: str) -> str:
        """`path (pointer, constant)`: a chosen user and the kinds it passes."""
        if source not in self.kinds:
            return f"{source} (not classified)"
        order = preferred_kinds(self.change.touches)
        kinds = sorted(self.kinds[source], key=order.index)
        return f"{source} ({', '.join(kinds) or 'no call seen'})"


def candidate_order(
    uses: Mapping[str, Sequence[str]], change: HeaderChange, buildable: Callable[[str], bool]
) -> list[str]:
    """The buildable sources in the order they are tried: users of direct names first,
    each group spread over directories."""
    direct = set(change.direct())
    ranked: list[list[str]] = [[], []]
    for source, names in sorted(uses.items()):
        if buildable(source):
            ranked[0 if direct & set(names) else 1].append(source)
    return [source for group in ranked for source in _spread(group)]


def choose_users(
    uses: Mapping[str, Sequence[str]],
    change: HeaderChange,
    buildable: Callable[[str], bool],
    cap: int,
    kinds: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    """Up to `cap` sources: users of direct names first, a spread over directories.

    With `kinds` (source -> kinds of the arguments it passes to the changed names), one
    user per kind first, the kinds the change plausibly affects first
    (argkinds.preferred_kinds), so that as many kinds as possible are built; then the
    users that call a changed name, then those not classified, then those that only
    mention one.
    """
    order = candidate_order(uses, change, buildable)
    if not kinds:
        return order[:cap]
    calling = [s for s in order if kinds.get(s)]
    chosen: list[str] = []
    covered: set[str] = set()
    for kind in preferred_kinds(change.touches):
        if len(chosen) >= cap:
            break
        if kind in covered:
            continue
        pick = next((s for s in calling if kind in kinds[s] and s not in chosen), None)
        if pick is not None:
            chosen.append(pick)
            covered |= kinds[pick]
    rest = calling + [s for s in order if s not in kinds] + [s for s in order if s in kinds]
    chosen += [s for s in dict.fromkeys(rest) if s not in chosen]
    return chosen[:cap]


def _interleave(queues: list[list[str]]) -> list[str]:
    out: list[str] = []
    queues = [list(q) for q in queues if q]
    while queues:
        for queue in list(queues):
            out.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    return out


def _spread(sources: Sequence[str]) -> list[str]:
    """sources reordered: top-level directories with most users first, taking turns, and
    inside each, its subdirectories taking turns (drivers/net, drivers/gpu, ...)."""
    tops: dict[str, dict[str, list[str]]] = {}
    for source in sources:
        parts = source.split("/")
        top = parts[0] if len(parts) > 1 else ""
        tops.setdefault(top, {}).setdefault(_area(source), []).append(source)
    order = sorted(tops.items(), key=lambda kv: (-sum(map(len, kv[1].values())), kv[0]))
    return _interleave([_interleave(list(areas.values())) for _top, areas in order])


def _area(path: str) -> str:
    parts = posixpath.dirname(path).split("/")
    return "/".join(parts[:2])
