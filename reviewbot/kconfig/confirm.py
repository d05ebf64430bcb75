"""Confirm kconfiglib witnesses with the kernel's own conf (olddefconfig on the witness)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from reviewbot.errors import InfrastructureError
from reviewbot.kconfig.conf import conf_olddefconfig
from reviewbot.kconfig.facts import Witness
from reviewbot.kconfig.provider import Confirm

log = logging.getLogger(__name__)


def make_confirm(tree: Path, cache_dir: Path) -> Confirm:
    """A confirm function backed by the tree's scripts/kconfig/conf.

    It answers (True, conf's warning) when conf prints the same unmet-dependency warning
    for the witness configuration, (False, "") when it does not, and (None, reason) when
    conf cannot run here (a missing tool): rules then lower the finding to info.
    """

    def confirm(
        overlay: Mapping[str, str | None], arch: str, witness: Witness
    ) -> tuple[bool | None, str]:
        try:
            run = conf_olddefconfig(tree, overlay, arch, dict(witness.assignments), cache_dir)
        except InfrastructureError as exc:
            log.warning("conf unavailable, witness not confirmed: %s", exc)
            return None, f"conf unavailable: {exc}"
        for unmet in run.parse.unmet:
            if unmet.symbol == witness.other:
                return True, unmet.text
        return False, ""

    return confirm
