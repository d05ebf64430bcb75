"""The build benchmark's pure helpers: make output counts, labels, medians, report text."""

from __future__ import annotations

from bench._build_common import (
    ColdPrepare,
    JobTime,
    OutputCounts,
    PeerRun,
    PeerStep,
    StepTime,
    WarmRun,
    config_label,
    count_output,
    make_label,
    median,
    peer_argv,
    peer_command,
    render_cold,
    render_peer,
    render_targets,
    render_warm,
    target_rows,
    time_left,
    touched_dirs,
    warm_medians,
)
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import BuildConfig

MAKE_OUTPUT = """\
make[1]: Entering directory '/tmp/out'
  HOSTCC  scripts/basic/fixdep
  CC      scripts/mod/empty.o
  CC [M]  drivers/tty/serdev/core.o
  AS      arch/x86/entry/vdso/vdso-note.o
/src/drivers/tty/serdev/core.c:20:5: warning: no previous prototype for 'f' [-Wmissing-prototypes]
../drivers/tty/serdev/other.c:7: warning: unused variable 'x' [-Wunused-variable]
drivers/tty/serdev/core.c:30:1: error: expected ';' before '}' token
  LD [M]  drivers/tty/serdev/serdev.o
"""


def test_count_output_counts_compiles_and_diagnostics() -> None:
    counts = count_output(MAKE_OUTPUT, ["drivers/tty/serdev/core.c"])
    assert counts == OutputCounts(compiled=4, warnings=2, errors=1, touched_warnings=1)
    assert count_output("") == OutputCounts(0, 0, 0, 0)


def test_touched_dirs_keeps_built_sources_only() -> None:
    paths = ["drivers/tty/serdev/core.c", "drivers/tty/serdev/Makefile", "arch/x86/lib/a.S"]
    assert touched_dirs(paths) == ["arch/x86/lib/", "drivers/tty/serdev/"]
    assert touched_dirs(["Documentation/x.rst"]) == []


def test_make_label_names_the_target() -> None:
    argv = ["make", "-C", "/tmp/src", "O=/tmp/out", "ARCH=x86_64", "-j2", "W=1", "prepare"]
    assert make_label(argv) == "prepare"
    assert make_label(["make", "-C", "/src", "-j2"]) == "make"
    assert make_label(["/usr/bin/python3", "-m", "x"]) == "python3"
    assert make_label(["make", "-f", "Makefile", "defconfig", "olddefconfig"]) == (
        "defconfig olddefconfig"
    )


def test_peer_command_lines() -> None:
    arm64 = load_matrix()["arm64"]
    argv = peer_argv(arm64, "/src", "/out", 2, "W=1", "drivers/tty/serdev/")
    assert argv == [
        "make",
        "-C",
        "/src",
        "O=/out",
        "ARCH=arm64",
        "CROSS_COMPILE=aarch64-linux-gnu-",
        "-j2",
        "W=1",
        "drivers/tty/serdev/",
    ]
    assert peer_command(arm64, 2, "allmodconfig") == (
        "make O=build ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -j2 allmodconfig"
    )


def test_small_helpers() -> None:
    config = BuildConfig("defconfig", (("SERIAL_DEV_BUS", "y"), ("WERROR", "n")))
    assert config_label(config) == "defconfig SERIAL_DEV_BUS=y WERROR=n"
    assert config_label(BuildConfig("defconfig")) == "defconfig"
    assert time_left(10.0, 4.0) == 6.0
    assert time_left(10.0, 12.0) == 0.0
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0


def _run(number: int, seconds: float, cached: bool) -> WarmRun:
    jobs = (
        JobTime("x86_64", seconds / 2, 1.0, 1.0, True, cached),
        JobTime("arm64", seconds / 2, 1.0, 1.0, True, True),
    )
    return WarmRun(number, seconds, seconds, jobs)


def test_warm_medians_leave_out_runs_that_prepared() -> None:
    runs = [_run(1, 50.0, cached=False), _run(2, 8.0, True), _run(3, 10.0, True)]
    per_patch, per_arch = warm_medians(runs, ["x86_64", "arm64"])
    assert per_patch == 9.0
    assert per_arch == {"x86_64": 4.5, "arm64": 4.5}
    text = render_warm(runs, ["x86_64", "arm64"])
    assert "not counted" in text.splitlines()[2]
    assert "4.0 (1.0+1.0)" in text
    assert warm_medians([], ["x86_64"]) == (None, {"x86_64": None})


def test_render_cold_and_targets_give_verdicts() -> None:
    rows = [
        ColdPrepare("x86_64", "defconfig", 14.0, (StepTime("prepare", 9.0, True),)),
        ColdPrepare("arm64", "defconfig", 25.0, (StepTime("defconfig", 3.0, False),)),
        ColdPrepare("riscv64", "defconfig", 1.0, error="compiler missing"),
    ]
    text = render_cold(rows)
    assert "PASS" in text and "MISS" in text and "defconfig 3.0 FAILED" in text
    assert "riscv64: compiler missing" in text
    targets = target_rows(rows, 8.0)
    assert [row[3] for row in targets] == ["PASS", "MISS", "MISS", "PASS"]
    assert target_rows([], None) == [("warm, per patch (median)", "< 60 s", "not measured", "MISS")]
    assert "verdict" in render_targets(targets)


def test_render_peer_says_when_the_time_limit_killed_it() -> None:
    counts = OutputCounts(3, 1, 0, 1)
    finished = PeerRun(
        "x86_64",
        (
            PeerStep("allmodconfig", "make allmodconfig", 20.0, 0, counts),
            PeerStep("base build", "make W=1 d/", 100.0, 0, counts),
            PeerStep("patched build", "make W=1 d/", 10.0, 0, counts),
        ),
        1500.0,
    )
    killed = PeerRun(
        "arm64", (PeerStep("base build", "make W=1 d/", 1500.0, None, counts),), 1500.0
    )
    failed = PeerRun("mips", (PeerStep("allmodconfig", "m", 1.0, 2, counts),), 9.0, "boom")
    assert finished.finished and not killed.finished and not failed.finished
    assert finished.seconds == 130.0
    text = render_peer([finished, killed, failed])
    assert "x86_64: 130.0 s in all" in text
    assert "arm64: did not finish in 1500 s (--peer-timeout)" in text
    assert "killed (time limit)" in text
    assert "mips: boom" in text
