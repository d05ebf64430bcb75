"""Warm full builds per (tree key, arch, small config) in the build cache, for link checks (edge).

A link-level change (an object moving between obj-y and lib-y, an export or a section
attribute changing) only shows when vmlinux is linked and modpost runs. Doing that from
scratch per patch costs a full build; instead the cache keeps one finished build per
(base, arch, WARM_CONFIG) next to the prepared trees:

    <cache>/build/<tree-key>/<arch>/full-<config-key>/out     (+ warm.json)

`ensure_warm` makes it once (configure as prepared trees are, then `make W=1 vmlinux`,
plus `modules` when the config has MODULES); `find_warm` says whether one exists without
building it. A per-patch LINK step copies it and runs the same make: kbuild rebuilds
only what the patch changed, relinks vmlinux and runs modpost. `reviewbot check --build`
never builds a warm tree itself (it is minutes of CPU): it uses one when it exists and
says so when not; the service, the bench and the tests call ensure_warm.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from reviewbot import sandbox
from reviewbot.build.diagnostics import parse_output
from reviewbot.build.model import Arch, BuildConfig, DiagKind, Diagnostic
from reviewbot.build.prepare import (
    ROOTS,
    Tree,
    config_values,
    configure,
    drop_symbol_stamps,
    make_argv,
    make_in_box,
    prepared_dir,
    read_limited,
)
from reviewbot.errors import InfrastructureError

log = logging.getLogger(__name__)

WARM_LIMITS = sandbox.Limits(
    cpu_seconds=7200, memory_bytes=6 << 30, processes=2048, wall_seconds=3600.0
)


class WarmBuildError(InfrastructureError):
    """A warm full build of the base failed (the base itself does not link)."""


@dataclass(frozen=True)
class Warm:
    out: Path
    missing: tuple[str, ...]
    modules: bool
    seconds: float  # what building it cost (0 when it was already there)
    known: tuple[Diagnostic, ...] = ()  # link and modpost messages the full build printed

    def goals(self) -> tuple[str, ...]:
        return ("vmlinux", "modules") if self.modules else ("vmlinux",)


def warm_dir(cache_dir: Path, tree_key: str, arch: Arch, config: BuildConfig) -> Path:
    prepared = prepared_dir(cache_dir, tree_key, arch, config)
    return prepared.parent / f"full-{config.key}"


def find_warm(cache_dir: Path, tree_key: str, arch: Arch, config: BuildConfig) -> Warm | None:
    """The finished warm build for (tree, arch, config), or None."""
    home = warm_dir(cache_dir, tree_key, arch, config)
    try:
        info = json.loads((home / "warm.json").read_text())
    except (OSError, ValueError):
        return None
    known = tuple(
        Diagnostic(DiagKind(k), p, n, t, tool) for k, p, n, t, tool in info.get("known", ())
    )
    return Warm(home / "out", tuple(info["missing"]), bool(info["modules"]), 0.0, known)


def ensure_warm(
    base: Path,
    tree_key: str,
    arch: Arch,
    config: BuildConfig,
    cache_dir: Path,
    jobs: int = 2,
    limits: sandbox.Limits = WARM_LIMITS,
) -> Warm:
    """The warm full build, made once under a lock (minutes: a whole small-config build)."""
    home = warm_dir(cache_dir, tree_key, arch, config)
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"full-{config.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_warm(cache_dir, tree_key, arch, config)
        if found is not None:
            return found
        started = time.monotonic()
        work = home.parent / f"full-{config.key}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        (work / "out").mkdir(parents=True)
        tree = Tree(base.resolve(), work, base.resolve())
        missing = configure(tree, arch, config, limits)
        modules = config_values(read_limited(work / "out" / ".config")).get("MODULES") == "y"
        goals = ("vmlinux", "modules") if modules else ("vmlinux",)
        result = make_in_box(tree, make_argv(arch, "W=1", *goals, jobs=jobs), limits)
        if result.returncode != 0 or result.timed_out:
            tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
            raise WarmBuildError(f"warm build of {arch.name} {config.defconfig} failed: {tail}")
        drop_symbol_stamps(work / "out")
        seconds = time.monotonic() - started
        known = [
            d
            for d in parse_output(result.stdout + "\n" + result.stderr, ROOTS)
            if d.tool in ("ld", "modpost", "objtool")
        ]
        info = {
            "missing": missing,
            "modules": modules,
            "seconds": round(seconds, 1),
            "known": [[d.kind.value, d.path, d.line, d.text, d.tool] for d in known],
        }
        (work / "warm.json").write_text(json.dumps(info))
        shutil.rmtree(home, ignore_errors=True)
        os.replace(work, home)
        log.info("warm full build %s %s in %.0f s", arch.name, config.defconfig, seconds)
        return Warm(home / "out", tuple(missing), modules, seconds, tuple(known))
