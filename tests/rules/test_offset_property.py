"""Property: a real patch's findings move with it when it applies at an offset.

Take a bad fixture (a real-tree patch with findings), pad the files it modifies with
blank lines on top (the tree differs from the author's base) and shift its hunk headers
(the author's numbers differ from ours). The patch then applies `pad - shift` lines away
from its headers; every finding must be the same, `pad` lines lower in a padded file.
Static rules only (no Kconfig evaluation, no builds): they are the ones that read line
numbers of the patch; the fixtures test the others at an offset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.analysis.diff import ChangeKind, parse_diff
from reviewbot.analysis.view import Overlay, TreeView
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Series
from reviewbot.rules.engine import review_series
from reviewbot.rules.fixtures import load_fixtures
from reviewbot.rules.registry import RULES
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex, facts_for, merge

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
_HEADER = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", re.MULTILINE)

Key = tuple[str, str, str, int | None]


def _key(finding: Finding) -> Key:
    return (finding.rule, finding.severity.value, finding.path, finding.line)


def _shift_headers(diff: str, by: int) -> str:
    def shift(match: re.Match[str]) -> str:
        old, old_len, new, new_len = match.groups()
        if old == "0":  # a new file: nothing to shift
            return match.group(0)
        return f"@@ -{int(old) + by}{old_len or ''} +{int(new) + by}{new_len or ''} @@"

    return _HEADER.sub(shift, diff)


def _padded_index(index: TreeIndex, padded: Mapping[str, str]) -> TreeIndex:
    """The index of the tree with these files replaced."""
    extra = merge(index.root, index.key, {p: facts_for(p, t) for p, t in padded.items()})
    out = TreeIndex(
        index.root,
        index.key + ":padded",
        kconfig_files=index.kconfig_files,
        kbuild_files=index.kbuild_files,
        kconfig_digest=index.kconfig_digest,
    )
    for name, defs in index.symbols.items():
        out.symbols[name] = [d for d in defs if d.path not in padded]
    for name, exports in index.exports.items():
        out.exports[name] = [d for d in exports if d.path not in padded]
    for target, refs in index.objects.items():
        out.objects[target] = [r for r in refs if r.makefile not in padded]
    for name, defs in extra.symbols.items():
        out.symbols.setdefault(name, []).extend(defs)
    for name, exports in extra.exports.items():
        out.exports.setdefault(name, []).extend(exports)
    for target, refs in extra.objects.items():
        out.objects.setdefault(target, []).extend(refs)
    return out


def _series_of(path: Path) -> list[Series]:
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), str(path))]
    return assemble(messages)[0]


def _modified(series: Series) -> set[str]:
    out = set()
    for patch in series.patches:
        for change in parse_diff(patch.diff or ""):
            if change.kind is not ChangeKind.ADDED:
                out.add(change.old_path or change.path)
    return out


def _review(series: Series, tree: TreeView, index: TreeIndex) -> set[Key]:
    result = review_series(series, tree, index, RULES)
    return {_key(f) for f in result.findings}


@pytest.fixture(scope="module")
def cases(real_tree: Path, real_index: TreeIndex) -> list[tuple[str, Series, set[Key]]]:
    """Bad fixtures that apply and have findings with lines under the static rules."""
    out = []
    for fixture in load_fixtures(RULES_DIR):
        if not fixture.bad or fixture.rule.startswith("BLD"):
            continue
        for series in _series_of(fixture.path):
            found = _review(series, FsTree(real_tree), real_index)
            if any(rule == "RB002" for rule, *_ in found):
                continue
            if any(line is not None for *_, line in found):
                out.append((f"{fixture.rule}/{fixture.path.name}", series, found))
    assert len(out) >= 20, "most bad fixtures report at a line under the static rules"
    return out


@pytest.mark.realtree
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_findings_move_with_the_patch(
    data: st.DataObject,
    cases: list[tuple[str, Series, set[Key]]],
    real_tree: Path,
    real_index: TreeIndex,
) -> None:
    name, series, original = data.draw(st.sampled_from(cases), label="fixture")
    pad = data.draw(st.integers(0, 25), label="pad")
    shift = data.draw(st.integers(-25, 25), label="shift")
    starts = [int(m.group(1)) for p in series.patches for m in _HEADER.finditer(p.diff or "")]
    shift = max(shift, 1 - min((s for s in starts if s > 0), default=1))
    base = FsTree(real_tree)
    padded = {}
    for path in _modified(series):
        text = base.read(path)
        if text is not None:
            padded[path] = "\n" * pad + text
    moved = replace(
        series,
        patches=tuple(
            replace(p, diff=_shift_headers(p.diff, shift)) if p.diff else p for p in series.patches
        ),
    )
    got = _review(moved, Overlay(base, padded), _padded_index(real_index, padded))
    expected = {
        (rule, severity, path, line + pad if line is not None and path in padded else line)
        for rule, severity, path, line in original
    }
    assert got == expected, f"{name}: pad {pad}, header shift {shift}"
