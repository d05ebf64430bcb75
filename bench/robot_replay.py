"""Replay the patches kernel test robot answered with a build report through `check --build`.

    python -m bench.robot_replay --archive PATH [--port] [--oracle] [--timeout S]
                                 [--only MSGID ...] [--plan-only]

For every kernel test robot reply in the archive that reports build errors or warnings,
finds the patch it answers (its 'patch link:', else In-Reply-To) and the series parts
before it, asks reviewbot whether they apply to the tree and what it would build for
the answered patch (bench._kbuild_bench's planning, no build), then runs
`reviewbot check --build --format json` on them as a subprocess (nice 19, one build job
at a time, the robot's arches where the build matrix has them) and compares its
findings with the robot's report. Prints one row per answered patch beside the robot's
latency (reply Date - patch Date), then the details and a summary. --port carries
patches that do not apply onto the tree with fuzz (bench._robot_port); --oracle builds
the robot's own files when we are silent (bench._robot_oracle). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from bench import _robot_common as rc
from bench._kbuild_bench import _plan_of
from bench._robot_oracle import oracle
from bench._robot_port import port
from bench.bench_static import _load, _machine
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import Arch, BuildPlan
from reviewbot.build.prepare import CompilerMissingError, check_compiler
from reviewbot.config import Config
from reviewbot.errors import MalformedMailError
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Message, RawMail, Series
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.identity import describe_tree
from reviewbot.tree.index import TreeIndex, build_index

REPO = Path(__file__).resolve().parent.parent
NOTE_WORDS = ("skipped", "failed to run", "compiler", "users of", "link check", "prepared tree")


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _date(message: Message) -> datetime | None:
    try:
        return parsedate_to_datetime(message.date) if message.date else None
    except (TypeError, ValueError):
        return None


def _parse(raw: RawMail) -> Message | None:
    try:
        return parse_mail(raw)
    except MalformedMailError:
        return None


def robot_reports(raws: Sequence[RawMail]) -> list[rc.RobotReport]:
    """Every kernel test robot build report in the archive, oldest first."""
    out = []
    for raw in raws:
        if rc.ROBOT_ADDRESS.encode() not in raw.data:
            continue
        message = _parse(raw)
        if message is None or not rc.is_build_report(message.sender, message.body):
            continue
        answers = rc.answered_id(message.body, message.in_reply_to)
        if answers:
            out.append(rc.parse_report(message.message_id, answers, _date(message), message.body))
    return sorted(out, key=lambda r: (r.date is None, r.date))


@dataclass(frozen=True)
class Answered:
    """The answered patch, the series parts up to it, and their raw mails."""

    patch: Message
    series: Series
    raws: tuple[RawMail, ...]  # the parts up to the answered one
    cover: bytes | None = None


def answered_series(raws: Sequence[RawMail], message_id: str) -> Answered | None:
    """The answered patch with the parts of its series before it (and its cover)."""
    by_id: dict[str, tuple[Message, RawMail]] = {}
    for raw in raws:
        if message_id.encode() in raw.data:
            message = _parse(raw)
            if message is not None:
                by_id[message.message_id] = (message, raw)
    if message_id not in by_id:
        return None
    patch = by_id[message_id][0]
    root = patch.in_reply_to if (patch.tags.total or 1) > 1 and patch.in_reply_to else None
    if root:
        for raw in raws:
            if root.encode() in raw.data:
                message = _parse(raw)
                if message is not None:
                    by_id.setdefault(message.message_id, (message, raw))
    series_list, _ = assemble(message for message, _ in by_id.values())
    series = next((s for s in series_list if message_id in {p.message_id for p in s.patches}), None)
    if series is None:
        return None
    number = patch.tags.number or 1
    parts = tuple(p for p in series.patches if (p.tags.number or 1) <= number)
    series = replace(series, patches=parts)
    cover = by_id[series.cover.message_id][1].data if series.cover else None
    raws_kept = tuple(by_id[p.message_id][1] for p in parts)
    return Answered(patch, series, raws_kept, cover)


def planned(plan: BuildPlan) -> str:
    """'x86_64 hosttools, arm64 objects x4' or 'none: <first reason>'."""
    if not plan.jobs:
        reason = plan.skipped[0].reason if plan.skipped else "nothing to build"
        return f"none: {reason}"
    steps = []
    for job in plan.jobs:
        for step in job.steps:
            count = f" x{len(step.targets)}" if len(step.targets) > 1 else ""
            steps.append(f"{job.arch.name} {step.kind.value}{count}")
    return ", ".join(dict.fromkeys(steps))


def plan_lines(plan: BuildPlan) -> tuple[str, ...]:
    """Each planned step with its config, targets and reason; the first reasons not to."""
    out = []
    for job in plan.jobs:
        extra = "".join(f" {s}={v}" for s, v in job.config.enable if s != "WERROR")
        for step in job.steps:
            targets = " ".join(step.targets[:6]) + (" ..." if len(step.targets) > 6 else "")
            out.append(
                f"plan: {job.arch.name} {job.config.defconfig}{extra} {step.kind.value} "
                f"[{targets}]: {step.reason}"
            )
    out += [f"not built: {s.path}: {s.reason}" for s in plan.skipped[:3]]
    return tuple(line[:240] for line in out)


@dataclass(frozen=True)
class CliRun:
    exit_code: int | None  # None: timed out
    seconds: float
    findings: tuple[rc.Found, ...]
    notes: tuple[str, ...]  # the CLI's stderr lines about skipped builds


def series_of(mails: Sequence[bytes]) -> Series | None:
    """The series the mails make (the last patch's), as `reviewbot check` assembles them."""
    parsed = [m for m in (_parse(RawMail(data, "port")) for data in mails) if m is not None]
    series_list, _ = assemble(parsed)
    return series_list[-1] if series_list else None


def run_check(mails: Sequence[bytes], arches: Sequence[str], timeout: float) -> CliRun:
    """`reviewbot check --build` on the mails, nice 19, one build job at a time.

    `--executor inline`: the jobs run one after the other in the CLI's process, and no
    result comes back from the job store (a second run builds again; the prepared trees
    in the build cache are reused, as in the service).
    """
    with tempfile.TemporaryDirectory(prefix="robot-replay-") as tmp:
        files = []
        for n, data in enumerate(mails):
            path = Path(tmp) / f"{n:02d}.eml"
            path.write_bytes(data)
            files.append(str(path))
        argv = ["nice", "-n", "19", sys.executable, "-m", "reviewbot", "-v", "check"]
        argv += ["--build", "--executor", "inline", "--format", "json"]
        argv += [w for a in arches for w in ("--arch", a)] + files
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        code: int | None
        try:
            out, err = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            code = None
        seconds = time.monotonic() - started
    try:
        report: dict[str, Any] = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        report = {}
    findings = tuple(
        rc.Found(
            f["rule"],
            f["severity"],
            f["path"],
            f.get("line"),
            f["message"],
            tuple(f.get("evidence") or ()),
        )
        for f in report.get("findings", ())
    )
    notes = [line for line in err.splitlines() if any(w in line for w in NOTE_WORDS)]
    if code not in (0, 1):
        notes += err.strip().splitlines()[-3:]
    return CliRun(code, seconds, findings, tuple(dict.fromkeys(notes)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.robot_replay", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--archive", type=Path, help="the list archive (mbox or mbox.gz)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per patch")
    parser.add_argument("--only", action="append", metavar="MSGID", help="answered patch only")
    parser.add_argument("--plan-only", action="store_true", help="apply and plan, no build")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="when not caught, also build the .c files the robot names, in our job configs",
    )
    parser.add_argument(
        "--port",
        action="store_true",
        help="carry patches that do not apply onto the tree with patch --fuzz=3 (marked)",
    )
    return parser


def _versions(root: Path, index: TreeIndex) -> str:
    def first(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
        except OSError:
            return "missing"
        return (done.stdout.strip().splitlines() or ["?"])[0]

    commit = first(["git", "rev-parse", "--short", "HEAD"])
    return (
        f"reviewbot {commit}; tree {describe_tree(root, index.key).label}; "
        f"{first(['gcc', '--version'])}; bwrap {first(['bwrap', '--version'])}"
    )


def replay(
    args: argparse.Namespace, raws: Sequence[RawMail], root: Path, index: TreeIndex
) -> list[rc.Row]:
    reports = robot_reports(raws)
    answered_ids = list(dict.fromkeys(r.answers for r in reports))
    if args.only:
        answered_ids = [i for i in answered_ids if i in args.only]
    _note(f"{len(reports)} robot build reports answer {len(answered_ids)} patches")
    usable = [a.name for a in load_matrix().values() if _compiler_here(a)]
    rows = []
    for ident in answered_ids:
        mine = [r for r in reports if r.answers == ident]
        first = mine[0]
        found = answered_series(raws, ident)
        robot_first = first.new_lines[0] if first.new_lines else "(no diagnostic lines)"
        if found is None:
            rows.append(rc.Row(ident, "not in archive", "-", "-", None, None, robot_first))
            continue
        arches = rc.our_arches((r.config for r in mine), usable) or Config().arches
        plan, applies = _plan_of(found.series, root, index, tuple(arches))
        status, notes = ("yes" if applies else "no"), tuple[str, ...]()
        mails = [r.data for r in found.raws] + ([found.cover] if found.cover else [])
        if not applies and args.port:
            status, mails, notes, plan = _ported(found, root, index, arches, plan)
        row = rc.Row(
            found.patch.subject,
            status,
            planned(plan),
            "-",
            None,
            rc.latency_hours(_date(found.patch), first.date),
            robot_first,
            findings=notes + plan_lines(plan),
        )
        _note(f"{ident}: applies={row.applies}, arches {arches}, plan: {row.planned}")
        if status != "no" and not args.plan_only:
            run = run_check(mails, arches, args.timeout)
            word = rc.verdict(run.findings, mine) if run.exit_code in (0, 1) else "failed"
            row = replace(
                row,
                verdict="timeout" if run.exit_code is None else word,
                seconds=run.seconds,
                findings=row.findings
                + tuple(
                    f.label() + (" [match]" if rc.matches(f, mine) else "") for f in run.findings
                )
                + tuple(f"note: {n.strip().removeprefix('INFO ')[:240]}" for n in run.notes),
                exit_code=run.exit_code,
            )
            _note(f"  exit {run.exit_code}, {run.seconds:.0f} s, {row.verdict}")
            if args.oracle and row.verdict != "caught":
                series = series_of(mails)
                if series is not None:
                    row = replace(
                        row, findings=row.findings + oracle(series, root, index, arches, mine)
                    )
        rows.append(row)
        _print_details(row, ident, mine, arches)
    return rows


def _ported(
    found: Answered, root: Path, index: TreeIndex, arches: Sequence[str], plan: BuildPlan
) -> tuple[str, list[bytes], tuple[str, ...], BuildPlan]:
    """(status, mails, notes, plan) after carrying the parts onto the tree with fuzz."""
    ported = port(root, found.series.patches)
    if ported is None:
        return "no", [], ("port: the answered patch does not apply even with fuzz 3",), plan
    mails = list(ported.mails) + ([found.cover] if found.cover else [])
    series = series_of(mails)
    if series is None:
        return "no", [], ("port: the ported mails make no series",), plan
    plan, applies = _plan_of(series, root, index, tuple(arches))
    notes = [f"port: {ported.fuzzed} hunks placed with fuzz or at an offset"]
    notes += [f"port: left out (does not port): {s}" for s in ported.dropped]
    if not applies:
        return "no", [], (*notes, "port: still does not apply"), plan
    return "ported", mails, tuple(notes), plan


def _compiler_here(arch: Arch) -> bool:
    try:
        check_compiler(arch)
    except CompilerMissingError:
        return False
    return True


def _print_details(
    row: rc.Row, ident: str, reports: Sequence[rc.RobotReport], arches: Sequence[str]
) -> None:
    print(f"\n<{ident}> {row.subject}")
    for report in reports:
        when = report.date.isoformat() if report.date else "?"
        print(f"  robot {when}: {report.kind}, {report.config or '(no config)'}, {report.compiler}")
        for line in report.new_lines[:3]:
            print(f"    {line[:150]}")
    print(f"  ours: arches {', '.join(arches)}; applies {row.applies}; planned {row.planned}")
    if row.exit_code is not None or row.verdict == "timeout":
        print(f"  exit {row.exit_code}, {row.seconds or 0:.0f} s, verdict {row.verdict}")
    for line in row.findings:
        print(f"    {line}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.archive is None:
        parser.error("--archive PATH is required (the linux-kbuild lore archive, mbox or .gz)")
    if not args.archive.is_file():
        parser.error(f"--archive {args.archive}: no such file")
    if not args.plan_only and shutil.which("bwrap") is None:
        parser.error("bubblewrap (bwrap) is needed for --build; or use --plan-only")
    config = Config()
    root = ensure_default_tree(config.cache_dir)
    index = build_index(root, config.cache_dir)
    print(f"machine: {_machine()}")
    print(f"versions: {_versions(root, index)}")
    print(f"load average at start: {_load()}")
    raws = read_input(args.archive.read_bytes(), args.archive.name)
    rows = replay(args, raws, root, index)
    print("\n== kernel test robot's build reports, replayed through reviewbot check --build ==")
    print(rc.render(rows))
    print(f"\nmatch rule: {rc.MATCH_RULE}")
    print(rc.summary(rows))
    print(f"load average at end: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
