"""Find the dependencies that turn wanted symbols on, with kconfiglib, inside the sandbox.

Run as `python -m reviewbot.build.settle` in the build sandbox: reads one JSON request
{"srctree", "arch", "config": path of the .config make wrote, "names": [...]} on stdin
and prints {"assignments": {SYMBOL: "y"|"m"|"n"}} (the values to append before another
`make olddefconfig`), or {"error": "..."}. kconfiglib reads os.environ and runs
Kconfig's $(shell,...), hence the sandbox.
"""

from __future__ import annotations

import json
import os
import sys

from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.env import kconfig_env
from reviewbot.kconfig.facts import enable_assignments


def main() -> int:
    sys.setrecursionlimit(20000)
    try:
        request = json.loads(sys.stdin.read())
        os.environ.update(kconfig_env(request["srctree"], request["arch"]))
        kc = OverlayKconfig(request["srctree"], {}, warn_to_stderr=False)
        kc.load_config(request["config"])
        answer: dict[str, object] = {"assignments": enable_assignments(kc, list(request["names"]))}
    except Exception as exc:  # answer in every case; the caller decides
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
