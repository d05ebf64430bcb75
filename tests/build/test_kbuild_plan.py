"""Planning for kbuild's own changes (host tools, probes, checkers, links) and header users."""

from __future__ import annotations

from reviewbot.analysis.diff import FileChange, parse_diff
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.build.anchor import anchor, output_lines
from reviewbot.build.kbuild_plan import WARM_CONFIG, link_paths
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import DiagKind, Diagnostic, StepKind
from reviewbot.build.planner import plan_builds
from reviewbot.build.users import Changed, HeaderChange, Kind, Users
from reviewbot.tree.index import TreeIndex
from reviewbot.tree.scan import ObjRef

MATRIX = load_matrix()


def _index() -> PatchedIndex:
    objects = {
        "drivers/base/power/main.o": [
            ObjRef("drivers/base/power/Makefile", 2, "obj", "PM_SLEEP", "config", "main.o")
        ],
        "drivers/gpio/gpio-pca953x.o": [
            ObjRef("drivers/gpio/Makefile", 9, "obj", "GPIO_PCA953X", "config", "gpio-pca953x.o")
        ],
    }
    return PatchedIndex(TreeIndex("/x", "k", objects=objects), {})


def _changes(path: str, old: str = "x", new: str = "y") -> tuple[FileChange, ...]:
    return parse_diff(f"--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n a\n-{old}\n+{new}\n")


def _kinds(path: str, old: str = "x", new: str = "y") -> dict[str, list[StepKind]]:
    plan = plan_builds(_changes(path, old, new), _index(), MATRIX)
    out: dict[str, list[StepKind]] = {}
    for job in plan.jobs:
        out.setdefault(job.arch.name, []).extend(s.kind for s in job.steps)
    return out


def test_host_tool_source_rebuilds_host_tools_and_reruns_kconfig() -> None:
    kinds = _kinds("scripts/kconfig/conf.c")
    assert kinds["x86_64"] == [StepKind.HOSTTOOLS, StepKind.TOOLCHAIN]
    assert kinds["arm64"] == [StepKind.TOOLCHAIN]
    assert kinds["x86_64-clang"] == [StepKind.TOOLCHAIN]  # conf built with clang


def test_modpost_change_rebuilds_modpost_and_the_external_module() -> None:
    kinds = _kinds("scripts/mod/modpost.c")
    assert {StepKind.HOSTTOOLS, StepKind.EXTMOD, StepKind.LINK} <= set(kinds["x86_64"])


def test_dtc_is_rebuilt_where_device_trees_are() -> None:
    kinds = _kinds("scripts/dtc/dtc.c")
    assert kinds == {"arm64": [StepKind.HOSTTOOLS]}


def test_probe_changes() -> None:
    # Every default arch with its gcc, and the first one with clang too (LLVM=1).
    assert _kinds("scripts/Kconfig.include") == {
        "x86_64": [StepKind.TOOLCHAIN],
        "arm64": [StepKind.TOOLCHAIN],
        "x86_64-clang": [StepKind.TOOLCHAIN],
    }
    assert _kinds("arch/arm64/Makefile", "a", "KBUILD_CFLAGS += $(call cc-option,-mfoo)") == {
        "arm64": [StepKind.TOOLCHAIN],
        "arm64-clang": [StepKind.TOOLCHAIN],
    }
    assert _kinds("arch/arm64/Makefile", "a", "b") == {}
    assert _kinds("init/Kconfig", "a", "\tdef_bool $(cc-option,-mfoo)") != {}
    assert _kinds("init/Kconfig", "a", "\tdepends on FOO") == {}


def test_probe_toolchains_are_the_other_toolchains_of_the_same_arch() -> None:
    from reviewbot.build.matrix import probe_toolchains

    assert [a.name for a in probe_toolchains(MATRIX, "x86_64")] == ["x86_64-clang"]
    assert [a.name for a in probe_toolchains(MATRIX, "arm64")] == ["arm64-clang"]
    assert probe_toolchains(MATRIX, "i386") == ()  # x86 too, but ARCH=i386 has no clang row
    assert probe_toolchains(MATRIX, "sparc64") == ()
    assert [a.name for a in probe_toolchains(MATRIX, "x86_64-clang")] == ["x86_64"]


def test_checker_change_builds_the_fixed_objects() -> None:
    plan = plan_builds(_changes("tools/objtool/check.c"), _index(), MATRIX)
    (job,) = plan.jobs
    assert job.steps[0].kind is StepKind.OBJECTS and "kernel/fork.o" in job.steps[0].targets
    assert job.steps[0].cause == ("tools/objtool/check.c",)


def test_link_level_changes() -> None:
    assert link_paths(_changes("lib/Makefile", "obj-y += a.o", "lib-y += a.o")) == ["lib/Makefile"]
    assert link_paths(_changes("lib/a.c", "int a;", "EXPORT_SYMBOL(a);")) == ["lib/a.c"]
    assert link_paths(_changes("lib/a.c", "int a;", "int b;")) == []
    # a definition made static leaves the link; a new static one does not touch it
    made = _changes(
        "lib/a.c", "int kstrtouint(const char *s)", "static int kstrtouint(const char *s)"
    )
    assert link_paths(made) == ["lib/a.c"]
    assert link_paths(_changes("lib/a.c", "int a;", "static int b;")) == []
    assert link_paths(_changes("lib/a.c", "\tint a = 0;", "\tstatic int a = 0;")) == []
    plan = plan_builds(_changes("lib/Makefile", "obj-y += a.o", "lib-y += a.o"), _index(), MATRIX)
    (job,) = plan.jobs
    assert job.config == WARM_CONFIG and job.steps[0].kind is StepKind.LINK


def test_a_part_of_a_composite_object_moved_plans_a_link() -> None:
    # Only the composite's part changes its CONFIG guard (no obj-/lib- line): the link
    # loses blake2s_compress() as surely as when the whole object moves.
    guard = _changes(
        "lib/crypto/Makefile",
        "libblake2s-$(CONFIG_CRYPTO_LIB_BLAKE2S_GENERIC)\t+= blake2s-generic.o",
        "libblake2s-$(CONFIG_CRYPTO_BLAKE2S)\t+= blake2s-generic.o",
    )
    assert link_paths(guard) == ["lib/crypto/Makefile"]
    assert link_paths(_changes("drivers/x/Makefile", "foo-objs := a.o", "foo-objs := b.o"))
    # flags, host programs and the parts of a host tool are not kernel objects
    assert link_paths(_changes("lib/Makefile", "ccflags-y += -O2", "ccflags-y += -O3")) == []
    assert link_paths(_changes("lib/Makefile", "CFLAGS_a.o += -O2", "CFLAGS_a.o += -O3")) == []
    assert link_paths(_changes("lib/Makefile", "always-y += a.o", "always-y += b.o")) == []
    tool = _changes("scripts/kconfig/Makefile", "conf-objs := conf.o", "conf-objs := c.o")
    assert link_paths(tool) == []


def test_header_users_are_built_with_the_branch_taken_and_not() -> None:
    change = HeaderChange(
        "include/linux/pm_wakeup.h",
        (Changed("device_wakeup_path", Kind.FUNCTION, (("PM_SLEEP", "n"),)),),
    )
    sources = ("drivers/base/power/main.c", "drivers/gpio/gpio-pca953x.c")
    users = {change.path: Users(change, sources)}
    changes = _changes(change.path)
    plan = plan_builds(changes, _index(), MATRIX, ("x86_64",), header_users=users)
    configs = [dict(j.config.enable) for j in plan.jobs]
    assert [c["PM_SLEEP"] for c in configs] == ["n", "y"]
    assert all(c["GPIO_PCA953X"] == "y" for c in configs)
    step = plan.jobs[0].steps[0]
    # main.o is built by PM_SLEEP itself: with PM_SLEEP=n it is dead code, left out.
    assert step.targets == ("drivers/gpio/gpio-pca953x.o",)
    assert plan.jobs[1].steps[0].targets == (
        "drivers/base/power/main.o",
        "drivers/gpio/gpio-pca953x.o",
    )
    assert step.cause == (change.path,) and "PM_SLEEP=n" in step.reason
    assert not [s for s in plan.skipped if s.path == change.path]
    # Each user with the symbol that builds it: the runner leaves out those it stayed off.
    assert step.governed == (("drivers/gpio/gpio-pca953x.o", "GPIO_PCA953X"),)
    assert plan.jobs[1].steps[0].governed == (
        ("drivers/base/power/main.o", "PM_SLEEP"),
        ("drivers/gpio/gpio-pca953x.o", "GPIO_PCA953X"),
    )


def test_anchor_prefers_the_patch_line_then_the_cause() -> None:
    changes = _changes("include/linux/foo.h")
    inside = Diagnostic(DiagKind.ERROR, "include/linux/foo.h", 2, "boom")
    assert anchor(inside, changes) == ("include/linux/foo.h", 2)
    user = Diagnostic(DiagKind.ERROR, "drivers/x.c", 40, "boom")
    assert anchor(user, changes, ("include/linux/foo.h",)) == ("include/linux/foo.h", 2)
    assert anchor(Diagnostic(DiagKind.ERROR, "", None, "ld"), ()) == ("", None)


def test_output_lines_keep_kconfigs_located_messages() -> None:
    text = (
        "ld.lld: unknown linker\n"
        "scripts/Kconfig.include:57: Sorry, this linker is not supported.\n"
        "make[3]: *** [scripts/kconfig/Makefile:95: defconfig] Error 1\n"
    )
    assert output_lines(text) == tuple(text.splitlines()[1:])


def test_output_lines_put_errors_first_and_drop_progress() -> None:
    text = (
        "  CC      a.o\nIn file included from x.c:1:\nx.h:2:3: error: boom\nmake: *** [a] Error 1\n"
    )
    assert output_lines(text) == ("x.h:2:3: error: boom", "make: *** [a] Error 1")
    # a warning in a macro is printed once per expansion: quoted once
    assert output_lines("x.h:2:3: warning: w\nx.h:2:3: warning: w\n") == ("x.h:2:3: warning: w",)


def test_a_kconfig_witness_becomes_a_build_job() -> None:
    from reviewbot.build.planner import witness_job

    job = witness_job(
        MATRIX["x86_64"],
        {"KVM_VFIO": "y", "VFIO": "n"},
        ["virt/kvm/vfio.o"],
        "KC011 witness: KVM_VFIO=y with VFIO=n",
        ["arch/x86/kvm/Kconfig"],
    )
    # The prepared tree turns on what the witness turns on; each side then writes the
    # whole assignment and settles it with its own Kconfig.
    assert job.config.enable == (("KVM_VFIO", "y"), ("WERROR", "n"))
    assert job.steps[0].kind is StepKind.WITNESS
    assert job.steps[0].config == (("KVM_VFIO", "y"), ("VFIO", "n"))
    assert job.steps[0].targets == ("virt/kvm/vfio.o",)
    assert job.steps[0].cause == ("arch/x86/kvm/Kconfig",)


def test_header_users_whose_symbol_only_another_arch_defines_are_left_out() -> None:
    from reviewbot.tree.scan import SymbolDef

    objects = {
        "drivers/soc/bar.o": [
            ObjRef("drivers/soc/Makefile", 1, "obj", "ARM_ONLY_BAR", "config", "bar.o")
        ],
        "lib/cmdline.o": [ObjRef("lib/Makefile", 3, "obj", None, "y", "cmdline.o")],
    }
    symbols = {
        "ARM_ONLY_BAR": [
            SymbolDef("ARM_ONLY_BAR", "arch/arm64/Kconfig", 5, "bool", True, True, False)
        ]
    }
    index = PatchedIndex(TreeIndex("/x", "k", symbols=symbols, objects=objects), {})
    change = HeaderChange("include/linux/foo.h", (Changed("foo", Kind.MACRO),))
    users = {change.path: Users(change, ("drivers/soc/bar.c", "lib/cmdline.c"))}
    plan = plan_builds(_changes(change.path), index, MATRIX, header_users=users)
    targets = {j.arch.name: j.steps[0].targets for j in plan.jobs}
    assert targets == {
        "x86_64": ("lib/cmdline.o",),
        "arm64": ("drivers/soc/bar.o", "lib/cmdline.o"),
    }


def test_header_job_reason_names_each_user_and_the_argument_kinds_it_passes() -> None:
    change = HeaderChange("include/linux/foo.h", (Changed("foo", Kind.MACRO),))
    kinds = {"lib/cmdline.c": frozenset({"pointer", "constant"}), "lib/other.c": frozenset()}
    users = {change.path: Users(change, ("lib/cmdline.c", "lib/other.c"), kinds)}
    index = PatchedIndex(
        TreeIndex(
            "/x",
            "k",
            objects={
                "lib/cmdline.o": [ObjRef("lib/Makefile", 3, "obj", None, "y", "cmdline.o")],
                "lib/other.o": [ObjRef("lib/Makefile", 4, "obj", None, "y", "other.o")],
            },
        ),
        {},
    )
    plan = plan_builds(_changes(change.path), index, MATRIX, ("x86_64",), header_users=users)
    (job,) = plan.jobs
    assert job.steps[0].reason == (
        "users of foo (changed in include/linux/foo.h), with arguments of kind: "
        "lib/cmdline.c (pointer, constant); lib/other.c (no call seen)"
    )
    # no kinds at all (a member, a type, or nothing classified): the plain reason
    plain = {change.path: Users(change, ("lib/other.c",), {"lib/other.c": frozenset()})}
    (job,) = plan_builds(_changes(change.path), index, MATRIX, ("x86_64",), header_users=plain).jobs
    assert job.steps[0].reason == "users of foo (changed in include/linux/foo.h)"
