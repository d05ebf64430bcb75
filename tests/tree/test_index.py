from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviewbot.errors import TreeError
from reviewbot.tree.index import build_index
from reviewbot.tree.scan import scan_kconfig, scan_makefile

KCONFIG = """\
menu "Things"
config FOO
\ttristate "Foo support"
\tselect BAR
\thelp
\t  Foo.

config BAR
\tbool

choice
\tprompt "Pick"
config PICK_A
\tbool "A"
endchoice
endmenu
"""


def make_tree(root: Path) -> None:
    (root / "drivers" / "foo").mkdir(parents=True)
    (root / "Kconfig").write_text('source "drivers/foo/Kconfig"\n')
    (root / "drivers" / "foo" / "Kconfig").write_text(KCONFIG)
    (root / "drivers" / "foo" / "Makefile").write_text(
        "obj-$(CONFIG_FOO) += foo.o \\\n\tfoo_extra.o\nfoo-y := core.o # comment\n"
    )
    (root / "drivers" / "foo" / "core.c").write_text("int x;\nEXPORT_SYMBOL_GPL(x);\n")


def test_scanners() -> None:
    symbols = {s.name: s for s in scan_kconfig(KCONFIG, "K")}
    assert symbols["FOO"].type == "tristate" and symbols["FOO"].prompt and symbols["FOO"].help
    assert symbols["FOO"].selects == (("BAR", 4),)
    assert not symbols["BAR"].prompt and not symbols["BAR"].help
    assert symbols["PICK_A"].in_choice and not symbols["FOO"].in_choice
    refs = scan_makefile("obj-$(CONFIG_FOO) += foo.o \\\n\tbar/\nsnd-hda-y += x.o\n", "M")
    assert [(r.prefix, r.config, r.target, r.line) for r in refs] == [
        ("obj", "FOO", "foo.o", 1),
        ("obj", "FOO", "bar/", 1),
        ("snd-hda", None, "x.o", 3),
    ]


def test_index_and_incremental_update(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    make_tree(root)
    index = build_index(root, cache)
    assert index.types_of("FOO") == {"tristate"}
    assert index.exports["x"][0].path == "drivers/foo/core.c"
    assert index.builders_of("drivers/foo/foo_extra.o")[0].config == "FOO"
    assert index.module_names()["foo"] == ["drivers/foo/foo.o"]

    seen: list[int] = []
    build_index(root, cache, progress=lambda step, done, total: seen.append(total))
    assert seen == []  # nothing changed: nothing re-read

    path = root / "drivers" / "foo" / "Kconfig"
    path.write_text(KCONFIG.replace("tristate", "bool"))
    os.utime(path, ns=(1, 1))
    index = build_index(root, cache, progress=lambda step, done, total: seen.append(total))
    assert seen and max(seen) == 1  # only the changed file
    assert index.types_of("FOO") == {"bool"}


def test_not_a_kconfig_tree(tmp_path: Path) -> None:
    with pytest.raises(TreeError):
        build_index(tmp_path, tmp_path / "cache")
