"""The Kconfig worker process: evaluates base and patched trees with kconfiglib.

Runs as `python -m reviewbot.kconfig.worker` inside the sandbox (kconfiglib reads
os.environ and runs Kconfig's $(shell,...)). It reads one JSON request per line on stdin
and answers one JSON line on stdout. Base parses stay warm, keyed by (tree, arch, key).

Request:  {"srctree", "arch", "base_key", "before": {path: text|null},
           "overlay": {path: text|null}, "names": [...], "witnesses": [[kind, subject, other]]}
("before" is the tree as earlier patches of the series left it; empty = the base.)
Response: {"ok": true, "base": KconfigFacts, "patched": KconfigFacts}
          | {"ok": false, "error": "..."}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import kconfiglib

from reviewbot.kconfig.compat import OverlayKconfig, unaffected
from reviewbot.kconfig.env import kconfig_env
from reviewbot.kconfig.facts import (
    KconfigFacts,
    Witness,
    collect,
    loop_cycle,
    loop_of,
    witness_builtin_vs_module,
    witness_enabled_without,
    witness_unmet_select,
)
from reviewbot.kconfig.solver import BaseFormula, ask, describe

_BASES: dict[tuple[str, str, str], kconfiglib.Kconfig | str] = {}
_MAX_BASES = 4
# The last patched parses per (tree, arch, base), by overlay digest: in a series, patch
# k's "before" is patch k-1's overlay, so keeping them saves a full parse for every later
# patch (and a series reviewed again, when a late part arrives, parses nothing new).
_LAST: dict[tuple[str, str, str], OrderedDict[str, kconfiglib.Kconfig | str]] = {}
MAX_KEPT = 3  # about 40 MiB a parse (x86_64)
# The solver formula of each warm base parse, built on the first witness query.
_FORMULAS: dict[tuple[str, str, str], BaseFormula] = {}
# Figures of the current request (benchmarks): formula build, solver and greedy times.
_STATS: dict[str, float] = {}
_DEFINED_AT = re.compile(r"\(defined at ([^:)]+):\d+\)")


def _load(srctree: str, arch: str, overlay: Mapping[str, str | None]) -> kconfiglib.Kconfig:
    os.environ.update(kconfig_env(srctree, arch))
    return OverlayKconfig(srctree, overlay, warn_to_stderr=False)


def _base(srctree: str, arch: str, key: str) -> kconfiglib.Kconfig | str:
    slot = (srctree, arch, key)
    if slot not in _BASES:
        if len(_BASES) >= _MAX_BASES:
            oldest = next(iter(_BASES))
            _BASES.pop(oldest)
            _FORMULAS.pop(oldest, None)
            _LAST.pop(oldest, None)
        try:
            _BASES[slot] = _load(srctree, arch, {})
        except kconfiglib.KconfigError as exc:
            _BASES[slot] = str(exc)
    return _BASES[slot]


def _digest(overlay: Mapping[str, str | None]) -> str:
    return hashlib.sha256(json.dumps(sorted(overlay.items())).encode()).hexdigest()


def _parse(
    srctree: str, arch: str, key: str, overlay: Mapping[str, str | None]
) -> kconfiglib.Kconfig | str:
    """A patched parse (the error text when it fails), reusing the last one when it fits."""
    digest = _digest(overlay)
    kept = _LAST.setdefault((srctree, arch, key), OrderedDict())
    found = kept.get(digest)
    if found is not None:
        kept.move_to_end(digest)
        return found
    kc: kconfiglib.Kconfig | str
    try:
        kc = _load(srctree, arch, overlay)
    except kconfiglib.KconfigError as exc:
        kc = str(exc)
    kept[digest] = kc
    while len(kept) > MAX_KEPT:
        kept.popitem(last=False)
    return kc


def formula(slot: tuple[str, str, str]) -> BaseFormula | None:
    """The warm solver formula of a base (built once; None when the base fails to load)."""
    if slot not in _FORMULAS:
        base = _base(*slot)
        if not isinstance(base, kconfiglib.Kconfig):
            return None
        rss = _rss_kib()
        built = _FORMULAS[slot] = BaseFormula(base)
        _STATS["formula_seconds"] = round(built.seconds, 3)
        _STATS["formula_clauses"] = built.clause_count
        _STATS["formula_rss_kib"] = _rss_kib() - rss
    return _FORMULAS[slot]


def _rss_kib() -> int:
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _greedy(kc: kconfiglib.Kconfig, wanted: Sequence[Sequence[str]]) -> None:
    """The greedy walk the solver replaced, timed on the same questions (benchmarks)."""
    started = time.monotonic()
    found = 0
    for kind, subject, other in wanted:
        if kind == "unmet-select":
            found += witness_unmet_select(kc, subject, other).found
        elif kind == "builtin-module":
            found += witness_builtin_vs_module(kc, subject, other).found
        elif kind == "enabled-without":
            found += witness_enabled_without(kc, subject, other).found
    _STATS["greedy_seconds"] = _STATS.get("greedy_seconds", 0.0) + time.monotonic() - started
    _STATS["greedy_found"] = _STATS.get("greedy_found", 0) + found


def _witnesses(
    kc: kconfiglib.Kconfig, slot: tuple[str, str, str], wanted: Sequence[Sequence[str]]
) -> tuple[Witness, ...]:
    if not wanted:
        return ()
    base = formula(slot)
    if base is None:
        return ()
    started = time.monotonic()
    view = base.view(kc)
    asked = ask(view, wanted)
    _STATS["solver_seconds"] = _STATS.get("solver_seconds", 0.0) + time.monotonic() - started
    _STATS["solver_found"] = _STATS.get("solver_found", 0) + sum(a is not None for _, a in asked)
    if _STATS.get("compare"):
        _greedy(kc, wanted)
    out = []
    for (kind, subject, other), answer in asked:
        if answer is None:
            out.append(Witness(kind, subject, other, False))
            continue
        shown = subject.split("&") + ([other] if other else [])
        if kind == "unmet-select" and other in kc.syms:
            shown += sorted(
                {s.name for s in kconfiglib.expr_items(kc.syms[other].direct_dep)}
                & set(answer.values)
            )
        implied = tuple((name, answer.values[name]) for name in shown if name in answer.values)
        out.append(
            Witness(
                kind,
                subject,
                other,
                True,
                answer.lines,
                describe(view, kind, subject, other),
                implied=implied,
            )
        )
    return tuple(out)


def _facts(
    kc: kconfiglib.Kconfig | str,
    slot: tuple[str, str, str],
    names: Sequence[str],
    wanted: Sequence[Sequence[str]],
) -> KconfigFacts:
    arch = slot[1]
    if isinstance(kc, str):
        return KconfigFacts(arch=arch, error=kc, loop=loop_of(kc), cycle=loop_cycle(kc))
    facts = collect(kc, arch, names)
    warnings = tuple(_DEFINED_AT.sub(r"(defined at \1)", w) for w in facts.warnings)
    return KconfigFacts(
        arch=arch,
        symbols=facts.symbols,
        warnings=warnings,
        files=facts.files,
        witnesses=_witnesses(kc, slot, wanted),
    )


def evaluate(request: Mapping[str, Any]) -> dict[str, Any]:
    srctree, arch = request["srctree"], request["arch"]
    overlay: dict[str, str | None] = dict(request.get("overlay", {}))
    names: list[str] = list(request.get("names", []))
    wanted = [tuple(w) for w in request.get("witnesses", [])]
    before: dict[str, str | None] = dict(request.get("before", {}))
    base: kconfiglib.Kconfig | str
    key = str(request.get("base_key", ""))
    slot = (srctree, arch, key)
    # The tree as earlier patches left it: the base's parse when they changed nothing it
    # reads (a warm base only: a cold one costs as much as parsing "before" itself).
    warm = _BASES.get(slot)
    if not before:
        base = _base(srctree, arch, key)
    elif isinstance(warm, kconfiglib.Kconfig) and unaffected(warm, srctree, {}, before):
        base = warm
    else:
        base = _parse(srctree, arch, key, before)
    base_facts = _facts(base, slot, names, wanted)
    if overlay == before or (
        isinstance(base, kconfiglib.Kconfig) and unaffected(base, srctree, before, overlay)
    ):
        # No file this arch's Kconfig reads (or could source) changed: the same parse.
        return {"ok": True, "base": base_facts.to_json(), "patched": base_facts.to_json()}
    patched = _parse(srctree, arch, key, overlay)
    facts = _facts(patched, slot, names, wanted)
    if isinstance(patched, str):
        # Keep the other rules running: revert one touched file at a time.
        for path in sorted(overlay):
            partial = {k: v for k, v in overlay.items() if k != path}
            kc = _parse(srctree, arch, key, partial)
            if isinstance(kc, str):
                continue
            rest = _facts(kc, slot, names, wanted)
            facts = KconfigFacts(
                arch=arch,
                error=facts.error,
                loop=facts.loop,
                cycle=facts.cycle,
                symbols=rest.symbols,
                warnings=rest.warnings,
                files=rest.files,
                witnesses=rest.witnesses,
            )
            break
    return {"ok": True, "base": base_facts.to_json(), "patched": facts.to_json()}


def main() -> int:
    # kconfiglib invalidates values recursively; long dependency chains in the kernel
    # exceed Python's default limit of 1000 frames when a witness sets values.
    sys.setrecursionlimit(20000)
    for line in sys.stdin:
        if not line.strip():
            continue
        started = time.monotonic()
        _STATS.clear()
        try:
            request = json.loads(line)
            _STATS["compare"] = float(bool(request.get("compare")))
            answer = evaluate(request)
        except Exception as exc:  # answer every request; the client decides
            answer = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(limit=5),
            }
        answer["seconds"] = round(time.monotonic() - started, 3)
        answer["stats"] = dict(_STATS)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
