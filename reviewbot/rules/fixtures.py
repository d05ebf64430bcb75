"""Rule fixtures: patches under rules/<ID>/{bad,good}/ that declare what they expect (pure).

A fixture is a mail or git format-patch file. Lines in its commit message of the form

    Expect: KC001 drivers/iommu/Kconfig:13
    Expect: EX001 drivers/iommu/iommufd/iova_bitmap.c:+EXPORT_SYMBOL_NS_GPL(iova_bitmap_set);

declare one finding each: rule id, path, and where. `:13` is a post-image line as the
patch itself numbers it (its hunk headers); `:+TEXT` is the line the patch adds with
that text (stripped; it must be one added line of that file). Both follow the hunk to
where it applies on the checked tree, so a fixture holds on any point release its
context still matches. A number outside every hunk stays absolute. `path` alone is a
finding with no line; `-` a finding about the whole patch, with no path. A line

    Arches: arm64 x86_64

pins the architectures Kconfig is evaluated (and builds run) for (default: x86_64), to
keep tests fast. A line

    Tree: 6.12.118

says the fixture depends on that kernel release (its Makefile's VERSION.PATCHLEVEL.
SUBLEVEL), for instance a finding at an absolute line of a file the patch does not
touch: on another release, when its findings differ, the test fails naming the release
it needs. Use it only where a fixture truly depends on one point release. A fixture
whose file name contains `offset` must apply at an offset (its hunk headers are
deliberately off). A bad fixture's findings from the rules it names, plus the rule whose
directory holds it, must be exactly those declared; a good fixture declares none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewbot.analysis.apply import ApplyError, apply_located
from reviewbot.analysis.diff import ChangeKind, FileChange, Hunk, parse_diff
from reviewbot.analysis.view import Overlay, TreeView
from reviewbot.errors import BadDiffError
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message

_ARCHES = re.compile(r"^Arches:\s+(.+)$", re.MULTILINE)
_TREE = re.compile(r"^Tree:\s+(\S+)\s*$", re.MULTILINE)
_EXPECT = re.compile(r"^Expect:\s+([A-Z]{2,3}\d{3})\s+(\S+?)(?::(\d+)|:\+(.+?))?\s*$", re.MULTILINE)


class FixtureError(ValueError):
    """A fixture's declaration that cannot be resolved (an anchor not added, or added twice)."""


@dataclass(frozen=True)
class Expectation:
    rule: str
    path: str
    line: int | None
    text: str = ""  # anchor: the added line's text (`path:+TEXT`); line is then None
    patch: str = field(default="", compare=False)  # Message-ID of the mail declaring it


@dataclass(frozen=True)
class Fixture:
    rule: str
    path: Path
    bad: bool
    expected: frozenset[Expectation]
    arches: tuple[str, ...] = ("x86_64",)
    tree: str = ""  # the one kernel release the fixture holds on ('' when any 6.12.y)

    @property
    def at_offset(self) -> bool:
        """Whether the fixture is meant to apply at an offset (its name says `offset`)."""
        return "offset" in self.path.name


def expectations(text: str, patch: str = "") -> frozenset[Expectation]:
    return frozenset(
        Expectation(
            m.group(1),
            "" if m.group(2) == "-" else m.group(2),
            int(m.group(3)) if m.group(3) else None,
            (m.group(4) or "").strip(),
            patch,
        )
        for m in _EXPECT.finditer(text)
    )


def _declared(path: Path) -> tuple[frozenset[Expectation], tuple[str, ...], str]:
    """Expect:, Arches: and Tree: lines of every mail in the file, read after MIME decoding."""
    data = path.read_bytes()
    mails = [parse_mail(raw) for raw in read_input(data, str(path))]
    arches: list[str] = []
    trees: list[str] = []
    for mail in mails:
        for match in _ARCHES.finditer(mail.body):
            arches += match.group(1).split()
        trees += _TREE.findall(mail.body)
    expected = frozenset().union(*(expectations(m.body, m.message_id) for m in mails))
    return expected, tuple(arches) or ("x86_64",), trees[0] if trees else ""


def load_fixtures(rules_dir: Path) -> list[Fixture]:
    out: list[Fixture] = []
    for rule_dir in sorted(p for p in rules_dir.iterdir() if p.is_dir()):
        for kind in ("bad", "good"):
            for path in sorted((rule_dir / kind).glob("*.patch")):
                expected, arches, tree = _declared(path)
                out.append(Fixture(rule_dir.name, path, kind == "bad", expected, arches, tree))
    return out


def resolve(
    expected: frozenset[Expectation], patches: Sequence[Message], tree: TreeView
) -> frozenset[Expectation]:
    """The expectations at their lines on this tree: each follows its hunk where it applies.

    The patches are applied in order, as the engine does; a file that does not apply
    keeps the numbers of its hunk headers.
    """
    hunks = list(_placed_hunks(patches, tree))
    return frozenset(_resolve_one(e, hunks) for e in expected)


# (Message-ID, path, hunk as its header says, the same hunk where it applied)
_Placed = tuple[str, str, Hunk, Hunk]


def _placed_hunks(patches: Sequence[Message], tree: TreeView) -> Iterator[_Placed]:
    changed: dict[str, str | None] = {}
    for patch in patches:
        try:
            changes = parse_diff(patch.diff or "")
        except BadDiffError:
            continue
        view = Overlay(tree, changed)
        for change in changes:
            placed = _applied(view, change)
            if placed is None:
                relocated, text = change, view.read(change.path)
            else:
                relocated, text = placed
            if change.kind is ChangeKind.RENAMED and change.old_path:
                changed[change.old_path] = None
            changed[change.path] = text
            for header, real in zip(change.hunks, relocated.hunks, strict=True):
                yield patch.message_id, change.path, header, real


def _applied(view: TreeView, change: FileChange) -> tuple[FileChange, str | None] | None:
    if change.binary:
        return None
    base = None if change.kind is ChangeKind.ADDED else view.read(change.old_path or change.path)
    try:
        applied = apply_located(base, change)
    except ApplyError:
        return None
    return applied.change, applied.text


def _resolve_one(expected: Expectation, hunks: list[_Placed]) -> Expectation:
    mine = [h for h in hunks if h[1] == expected.path]
    if expected.text:
        found = [
            real.target_start + index
            for _, _, header, real in mine
            for index in _added_indexes(header, expected.text)
        ]
        if len(found) != 1:
            what = "is not an added line" if not found else f"is added {len(found)} times"
            raise FixtureError(f"Expect anchor {expected.path}:+{expected.text} {what}")
        return Expectation(expected.rule, expected.path, found[0])
    line = expected.line
    if line is None:
        return Expectation(expected.rule, expected.path, None)
    # The declaring mail's own hunks first, then the others of the fixture.
    for _, _, header, real in sorted(mine, key=lambda h: h[0] != expected.patch):
        end = header.target_start + sum(op != "-" for op, _ in header.lines)
        if header.target_start <= line <= end:
            moved = line - header.target_start + real.target_start
            return Expectation(expected.rule, expected.path, moved)
    return Expectation(expected.rule, expected.path, line)


def absolute(expected: frozenset[Expectation], patches: Sequence[Message]) -> list[Expectation]:
    """Declared line numbers outside every hunk of their file: they depend on the tree."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for patch in patches:
        try:
            changes = parse_diff(patch.diff or "")
        except BadDiffError:
            continue
        for change in changes:
            for hunk in change.hunks:
                end = hunk.target_start + sum(op != "-" for op, _ in hunk.lines)
                spans.setdefault(change.path, []).append((hunk.target_start, end))
    return [
        e
        for e in expected
        if e.line is not None
        and not any(start <= e.line <= end for start, end in spans.get(e.path, ()))
    ]


def _added_indexes(hunk: Hunk, text: str) -> list[int]:
    """Indexes (among the hunk's post-image lines) of added lines with this text."""
    out = []
    index = 0
    for op, value in hunk.lines:
        if op == "-":
            continue
        if op == "+" and value.strip() == text:
            out.append(index)
        index += 1
    return out
