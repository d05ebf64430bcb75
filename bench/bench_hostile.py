"""Hostile inputs, family by family: wall time and peak RSS beside a normal patch.

    python -m bench.bench_hostile [--tree PATH] [--kconfig] [--only NAME ...]

Each row runs `reviewbot check` in a subprocess on one hostile input and, beside it, on
an ordinary new C file of the same size (bench.hostile_inputs.normal_patch), and prints
exit status, seconds and peak RSS (wait4) of both. `--kconfig` adds the families that
need Kconfig evaluation (leaks through `source` and `$(shell)`, a hanging `$(shell)`),
a few minutes each on a loaded machine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import hostile_inputs as h
from reviewbot.config import default_cache_dir


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    build: Callable[[Path, Path], bytes]
    kconfig: bool = False
    config: str = ""
    file_name: str = "input.mbox"


def _cases() -> list[Case]:
    return [
        Case("1 leaks", "kconfig source /etc file", h.kconfig_source_leak, kconfig=True),
        Case("1 leaks", "kconfig $(shell,cat ...)", h.kconfig_shell_leak, kconfig=True),
        Case("3 cpu", "ReDoS-shaped C (64 _)", lambda t, s: h.redos_c(64)),
        Case("3 cpu", "200,000-line Makefile", lambda t, s: h.huge_makefile(200_000)),
        Case("3 cpu", "hunk at line 999,999,999", lambda t, s: h.huge_hunk_start(t, 999_999_999)),
        Case(
            "3 cpu",
            "kconfig $(shell,sleep 10000)",
            lambda t, s: h.kconfig_sleep(t),
            kconfig=True,
            config="[limits]\nkconfig_seconds = 60\nconf_seconds = 60\n",
        ),
        Case("4 memory", "1 MB gzip bomb", lambda t, s: h.gzip_bomb(1), file_name="b.mbox.gz"),
        Case("4 memory", "10 MB gzip bomb", lambda t, s: h.gzip_bomb(10), file_name="b.mbox.gz"),
        Case("4 memory", "35 MB short-line flood", lambda t, s: h.short_line_flood(35 << 20)),
        Case("4 memory", "[PATCH 1/20000000]", lambda t, s: h.huge_total()),
        Case("5 crash", "5,000-digit hunk number", lambda t, s: h.huge_hunk_digits()),
        Case("5 crash", "Kconfig and Kconfig/Kconfig", lambda t, s: h.file_and_directory(t)),
        Case("5 crash", "300-byte path component", lambda t, s: h.long_component()),
    ]


def _row(case: Case, tree: Path, secret: Path) -> str:
    data = case.build(tree, secret)
    args: tuple[str, ...] = ("--tree", str(tree))
    args += ("--arch", "x86_64") if case.kconfig else ("--no-kconfig",)
    hostile = h.measure(data, args, case.config, timeout=3600, name=case.file_name)
    normal = h.measure(h.normal_patch(len(data)), args, timeout=3600)
    leaked = " LEAK" if secret.read_text().strip() in hostile.output else ""
    return (
        f"{case.family:9s} {case.name:30s} {len(data) / 1e6:8.2f} MB | "
        f"exit {hostile.returncode} {hostile.seconds:7.1f} s {hostile.peak_rss_mb:6.0f} MB | "
        f"exit {normal.returncode} {normal.seconds:7.1f} s {normal.peak_rss_mb:6.0f} MB{leaked}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tree = default_cache_dir() / "trees" / "linux-source-6.12"
    parser.add_argument("--tree", type=Path, default=tree)
    parser.add_argument("--kconfig", action="store_true", help="add the Kconfig families")
    parser.add_argument("--only", nargs="*", help="run the cases whose name contains one of these")
    args = parser.parse_args(argv)
    secret = Path("/tmp/reviewbot-bench-canary")  # readable on the host: the sandbox hides it
    secret.write_text("REVIEWBOT-BENCH-CANARY-SECRET\n")
    print(
        f"{'family':9s} {'input':30s} {'size':>11s} | {'hostile: exit, wall, peak RSS':31s} | "
        "normal patch of the same size"
    )
    failures = 0
    try:
        for case in _cases():
            if case.kconfig and not args.kconfig:
                continue
            if args.only and not any(word in case.name for word in args.only):
                continue
            row = _row(case, args.tree, secret)
            failures += "LEAK" in row
            print(row, flush=True)
    finally:
        secret.unlink(missing_ok=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
