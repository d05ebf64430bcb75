"""Hostile inputs for tests/hostile and bench.bench_hostile, built from the real tree.

Each builder returns the bytes of one input file for `reviewbot check`. Patches that
modify a tree file take its real current text (any 6.12.y point release), so they
apply wherever the tree is. `measure` runs `python -m reviewbot` in a subprocess and
reports its exit code, output, wall time and peak RSS (wait4's rusage of that child and
its waited-for descendants).
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import diff_of

REPO = Path(__file__).resolve().parent.parent


def mail(diff: str, subject: str = "[PATCH] misc: hostile change", msgid: str = "h1@x") -> bytes:
    return (
        f"From: Hostile Author <hostile@example.org>\nSubject: {subject}\n"
        f"Message-ID: <{msgid}>\nContent-Type: text/plain; charset=utf-8\n\n"
        "Change things.\n\nSigned-off-by: Hostile Author <hostile@example.org>\n---\n"
        f"{diff}-- \n2.47.3\n"
    ).encode()


def _append(tree: Path, path: str, text: str) -> str:
    old = (tree / path).read_text()
    return diff_of(path, old, old + text)


# -- family 1: leaks -----------------------------------------------------------------


def kconfig_source_leak(tree: Path, secret: Path) -> bytes:
    """A Kconfig `source` of a host file: its first line must not reach a finding."""
    return mail(_append(tree, "drivers/misc/Kconfig", f'\nsource "{secret}"\n'))


def kconfig_shell_leak(tree: Path, secret: Path) -> bytes:
    """A Kconfig default that cats host files to conf's stderr."""
    text = (
        '\nconfig REVIEWBOT_HOSTILE\n\tstring "hostile"\n'
        f'\tdefault "$(shell,cat {secret} /etc/shadow 1>&2)"\n'
    )
    return mail(_append(tree, "drivers/misc/Kconfig", text))


def make_leak_and_fill(tree: Path, secret: Path, fill_mb: int) -> bytes:
    """A Makefile that prints host files as compiler warnings and fills the disk."""
    make = (
        "\nobj-y += reviewbot_hostile.o\n"
        f'$(shell echo "drivers/misc/reviewbot_hostile.c:1:1: warning: $$(cat {secret})" 1>&2)\n'
        f"$(shell for i in 1 2 3 4 5 6 7 8; do head -c {fill_mb}M /dev/zero > big$$i; done)\n"
    )
    c_file = "// SPDX-License-Identifier: GPL-2.0\nint reviewbot_hostile(void);\n"
    c_file += "int reviewbot_hostile(void)\n{\n\treturn 0;\n}\n"
    diff = _append(tree, "drivers/misc/Makefile", make)
    diff += diff_of("drivers/misc/reviewbot_hostile.c", None, c_file)
    return mail(diff)


# -- family 3: CPU ---------------------------------------------------------------------


def redos_c(underscores: int = 64) -> bytes:
    """exports_ctext's old _FUNC_HEAD backtracked exponentially on this."""
    text = f"int f(void) {'_' * underscores} x {{\n\treturn 0;\n}}\nEXPORT_SYMBOL(f);\n"
    return mail(diff_of("drivers/misc/reviewbot_redos.c", None, text))


def huge_makefile(lines: int = 200_000) -> bytes:
    """A new Makefile of many lines (kbuild_make.touches() was quadratic)."""
    text = "".join(f"obj-$(CONFIG_HOSTILE_{n}) += hostile{n}.o\n" for n in range(lines))
    return mail(diff_of("drivers/misc/hostile/Makefile", None, text))


def huge_hunk_start(tree: Path, start: int) -> bytes:
    """A hunk far beyond the end of a real file, over its real context."""
    path = "drivers/misc/Makefile"
    old = (tree / path).read_text().splitlines()[:6]
    body = "".join(f" {line}\n" for line in old) + "+obj-y += hostile.o\n"
    header = f"@@ -{start},{len(old)} +{start},{len(old) + 1} @@\n"
    return mail(f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{header}{body}")


def kconfig_sleep(tree: Path, seconds: int = 10_000) -> bytes:
    text = f'\nconfig REVIEWBOT_SLEEP\n\tstring "sleep"\n\tdefault "$(shell,sleep {seconds})"\n'
    return mail(_append(tree, "drivers/misc/Kconfig", text))


# -- family 4: memory ------------------------------------------------------------------


def gzip_bomb(compressed_mb: int = 1) -> bytes:
    """About compressed_mb of gzip that expands ~1000 times (zeros after a mail header)."""
    head = mail(diff_of("drivers/misc/bomb.c", None, "int bomb;\n"))
    chunk = bytes(1 << 20)
    out = gzip.compress(head, 1)
    pieces = [out]
    size = len(out)
    compressor = gzip.compress(chunk * 64, 9)  # 64 MB -> ~64 KB
    while size < compressed_mb << 20:
        pieces.append(compressor)
        size += len(compressor)
    return b"".join(pieces)


def short_line_flood(total_bytes: int) -> bytes:
    """A mail made of millions of one-character lines (added lines of a new file)."""
    header = mail("")
    lines = (total_bytes - len(header)) // 2
    diff = (
        f"diff --git a/f b/f\nnew file mode 100644\n--- /dev/null\n+++ b/f\n@@ -0,0 +1,{lines} @@\n"
    )
    return header.replace(b"-- \n2.47.3\n", b"") + diff.encode() + b"+\n" * lines


def huge_total(total: int = 20_000_000) -> bytes:
    return mail(diff_of("drivers/misc/a.c", None, "int a;\n"), f"[PATCH 1/{total}] misc: a")


# -- family 5: crash inputs ------------------------------------------------------------


def huge_hunk_digits(digits: int = 5000) -> bytes:
    number = "9" * digits
    body = f"@@ -{number},1 +{number},2 @@\n context\n+added\n"
    return mail(f"diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n{body}")


def file_and_directory(tree: Path) -> bytes:
    """Modify drivers/misc/Kconfig and add drivers/misc/Kconfig/Kconfig."""
    diff = _append(tree, "drivers/misc/Kconfig", "\nconfig REVIEWBOT_A\n\tbool\n")
    diff += diff_of("drivers/misc/Kconfig/Kconfig", None, "config REVIEWBOT_B\n\tbool\n")
    return mail(diff)


def long_component(length: int = 300) -> bytes:
    return mail(diff_of(f"drivers/misc/{'a' * length}.c", None, "int a;\n"))


def normal_patch(size: int) -> bytes:
    """An ordinary new C file of about size bytes (the baseline beside each family)."""
    lines = ["// SPDX-License-Identifier: GPL-2.0", "#include <linux/module.h>", ""]
    n, total = 0, sum(len(line) + 1 for line in lines)
    while total < size:
        more = [f"static int reviewbot_f{n}(int v)", "{", f"\treturn v + {n};", "}", ""]
        lines += more
        total += sum(len(line) + 1 for line in more)
        n += 1
    return mail(diff_of("drivers/misc/reviewbot_normal.c", None, "\n".join(lines) + "\n"))


# -- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def measure(
    data: bytes,
    args: Sequence[str] = ("--no-kconfig",),
    config: str = "",
    timeout: float = 900.0,
    env: Mapping[str, str] | None = None,
    name: str = "input.mbox",
) -> Run:
    """Run `python -m reviewbot check ARGS FILE` on data in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        command = [sys.executable, "-m", "reviewbot"]
        if config:
            (Path(tmp) / "limits.toml").write_text(config)
            command += ["--config", str(Path(tmp) / "limits.toml")]
        command += ["check", *args, str(path)]
        environment = dict(os.environ if env is None else env)
        environment["PYTHONPATH"] = str(REPO)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.monotonic()
            # ru_maxrss of a forked child includes its parent's size at fork: GNU time
            # (a small process) forks the real command and reports its peak cleanly.
            report = Path(tmp) / "rss"
            timed = ["/usr/bin/time", "-f", "%M", "-o", str(report), *command]
            if not Path("/usr/bin/time").exists():
                timed = command
            proc = subprocess.Popen(timed, stdout=out, stderr=err, env=environment, cwd=tmp)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.monotonic() - started
            out.seek(0)
            err.seek(0)
            peak = usage.ru_maxrss / 1024
            if report.exists() and report.read_text().strip().splitlines():
                peak = int(report.read_text().strip().splitlines()[-1]) / 1024
            return Run(
                proc.returncode,
                out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"),
                seconds,
                peak,
            )


def children_peak_rss_mb() -> float:
    """The largest RSS of any child this process has waited for (RUSAGE_CHILDREN)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
