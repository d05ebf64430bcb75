"""BLD004-BLD006 on canned outcomes: host tools, toolchain probes, links (no compiler)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from reviewbot.analysis.view import DictTree
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import Arch, BuildOutcome, DiagKind, Diagnostic, StepKind, StepResult
from reviewbot.build.provider import BuildEvaluator
from reviewbot.build.runner import JobRequest
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules import build_kbuild
from reviewbot.rules.engine import review_series
from tests.helpers import diff_of, index_of, mail

CONF = "int a;\nint b;\nint c;\n"
INCLUDE = "x := 1\nas-instr = $(success,printf x)\ny := 2\n"
MAKEFILE = "obj-y += a.o\nobj-y += kstrtox.o\n"
KSTRTOX = "#include <x.h>\n\nint kstrtouint(const char *s)\n{\n\treturn 0;\n}\n"
HELPER = "int x;\n\nvoid helper(void)\n{\n}\n"
FILES = {
    "scripts/kconfig/conf.c": CONF,
    "scripts/Kconfig.include": INCLUDE,
    "lib/Makefile": MAKEFILE,
    "lib/kstrtox.c": KSTRTOX,
    "kernel/helper.c": HELPER,
}
MATRIX = {n: a for n, a in load_matrix().items() if n == "x86_64"}


def _step(kind: StepKind, ok: bool, *diags: Diagnostic, **extra: object) -> StepResult:
    from reviewbot.build.model import BuildStep

    return StepResult(
        BuildStep(kind),
        ok,
        diags,
        commands=("make O=build ARCH=x86_64 -j2 thing",),
        status=0 if ok else 2,
        excerpt="scripts/kconfig/conf.c:2:5: error: expected ')'\nmake: *** [x] Error 1",
        **extra,  # type: ignore[arg-type]
    )


def _run(
    results: Mapping[StepKind, tuple[StepResult, StepResult]],
) -> Callable[[JobRequest], BuildOutcome]:
    def run(request: JobRequest) -> BuildOutcome:
        steps = [s for s in request.job.steps if s.kind in results]
        base = tuple(replace(results[s.kind][0], step=s) for s in steps)
        patched = tuple(replace(results[s.kind][1], step=s) for s in steps)
        return BuildOutcome(request.job, base, patched, seconds=1.0)

    return run


def _findings(path: str, new: str, provider: BuildEvaluator) -> list[Finding]:
    """The kbuild rules' findings on a one-file patch, with this build provider."""
    messages = [parse_mail(raw) for raw in read_input(mail(diff_of(path, FILES[path], new)), "t")]
    series, _ = assemble(messages)
    return [
        f
        for s in series
        for f in review_series(
            s, DictTree(FILES), index_of(FILES), build_kbuild.RULES, (), None, provider
        ).findings
    ]


def _review(
    path: str, new: str, results: Mapping[StepKind, tuple[StepResult, StepResult]]
) -> list[Finding]:
    provider = BuildEvaluator(
        Path("/fake"),
        "k",
        Path("/nonexistent"),
        ("x86_64",),
        matrix=MATRIX,
        run=_run(results),
        link=False,
    )
    return _findings(path, new, provider)


def test_host_tool_error_on_the_changed_line_with_command_and_output() -> None:
    error = Diagnostic(DiagKind.ERROR, "scripts/kconfig/conf.c", 2, "expected ')' before ':'")
    results = {
        StepKind.HOSTTOOLS: (
            _step(StepKind.HOSTTOOLS, True),
            _step(StepKind.HOSTTOOLS, False, error),
        )
    }
    found = _review("scripts/kconfig/conf.c", CONF.replace("int b;", "int b :?;"), results)
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD004", "scripts/kconfig/conf.c", 2, Severity.ERROR)
    ]
    assert "HOSTCFLAGS" not in found[0].message or "Reproduce:" in found[0].message
    assert any("error: expected" in line for line in found[0].evidence)


def test_host_tool_warning_made_error_by_werror_is_a_warning() -> None:
    werror = Diagnostic(
        DiagKind.ERROR, "scripts/kconfig/conf.c", 3, "unused variable 'c' [-Werror=unused-variable]"
    )
    results = {
        StepKind.HOSTTOOLS: (
            _step(StepKind.HOSTTOOLS, True),
            _step(StepKind.HOSTTOOLS, False, werror),
        )
    }
    found = _review("scripts/kconfig/conf.c", CONF.replace("int c;", "int c, d;"), results)
    assert [(f.rule, f.severity) for f in found] == [("BLD004", Severity.WARNING)]
    assert "newly warns" in found[0].message


def test_probe_that_loses_symbols_points_at_the_probe_hunk() -> None:
    base = _step(StepKind.TOOLCHAIN, True, config=(("AS_AVX512", "y"), ("CC_IS_GCC", "y")))
    patched = _step(StepKind.TOOLCHAIN, True, config=(("CC_IS_GCC", "y"),))
    new = INCLUDE.replace("printf x", "echo -e x")
    found = _review("scripts/Kconfig.include", new, {StepKind.TOOLCHAIN: (base, patched)})
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD005", "scripts/Kconfig.include", 2, Severity.WARNING)
    ]
    assert "AS_AVX512=y -> n" in found[0].message


def test_probe_change_the_patch_names_is_info_and_no_change_is_silent() -> None:
    base = _step(StepKind.TOOLCHAIN, True, config=(("AS_AVX512", "y"),))
    patched = _step(StepKind.TOOLCHAIN, True, config=())
    new = INCLUDE.replace("printf x", "printf x # AS_AVX512 is gone")
    found = _review("scripts/Kconfig.include", new, {StepKind.TOOLCHAIN: (base, patched)})
    assert [f.severity for f in found] == [Severity.INFO]
    same = {StepKind.TOOLCHAIN: (base, base)}
    assert _review("scripts/Kconfig.include", new, same) == []


def test_configure_failure_is_an_error() -> None:
    base = _step(StepKind.TOOLCHAIN, True)
    patched = _step(StepKind.TOOLCHAIN, False)
    found = _review(
        "scripts/Kconfig.include",
        INCLUDE.replace("x := 1", "x := 2"),
        {StepKind.TOOLCHAIN: (base, patched)},
    )
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD005", "scripts/Kconfig.include", 1, Severity.ERROR)
    ]
    assert "make O=build ARCH=x86_64 -j2 thing" in found[0].message


def test_link_error_points_at_the_makefile_hunk_only_with_a_warm_build(tmp_path: Path) -> None:
    import json

    from reviewbot.build.kbuild_plan import WARM_CONFIG
    from reviewbot.build.warm import warm_dir

    undefined = Diagnostic(
        DiagKind.ERROR, "params.c", None, "undefined reference to `kstrtouint'", "ld"
    )
    context = Diagnostic(DiagKind.ERROR, "", None, "kernel/params.o: in function `f':", "ld")
    other = Diagnostic(DiagKind.ERROR, "core.c", None, "undefined reference to `kstrtoull'", "ld")
    failed = _step(StepKind.LINK, False, context, undefined, other)
    results = {StepKind.LINK: (_step(StepKind.LINK, True), failed)}
    new = MAKEFILE.replace("obj-y += kstrtox.o", "obj-$(CONFIG_MODULES) += kstrtox.o")

    def review(cache: Path) -> list[Finding]:
        provider = BuildEvaluator(
            Path("/fake"), "k", cache, ("x86_64",), matrix=MATRIX, run=_run(results)
        )
        return _findings("lib/Makefile", new, provider)

    assert review(tmp_path) == []  # no warm full build: no link check (and a log line)
    home = warm_dir(tmp_path, "k", MATRIX["x86_64"], WARM_CONFIG)
    home.mkdir(parents=True)
    (home / "warm.json").write_text(json.dumps({"missing": [], "modules": False, "seconds": 1}))
    found = review(tmp_path)
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD006", "lib/Makefile", 2, Severity.ERROR)
    ]
    assert "`kstrtouint', `kstrtoull' (from core.c, params.c)" in found[0].message


def _link_review(
    cache: Path, path: str, new: str, *diags: Diagnostic, ok: bool = False
) -> list[Finding]:
    """BLD006 on a canned relink of a (fake) warm full build."""
    import json

    from reviewbot.build.kbuild_plan import WARM_CONFIG
    from reviewbot.build.warm import warm_dir

    home = warm_dir(cache, "k", MATRIX["x86_64"], WARM_CONFIG)
    home.mkdir(parents=True, exist_ok=True)
    (home / "warm.json").write_text(json.dumps({"missing": [], "modules": False, "seconds": 1}))
    results = {StepKind.LINK: (_step(StepKind.LINK, True), _step(StepKind.LINK, ok, *diags))}
    provider = BuildEvaluator(
        Path("/fake"), "k", cache, ("x86_64",), matrix=MATRIX, run=_run(results)
    )
    return _findings(path, new, provider)


def test_undefined_reference_points_at_the_line_that_hid_the_symbol(tmp_path: Path) -> None:
    undefined = Diagnostic(
        DiagKind.ERROR, "kernel/params.c", None, "undefined reference to `kstrtouint'", "ld"
    )
    new = KSTRTOX.replace("<x.h>", "<y.h>").replace("int kstrtouint(", "static int kstrtouint(")
    found = _link_review(tmp_path, "lib/kstrtox.c", new, undefined)
    # the caller is not in the patch; the definition the patch made static is, at line 3
    # (the file's first change is line 1)
    assert [(f.rule, f.path, f.line) for f in found] == [("BLD006", "lib/kstrtox.c", 3)]
    assert "Reproduce: make O=build ARCH=x86_64" in found[0].message
    assert found[0].evidence


def test_section_mismatch_points_at_the_annotation_the_patch_added(tmp_path: Path) -> None:
    mismatch = Diagnostic(
        DiagKind.WARNING,
        "",
        None,
        "vmlinux: section mismatch in reference: caller+0x1c (section: .text) -> helper "
        "(section: .init.text)",
        "modpost",
    )
    new = HELPER.replace("int x;", "int y;").replace(
        "void helper(void)", "void __init helper(void)"
    )
    found = _link_review(tmp_path, "kernel/helper.c", new, mismatch, ok=True)
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD006", "kernel/helper.c", 3, Severity.WARNING)
    ]


def test_a_link_error_naming_nothing_the_patch_changed_keeps_the_cause_hunk(
    tmp_path: Path,
) -> None:
    undefined = Diagnostic(
        DiagKind.ERROR, "kernel/params.c", None, "undefined reference to `kstrtoull'", "ld"
    )
    new = KSTRTOX.replace("\treturn 0;", "\treturn 1;\n}\nEXPORT_SYMBOL(kstrtouint);\n{")
    found = _link_review(tmp_path, "lib/kstrtox.c", new, undefined)
    assert [(f.rule, f.path, f.line) for f in found] == [("BLD006", "lib/kstrtox.c", 5)]


def test_a_diagnostic_without_a_line_in_a_changed_file_takes_its_first_change() -> None:
    from reviewbot.analysis.diff import parse_diff
    from reviewbot.build.anchor import anchor

    changes = parse_diff(diff_of("lib/kstrtox.c", KSTRTOX, KSTRTOX.replace("return 0", "return 2")))
    diag = Diagnostic(DiagKind.ERROR, "lib/kstrtox.c", None, "something", "ld")
    assert anchor(diag, changes) == ("lib/kstrtox.c", 5)


# clang beside gcc: a probe change is also tried with the other toolchain of the arch.
CLANG = replace(load_matrix()["x86_64-clang"], compiler="true")  # "installed" for the test
MISSING = replace(CLANG, compiler="reviewbot-no-such-clang")
GCC_TEXT = ("CC_VERSION_TEXT", '"gcc (Debian 12.2.0-14+deb12u1) 12.2.0"')
CLANG_TEXT = ("CC_VERSION_TEXT", '"Debian clang version 14.0.6"')


def _per_toolchain(
    results: Mapping[str, tuple[StepResult, StepResult]], ran: list[str]
) -> Callable[[JobRequest], BuildOutcome]:
    def run(request: JobRequest) -> BuildOutcome:
        ran.append(request.job.arch.name)
        base, patched = results[request.job.arch.name]
        steps = request.job.steps
        return BuildOutcome(
            request.job,
            tuple(replace(base, step=s) for s in steps),
            tuple(replace(patched, step=s) for s in steps),
        )

    return run


def _toolchain_review(
    clang: Arch, results: Mapping[str, tuple[StepResult, StepResult]], ran: list[str]
) -> list[Finding]:
    matrix = {"x86_64": MATRIX["x86_64"], "x86_64-clang": clang}
    provider = BuildEvaluator(
        Path("/fake"),
        "k",
        Path("/nonexistent"),
        ("x86_64",),
        matrix=matrix,
        run=_per_toolchain(results, ran),
        only=("x86_64",),  # as the fixtures pin it: clang still tries the probes
        link=False,
    )
    new = INCLUDE.replace("printf x", "printf y")
    return _findings("scripts/Kconfig.include", new, provider)


def test_a_probe_that_only_clang_rejects_names_clang_and_its_version() -> None:
    gcc = _step(StepKind.TOOLCHAIN, True, config=(("CC_CAN_LINK", "y"), GCC_TEXT))
    clang_base = _step(StepKind.TOOLCHAIN, True, config=(("CC_CAN_LINK", "y"), CLANG_TEXT))
    clang_patched = _step(StepKind.TOOLCHAIN, True, config=(CLANG_TEXT,))
    ran: list[str] = []
    found = _toolchain_review(
        CLANG, {"x86_64": (gcc, gcc), "x86_64-clang": (clang_base, clang_patched)}, ran
    )
    assert sorted(ran) == ["x86_64", "x86_64-clang"]
    assert [(f.rule, f.path, f.line, f.severity) for f in found] == [
        ("BLD005", "scripts/Kconfig.include", 2, Severity.WARNING)
    ]
    message = found[0].message
    assert "with Debian clang version 14.0.6 (LLVM=1)" in message
    assert "CC_CAN_LINK=y -> n" in message
    assert "make O=build ARCH=x86_64 LLVM=1 defconfig" in message
    answer = "base: CONFIG_CC_CAN_LINK=y; patched: # CONFIG_CC_CAN_LINK is not set"
    assert answer in found[0].evidence


def test_a_toolchain_that_is_not_installed_is_named_not_skipped_silently() -> None:
    gcc_base = _step(StepKind.TOOLCHAIN, True, config=(("AS_AVX512", "y"), GCC_TEXT))
    gcc_patched = _step(StepKind.TOOLCHAIN, True, config=(GCC_TEXT,))
    ran: list[str] = []
    found = _toolchain_review(MISSING, {"x86_64": (gcc_base, gcc_patched)}, ran)
    assert ran == ["x86_64"]
    assert [f.rule for f in found] == ["BLD005"]
    assert "with gcc (Debian 12.2.0-14+deb12u1) 12.2.0 (" in found[0].message
    (untried,) = [e for e in found[0].evidence if e.startswith("not tried with")]
    assert "x86_64-clang: not installed" in untried and "reviewbot-no-such-clang" in untried
