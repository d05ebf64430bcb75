"""Print the static benchmark's figures: one function per section, plain text to stdout."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bench.checkpatch import FLAGS, CheckpatchRun
from bench.common import PAIRS, Key, format_table, pair_overlaps, per_100, rate, verdict
from bench.index_times import IndexTimes
from bench.static_stage import Crash, StaticRun
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import Rule

INDEX_TARGET_S = 60.0
RATE_TARGET = 50.0
INCREMENTAL_TARGET_S = 10.0


@dataclass(frozen=True)
class Memory:
    """Memory figures of the static stage, in MiB (None when not measured)."""

    rss_start: float | None
    rss_peak_stage: float | None
    maxrss_process: float
    traced_peak: float | None


def mib(kib: float) -> float:
    return kib / 1024.0


def index_section(times: IndexTimes, warm_here: float) -> None:
    print("\n== tree index ==")
    counts = (
        f"{times.kconfig_files} Kconfig, {times.kbuild_files} Makefile/Kbuild files; "
        f"{times.symbols} symbols, {times.exports} exports, {times.objects} objects"
    )
    print(f"cold        (fresh cache, {times.workers} workers): {times.cold:6.2f} s  [{counts}]")
    print(f"warm        (cache reused, no change):   {times.warm:6.2f} s")
    if times.incremental is not None:
        seen = (
            "saw every change"
            if times.incremental_ok
            else "MISSED: " + "; ".join(times.incremental_problems)
        )
        print(
            f"incremental (base {len(times.changed)} files away):     {times.incremental:6.2f} s"
            f"  [{', '.join(times.changed)}]; the new index {seen}"
        )
        print(
            f"            tree copied by {times.copy_method} in "
            f"{times.copy_seconds or 0:.2f} s (not counted)"
        )
    print(
        f"peak RSS of the index process: {mib(times.peak_rss_kib):.0f} MiB; "
        f"warm load in the benchmark process (default cache): {warm_here:.2f} s"
    )


def mails_section(run: StaticRun, split_s: float, memory: Memory) -> None:
    with_patch = sum(1 for m in run.messages if m.has_patch)
    repeated = len(run.messages) - len({m.message_id for m in run.messages})
    print("\n== static stage (parse + assemble + review; no Kconfig evaluation) ==")
    print(
        f"mails: {run.mails}; parsed {len(run.messages)}; malformed {len(run.malformed)}; "
        f"repeated Message-IDs {repeated}"
    )
    print(
        f"mails with a patch: {with_patch}; patches reviewed: {run.patches} in "
        f"{len(run.series)} series ({sum(1 for s in run.series if s.missing)} with parts "
        "missing)"
    )
    print(
        f"mails without a patch: {len(run.messages) - with_patch}. Mails not reviewed "
        "as patches, by reason:"
    )
    for reason, count in run.skipped().most_common():
        print(f"  {count:6d}  {reason}")
    for source, reason in run.malformed:
        print(f"  malformed: {source}: {reason}")
    rules_s = sum(run.rule_s.values())
    print(
        f"wall time: parse {run.parse_s:.2f} s, assemble {run.assemble_s:.2f} s, review "
        f"{run.review_s:.2f} s (rules {rules_s:.2f} s, engine: diff parsing, applying, "
        f"facts {run.review_s - rules_s:.2f} s); total {run.seconds:.2f} s; CPU time "
        f"{run.cpu_s:.2f} s"
    )
    print(f"           (read + split of the whole archive: {split_s:.2f} s, not in the rate)")
    print(
        f"rate: {rate(run.patches, run.seconds):.1f} patches/s wall, "
        f"{rate(run.patches, run.cpu_s):.1f} patches/s of CPU time; "
        f"{rate(run.patches, run.seconds + split_s):.1f} patches/s wall counting read+split"
    )
    slow = sorted(run.review_s_by_series.items(), key=lambda kv: -kv[1])[:3]
    print("slowest series to review: " + ", ".join(f"<{m}> {s:.2f} s" for m, s in slow))
    parts = [f"peak RSS of the process {memory.maxrss_process:.0f} MiB"]
    if memory.rss_start is not None and memory.rss_peak_stage is not None:
        parts.append(
            f"RSS at the start of the stage (index loaded) {memory.rss_start:.0f} MiB, "
            f"peak during the stage {memory.rss_peak_stage:.0f} MiB"
        )
    if memory.traced_peak is not None:
        parts.append(f"tracemalloc peak of the stage (index excluded) {memory.traced_peak:.1f} MiB")
    print("memory: " + "; ".join(parts))


def findings_section(rules: Sequence[Rule], run: StaticRun) -> None:
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in run.findings:
        by_rule[finding.rule].append(finding)
    known = {current.id: current for current in rules}
    rows: list[list[object]] = []
    for rule_id in [*known, *sorted(set(by_rule) - set(known))]:
        found = by_rule.get(rule_id, [])
        current = known.get(rule_id)
        graded = Counter(f.severity for f in found)
        name = current.name if current else (found[0].name + " (not registered)")
        rows.append(
            [
                rule_id,
                name,
                current.severity.value if current else "?",
                len(found),
                per_100(len(found), run.patches),
                len({f.patch for f in found}),
                graded[Severity.ERROR],
                graded[Severity.WARNING],
                graded[Severity.INFO],
                1000.0 * run.rule_s.get(rule_id, 0.0),
            ]
        )
    print(
        f"\nfindings per rule over {run.patches} patches (error/warning/info: severity as "
        "emitted; needs-base findings on a patch that does not apply are lowered to info)"
    )
    header = [
        "id",
        "name",
        "default",
        "findings",
        "per 100 patches",
        "patches hit",
        "error",
        "warning",
        "info",
        "rule ms total",
    ]
    print(format_table(header, rows))
    unreadable = by_rule.get("RB001", [])
    if unreadable:
        print(
            f"unreadable diffs (RB001, not crashes: damaged mails or parser limits): "
            f"{len(unreadable)}"
        )
    for finding in unreadable[:10]:
        print(f"  <{finding.patch}>: {finding.message}")


def crashes_section(crashes: Sequence[Crash]) -> None:
    print(f"\n== crashes: {len(crashes)} ==")
    for crash in crashes:
        print(f"- <{crash.where}>: {crash.what}")
        for line in crash.detail.rstrip().splitlines()[-12:]:
            print(f"    {line}")


def _checkpatch_keys(result: CheckpatchRun) -> tuple[dict[str, list[Key]], int]:
    by_type: dict[str, list[Key]] = defaultdict(list)
    unplaced = 0
    for located in result.hits:
        if located.path is None:
            unplaced += 1
        else:
            by_type[located.hit.type].append((located.patch, located.path))
    return by_type, unplaced


def checkpatch_section(
    result: CheckpatchRun, rb: StaticRun, rules: Sequence[Rule], series: int
) -> None:
    ids = {p.message_id for s in rb.series for p in s.patches}
    times = [seconds for _, seconds in result.per_patch_s]
    slowest = max(result.per_patch_s, key=lambda item: item[1], default=("-", 0.0))
    print(f"subset: the first {series} series of the run, {result.patches} patches")
    print(
        f"checkpatch.pl {' '.join(FLAGS)}, one perl process per patch, {result.workers} "
        f"workers: {result.seconds:.2f} s wall, {rate(result.patches, result.seconds):.1f} "
        f"patches/s; CPU {result.cpu_s:.2f} s = "
        f"{rate(result.patches, result.cpu_s):.1f} patches/s of CPU time"
    )
    if times:
        print(
            f"  per patch: median {statistics.median(times):.2f} s, max {slowest[1]:.2f} s "
            f"(<{slowest[0]}>)"
        )
    print(
        f"reviewbot, same mails, 1 process: {rb.patches} patches in {rb.seconds:.2f} s wall = "
        f"{rate(rb.patches, rb.seconds):.1f} patches/s; CPU {rb.cpu_s:.2f} s = "
        f"{rate(rb.patches, rb.cpu_s):.1f} patches/s of CPU time"
    )
    for message_id, why in result.failures[:10]:
        print(f"  checkpatch failed on <{message_id}>: {why}")
    counts = Counter(located.hit.type for located in result.hits)
    print(
        "checkpatch's most frequent types: "
        + ", ".join(f"{kind} {n}" for kind, n in counts.most_common(8))
    )
    by_type, unplaced = _checkpatch_keys(result)
    by_rule: dict[str, list[Key]] = defaultdict(list)
    for finding in rb.findings:
        if finding.patch in ids:
            by_rule[finding.rule].append((finding.patch, finding.path))
    registered = {r.id: r.name for r in rules}
    rows: list[list[object]] = []
    for pair, found in pair_overlaps(PAIRS, by_type, by_rule):
        name = registered.get(pair.rule_id, f"{pair.rule_name} (not registered)")
        rows.append(
            [
                "/".join(pair.checkpatch_types),
                f"{pair.rule_id} {name}",
                found.checkpatch_hits,
                found.reviewbot_hits,
                found.both,
                found.only_checkpatch,
                found.only_reviewbot,
            ]
        )
    print(
        f"\noverlap on the checks both make, as (patch, file) pairs ({unplaced} checkpatch "
        "hits outside any file of a diff left out; reviewbot counts every severity)"
    )
    header = [
        "checkpatch type",
        "reviewbot rule",
        "cp hits",
        "rb hits",
        "both",
        "only checkpatch",
        "only reviewbot",
    ]
    print(format_table(header, rows))
    for pair in PAIRS:
        if pair.note:
            print(f"note: {pair.rule_id}: {pair.note}")


def targets_section(
    times: IndexTimes | None, run: StaticRun, crashes: int, load: tuple[str, str]
) -> None:
    print("\n== targets (informational) ==")
    rows: list[list[object]] = []
    if times is not None:
        rows.append(
            [
                "cold tree index",
                f"< {INDEX_TARGET_S:.0f} s",
                f"{times.cold:.2f} s",
                verdict(times.cold, INDEX_TARGET_S, at_least=False),
            ]
        )
        if times.incremental is not None:
            ok = verdict(times.incremental, INCREMENTAL_TARGET_S, at_least=False)
            rows.append(
                [
                    "incremental re-index",
                    f"< {INCREMENTAL_TARGET_S:.0f} s",
                    f"{times.incremental:.2f} s",
                    ok if times.incremental_ok else "MISS (changes not seen)",
                ]
            )
    wall = rate(run.patches, run.seconds)
    cpu = rate(run.patches, run.cpu_s)
    rows.append(
        [
            "static stage, wall",
            f">= {RATE_TARGET:.0f} patches/s",
            f"{wall:.1f} patches/s",
            verdict(wall, RATE_TARGET, at_least=True),
        ]
    )
    rows.append(
        [
            "static stage, CPU time",
            f">= {RATE_TARGET:.0f} patches/s",
            f"{cpu:.1f} patches/s",
            verdict(cpu, RATE_TARGET, at_least=True),
        ]
    )
    rows.append(["crashes", "0", str(crashes), "PASS" if crashes == 0 else "MISS"])
    print(format_table(["target", "wanted", "measured", "verdict"], rows))
    print(
        f"load average (1, 5, 15 min) at start: {load[0]}; at end: {load[1]} "
        "(other work on the machine slows the wall figures)"
    )
