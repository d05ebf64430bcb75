"""Whether another toolchain can try a probe change: installed, and as new as the tree needs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from reviewbot.build.matrix import load_matrix
from reviewbot.build.toolchains import minimum, parse_version, unusable

GCC = load_matrix()["x86_64"]
MIN_TOOL = """#!/bin/sh
case "$1" in
gcc) if [ "$SRCARCH" = x86 ]; then echo 99.1.0; else echo 5.1.0; fi ;;
llvm) echo 13.0.1 ;;
*) exit 1 ;;
esac
"""


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "min-tool-version.sh").write_text(MIN_TOOL)
    return tmp_path


def test_versions_from_the_compilers_first_line() -> None:
    assert parse_version("Debian clang version 14.0.6\nTarget: x86_64") == (14, 0, 6)
    assert parse_version("gcc (Debian 12.2.0-14+deb12u1) 12.2.0\n") == (12, 2, 0)
    assert parse_version("clang version 13.0\n") == (13, 0, 0)
    assert parse_version("") is None and parse_version("no version here") is None


def test_minimum_is_the_trees_own_for_the_arch(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert minimum(tree, GCC) == (99, 1, 0)  # SRCARCH=x86
    assert minimum(tree, replace(GCC, srcarch="arm64")) == (5, 1, 0)
    assert minimum(tree, load_matrix()["x86_64-clang"]) == (13, 0, 1)
    assert minimum(tmp_path / "nowhere", GCC) is None


def test_a_compiler_older_than_the_tree_supports_is_unusable(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    why = unusable(GCC, tree)  # the machine's gcc is older than 99.1.0
    assert "is older than this tree supports (99.1.0, scripts/min-tool-version.sh)" in why
    assert unusable(replace(GCC, srcarch="arm64"), tree) == ""
    missing = unusable(replace(GCC, compiler="reviewbot-no-such-gcc"), tree)
    assert missing.startswith("not installed (") and "apt-get install" in missing
