"""The link-check fixtures' warm full build, started early in the background.

The BLD006 fixtures need a warm full build of the base (tinyconfig + PRINTK, one arch).
On a cold cache that is one whole kernel build, tens of minutes of a 2-core CI machine,
and the fixtures come late in the run. pytest runs one test at a time, so a core is
mostly idle meanwhile: when the collected tests include a BLD006 fixture and the cache
has no warm build for its arch, `start` begins the build at once, in a thread at the
lowest CPU priority (nice 19, which make and the compilers inherit), and the fixture's
own `ensure_warm` waits for it on the build's lock instead of starting from nothing.
A build that fails here is only logged: the fixture's own call then builds (or fails)
as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from reviewbot import sandbox
from reviewbot.build.kbuild_plan import WARM_CONFIG
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import Arch, BuildConfig
from reviewbot.build.warm import WARM_LIMITS, Warm, ensure_warm, find_warm
from reviewbot.tree.index import tree_key

log = logging.getLogger(__name__)

Build = Callable[..., Warm]
# At nice 19 the build only gets what the tests leave; give it room before its wall limit.
BACKGROUND_LIMITS = replace(WARM_LIMITS, wall_seconds=WARM_LIMITS.wall_seconds * 3)


def missing_arches(root: Path, cache: Path, arches: Sequence[str]) -> list[Arch]:
    """The arches (of the matrix) whose warm build for root is not in cache yet."""
    matrix = load_matrix()
    key = tree_key(root)
    wanted = [matrix[name] for name in dict.fromkeys(arches) if name in matrix]
    return [arch for arch in wanted if find_warm(cache, key, arch, WARM_CONFIG) is None]


def start(
    root: Path,
    cache: Path,
    arches: Sequence[str],
    build: Build = ensure_warm,
    config: BuildConfig = WARM_CONFIG,
) -> threading.Thread | None:
    """Start the missing warm builds in a low-priority thread; None when none is missing."""
    missing = missing_arches(root, cache, arches)
    if not missing or not sandbox.bwrap_available():
        return None
    key = tree_key(root)

    def work() -> None:
        os.nice(19)  # on Linux, this thread only; the processes it starts inherit it
        for arch in missing:
            try:
                build(root, key, arch, config, cache, limits=BACKGROUND_LIMITS)
            except Exception:  # the fixture's own ensure_warm reports it
                log.exception("background warm build of %s failed", arch.name)

    thread = threading.Thread(target=work, name="warm-build", daemon=True)
    thread.start()
    return thread
