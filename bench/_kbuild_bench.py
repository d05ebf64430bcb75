"""bench_build's sections for kbuild and header changes: plans, warm full builds, relinks.

4. header plans: real header-only patches of the linux-kbuild archive, planned as
   `reviewbot check --build` plans them (no build): how many jobs each plan made and why
   (the names the hunk changed, the users chosen, the CONFIG branch).
5. link checks: per arch, the cold time to make the warm full build (tinyconfig +
   PRINTK, `make W=1 vmlinux`; the time recorded when it was made, or measured now
   with --cold-warm), then the warm per-patch time of the incremental relink check on
   the BLD006 fixtures (bad and good, R runs each), and the peer: a plain
   `make tinyconfig && make vmlinux` of the same config on the patched tree.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import format_table
from reviewbot import sandbox
from reviewbot.build.anchor import output_lines
from reviewbot.build.kbuild_plan import WARM_CONFIG
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import BuildOutcome, BuildPlan, StepKind
from reviewbot.build.prepare import Tree, configure, make_argv, make_in_box
from reviewbot.build.provider import BuildEvaluator
from reviewbot.build.runner import JobRequest
from reviewbot.build.warm import WARM_LIMITS, ensure_warm, find_warm, warm_dir
from reviewbot.config import Config
from reviewbot.kconfig.conf import shadow_tree
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Series
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import select_rules
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

REPO = Path(__file__).resolve().parent.parent
# Header-only patches posted to linux-kbuild (message ids in the shared archive).
HEADER_PATCHES = (
    "20251219-remove_wtype-limits-v2-4-2e92b3f566c5@kernel.org",  # minmax __is_nonneg
    "20251220-remove_wtype-limits-v3-3-24b170af700e@kernel.org",  # overflow is_negative
    "20260113-module-hashes-v4-1-0b932db9b56b@weissschuh.net",  # module.h, CONFIG_MODULE_SIG
    "20260331142846.3187706-1-arnd@kernel.org",  # init.h exitcalls
    "20260526101851.2495110-1-arnd@kernel.org",  # err.h __always_inline
    "20260326-pci-m2-e-v7-1-43324a7866e6@oss.qualcomm.com",  # serdev.h helpers to macros
    "20251120151033.3840508-17-elver@google.com",  # kref annotations
)
HEADER_FIXTURES = (  # built for real by bench._header_bench (section 4b)
    "rules/BLD001/bad/pm-wakeup-stub-member.patch",
    "rules/BLD001/bad/up-smp-call-function-many-macro.patch",
    "rules/BLD001/bad/minmax-is-nonneg-cast.patch",
)
LINK_FIXTURES = (
    "rules/BLD006/bad/blake2s-generic-lib-y.patch",
    "rules/BLD006/good/blake2s-generic-obj-y.patch",
    "rules/BLD006/good/vmlinux-a-rule-moved.patch",
)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _series_from_archive(archive: Path, ids: Sequence[str]) -> list[tuple[str, Series]]:
    wanted = {i.encode(): i for i in ids}
    found: dict[str, Series] = {}
    for raw in read_input(archive.read_bytes(), archive.name):
        hit = next((i for b, i in wanted.items() if b in raw.data), None)
        if hit is None or hit in found:
            continue
        message = parse_mail(raw)
        if message.message_id != hit:
            continue
        series, _ = assemble([message])
        if series:
            found[hit] = series[0]
    return [(i, found[i]) for i in ids if i in found]


def _series_from_file(path: Path) -> Series:
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), path.name)]
    series, _ = assemble(messages)
    return series[0]


class _Record:
    def __init__(self) -> None:
        self.requests: list[JobRequest] = []

    def __call__(self, requests: Sequence[JobRequest]) -> list[BuildOutcome]:
        self.requests += requests
        return [BuildOutcome(r.job) for r in requests]


def _plan_of(
    series: Series, root: Path, index: TreeIndex, arches: tuple[str, ...]
) -> tuple[BuildPlan, bool]:
    probe = BuildEvaluator(root, index.key, Config().cache_dir, arches, run_many=_Record())
    result = review_series(series, FsTree(root), index, (), arches, None, probe)
    applied = not any(f.rule == "RB002" for f in result.findings)
    return probe.last_plan or BuildPlan(), applied


def header_plans(archive: Path, root: Path, index: TreeIndex, arches: tuple[str, ...]) -> None:
    print("\n== 4. header patches: the builds each plan made, and why (planning only) ==")
    items = _series_from_archive(archive, HEADER_PATCHES)
    items += [(f, _series_from_file(REPO / f)) for f in HEADER_FIXTURES]
    rows = []
    for ident, series in items:
        started = time.monotonic()
        plan, applied = _plan_of(series, root, index, arches)
        seconds = time.monotonic() - started
        subject = series.patches[0].subject[:60]
        if not plan.jobs:
            why = "; ".join(f"{s.path}: {s.reason}" for s in plan.skipped[:2]) or "nothing built"
            why = why if applied else "does not apply to this tree"
            rows.append((subject, "0", "-", f"{seconds:.1f}", why[:110]))
        for job in plan.jobs:
            enable = ",".join(f"{s}={v}" for s, v in job.config.enable if s != "WERROR")
            for step in job.steps:
                rows.append(
                    (
                        subject,
                        str(len(plan.jobs)),
                        f"{job.arch.name} {job.config.defconfig}{' ' + enable if enable else ''}"[
                            :50
                        ],
                        f"{seconds:.1f}",
                        f"{step.kind.value} x{len(step.targets)}: {step.reason}"[:110],
                    )
                )
        _note(f"planned {ident}: {len(plan.jobs)} jobs")
    print(format_table(("patch", "jobs", "arch config", "plan s", "step: why"), rows))


def _timed_link(series: Series, root: Path, index: TreeIndex, arch: str) -> tuple[float, list[str]]:
    evaluator = BuildEvaluator(root, index.key, Config().cache_dir, (arch,), only=(arch,))
    rules = select_rules(Config().policy_for(None))
    started = time.monotonic()
    result = review_series(series, FsTree(root), index, rules, (arch,), None, evaluator)
    seconds = time.monotonic() - started
    plan = evaluator.last_plan or BuildPlan()
    linked = any(s.kind is StepKind.LINK for j in plan.jobs for s in j.steps)
    found = [f"{f.rule} {f.path}:{f.line}" for f in result.findings if f.rule == "BLD006"]
    return seconds, found if linked else ["(no link job)"]


@dataclass(frozen=True)
class LinkPeer:
    seconds: float
    failed: bool
    first: str  # the first relevant line of its output ("" when it printed none)


def _peer(root: Path, series: Series, index: TreeIndex, arch_name: str, scratch: Path) -> LinkPeer:
    """A plain make of the warm config on the patched tree, from nothing."""
    probe = _Record()
    evaluator = BuildEvaluator(root, index.key, Config().cache_dir, (arch_name,), run_many=probe)
    review_series(series, FsTree(root), index, (), (arch_name,), None, evaluator)
    overlay = dict(probe.requests[0].overlay) if probe.requests else {}
    arch = load_matrix()[arch_name]
    shadow = shadow_tree(root.resolve(), overlay, scratch / "src")
    (scratch / "work" / "out").mkdir(parents=True)
    mounts: tuple[str, ...] = ()
    if (shadow / "tools").is_symlink():  # as the runner does: objtool's getcwd()
        (shadow / "tools").unlink()
        (shadow / "tools").mkdir()
        mounts = ("tools",)
    tree = Tree(shadow, scratch / "work", root.resolve(), mounts)
    started = time.monotonic()
    configure(tree, arch, WARM_CONFIG, WARM_LIMITS)
    result = make_in_box(tree, make_argv(arch, "W=1", "vmlinux"), WARM_LIMITS)
    lines = output_lines(result.stdout + "\n" + result.stderr, 1)
    return LinkPeer(
        time.monotonic() - started,
        result.returncode != 0 or result.timed_out,
        lines[0] if lines else "",
    )


def link_checks(
    root: Path, index: TreeIndex, arches: tuple[str, ...], runs: int, cold: bool, peer: bool
) -> list[float]:
    """Prints section 5; returns the warm per-patch seconds of every run."""
    print("\n== 5. link checks on a warm full build (tinyconfig + PRINTK, W=1 vmlinux) ==")
    matrix = load_matrix()
    cache = Config().cache_dir
    rows = []
    all_runs: list[float] = []
    series = [(f, _series_from_file(REPO / f)) for f in LINK_FIXTURES]
    for name in arches:
        arch = matrix[name]
        recorded = find_warm(cache, index.key, arch, WARM_CONFIG)
        if recorded is None:
            _note(f"making the warm full build of {name} in the cache (cold)")
            made = ensure_warm(root, index.key, arch, WARM_CONFIG, cache)
            cold_s = f"{made.seconds:.0f} (now)"
        elif cold:
            _note(f"making the warm full build of {name} in a temporary cache (cold)")
            with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
                made = ensure_warm(root, index.key, arch, WARM_CONFIG, Path(tmp))
                cold_s = f"{made.seconds:.0f} (now)"
        else:
            info = (warm_dir(cache, index.key, arch, WARM_CONFIG) / "warm.json").read_text()
            cold_s = f"{json.loads(info)['seconds']:.0f} (recorded)"
        _note(f"{name}: cold warm build {cold_s} s")
        for label, item in series:
            times = []
            found: list[str] = []
            for _ in range(runs):
                seconds, found = _timed_link(item, root, index, name)
                times.append(seconds)
            all_runs += times
            _note(f"{name} {Path(label).name}: relink runs {[round(s) for s in times]} s, {found}")
            rows.append(
                (
                    name,
                    cold_s,
                    Path(label).name,
                    f"{statistics.median(times):.0f}",
                    f"{max(times):.0f}",
                    ", ".join(sorted(set(found))) or "none",
                )
            )
    print(
        format_table(
            ("arch", "cold warm-build s", "patch", "warm median s", "warm max s", "BLD006"), rows
        )
    )
    if peer and series:
        name = arches[0]
        with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
            _note(f"peer: plain make of the same config on the patched tree ({name})")
            run = _peer(root, series[0][1], index, name, Path(tmp))
        print(
            f"peer: make tinyconfig + PRINTK && make W=1 vmlinux on the patched tree of "
            f"{Path(series[0][0]).name} ({name}, from nothing): {run.seconds:.0f} s; "
            f"{'failed' if run.failed else 'linked'}" + (f": {run.first}" if run.first else "")
        )
    if not sandbox.bwrap_available():
        print("(bubblewrap missing: nothing measured)")
    return all_runs


def print_link_target(runs: Sequence[float], arches: Sequence[str]) -> None:
    if not runs:
        return
    p95 = sorted(runs)[max(0, -(-len(runs) * 95 // 100) - 1)]
    verdict = "PASS" if p95 <= 300 else "MISS"
    print(
        f"link check, warm per patch, p95 <= 300 s ({len(arches)} arches, "
        f"{len(runs)} runs): {p95:.0f} s {verdict}"
    )
