"""settle turns promptless symbols off through their selectors and dependencies."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.build.settle import disable_assignments
from reviewbot.kconfig.compat import OverlayKconfig

KCONFIG = """\
config SUSPEND
	bool "Suspend"
	default y

config HIBERNATION
	bool "Hibernation"
	default y
	select HIBERNATE_CALLBACKS

config HIBERNATE_CALLBACKS
	bool

config PM_SLEEP
	def_bool y
	depends on SUSPEND || HIBERNATE_CALLBACKS

config NUMA
	bool "NUMA"
	default y
"""


def test_promptless_symbol_goes_off_through_what_turns_it_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Kconfig").write_text(KCONFIG)
    monkeypatch.setenv("srctree", str(tmp_path))
    kc = OverlayKconfig(str(tmp_path), warn_to_stderr=False)
    assert kc.syms["PM_SLEEP"].tri_value == 2
    values = disable_assignments(kc, ["PM_SLEEP", "NUMA"])
    assert kc.syms["PM_SLEEP"].tri_value == 0 and kc.syms["NUMA"].tri_value == 0
    assert values["SUSPEND"] == "n" and values["HIBERNATION"] == "n" and values["NUMA"] == "n"
