"""Evaluate a patch's Kconfig plan: the worker for each arch, then conf to confirm witnesses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from reviewbot.analysis.facts import PatchedIndex
from reviewbot.kconfig import search
from reviewbot.kconfig.client import KconfigClient, worker_rss_kb
from reviewbot.kconfig.dropped import Dropped
from reviewbot.kconfig.facts import KconfigDelta, Witness
from reviewbot.kconfig.links import condition_parts, consumer_of
from reviewbot.kconfig.narrowed import consumers, exported_by
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

log = logging.getLogger(__name__)
MAX_CALLERS = 16

# (overlay, arch, witness) -> (confirmed: True/False, or None when conf cannot run; output)
Confirm = Callable[[Mapping[str, str | None], str, Witness], tuple[bool | None, str]]
# (before overlay, after overlay, arch) -> new conf messages (path, line, severity, text),
# or None when conf cannot run here
ParseCheck = Callable[
    [Mapping[str, str | None], Mapping[str, str | None], str],
    tuple[tuple[str | None, int | None, str, str], ...] | None,
]


class KconfigEvaluator:
    """The KconfigProvider the engine calls: warm workers, per-arch deltas, confirmations.

    `workers` processes run side by side (one per core); each arch always goes to the
    same worker, so its base parse stays warm there. `only` restricts the arches a plan
    may use (tests and benchmarks pin them).
    """

    def __init__(
        self,
        tree: Path,
        base_key: str,
        confirm: Confirm | None = None,
        workers: int = 2,
        only: tuple[str, ...] | None = None,
        parse_check: ParseCheck | None = None,
        index: TreeIndex | None = None,
        compare: bool = False,
        timeout: float = 180.0,
    ) -> None:
        self.tree = tree
        self.timeout = timeout
        self.base_key = base_key
        self.confirm = confirm
        self.parse_check = parse_check
        self.index = index
        self.only = only
        self.compare = compare  # also time the greedy witness walk (benchmarks)
        self._clients: list[KconfigClient | None] = [None] * max(1, workers)
        self._slots: dict[str, int] = {}

    def _client(self, arch: str) -> KconfigClient:
        slot = self._slots.setdefault(arch, len(self._slots) % len(self._clients))
        client = self._clients[slot]
        if client is None:
            client = self._clients[slot] = KconfigClient(self.tree, timeout=self.timeout)
        return client

    def close(self) -> None:
        for slot, client in enumerate(self._clients):
            if client is not None:
                client.__exit__(None, None, None)
                self._clients[slot] = None

    def rss_kb(self) -> list[int]:
        return [worker_rss_kb(c) or 0 for c in self._clients if c is not None]

    def _with_callers(self, plan: KconfigPlan) -> KconfigPlan:
        """For bool -> tristate changes, ask whether built-in callers can meet X=m."""
        if self.index is None:
            return plan
        base = PatchedIndex(self.index, {})
        extra: set[tuple[str, str, str]] = set()
        for symbol, old, new in plan.type_changes:
            if (old, new) != ("bool", "tristate"):
                continue
            files = {
                p[:-2] + ".c"
                for p in self.index.objects_by_config.get(symbol, [])
                if p.endswith(".o")
            }
            exports = [
                name
                for name, defs in self.index.exports.items()
                if any(d.path in files for d in defs)
            ]
            for path in search.callers(self.tree, exports):
                if path in files:
                    continue
                consumer = consumer_of(base, path[:-2] + ".o")
                if consumer and symbol not in condition_parts(consumer):
                    extra.add(("builtin-module", consumer, symbol))
        if not extra:
            return plan
        extra_sorted = tuple(sorted(extra))[:MAX_CALLERS]
        names = tuple(
            sorted(set(plan.names) | {p for _, s, _ in extra_sorted for p in condition_parts(s)})
        )
        return replace(plan, witnesses=plan.witnesses + extra_sorted, names=names)

    def _narrowed(self, plan: KconfigPlan) -> tuple[KconfigPlan, tuple[Dropped, ...]]:
        """For entries put under a stricter `if`: who calls them, and the witnesses to ask."""
        if self.index is None or not plan.narrowed:
            return plan, ()
        base, view = PatchedIndex(self.index, {}), FsTree(self.tree)
        exports = {item: exported_by(base, view, item[0]) for item in plan.narrowed}
        names = {name for found in exports.values() for name in found}
        callers = search.callers(self.tree, names) if names else []  # one grep for all
        found: list[Dropped] = []
        for item, exported in exports.items():
            if exported:
                found += consumers(base, view, item, exported, callers)
        extra = set()
        for dropped in found[:MAX_CALLERS]:
            extra.add(("enabled-without", dropped.subject, dropped.provider))
            if "tristate" in base.types_of(dropped.provider):
                extra.add(("builtin-module", dropped.subject, dropped.provider))
        names = set(plan.names) | {p for _, s, _ in extra for p in condition_parts(s)}
        witnesses = tuple(sorted(set(plan.witnesses) | extra))
        return replace(plan, witnesses=witnesses, names=tuple(sorted(names))), tuple(
            found[:MAX_CALLERS]
        )

    def _stubs(
        self,
        plan: KconfigPlan,
        results: Mapping[str, KconfigDelta],
        dropped: tuple[Dropped, ...] = (),
    ) -> frozenset[str]:
        found = {
            (w.subject, w.other)
            for delta in results.values()
            for w in delta.patched.witnesses
            if w.kind == "enabled-without" and w.found
        }
        functions = {c.function for c in plan.calls if (c.consumer, c.provider) in found}
        functions |= {f for d in plan.dropped for f in d.functions if d.how != "modular"}
        functions |= {f for d in dropped for f in d.functions}
        return frozenset(search.inline_stubs(self.tree, functions)) if functions else frozenset()

    def __call__(self, plan: KconfigPlan) -> dict[str, KconfigDelta]:
        plan = self._with_callers(plan)
        plan, narrowed = self._narrowed(plan)
        arches = [a for a in plan.arches if self.only is None or a in self.only]
        if self.only is not None and not arches:
            arches = list(self.only)

        def one(arch: str) -> KconfigDelta:
            delta = self._client(arch).evaluate(
                arch,
                self.base_key,
                plan.after,
                plan.names,
                plan.witnesses,
                before=plan.before,
                compare=self.compare,
            )
            return self._confirmed(plan, delta)

        for arch in arches:
            self._client(arch)  # assign slots in a stable order
        with ThreadPoolExecutor(max_workers=len(self._clients)) as pool:
            results = dict(zip(arches, pool.map(one, arches), strict=True))
        stubbed = self._stubs(plan, results, narrowed)
        if stubbed or narrowed:
            results = {a: replace(d, stubbed=stubbed, dropped=narrowed) for a, d in results.items()}
        if self.parse_check is not None and arches and plan.before != plan.after:
            first = arches[0]
            new = self.parse_check(plan.before, plan.after, first)
            if new is not None:
                results[first] = replace(results[first], conf_new=new, conf_checked=True)
        return {arch: results[arch] for arch in arches}

    def _confirmed(self, plan: KconfigPlan, delta: KconfigDelta) -> KconfigDelta:
        if self.confirm is None:
            return delta
        confirm = self.confirm
        witnesses = []
        known = {
            (w.kind, w.subject, w.other)
            for w in delta.base.witnesses
            if w.found and w.kind in ("unmet-select", "reachable")
        }
        for witness in delta.patched.witnesses:
            # one the base already had is not reported: conf is not asked about it
            if witness.found and (witness.kind, witness.subject, witness.other) not in known:
                ok, output = confirm(plan.after, delta.arch, witness)
                witness = replace(witness, confirmed=ok, conf_output=output)
            witnesses.append(witness)
        # A reachability loss shows the base configuration where the option was on.
        lost = {w.subject for w in delta.patched.witnesses if w.kind == "reachable" and not w.found}
        base = []
        for witness in delta.base.witnesses:
            if witness.kind == "reachable" and witness.found and witness.subject in lost:
                ok, output = confirm(plan.before, delta.arch, witness)
                witness = replace(witness, confirmed=ok, conf_output=output)
            base.append(witness)
        return replace(
            delta,
            base=replace(delta.base, witnesses=tuple(base)),
            patched=replace(delta.patched, witnesses=tuple(witnesses)),
        )
