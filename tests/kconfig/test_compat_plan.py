"""kconfiglib compatibility keywords, the overlay loader, and the evaluation plan."""

from __future__ import annotations

import os
from pathlib import Path

import kconfiglib
import pytest

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.kconfig.compat import OverlayKconfig, rewrite
from reviewbot.kconfig.plan import plan
from tests.helpers import index_of

TREE = {
    "Kconfig": 'mainmenu "t"\nsource "sub/Kconfig"\nconfig MODULES\n\tbool "modules"\n\tmodules\n',
    "sub/Kconfig": 'config A\n\tbool "A"\n\tselect B\n\nconfig B\n\tbool\n',
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for path, text in TREE.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    monkeypatch.setenv("srctree", str(tmp_path))
    return tmp_path


def test_modules_keyword_is_taught(tree: Path) -> None:
    with pytest.raises(kconfiglib.KconfigError):
        kconfiglib.Kconfig(os.path.join(str(tree), "Kconfig"), warn_to_stderr=False)
    kc = OverlayKconfig(str(tree), warn_to_stderr=False)
    assert kc.modules.name == "MODULES"


def test_transitional_keyword_is_taught(tree: Path) -> None:
    text = 'config OLD_NAME\n\tbool "old"\n\ttransitional\n\tselect B\n'
    assert rewrite(text).count("\n") == text.count("\n")
    kc = OverlayKconfig(
        str(tree), {"sub/Kconfig": TREE["sub/Kconfig"] + text}, warn_to_stderr=False
    )
    assert kc.syms["OLD_NAME"].nodes[0].linenr == 7


def test_overlay_serves_added_and_deleted_files(tree: Path) -> None:
    overlay: dict[str, str | None] = {
        "Kconfig": TREE["Kconfig"] + 'source "new/Kconfig"\n',
        "new/Kconfig": "config NEW\n\tbool\n",
    }
    kc = OverlayKconfig(str(tree), overlay, warn_to_stderr=False)
    assert kc.syms["NEW"].nodes
    with pytest.raises(kconfiglib.KconfigError):
        OverlayKconfig(str(tree), {"sub/Kconfig": None}, warn_to_stderr=False)
    assert not (tree / "new").exists()


def _touch(path: str) -> tuple[FileChange, ...]:
    return (FileChange(path, None, ChangeKind.MODIFIED, (), (), ()),)


def test_plan_finds_new_selects_and_type_changes() -> None:
    base = {"sub/Kconfig": 'config A\n\tbool "A"\n\nconfig B\n\tbool\n'}
    after = {"sub/Kconfig": 'config A\n\tbool "A"\n\tselect B\n\nconfig B\n\ttristate\n'}
    index = PatchedIndex(index_of(base), {})
    result = plan(_touch("sub/Kconfig"), base, after, index)
    assert result is not None
    assert result.witnesses == (("unmet-select", "A", "B"),)
    assert result.type_changes == (("B", "bool", "tristate"),)
    assert result.arches[:2] == ("x86_64", "arm64")
    assert plan(_touch("drivers/x.c"), {}, {}, index) is None


def test_plan_adds_the_arch_of_touched_files() -> None:
    text = 'config KVM\n\tbool "KVM"\n'
    index = PatchedIndex(index_of({"arch/s390/kvm/Kconfig": text}), {})
    result = plan(
        _touch("arch/s390/kvm/Kconfig"),
        {"arch/s390/kvm/Kconfig": text},
        {"arch/s390/kvm/Kconfig": text + "\tselect X\n"},
        index,
    )
    assert result is not None and result.arches[0] == "s390"
