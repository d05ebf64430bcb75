"""The build planner: objects, controlling symbols, arches, configs and extra steps."""

from __future__ import annotations

from reviewbot.analysis.diff import FileChange, parse_diff
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import StepKind
from reviewbot.build.planner import NO_WERROR, plan_builds
from reviewbot.build.provider import local_includers
from reviewbot.tree.index import TreeIndex
from reviewbot.tree.scan import ObjRef, SymbolDef

MATRIX = load_matrix()


def _index() -> PatchedIndex:
    objects = {
        "drivers/misc/dummy-irq.o": [
            ObjRef("drivers/misc/Makefile", 12, "obj", "DUMMY_IRQ", "config", "dummy-irq.o")
        ],
        "lib/cmdline.o": [ObjRef("lib/Makefile", 3, "obj", None, "y", "cmdline.o")],
        "arch/sparc/lib/strlen.o": [
            ObjRef("arch/sparc/lib/Makefile", 9, "lib", None, "y", "strlen.o")
        ],
        "drivers/gpu/foo/core.o": [
            ObjRef("drivers/gpu/foo/Makefile", 2, "foo", None, "y", "core.o")
        ],
        "drivers/gpu/foo/foo.o": [
            ObjRef("drivers/gpu/foo/Makefile", 1, "obj", "FOO", "config", "foo.o")
        ],
        "drivers/soc/bar.o": [
            ObjRef("drivers/soc/Makefile", 1, "obj", "ARM_ONLY_BAR", "config", "bar.o")
        ],
    }
    symbols = {
        "ARM_ONLY_BAR": [
            SymbolDef("ARM_ONLY_BAR", "arch/arm64/Kconfig", 5, "bool", True, True, False)
        ]
    }
    return PatchedIndex(TreeIndex("/x", "k", symbols=symbols, objects=objects), {})


def _changes(*paths: str) -> tuple[FileChange, ...]:
    diff = "".join(f"--- a/{p}\n+++ b/{p}\n@@ -1,1 +1,2 @@\n x\n+y\n" for p in paths)
    return parse_diff(diff)


def test_driver_object_enables_its_symbol_on_default_arches() -> None:
    plan = plan_builds(_changes("drivers/misc/dummy-irq.c"), _index(), MATRIX)
    assert [j.arch.name for j in plan.jobs] == ["x86_64", "arm64"]
    for job in plan.jobs:
        assert job.config.enable == (("DUMMY_IRQ", "y"), NO_WERROR)
        assert job.steps[0].kind is StepKind.OBJECTS
        assert job.steps[0].targets == ("drivers/misc/dummy-irq.o",)
    assert plan.jobs[0].config.key != plan.jobs[0].config.__class__("defconfig").key


def test_composite_member_uses_the_module_symbol() -> None:
    plan = plan_builds(_changes("drivers/gpu/foo/core.c"), _index(), MATRIX)
    assert ("FOO", "y") in plan.jobs[0].config.enable


def test_arch_files_build_on_their_arch_only() -> None:
    plan = plan_builds(_changes("arch/sparc/lib/strlen.S"), _index(), MATRIX)
    assert [j.arch.name for j in plan.jobs] == ["sparc64"]
    assert plan.jobs[0].config.enable == (NO_WERROR,)


def test_symbol_defined_by_one_arch_builds_there() -> None:
    plan = plan_builds(_changes("drivers/soc/bar.c"), _index(), MATRIX)
    assert [j.arch.name for j in plan.jobs] == ["arm64"]


def test_unbuilt_and_host_files_are_skipped_with_reasons() -> None:
    plan = plan_builds(
        _changes("drivers/misc/unknown.c", "scripts/mod/modpost.c", "include/x.h"),
        _index(),
        MATRIX,
    )
    reasons = {s.path: s.reason for s in plan.skipped}
    assert "no Makefile" in reasons["drivers/misc/unknown.c"]
    assert "host" in reasons["scripts/mod/modpost.c"]
    assert "shared header" in reasons["include/x.h"]


def test_kbuild_change_adds_the_external_module_step() -> None:
    plan = plan_builds(_changes("scripts/Makefile.modfinal", "lib/cmdline.c"), _index(), MATRIX)
    x86 = next(j for j in plan.jobs if j.arch.name == "x86_64")
    assert [s.kind for s in x86.steps] == [StepKind.OBJECTS, StepKind.EXTMOD]
    alone = plan_builds(_changes("Makefile"), _index(), MATRIX)
    assert [(j.arch.name, j.steps[0].kind) for j in alone.jobs] == [("x86_64", StepKind.EXTMOD)]


def test_export_machinery_plans_modversions_and_a_baseline() -> None:
    plan = plan_builds(_changes("include/linux/export.h"), _index(), MATRIX)
    names = sorted(j.arch.name for j in plan.jobs)
    assert names == ["alpha", "sparc64"]
    for job in plan.jobs:
        assert ("MODVERSIONS", "y") in job.config.enable and ("MODULES", "y") in job.config.enable
        assert job.steps[0].kind is StepKind.MODVERSIONS and job.steps[0].targets
    assert sorted(j.arch.name for j in plan.baseline) == ["alpha", "sparc64"]
    assert all(j.baseline and j.steps[0].kind is StepKind.VMLINUX for j in plan.baseline)


def test_nothing_to_build() -> None:
    plan = plan_builds(_changes("Documentation/x.rst", "MAINTAINERS"), _index(), MATRIX)
    assert plan.jobs == () and plan.baseline == ()


def test_a_local_header_builds_the_sources_beside_it_that_include_it() -> None:
    sources = {
        "drivers/gpu/foo/core.c": '#include <linux/module.h>\n#include "foo.h"\n',
        "drivers/gpu/foo/foo.c": "#include <linux/module.h>\n",
        "drivers/misc/dummy-irq.c": '#include "foo.h"\n',
    }
    changes = _changes("drivers/gpu/foo/foo.h", "include/linux/kernel.h")
    includers = local_includers(changes, _index(), sources.get)
    assert includers == {"drivers/gpu/foo/foo.h": ("drivers/gpu/foo/core.c",)}
    plan = plan_builds(changes, _index(), MATRIX, includers=includers)
    assert [j.steps[0].targets for j in plan.jobs] == [("drivers/gpu/foo/core.o",)] * 2
    assert ("FOO", "y") in plan.jobs[0].config.enable
    reasons = {s.path: s.reason for s in plan.skipped}
    assert "shared header" in reasons["include/linux/kernel.h"]


def test_a_header_nothing_beside_it_includes_is_skipped_with_a_reason() -> None:
    changes = _changes("drivers/misc/unused.h")
    plan = plan_builds(
        changes, _index(), MATRIX, includers=local_includers(changes, _index(), {}.get)
    )
    assert plan.jobs == ()
    assert [s.reason for s in plan.skipped] == ["header: no built source beside it includes it"]
