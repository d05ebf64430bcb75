"""A kconfiglib dependency loop read back the way conf prints it (pure, small trees)."""

from __future__ import annotations

from pathlib import Path

import kconfiglib
import pytest

from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.facts import loop_cycle, loop_of


def _loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("srctree", str(tmp_path))
    with pytest.raises(kconfiglib.KconfigError) as caught:
        OverlayKconfig(str(tmp_path), warn_to_stderr=False)
    return str(caught.value)


def test_a_second_definition_closing_a_loop_is_named_with_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _loop(
        tmp_path,
        monkeypatch,
        {
            "Kconfig": 'source "KconfigA"\nsource "BKconfig"\n',
            "KconfigA": (
                "config DRIVER\n\tbool\n\n"
                'config VFIO\n\ttristate "vfio"\n\n'
                'config MLX5\n\ttristate "mlx5"\n\tdepends on VFIO\n\tselect DRIVER\n'
            ),
            "BKconfig": "config DRIVER\n\tbool\n\tselect VFIO\n",
        },
    )
    loop = loop_of(message)
    # DRIVER is named once per definition (before, a name with two places was dropped)
    assert ("DRIVER", "KconfigA", 1) in loop and ("DRIVER", "BKconfig", 1) in loop
    # MLX5 takes part through DRIVER's select condition (MLX5 && VFIO); whether the reading
    # names it depends on what kconfiglib printed first, the cycle below does not
    assert {"DRIVER", "VFIO"} <= {name for name, _, _ in loop} <= {"DRIVER", "VFIO", "MLX5"}
    # kconfiglib folds MLX5's 'depends on VFIO' into DRIVER's select condition
    # (or, when kconfiglib printed MLX5's dependency as its own step, conf's three lines)
    assert loop_cycle(message) in (
        (
            "symbol DRIVER is selected by MLX5, which depends on VFIO",
            "symbol VFIO is selected by DRIVER",
        ),
        (
            "symbol DRIVER is selected by MLX5",
            "symbol MLX5 depends on VFIO",
            "symbol VFIO is selected by DRIVER",
        ),
    )
