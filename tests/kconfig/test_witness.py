"""The builtin-vs-module witness: found through a tristate selector, cheap when hopeless."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.facts import witness_builtin_vs_module

BOOL_SELECTORS = "".join(f'config S{n:02}\n\tbool "S{n:02}"\n\tselect P\n\n' for n in range(40))
KCONFIG = (
    'mainmenu "t"\nconfig MODULES\n\tbool "modules"\n\tmodules\n\n'
    "config P\n\ttristate\n\n" + BOOL_SELECTORS + 'config T\n\ttristate "T"\n\tselect P\n\n'
    'config C\n\tbool "C"\n\n'
    'config D\n\tbool "D"\n\tselect P\n'
)


@pytest.fixture
def kc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OverlayKconfig:
    (tmp_path / "Kconfig").write_text(KCONFIG)
    monkeypatch.setenv("srctree", str(tmp_path))
    return OverlayKconfig(str(tmp_path), warn_to_stderr=False)


def _counting(kc: OverlayKconfig, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = kc.unset_values

    def unset() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(kc, "unset_values", unset)
    return calls


def test_found_through_the_tristate_selector(
    kc: OverlayKconfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(kc, monkeypatch)
    witness = witness_builtin_vs_module(kc, "C", "P")
    assert witness.found
    assert dict(witness.assignments)["T"] == "m" and dict(witness.assignments)["C"] == "y"
    # bool selectors cannot leave P at m: not tried (each try re-evaluates the whole tree)
    assert len(calls) <= 3


def test_a_consumer_that_selects_the_provider_has_no_witness(
    kc: OverlayKconfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(kc, monkeypatch)
    witness = witness_builtin_vs_module(kc, "D", "P")
    assert not witness.found
    assert len(calls) <= 3
