"""Parsing build output and telling new diagnostics from moved or old ones."""

from __future__ import annotations

import pytest

from reviewbot.analysis.apply import apply_located
from reviewbot.analysis.diff import parse_diff
from reviewbot.build.diagnostics import map_line, new_diagnostics, parse_output, step_failure
from reviewbot.build.model import BuildStep, DiagKind, Diagnostic, StepKind, StepResult

ROOTS = ("/tmp/reviewbot/src", "/tmp/reviewbot/work/out", "/tmp/reviewbot/work")

OUTPUT = """\
make[1]: Entering directory '/tmp/reviewbot/work/out'
  CC      drivers/misc/dummy-irq.o
/tmp/reviewbot/src/drivers/misc/dummy-irq.c:20:5: warning: no previous prototype for 'f' \
[-Wmissing-prototypes]
   20 | int f(void)
      |     ^
drivers/misc/x.c:7:1: error: expected ';' before '}' token
lib/y.c:3:10: fatal error: nope.h: No such file or directory
drivers/net/z.c:12:3: warning: unused variable 'a' [-Wunused-variable]
vmlinux.o: warning: objtool: foo+0x1c: call to bar() leaves .noinstr.text section
WARNING: modpost: "__x86_return_thunk" [/tmp/reviewbot/work/mod/m.ko] undefined!
ERROR: modpost: missing MODULE_LICENSE() in /tmp/reviewbot/work/mod/m.o
make[3]: *** No rule to make target 'vmlinux', needed by '/tmp/reviewbot/work/mod/m.ko'.  Stop.
ld: drivers/a.o: in function `g':
a.c:(.text+0x12): undefined reference to `h'
make[1]: *** [/tmp/reviewbot/src/Makefile:236: __sub-make] Error 2
"""


def test_parse_compiler_modpost_make_and_ld() -> None:
    found = parse_output(OUTPUT, ROOTS)
    texts = [(d.tool, d.kind.value, d.path, d.line, d.text) for d in found]
    assert texts[0] == (
        "cc",
        "warning",
        "drivers/misc/dummy-irq.c",
        20,
        "no previous prototype for 'f' [-Wmissing-prototypes]",
    )
    assert ("cc", "error", "drivers/misc/x.c", 7, "expected ';' before '}' token") in texts
    assert ("cc", "error", "lib/y.c", 3, "nope.h: No such file or directory") in texts
    assert any(t[0] == "objtool" and "+0x" not in t[4] for t in texts)
    assert ("modpost", "warning", "", None, '"__x86_return_thunk" [mod/m.ko] undefined!') in texts
    assert ("modpost", "error", "", None, "missing MODULE_LICENSE() in mod/m.o") in texts
    assert any(t[0] == "make" and "No rule to make target 'vmlinux'" in t[4] for t in texts)
    assert ("ld", "error", "a.c", None, "undefined reference to `h'") in texts
    assert not any("__sub-make" in t[4] for t in texts)


DIFF = (
    """\
--- a/drivers/misc/dummy-irq.c
+++ b/drivers/misc/dummy-irq.c
@@ -18,3 +18,8 @@
 static int irq = -1;
"""
    + " \n"
    + """\
+int f(void)
+{
+	return irq;
+}
+
 static irqreturn_t dummy_interrupt(int irq, void *dev_id)
"""
)
HUNK_CONTEXT = "static int irq = -1;\n\nstatic irqreturn_t dummy_interrupt(int irq, void *dev_id)\n"
CHANGE = parse_diff(DIFF)[0]


def test_map_line_through_hunks() -> None:
    assert map_line(CHANGE, 10) == 10  # before the hunk
    assert map_line(CHANGE, 18) == 18  # context
    assert map_line(CHANGE, 20) is None  # added
    assert map_line(CHANGE, 25) == 20  # context after the added lines
    assert map_line(CHANGE, 100) == 95  # after the hunk


def _warning(line: int, text: str = "unused variable 'a'") -> Diagnostic:
    return Diagnostic(DiagKind.WARNING, "drivers/misc/dummy-irq.c", line, text)


def test_moved_warning_is_not_new_but_one_on_an_added_line_is() -> None:
    base = [_warning(40), _warning(60, "other")]
    patched = [_warning(45), _warning(20, "no previous prototype"), _warning(65, "other")]
    new = new_diagnostics(base, patched, [CHANGE])
    assert new == [_warning(20, "no previous prototype")]


@pytest.mark.parametrize("by", [6, -4])
def test_hunk_applied_at_an_offset_compares_at_its_real_lines(by: int) -> None:
    """The same hunk made on a base `by` lines longer above it: the patched file is
    ours, so old warnings move by the hunk's real place, not its header's."""
    diff = str(DIFF).replace("@@ -18,3 +18,8 @@", f"@@ -{18 + by},3 +{18 + by},8 @@")
    (change,) = parse_diff(diff)
    base_text = "".join(f"/* {n} */\n" for n in range(1, 101))
    base_text = base_text.replace("/* 18 */\n/* 19 */\n/* 20 */\n", HUNK_CONTEXT)
    relocated = apply_located(base_text, change).change
    # Real hunk: base 18-20, patched 18-25 with lines 20-24 added.
    base = [_warning(24, "moved"), _warning(17, "before")]
    patched = [_warning(29, "moved"), _warning(17, "before"), _warning(20, "no previous prototype")]
    assert new_diagnostics(base, patched, [relocated]) == [_warning(20, "no previous prototype")]
    # Read through the header's numbers, an old warning looks new (a false alarm).
    assert len(new_diagnostics(base, patched, [change])) == 2


def test_same_warning_count_but_different_text_is_new() -> None:
    base = [_warning(40, "a")]
    patched = [_warning(45, "b")]
    assert new_diagnostics(base, patched, [CHANGE]) == [_warning(45, "b")]


def test_untouched_file_compares_by_line() -> None:
    other = Diagnostic(DiagKind.WARNING, "include/x.h", 3, "t")
    assert new_diagnostics([other], [other], [CHANGE]) == []


def _step(ok: bool, **kwargs: object) -> StepResult:
    return StepResult(BuildStep(StepKind.OBJECTS), ok, commands=("make x.o",), **kwargs)  # type: ignore[arg-type]


def test_step_failure_names_timeouts_and_exit_status() -> None:
    assert step_failure(_step(True), _step(True)) is None
    assert step_failure(_step(False), _step(False)) is None
    stopped = step_failure(_step(True), _step(False, timed_out=True, seconds=5.0))
    assert stopped is not None and "wall-clock limit" in stopped.text
    failed = step_failure(_step(True), _step(False, status=2, tail="boom"))
    assert failed is not None and "exit status 2" in failed.text and "boom" in failed.text


def test_a_header_warning_names_the_user_whose_compilation_printed_it() -> None:
    # As kernel test robot quoted it for minmax's __is_nonneg() without its cast.
    output = """\
In file included from ./include/linux/kernel.h:28,
                 from /src/lib/lzo/lzo1x_compress.c:14:
/src/lib/lzo/lzo1x_compress.c: In function 'lzo1x_1_do_compress':
./include/linux/minmax.h:65:46: warning: ordered comparison of pointer with integer zero [-Wextra]
   65 | #define __is_nonneg(ux) statically_true((ux) >= 0)
lib/lzo/lzo1x_compress.c:65:54: note: in expansion of macro 'min'
drivers/x.c:3:1: warning: no previous prototype for 'f' [-Wmissing-prototypes]
"""
    header, own = parse_output(output, ["/src"])
    assert (header.path, header.line, header.unit) == (
        "include/linux/minmax.h",
        65,
        "lib/lzo/lzo1x_compress.c",
    )
    assert (own.path, own.unit) == ("drivers/x.c", "")
    # the compiling source is not part of what makes a diagnostic new
    assert header.key() == ("include/linux/minmax.h", 65, "cc", header.text)
