"""Find the dependencies that turn wanted symbols on, with kconfiglib, inside the sandbox.

Run as `python -m reviewbot.build.settle` in the build sandbox: reads one JSON request
{"srctree", "arch", "config": path of the .config make wrote, "names": [...], "off": [...]}
on stdin (names to turn on, and names to turn off: a symbol without a prompt is turned off
through its selectors and its direct dependencies)
and prints {"assignments": {SYMBOL: "y"|"m"|"n"}} (the values to append before another
`make olddefconfig`), or {"error": "..."}. kconfiglib reads os.environ and runs
Kconfig's $(shell,...), hence the sandbox.
"""

from __future__ import annotations

import json
import os
import sys

import kconfiglib

from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.env import kconfig_env
from reviewbot.kconfig.facts import enable_assignments


def _disable(sym: kconfiglib.Symbol, seen: set[str], depth: int = 0) -> None:
    """Turn sym off: its prompt, else every selector and every symbol its deps need."""
    if sym.tri_value == 0 or sym.name in seen or depth > 6 or sym.choice is not None:
        return
    seen.add(sym.name)
    if 0 in sym.assignable:
        sym.set_value(0)
        return
    for item in (*kconfiglib.expr_items(sym.rev_dep), *kconfiglib.expr_items(sym.direct_dep)):
        if isinstance(item, kconfiglib.Symbol) and item.nodes and not item.is_constant:
            _disable(item, seen, depth + 1)
            if sym.tri_value == 0:
                return
    for node in sym.nodes:  # a promptless symbol whose default condition is the way off
        for item in kconfiglib.expr_items(node.dep):
            if isinstance(item, kconfiglib.Symbol) and item.nodes and not item.is_constant:
                _disable(item, seen, depth + 1)


def disable_assignments(kc: kconfiglib.Kconfig, names: list[str]) -> dict[str, str]:
    """Values that turn each of names off (greedy; a name that stays on is just not off)."""
    tri = {0: "n", 1: "m", 2: "y"}
    before = {s.name: s.tri_value for s in kc.unique_defined_syms}
    for name in names:
        sym = kc.syms.get(name)
        if sym is not None and sym.nodes:
            _disable(sym, set())
    return {
        s.name: tri[s.tri_value]
        for s in kc.unique_defined_syms
        if s.user_value is not None
        and s.type in (kconfiglib.BOOL, kconfiglib.TRISTATE)
        and s.tri_value != before.get(s.name)
    }


def main() -> int:
    sys.setrecursionlimit(20000)
    try:
        request = json.loads(sys.stdin.read())
        os.environ.update(kconfig_env(request["srctree"], request["arch"]))
        kc = OverlayKconfig(request["srctree"], {}, warn_to_stderr=False)
        kc.load_config(request["config"])
        assignments = enable_assignments(kc, list(request["names"]))
        assignments.update(disable_assignments(kc, list(request.get("off", ()))))
        answer: dict[str, object] = {"assignments": assignments}
    except Exception as exc:  # answer in every case; the caller decides
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
