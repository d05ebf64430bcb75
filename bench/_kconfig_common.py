"""The Kconfig benchmark's data, helpers and report text (pure).

Reversed diffs, /proc parsing, conf-against-reviewbot verdicts, summaries, and the
report's sections as text. Nothing here reads files, runs processes or looks at the
clock; bench_kconfig does that and hands the results in.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bench.common import format_table, verdict
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.model import Finding, Message, Series, Severity
from reviewbot.rules.fixtures import Expectation

# ---------------------------------------------------------------------------
# Reversing a unified diff (to rebuild "the tree without a fix" from a tree that has it)

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_GIT = re.compile(r"^diff --git (\S+) (\S+)$")
_INDEX = re.compile(r"^index ([0-9a-f]+)\.\.([0-9a-f]+)(.*)$")


def _swap_prefix(path: str) -> str:
    """'a/x' <-> 'b/x'; /dev/null and unprefixed paths stay."""
    if path.startswith("a/"):
        return "b/" + path[2:]
    if path.startswith("b/"):
        return "a/" + path[2:]
    return path


def _range(start: str, count: str | None) -> str:
    return start if count is None else f"{start},{count}"


def _reverse_hunk(body: list[str]) -> list[str]:
    """Swap '+' and '-' lines; in each change block, the new removals come first.

    A '\\ No newline at end of file' marker stays after the line it belongs to.
    """
    out: list[str] = []
    removed: list[str] = []  # lines that become '-' (were '+')
    added: list[str] = []  # lines that become '+' (were '-')
    last: list[str] | None = None
    for line in body:
        if line.startswith("\\"):
            (last if last is not None else out).append(line)
            continue
        if line.startswith("+"):
            removed.append("-" + line[1:])
            last = removed
        elif line.startswith("-"):
            added.append("+" + line[1:])
            last = added
        else:
            out += removed + added
            removed, added = [], []
            out.append(line)
            last = out
    return out + removed + added


def reverse_diff(text: str) -> str:
    """The diff that undoes `text` (git's `diff -R`): hunks, headers, modes, renames.

    Hunk bodies are read by their header counts, so a removed line that starts with
    '-- ' is never taken for a file header. Raises ValueError for a binary patch.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("GIT binary patch", "Binary files ")):
            raise ValueError("binary patches cannot be reversed here")
        hunk = _HUNK.match(line)
        if hunk:
            old_start, old_count, new_start, new_count, tail = hunk.groups()
            out.append(
                f"@@ -{_range(new_start, new_count)} +{_range(old_start, old_count)} @@{tail}"
            )
            need_old = int(old_count) if old_count is not None else 1
            need_new = int(new_count) if new_count is not None else 1
            body: list[str] = []
            i += 1
            while i < len(lines) and (need_old > 0 or need_new > 0 or lines[i].startswith("\\")):
                current = lines[i]
                if current.startswith("\\"):
                    pass
                elif current.startswith("-"):
                    need_old -= 1
                elif current.startswith("+"):
                    need_new -= 1
                else:  # context (a blank line is context whose space was stripped)
                    need_old -= 1
                    need_new -= 1
                body.append(current)
                i += 1
            out += _reverse_hunk(body)
            continue
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            out.append("--- " + _swap_prefix(lines[i + 1][4:]))
            out.append("+++ " + _swap_prefix(line[4:]))
            i += 2
            continue
        out.append(_reverse_header(line))
        i += 1
    return "\n".join(out)


def _reverse_header(line: str) -> str:
    git = _GIT.match(line)
    if git:
        return f"diff --git {_swap_prefix(git.group(2))} {_swap_prefix(git.group(1))}"
    index = _INDEX.match(line)
    if index:
        return f"index {index.group(2)}..{index.group(1)}{index.group(3)}"
    for one, other in (
        ("new file mode ", "deleted file mode "),
        ("deleted file mode ", "new file mode "),
        ("rename from ", "rename to "),
        ("rename to ", "rename from "),
        ("copy from ", "copy to "),
        ("copy to ", "copy from "),
        ("old mode ", "new mode "),
        ("new mode ", "old mode "),
    ):
        if line.startswith(one):
            return other + line[len(one) :]
    return line


# ---------------------------------------------------------------------------
# Picking patches

_TAGS = re.compile(r"^\s*(\[[^\]]*\]\s*)+")


def subject_key(subject: str) -> str:
    """A subject without its [PATCH vN m/n] prefixes, for spotting versions of one patch."""
    return " ".join(_TAGS.sub("", subject).split()).lower()


def latest_versions(items: Iterable[tuple[str, int, str]]) -> list[str]:
    """Of (subject, version, id) items, the id of the highest version per subject key,
    in the order the subjects first appear (a tie goes to the later item)."""
    best: dict[str, tuple[int, str]] = {}
    order: list[str] = []
    for subject, version, ident in items:
        key = subject_key(subject)
        if key not in best:
            order.append(key)
            best[key] = (version, ident)
        elif version >= best[key][0]:
            best[key] = (version, ident)
    return [best[key][1] for key in order]


# ---------------------------------------------------------------------------
# /proc: process trees and memory


def status_kib(status: str, field: str) -> int | None:
    """A field of /proc/<pid>/status in KiB ('VmRSS', 'VmHWM'); None when absent."""
    for line in status.splitlines():
        if line.startswith(field + ":"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return None


def descendants(children: Mapping[int, Sequence[int]], root: int) -> list[int]:
    """Every process below root (not root itself), parents before children, no repeats."""
    out: list[int] = []
    seen = {root}
    stack = list(reversed(children.get(root, ())))
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        stack.extend(reversed(children.get(pid, ())))
    return out


def cpu_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime of a /proc/<pid>/stat line, in clock ticks.

    The command name (field 2) may hold spaces and parentheses, so fields are counted
    from the last ')'. Waited-for children count too: Kconfig's $(shell,...) probes.
    """
    fields = stat.rsplit(")", 1)[-1].split()
    return sum(int(value) for value in fields[11:15])


def is_kconfig_worker(argv: Sequence[str], comm: str) -> bool:
    """The python running reviewbot.kconfig.worker, not the prlimit/bwrap around it."""
    if comm in ("bwrap", "prlimit") or not argv:
        return False
    return "reviewbot.kconfig.worker" in argv[1:3] and "python" in argv[0].rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------
# conf against reviewbot


@dataclass(frozen=True)
class Verdict:
    """Does the patched tree have a new parse error / recursive dependency / unmet warning?"""

    error: bool = False
    recursion: bool = False
    unmet: bool = False

    def flags(self) -> str:
        """'E', 'R', 'U' for each yes, '-' for each no: 'E--', '-RU'."""
        return "".join(c if on else "-" for c, on in zip("ERU", self._values(), strict=True))

    def _values(self) -> tuple[bool, bool, bool]:
        return (self.error, self.recursion, self.unmet)

    def __or__(self, other: Verdict) -> Verdict:
        return Verdict(
            self.error or other.error,
            self.recursion or other.recursion,
            self.unmet or other.unmet,
        )


def conf_verdict(
    base_ok: bool,
    patched_ok: bool,
    new_errors: int,
    new_recursions: int,
    new_unmet: int,
    witness_unmet: bool = False,
) -> Verdict:
    """conf's verdict from a base and a patched run (conf_diff_warnings counts).

    An error is a new error-severity message, or a patched run that fails where the
    base run did not with no new loop to explain it (conf exits 1 on a recursive
    dependency); unmet counts the default run's new warnings and a witness
    configuration that gives the warning on the patched tree only.
    """
    return Verdict(
        error=new_errors > 0 or (base_ok and not patched_ok and new_recursions == 0),
        recursion=new_recursions > 0,
        unmet=new_unmet > 0 or witness_unmet,
    )


def reviewbot_verdict(findings: Iterable[tuple[str, str]]) -> Verdict:
    """reviewbot's verdict from its (rule id, severity) findings on the patch.

    KC010 is a loop; KC011 an unmet dependency (unless lowered to info: not confirmed by
    conf); an error-level KC018 (conf rejects the file) or a KC019 (kconfiglib cannot
    load the patched tree) a parse error.
    """
    error = recursion = unmet = False
    for rule, severity in findings:
        recursion |= rule == "KC010"
        unmet |= rule == "KC011" and severity != "info"
        error |= (rule == "KC018" and severity == "error") or rule == "KC019"
    return Verdict(error, recursion, unmet)


def disagreements(conf: Verdict, bot: Verdict) -> list[str]:
    """The questions conf and reviewbot answer differently, e.g. ['unmet: conf yes, bot no']."""
    out: list[str] = []
    for name, left, right in (
        ("error", conf.error, bot.error),
        ("recursion", conf.recursion, bot.recursion),
        ("unmet", conf.unmet, bot.unmet),
    ):
        if left != right:
            out.append(f"{name}: conf {'yes' if left else 'no'}, bot {'yes' if right else 'no'}")
    return out


# ---------------------------------------------------------------------------
# Summaries


def rule_counts(rules: Iterable[str], prefix: str = "KC01") -> str:
    """'KC011:1 KC018:2' for the rules starting with prefix; '-' when none."""
    counts = Counter(rule for rule in rules if rule.startswith(prefix))
    return " ".join(f"{rule}:{counts[rule]}" for rule in sorted(counts)) or "-"


def spread(seconds: Sequence[float]) -> tuple[float, float]:
    """(median, max) of a non-empty list of times."""
    if not seconds:
        raise ValueError("no times")
    return statistics.median(seconds), max(seconds)


# ---------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class Case:
    """One patch to measure: the last patch of `series` (earlier ones set its base up)."""

    label: str
    source: str  # "fixture", "fix" or "lore"
    series: Series
    reverted: bool = False  # the fix is in the tree: measured after an in-memory revert
    expected: frozenset[Expectation] | None = None  # a fixture's declared findings
    checked: frozenset[str] = frozenset()  # the rules a fixture's expectations cover

    @property
    def target(self) -> Message:
        return self.series.patches[-1]


@dataclass
class Sources:
    """The patches picked, and what happened to the others."""

    cases: list[Case] = field(default_factory=list)
    fixes_total: int = 0
    fixes_forward: list[str] = field(default_factory=list)
    fixes_reverted: list[str] = field(default_factory=list)
    fixes_neither: list[str] = field(default_factory=list)
    lore_candidates: int = 0
    lore_applying: int = 0


@dataclass(frozen=True)
class Call:
    """One call of the Kconfig provider: the plan it got (arches pinned), what it said."""

    plan: KconfigPlan
    deltas: Mapping[str, KconfigDelta]
    seconds: float
    failed: bool = False
    cpu: float | None = None  # CPU seconds of the busiest worker during the call


def busiest(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """The most CPU seconds one process used between two {pid: seconds} samples.

    A pid only in `after` (a worker started during the call) counts in full.
    """
    return max((after[pid] - before.get(pid, 0.0) for pid in after), default=0.0)


@dataclass
class Result:
    """Everything measured for one case (seconds)."""

    cold: float | None = None
    reused: float | None = None
    warm: list[float] = field(default_factory=list)
    warm_cpu: list[float] = field(default_factory=list)
    full: float | None = None
    full_confirm: float = 0.0
    full_parse: float = 0.0
    call: Call | None = None
    findings: list[Finding] = field(default_factory=list)
    conf_base: float = 0.0
    conf_patched: float = 0.0
    conf_witness: float = 0.0
    conf: Verdict = field(default_factory=Verdict)
    conf_new: list[str] = field(default_factory=list)

    @property
    def conf_seconds(self) -> float:
        return self.conf_base + self.conf_patched + self.conf_witness


@dataclass(frozen=True)
class Memory:
    """One worker holding several bases: KiB after the bases, after patched parses, peak."""

    arches: tuple[str, ...]
    rss_bases: int
    rss_after: int
    hwm: int
    library_figure: int | None


# ---------------------------------------------------------------------------
# The report's sections: (text, target met)


def _s(value: float | None) -> object:
    return "-" if value is None else value


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def fixture_verdict(case: Case, findings: Sequence[Finding]) -> str:
    """'ok' when a fixture gives exactly its declared findings, 'MISMATCH' if not."""
    if case.expected is None:
        return ""
    got = {Expectation(f.rule, f.path, f.line) for f in findings if f.rule in case.checked}
    return "ok" if got == case.expected else "MISMATCH"


def render_legend(cases: Sequence[Case]) -> str:
    out = ["patches:"]
    for number, case in enumerate(cases, 1):
        out.append(f"  {number:2d} {case.source:7s} {case.label[:70]}")
        if case.source != "fixture":
            out.append(f"             <{case.target.message_id}>")
    return "\n".join(out)


def _stage_row(number: int, case: Case, result: Result) -> list[object]:
    median, most = spread(result.warm) if result.warm else (None, None)
    return [
        number,
        case.source,
        "-fix" if case.reverted else "",
        _s(result.cold),
        _s(result.reused),
        _s(median),
        _s(most),
        _s(spread(result.warm_cpu)[0] if result.warm_cpu else None),
        _s(result.full),
        result.full_confirm + result.full_parse,
        result.conf_seconds,
        rule_counts(f.rule for f in result.findings),
        fixture_verdict(case, result.findings),
    ]


_STAGE_NOTE = """\
cold: a fresh KconfigEvaluator (worker start, base and patched parse); reused: one
evaluator, one call per patch, as `reviewbot check` runs it ({failed} of its calls
failed: '-'); warm: the same evaluator, R runs per patch (median/max); warm cpu: CPU
seconds of the busier worker in that call (utime+stime with children; median), what
an idle 2-core machine would take; CLI stage: warm, with make_confirm and
make_parse_check as `reviewbot check` wires them (base conf run cached); its conf: the
conf part of it (confirm calls summed over threads); conf own: section 3, every pinned
arch. base '-fix': the fix is in the tree, so it runs as the series "revert, fix"; the
fix's base is the revert's patched parse, which the worker keeps: one parse per arch."""


def render_stage(
    cases: Sequence[Case], results: Sequence[Result], failed: int, target: float
) -> tuple[str, bool]:
    rows = [_stage_row(n, c, r) for n, (c, r) in enumerate(zip(cases, results, strict=True), 1)]
    medians = [spread(r.warm)[0] for r in results if r.warm]
    cpus = [spread(r.warm_cpu)[0] for r in results if r.warm_cpu]
    rows.append(
        [
            "total",
            "",
            "",
            sum(r.cold for r in results if r.cold is not None),
            sum(r.reused for r in results if r.reused is not None),
            sum(medians),
            sum(spread(r.warm)[1] for r in results if r.warm),
            sum(cpus),
            sum(r.full for r in results if r.full is not None),
            sum(r.full_confirm + r.full_parse for r in results),
            sum(r.conf_seconds for r in results),
            rule_counts(f.rule for r in results for f in r.findings),
            "",
        ]
    )
    header = ["#", "source", "base", "cold", "reused", "warm med", "warm max", "warm cpu"]
    header += ["CLI stage", "its conf", "conf own", "KC01x findings", "fixture"]
    worst = max(medians, default=0.0)
    worst_cpu = max(cpus, default=0.0)
    ok = verdict(worst, target, at_least=False)
    out = [
        "== 1. Kconfig stage per patch (s; one provider call, arches in parallel) ==",
        format_table(header, rows),
        _STAGE_NOTE.format(failed=failed),
        f"warm wall per patch: mean {sum(medians) / max(len(medians), 1):.2f} s, worst median "
        f"{worst:.2f} s, worst run {max((max(r.warm) for r in results if r.warm), default=0):.2f}"
        f" s; warm cpu: mean {sum(cpus) / max(len(cpus), 1):.2f} s, worst {worst_cpu:.2f} s",
        f"target warm < {target:g} s per patch ({len(cases)} patches), wall clock: {ok}; "
        f"on CPU time: {verdict(worst_cpu, target, at_least=False)}",
    ]
    over = [
        f"#{n} {spread(r.warm)[0]:.2f} s"
        for n, r in enumerate(results, 1)
        if r.warm and spread(r.warm)[0] >= target
    ]
    if over:
        out.append(f"over the target (warm median): {', '.join(over)}")
    return "\n".join(out), ok == "PASS"


def render_memory(
    workers: Sequence[tuple[int, int, int]], memory: Memory, target_kib: int
) -> tuple[str, bool]:
    out = ["== 2. Worker memory (the python worker inside prlimit -> bwrap) =="]
    for pid, rss, hwm in workers:
        out.append(f"warm-pass worker pid {pid}: VmRSS {_mib(rss)}, VmHWM {_mib(hwm)}")
    out.append(
        f"one worker, bases {' '.join(memory.arches)} cached: VmRSS {_mib(memory.rss_bases)}; "
        f"after a patched parse per arch: VmRSS {_mib(memory.rss_after)}, "
        f"VmHWM {_mib(memory.hwm)}"
    )
    if memory.library_figure is not None:
        out.append(
            f"(reviewbot.kconfig.client.worker_rss_kb on that client: {memory.library_figure} "
            "KiB: it should agree with the VmRSS above)"
        )
    peak = max([memory.hwm, *(hwm for _, _, hwm in workers)])
    ok = verdict(peak, target_kib, at_least=False)
    out.append(f"target < {_mib(target_kib)} per worker (peak {_mib(peak)}): {ok}")
    return "\n".join(out), ok == "PASS"


_CONF_NOTE = """\
E/R/U: a new parse error / recursive dependency / unmet-dependency warning in the
patched tree. conf: conf_diff_warnings(base, patched) of `conf --olddefconfig` from an
empty config, per arch, plus kconfiglib's witness configs run through conf olddefconfig
on the patched tree and, when conf warns, on the base. bot: KC018 error or KC019 = E,
KC010 = R, KC011 above info = U (from the CLI-stage pass)."""


def render_conf(results: Sequence[Result]) -> tuple[str, int]:
    """The conf table; and how many patches conf and reviewbot disagree on."""
    rows: list[list[object]] = []
    notes: list[str] = []
    disagree = 0
    for number, result in enumerate(results, 1):
        bot = reviewbot_verdict((f.rule, str(f.severity)) for f in result.findings)
        differ = disagreements(result.conf, bot) if result.call else ["not evaluated"]
        disagree += bool(differ)
        rows.append(
            [
                number,
                _s(spread(result.warm)[0] if result.warm else None),
                result.conf_base,
                result.conf_patched,
                result.conf_witness,
                result.conf_seconds,
                result.conf.flags(),
                bot.flags(),
                "yes" if not differ else "NO",
            ]
        )
        notes += [f"  {number}: {text}" for text in differ]
        notes += [f"  {number}: conf: {text[:150]}" for text in result.conf_new[:4]]
    header = ["#", "kconfiglib warm", "conf base", "conf patched", "conf witness"]
    header += ["conf total", "conf ERU", "bot ERU", "agree"]
    out = [
        "== 3. The kernel's conf on the same patches (every pinned arch, s) ==",
        format_table(header, rows),
        _CONF_NOTE,
    ]
    if notes:
        out += ["details:", *notes]
    out.append(f"agreement: {len(results) - disagree} of {len(results)} patches")
    return "\n".join(out), disagree


def render_findings(
    cases: Sequence[Case], results: Sequence[Result], found: Sources, fixes_name: str
) -> tuple[str, bool]:
    """KC01x counts, every warning-level finding on real patches, the acceptance check."""
    pairs = list(zip(cases, results, strict=True))
    fixtures = [(c, r) for c, r in pairs if c.source == "fixture"]
    real = [(c, r) for c, r in pairs if c.source != "fixture"]
    matched = sum(fixture_verdict(c, r.findings) == "ok" for c, r in fixtures)
    out = [
        "== 4. Findings ==",
        f"fixtures: {matched} of {len(fixtures)} give exactly their declared findings "
        "(with the arches pinned as above, not the fixture's own Arches: line)",
    ]
    for case, result in fixtures:
        if fixture_verdict(case, result.findings) == "ok":
            continue
        got = sorted(
            f"{f.rule} {f.path}:{f.line}" for f in result.findings if f.rule in case.checked
        )
        want = sorted(f"{e.rule} {e.path}:{e.line}" for e in case.expected or ())
        out.append(f"  {case.label}: declared {want}, got {got}")
    out += [
        f"KC01x on fixtures: {rule_counts(f.rule for _, r in fixtures for f in r.findings)}",
        f"KC01x on real patches: {rule_counts(f.rule for _, r in real for f in r.findings)}",
        f"real fixes ({fixes_name}): {found.fixes_total} touch Kconfig; "
        f"{len(found.fixes_forward)} apply to the tree as is, {len(found.fixes_reverted)} are "
        f"already in it (checked on the tree with the fix reverted in memory), "
        f"{len(found.fixes_neither)} apply neither way",
        *(f"  not checked: <{ident}>" for ident in found.fixes_neither),
        f"archive: {found.lore_candidates} patches touch Kconfig, {found.lore_applying} apply "
        f"alone to the tree; {sum(c.source == 'lore' for c in cases)} measured (latest "
        "version per subject; later parts of a series are reviewed alone)",
        "warning-level findings (warning or error, any rule) on real patches:",
    ]
    on_fixes = 0
    for case, result in real:
        for f in result.findings:
            if f.severity is Severity.INFO:
                continue
            on_fixes += case.source == "fix"
            where = f"{f.path}:{f.line}" if f.line else f.path or "-"
            out.append(
                f"  [{case.source}] <{case.target.message_id}> {f.rule} {f.severity} {where}"
            )
            out.append(f"      {f.message[:300]}")
    checked = sum(c.source == "fix" for c in cases)
    ok = ("PASS" if on_fixes == 0 else "MISS") if checked else "NOT CHECKED"
    out.append(
        f"acceptance, real fixes add no warning-level finding: {checked} fixes checked, "
        f"{on_fixes} warning-level findings: {ok}"
    )
    return "\n".join(out), ok == "PASS"


def single_series(message: Message) -> Series:
    """One patch as a series of one."""
    return Series(message.message_id, message.subject, message.tags.version, 1, (message,))


def revert_then_fix(fix: Message) -> Series:
    """A real fix checked as the defect it fixed: [1/2] reverts it, [2/2] applies it again,
    so the tree after 1/2 holds the defect and 2/2 is the fix reviewed on it."""
    revert = replace(
        fix,
        message_id=f"revert.{fix.message_id}",
        subject=f'Revert "{fix.subject}"',
        diff=reverse_diff(fix.diff or ""),
        tags=replace(fix.tags, number=1, total=2),
    )
    second = replace(fix, tags=replace(fix.tags, number=2, total=2))
    return Series(fix.message_id, fix.subject, fix.tags.version, 2, (revert, second))
