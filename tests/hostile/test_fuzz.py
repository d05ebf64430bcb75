"""Property-based: mutated real mails and diffs never crash parse -> assemble -> review,
and reviewing grows linearly with the input.

Seeds are real linux-kbuild patch mails (tests/data/hostile/lore-seeds.mbox) and the
rules' Kconfig fixtures; mutations splice in what attackers send: huge numbers in hunk
headers and subjects, over-long path components, paths under files, NUL and CR bytes,
invalid UTF-8, mbox separators, duplicated and deleted lines.
"""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.analysis.view import DictTree
from reviewbot.errors import UserInputError
from reviewbot.limits import ReviewLimits
from reviewbot.mail.bounded import parse_bounded
from reviewbot.mail.mbox import read_input, split_mbox
from reviewbot.mail.series import assemble
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from tests.helpers import diff_of, index_of, mail

REPO = Path(__file__).resolve().parents[2]
SEEDS = [
    raw.data for raw in split_mbox((REPO / "tests/data/hostile/lore-seeds.mbox").read_bytes(), "s")
]
SEEDS += [p.read_bytes() for p in sorted((REPO / "rules").glob("KC01[089]/bad/*.patch"))[:3]]
TREE = {
    "drivers/misc/Kconfig": 'config MISC_A\n\tbool "a"\n',
    "drivers/misc/Makefile": "obj-$(CONFIG_MISC_A) += a.o\n",
    "drivers/misc/a.c": "int a;\n",
}
HOSTILE_LINES = [
    b"@@ -" + b"9" * 5000 + b",1 +1,2 @@",
    b"@@ -999999999,3 +999999999,4 @@",
    b"Subject: [PATCH 1/20000000] x",
    b"Subject: [PATCH " + b"7" * 5000 + b"/" + b"8" * 5000 + b"] x",
    b"+++ b/drivers/" + b"a" * 300 + b".c",
    b"diff --git a/drivers/misc/Kconfig/Kconfig b/drivers/misc/Kconfig/Kconfig",
    b"+int f(void) " + b"_" * 64 + b" x {",
    b"+obj-$(CONFIG_X) += " + b"$(a)" * 2000 + b"x.o",
    b"From hostile@x Thu Jan  1 00:00:00 1970",
    b"\x00\xff\xfe\r\r",
    b"Content-Transfer-Encoding: base64",
    b'Content-Type: multipart/mixed; boundary="x"',
    b'+source "/etc/shadow"',
    b"",
]
LIMITS = ReviewLimits(parse_seconds=20, apply_seconds=20, rules_seconds=20)


def _mutate(seed: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    lines = seed.split(b"\n")
    for kind, where, what in edits:
        at = where % max(len(lines), 1)
        if kind == 0:
            lines[at:at] = [HOSTILE_LINES[what % len(HOSTILE_LINES)]]
        elif kind == 1 and lines:
            lines[at] = HOSTILE_LINES[what % len(HOSTILE_LINES)]
        elif kind == 2 and lines:
            del lines[at]
        elif kind == 3:
            lines[at:at] = lines[at : at + 1 + what % 8] * (1 + what % 50)
        else:
            lines = lines[: at + 1]
    return b"\n".join(lines)


def _review_all(data: bytes) -> int:
    """parse -> assemble -> review; only UserInputError may stop reading an input."""
    try:
        raws = read_input(data, "fuzz", LIMITS)
    except UserInputError:
        return 0
    messages = []
    for raw in raws:
        try:
            messages.append(parse_bounded(raw, LIMITS))
        except UserInputError:
            continue
    series, _ = assemble(messages, LIMITS.series_total)
    base, index = DictTree(TREE), index_of(TREE)
    return sum(len(review_series(s, base, index, RULES, limits=LIMITS).findings) for s in series)


edits = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 10_000), st.integers(0, 10_000)), max_size=6
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), changes=edits)
def test_no_exception_escapes(seed: bytes, changes: list[tuple[int, int, int]]) -> None:
    _review_all(_mutate(seed, changes))


def _grown(seed: bytes, factor: int) -> bytes:
    """A new file holding the seed's added lines `factor` times (bytes grow linearly)."""
    added = [line[1:] for line in seed.decode("utf-8", "replace").split("\n") if line[:1] == "+"]
    added = [line for line in added if not line.startswith("++")] or ["int a;"]
    text = "\n".join(added * factor) + "\n"
    return mail(diff_of("drivers/misc/grown.c", None, text))


def _seconds(data: bytes) -> float:
    started = time.perf_counter()
    _review_all(data)
    return time.perf_counter() - started


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), changes=edits)
def test_review_time_grows_linearly(seed: bytes, changes: list[tuple[int, int, int]]) -> None:
    mutated = _mutate(seed, changes)
    small = min(_seconds(_grown(mutated, 4)) for _ in range(2))
    large = _seconds(_grown(mutated, 32))
    # 8 times the input: allow 8 x 4 (machine noise, caches) plus a fixed second.
    assert large < 32 * small + 1.0, f"{small:.3f} s -> {large:.3f} s for 8x the input"
