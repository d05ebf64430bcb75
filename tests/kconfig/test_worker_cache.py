"""The worker keeps the last patched parse per arch: a series' next patch reuses it."""

from __future__ import annotations

import os
from pathlib import Path

import kconfiglib
import pytest

from reviewbot.kconfig import compat, worker

KCONFIG = """\
config MODULES
\tbool "modules"
\tmodules

config A
\ttristate "A"

config B
\tbool "B"
"""


@pytest.fixture()
def tiny(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[dict[str, str | None]]]:
    (tmp_path / "Kconfig").write_text(KCONFIG)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # kconfiglib reads the environment
    monkeypatch.setattr(worker, "_BASES", {})
    monkeypatch.setattr(worker, "_LAST", {})
    loads: list[dict[str, str | None]] = []
    real = worker._load

    def counting(srctree: str, arch: str, overlay: dict[str, str | None]) -> kconfiglib.Kconfig:
        loads.append(dict(overlay))
        return real(srctree, arch, overlay)

    monkeypatch.setattr(worker, "_load", counting)
    return tmp_path, loads


def _ask(
    tree: Path, before: dict[str, str | None], after: dict[str, str | None], key: str = "k"
) -> dict[str, object]:
    return worker.evaluate(
        {
            "srctree": str(tree),
            "arch": "x86_64",
            "base_key": key,
            "before": before,
            "overlay": after,
            "names": ["A", "B", "C"],
        }
    )


def test_a_series_parses_each_state_once(tiny: tuple[Path, list[dict[str, str | None]]]) -> None:
    tree, loads = tiny
    one = {"Kconfig": KCONFIG + '\nconfig C\n\tbool "C"\n'}
    two = {"Kconfig": KCONFIG + '\nconfig C\n\tbool "C"\n\tdepends on B\n'}
    first = _ask(tree, {}, one)
    second = _ask(tree, one, two)
    assert first["ok"] and second["ok"]
    # base, patch 1, patch 2: patch 2's "before" is patch 1's parse, not a new one
    assert loads == [{}, one, two]
    patched = second["patched"]
    assert isinstance(patched, dict) and patched["symbols"]["C"]["direct_dep"] == "B"
    base = second["base"]
    assert isinstance(base, dict) and base["symbols"]["C"]["direct_dep"] == "y"


def test_the_cache_is_per_base(tiny: tuple[Path, list[dict[str, str | None]]]) -> None:
    tree, loads = tiny
    one = {"Kconfig": KCONFIG + '\nconfig C\n\tbool "C"\n'}
    _ask(tree, {}, one, key="k1")
    _ask(tree, one, one, key="k2")
    assert loads == [{}, one, one], "another base commit must not reuse a parse"


def test_a_failed_parse_is_cached_as_its_error(
    tiny: tuple[Path, list[dict[str, str | None]]],
) -> None:
    tree, loads = tiny
    broken = {"Kconfig": KCONFIG + "\nconfig C\n\tbool 'C\n\tdepends on (\n"}
    answer = _ask(tree, {}, broken)
    patched = answer["patched"]
    assert isinstance(patched, dict) and patched["error"]
    later = _ask(tree, broken, {"Kconfig": KCONFIG})
    base = later["base"]
    assert isinstance(base, dict) and base["error"] == patched["error"]
    assert loads.count(broken) == 1


def test_a_file_the_arch_never_reads_needs_no_parse(
    tiny: tuple[Path, list[dict[str, str | None]]],
) -> None:
    tree, loads = tiny
    (tree / "Kconfig").write_text(KCONFIG + 'osource "extra/Kconfig"\n')
    unread = {"other/Kconfig": 'config C\n\tbool "C"\n'}
    answer = _ask(tree, {}, unread)
    assert answer["base"] == answer["patched"] and loads == [{}]
    # a series: patch 2 changes the unread file again, still the base's parse
    _ask(tree, unread, {"other/Kconfig": 'config D\n\tbool "D"\n'})
    assert loads == [{}]
    # a new file the base's `osource` pattern matches is read: parsed
    added = {"extra/Kconfig": 'config C\n\tbool "C"\n'}
    answer = _ask(tree, {}, added)
    patched = answer["patched"]
    assert loads == [{}, added] and isinstance(patched, dict) and "C" in patched["symbols"]


def test_shell_output_is_run_once_per_environment_and_command(
    tiny: tuple[Path, list[dict[str, str | None]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, loads = tiny
    monkeypatch.setattr(compat, "_SHELL", {})
    counter = tree / "runs"
    probe = f"$(shell,echo x >> {counter}; echo y; echo careful >&2)"
    (tree / "Kconfig").write_text(KCONFIG + f"\nconfig P\n\tdef_bool {probe}\n")
    first = _ask(tree, {}, {"Kconfig": KCONFIG + f"\nconfig P\n\tbool\n\tdefault {probe}\n"})
    assert first["ok"] and len(loads) == 2
    assert counter.read_text() == "x\n", "the patched parse reuses the base's output"
    for facts in (first["base"], first["patched"]):
        assert isinstance(facts, dict)
        assert any("wrote to stderr: careful" in w for w in facts["warnings"])
    os.environ["CC"] = "another-compiler"
    worker._load(str(tree), "arm64", {})
    assert counter.read_text() == "x\nx\n", "another environment runs the command again"
