"""drop_symbol_stamps: the per-symbol include/config files go, kbuild's own files stay."""

from __future__ import annotations

from pathlib import Path

from reviewbot.build.prepare import drop_symbol_stamps


def test_only_empty_stamps_of_configured_symbols_are_dropped(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stamps = out / "include" / "config"
    stamps.mkdir(parents=True)
    (out / ".config").write_text(
        "CONFIG_MODULES=y\nCONFIG_SERIAL_DEV_BUS=m\n# CONFIG_WERROR is not set\n"
        'CONFIG_LOCALVERSION=""\nCONFIG_NOT_EMPTY=y\n'
    )
    for name in ("MODULES", "SERIAL_DEV_BUS", "LOCALVERSION", "auto.conf.cmd"):
        (stamps / name).write_text("")
    (stamps / "auto.conf").write_text("CONFIG_MODULES=y\n")
    (stamps / "NOT_EMPTY").write_text("kept: not a stamp\n")
    (stamps / "UNLISTED").write_text("")

    assert drop_symbol_stamps(out) == 3
    assert sorted(p.name for p in stamps.iterdir()) == [
        "NOT_EMPTY",
        "UNLISTED",
        "auto.conf",
        "auto.conf.cmd",
    ]
    assert drop_symbol_stamps(out) == 0


def test_no_config_drops_nothing(tmp_path: Path) -> None:
    assert drop_symbol_stamps(tmp_path) == 0
