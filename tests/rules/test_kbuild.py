"""MK002-MK007 on small in-memory trees: what each rule reports, and what it leaves alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reviewbot.analysis.view import DictTree
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.kbuild import RULES
from reviewbot.rules.kbuild_make import calls, make_lines, parse_rules, split_words
from reviewbot.tree.index import classify, facts_for, merge
from tests.helpers import diff_of

MODFINAL = (
    "# Final link of modules\n"  # 1
    "PHONY := __modfinal\n"  # 2
    "__modfinal:\n"  # 3
    "\n"  # 4
    "%.ko: %.o %.mod.o $(ARCH_MODULE_LDS) "
    "$(and $(CONFIG_DEBUG_INFO_BTF_MODULES),$(KBUILD_BUILTIN),vmlinux) FORCE\n"  # 5
    "\t+$(call if_changed_except,ld_ko_o,vmlinux)\n"  # 6
    "\n"  # 7
    "PHONY += FORCE\n"  # 8
    "FORCE:\n"  # 9
)
MODPOST = (
    "modpost-deps := $(MODPOST)\n"  # 1
    "ifdef KBUILD_MODULES\n"  # 2
    "modpost-deps += $(MODORDER)\n"  # 3
    "endif\n"  # 4
    "ifeq ($(KBUILD_EXTMOD),)\n"  # 5
    "modpost-deps += vmlinux.o\n"  # 6
    "else\n"  # 7
    "modpost-deps += Module.symvers\n"  # 8
    "endif\n"  # 9
    "$(output-symdump): $(modpost-deps) FORCE\n"  # 10
    "\t$(call if_changed,modpost)\n"  # 11
    "__modpost: $(output-symdump)\n"  # 12
)
RAID6 = (
    "obj-$(CONFIG_RAID6_PQ) += raid6_pq.o\n"  # 1
    "raid6_pq-y += algos.o int1.o\n"  # 2
    "\n"  # 3
    "targets += int1.c\n"  # 4
    "$(obj)/int%.c: $(src)/int.uc $(src)/unroll.awk FORCE\n"  # 5
    "\t$(call if_changed,unroll)\n"  # 6
    "\n"  # 7
    "$(obj)/old.bin: $(obj)/old.elf\n"  # 8
    "\t$(call if_changed,objcopy)\n"  # 9
)
BASE = {
    "drivers/iommu/Kconfig": (
        "config IOMMU_API\n\tbool\n\n"
        'config FOO\n\ttristate "Foo"\n\n'
        'config FOO_BOOL\n\tbool "Foo built in"\n'
    ),
    "drivers/iommu/Makefile": (
        "obj-$(CONFIG_IOMMU_API) += iommu.o\n"  # 1
        "obj-y += sub/\n"  # 2
        "include $(src)/frag/Kbuild\n"  # 3
    ),
    "drivers/iommu/iommu.c": "int iommu;\n",
    "drivers/iommu/parser.y": "%%\n",
    "drivers/iommu/sub/Makefile": "obj-$(CONFIG_FOO) += foo.o\n",
    "drivers/iommu/sub/foo.c": '#include "foo_tables.c"\n',
    "drivers/iommu/sub/foo_tables.c": "int table;\n",
    "drivers/iommu/frag/Kbuild": "iommu-y += frag/part.o\n",
    "drivers/iommu/frag/part.c": "int part;\n",
    "drivers/iommu/wild/Makefile": (
        "obj-y += $(patsubst %.c,%.o,$(notdir $(wildcard $(src)/*.c)))\n"
    ),
    "drivers/iommu/wild/a.c": "int a;\n",
    "drivers/hwmon/Kconfig": (
        'config SENSORS_LM75\n\ttristate "LM75"\n\nconfig SENSORS_BUILTIN\n\tbool "built in"\n'
    ),
    "drivers/hwmon/Makefile": (
        "obj-$(CONFIG_SENSORS_LM75) += lm75.o\n"  # 1
        "obj-$(CONFIG_SENSORS_BUILTIN) += core.o\n"  # 2
    ),
    "drivers/hwmon/lm75.c": "int lm75;\n",
    "drivers/hwmon/core.c": "int core;\n",
    "arch/x86/crypto/Makefile": "obj-$(CONFIG_FOO) += chacha.o\n",
    "drivers/misc/Makefile": "obj-$(CONFIG_FOO) += dup.o\n",
    "drivers/misc/dup.c": "int dup;\n",
    "drivers/char/Makefile": "obj-$(CONFIG_SENSORS_LM75) += dup.o\n",
    "drivers/char/dup.c": "int dup;\n",
    "arch/x86/crypto/chacha.c": "int chacha;\n",
    "arch/x86/Makefile": "KBUILD_CFLAGS += -O2\n",
    "scripts/Makefile.modfinal": MODFINAL,
    "scripts/Makefile.modpost": MODPOST,
    "lib/raid6/Makefile": RAID6,
    "tools/perf/Makefile": "all:\n",
}


def patch_mail(number: int, total: int, diff: str) -> str:
    reply = "" if number <= 1 else "In-Reply-To: <p1@example.org>\n"
    tag = f"PATCH {number}/{total}" if total > 1 else "PATCH"
    return (
        f"From a@example.org Mon Nov  2 10:00:00 2026\nFrom: A <a@example.org>\n"
        f"Subject: [{tag}] test\nMessage-ID: <p{number}@example.org>\n{reply}\n"
        f"body\n---\n{diff}-- \n2.47\n\n"
    )


def review_patches(
    patches: Sequence[Mapping[str, str | None]], base: dict[str, str] = BASE
) -> list[Finding]:
    """Review a series: each dict maps paths to their new text (None deletes) in that patch."""
    state: dict[str, str | None] = dict(base)
    mails = []
    for number, edits in enumerate(patches, 1):
        diff = "".join(diff_of(p, state.get(p), t) for p, t in edits.items())
        state.update(edits)
        mails.append(patch_mail(number, len(patches), diff))
    raw = read_input("".join(mails).encode(), "t.mbox")
    series, _ = assemble(parse_mail(r) for r in raw)
    index = merge("/t", "t", {p: facts_for(p, t) for p, t in base.items() if classify(p)})
    return [f for s in series for f in review_series(s, DictTree(base), index, RULES).findings]


def review(edits: Mapping[str, str | None], base: dict[str, str] = BASE) -> list[Finding]:
    return review_patches([edits], base)


def where(findings: list[Finding], rule: str) -> list[tuple[str, int | None, Severity]]:
    return sorted((f.path, f.line, f.severity) for f in findings if f.rule == rule)


def add_line(path: str, line: str, base: dict[str, str] = BASE) -> dict[str, str | None]:
    return {path: base[path] + line}


# --- the Makefile reader -------------------------------------------------------------


def test_split_words_keeps_make_functions_whole() -> None:
    text = "%.o $(and $(A),$(B) x,vmlinux) FORCE"
    assert split_words(text) == ["%.o", "$(and $(A),$(B) x,vmlinux)", "FORCE"]


def test_calls_split_top_level_arguments() -> None:
    (call,) = calls("x := $(call as-instr,vpdpbusd %zmm0$(comma)%zmm1,-DHAVE_X,)")
    assert call.name == "as-instr"
    assert call.args == ("vpdpbusd %zmm0$(comma)%zmm1", "-DHAVE_X", "")


def test_rules_take_recipes_across_conditionals_and_static_patterns() -> None:
    text = (
        "ifdef X\n\tobj-y += a.o\nendif\n"
        "$(objs): $(obj)/%.o: $(src)/%.c FORCE\n"
        "ifdef Y\n\t$(call if_changed,cc)\nendif\n"
        "foo.o: CFLAGS += -O2\n"
    )
    rules = parse_rules(make_lines(text))
    assert [(r.targets, r.prerequisites, len(r.recipe)) for r in rules] == [
        (("$(objs)",), ("$(src)/%.c", "FORCE"), 1)
    ]


# --- MK002 kbuild-object-without-source ----------------------------------------------


def test_mk002_object_without_source() -> None:
    found = review(add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO) += bar.o\n"))
    assert where(found, "MK002") == [("drivers/iommu/Makefile", 4, Severity.ERROR)]
    (finding,) = [f for f in found if f.rule == "MK002"]
    assert "No rule to make target 'drivers/iommu/bar.o'" in finding.message


def test_mk002_source_added_by_the_patch() -> None:
    edits = add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO) += bar.o\n")
    edits["drivers/iommu/bar.c"] = "int bar;\n"
    assert where(review(edits), "MK002") == []


def test_mk002_composite_generated_and_variable_words_are_not_reported() -> None:
    lines = (
        "obj-$(CONFIG_FOO) += multi.o\nmulti-y := iommu.o\n"
        "obj-y += parser.tab.o\n"
        "obj-y += gen.o\n$(obj)/gen.c: $(src)/gen.pl FORCE\n\t$(call if_changed,gen)\n"
        "obj-y += $(addprefix sub/, nothere.o)\n"
        "ccflags-y += -Iinclude/nothere/ -include nothere/x.o\n"
        "subdir-ccflags-$(CONFIG_FOO) += -Inothere/\n"
    )
    assert where(review(add_line("drivers/iommu/Makefile", lines)), "MK002") == []


def test_mk002_words_already_listed_are_not_new() -> None:
    base = dict(BASE)
    base["drivers/iommu/Makefile"] += "obj-$(CONFIG_FOO) += dead.o\n"
    rekeyed = {
        "drivers/iommu/Makefile": base["drivers/iommu/Makefile"].replace(
            "obj-$(CONFIG_FOO) += dead.o", "obj-$(CONFIG_FOO_BOOL) += dead.o"
        )
    }
    assert where(review(rekeyed, base), "MK002") == []


def test_mk002_directory_without_makefile() -> None:
    found = review(add_line("drivers/iommu/Makefile", "obj-y += riscv/\n"))
    assert where(found, "MK002") == [("drivers/iommu/Makefile", 4, Severity.ERROR)]


def test_mk002_fragment_words_are_relative_to_the_includer() -> None:
    ok = review(add_line("drivers/iommu/frag/Kbuild", "iommu-y += frag/part.o\n"))
    assert where(ok, "MK002") == []
    composite = {
        "drivers/iommu/frag/Kbuild": "obj-m += frag/mod.o\n",
        "drivers/iommu/Makefile": BASE["drivers/iommu/Makefile"] + "frag/mod-y := frag/part.o\n",
    }
    assert where(review(composite), "MK002") == []
    bad = review(add_line("drivers/iommu/frag/Kbuild", "iommu-y += frag/gone.o\n"))
    assert where(bad, "MK002") == [("drivers/iommu/frag/Kbuild", 2, Severity.ERROR)]


def test_mk002_deleted_source_still_listed() -> None:
    found = review({"drivers/hwmon/core.c": None})
    assert where(found, "MK002") == [("drivers/hwmon/Makefile", 2, Severity.ERROR)]
    both = review(
        {
            "drivers/hwmon/core.c": None,
            "drivers/hwmon/Makefile": "obj-$(CONFIG_SENSORS_LM75) += lm75.o\n",
        }
    )
    assert where(both, "MK002") == []


def test_mk002_source_added_later_in_the_series_breaks_bisection() -> None:
    first = add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO) += bar.o\n")
    found = review_patches([first, {"drivers/iommu/bar.c": "int bar;\n"}])
    assert where(found, "MK002") == [("drivers/iommu/Makefile", 4, Severity.WARNING)]
    (finding,) = [f for f in found if f.rule == "MK002"]
    assert "patch 2/2" in finding.message


# --- MK003 kbuild-orphan-source ------------------------------------------------------


def test_mk003_new_file_nothing_builds() -> None:
    found = review({"drivers/iommu/walk.c": "int walk;\n"})
    assert where(found, "MK003") == [("drivers/iommu/walk.c", None, Severity.WARNING)]


def test_mk003_named_by_a_parent_makefile() -> None:
    edits = add_line("drivers/iommu/Makefile", "obj-y += sub/walk.o\n")
    edits["drivers/iommu/sub/walk.c"] = "int walk;\n"
    assert where(review(edits), "MK003") == []


def test_mk003_included_or_listed_later_in_the_series() -> None:
    included = {
        "drivers/iommu/sub/foo_test.c": "int t;\n",
        "drivers/iommu/sub/foo.c": BASE["drivers/iommu/sub/foo.c"] + '#include "foo_test.c"\n',
    }
    assert where(review(included), "MK003") == []
    later: list[Mapping[str, str | None]] = [
        {"drivers/iommu/walk.c": "int walk;\n"},
        add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO) += walk.o\n"),
    ]
    assert where(review_patches(later), "MK003") == []


def test_mk003_wildcards_lower_to_info_and_tools_is_skipped() -> None:
    found = review({"drivers/iommu/wild/b.c": "int b;\n", "tools/perf/new.c": "int x;\n"})
    assert where(found, "MK003") == [("drivers/iommu/wild/b.c", None, Severity.INFO)]


def test_mk003_an_edit_of_a_file_the_author_already_had_is_not_new() -> None:
    diff = (
        "diff --git a/drivers/iommu/stub.c b/drivers/iommu/stub.c\n"
        "index e69de29bb2d1..bb8ca949caef 100644\n"
        "--- a/drivers/iommu/stub.c\n+++ b/drivers/iommu/stub.c\n"
        "@@ -0,0 +1 @@\n+int stub;\n"
    )
    raw = read_input(patch_mail(1, 1, diff).encode(), "t.mbox")
    series, _ = assemble(parse_mail(r) for r in raw)
    index = merge("/t", "t", {p: facts_for(p, t) for p, t in BASE.items() if classify(p)})
    found = review_series(series[0], DictTree(BASE), index, RULES).findings
    assert [f for f in found if f.rule == "MK003"] == []


# --- MK004 kbuild-probe-defines-macro ------------------------------------------------


def test_mk004_probe_output_defines_a_macro() -> None:
    line = "asflags-y += $(call as-instr,vpdpbusd %zmm0$(comma)%zmm1,-DHAVE_AS_VNNI)\n"
    found = review(add_line("arch/x86/Makefile", line))
    assert where(found, "MK004") == [("arch/x86/Makefile", 2, Severity.WARNING)]
    (finding,) = [f for f in found if f.rule == "MK004"]
    assert "AS_HAS_VNNI" in finding.hint


def test_mk004_flag_probes_and_kconfig_capabilities_are_fine() -> None:
    lines = (
        "KBUILD_CFLAGS += $(call cc-option,-fzero-init-padding-bits=all)\n"
        "asflags-$(CONFIG_AS_HAS_VNNI) += -DHAVE_AS_VNNI\n"
        "x := $(call try-run,$(CC) -DPROBE -c -x c /dev/null -o $$TMP,y,n)\n"
    )
    assert where(review(add_line("arch/x86/Makefile", lines)), "MK004") == []


def test_mk004_probe_conditional_guarding_a_define() -> None:
    lines = "ifeq ($(call as-instr,.arch_extension gcs,y,n),y)\nKBUILD_CFLAGS += -DHAS_GCS\nendif\n"
    found = review(add_line("arch/x86/Makefile", lines))
    assert where(found, "MK004") == [("arch/x86/Makefile", 2, Severity.WARNING)]


def test_mk004_needs_no_tree() -> None:
    diff = (
        "diff --git a/xen/Makefile b/xen/Makefile\n--- a/xen/Makefile\n+++ b/xen/Makefile\n"
        "@@ -409,3 +409,4 @@ AFLAGS += -D__ASSEMBLY__\n \n"
        " $(call cc-option-add,AFLAGS,CC,-Wa$$(comma)--noexecstack)\n \n"
        "+$(call cc-option-add,AFLAGS,CC,-Wa$$(comma)--sectname-subst -DHAVE_AS_SUBST)\n"
    )
    raw = read_input(patch_mail(1, 1, diff).encode(), "t.mbox")
    series, _ = assemble(parse_mail(r) for r in raw)
    index = merge("/t", "t", {})
    found = review_series(series[0], DictTree({}), index, RULES).findings
    assert where(list(found), "MK004") == [("xen/Makefile", 412, Severity.WARNING)]


# --- MK005 kbuild-module-name-conflict -----------------------------------------------


def test_mk005_module_name_already_used() -> None:
    edits = add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO) += lm75.o\n")
    edits["drivers/iommu/lm75.c"] = "int x;\n"
    found = review(edits)
    assert where(found, "MK005") == [("drivers/iommu/Makefile", 4, Severity.WARNING)]
    (finding,) = [f for f in found if f.rule == "MK005"]
    assert "drivers/hwmon/lm75.ko" in finding.message


def test_mk005_builtin_objects_do_not_clash() -> None:
    bool_new = add_line("drivers/iommu/Makefile", "obj-$(CONFIG_FOO_BOOL) += lm75.o\n")
    bool_new["drivers/iommu/lm75.c"] = "int x;\n"
    assert where(review(bool_new), "MK005") == []
    bool_other = add_line("drivers/iommu/Makefile", "obj-m += core.o\n")
    bool_other["drivers/iommu/core.c"] = "int x;\n"
    assert where(review(bool_other), "MK005") == []


def test_mk005_moves_and_other_arches_are_not_conflicts() -> None:
    moved = {
        "drivers/hwmon/Makefile": "obj-$(CONFIG_SENSORS_BUILTIN) += core.o\n",
        "drivers/hwmon/lm75.c": None,
        "drivers/iommu/lm75.c": "int lm75;\n",
        "drivers/iommu/Makefile": BASE["drivers/iommu/Makefile"]
        + "obj-$(CONFIG_SENSORS_LM75) += lm75.o\n",
    }
    assert where(review(moved), "MK005") == []
    arm = {
        "arch/arm/crypto/Makefile": "obj-$(CONFIG_FOO) += chacha.o\n",
        "arch/arm/crypto/chacha.c": "int c;\n",
    }
    assert where(review(arm), "MK005") == []


def test_mk005_existing_clashes_are_not_new() -> None:
    edited = {"drivers/misc/Makefile": "obj-m += dup.o\n"}
    assert where(review(edited), "MK005") == []


# --- MK006 kbuild-if-changed-without-force -------------------------------------------


def test_mk006_if_changed_rule_without_force() -> None:
    rule_text = "$(obj)/rvv%.c: $(src)/rvv.uc $(src)/unroll.awk\n\t$(call if_changed,unroll)\n"
    found = review(add_line("lib/raid6/Makefile", rule_text))
    assert where(found, "MK006") == [("lib/raid6/Makefile", 10, Severity.WARNING)]


def test_mk006_force_directly_or_through_a_variable() -> None:
    rules = (
        "$(obj)/a.c: $(src)/a.uc FORCE\n\t$(call if_changed,unroll)\n"
        "deps := $(src)/b.uc FORCE\n"
        "$(obj)/b.c: $(deps)\n\t$(call if_changed_dep,unroll)\n"
        "$(obj)/c.c: $(src)/c.uc\n\t$(call if_changed_rule,unroll)\n"
        "$(obj)/c.c: FORCE\n"
    )
    assert where(review(add_line("lib/raid6/Makefile", rules)), "MK006") == []


def test_mk006_only_rules_the_patch_touches() -> None:
    elsewhere = add_line("lib/raid6/Makefile", "targets += int2.c\n")
    assert where(review(elsewhere), "MK006") == []
    recipe = {
        "lib/raid6/Makefile": RAID6.replace(
            "\t$(call if_changed,objcopy)\n", "\t$(call if_changed,objcopy_strip)\n"
        )
    }
    assert where(review(recipe), "MK006") == [("lib/raid6/Makefile", 8, Severity.WARNING)]


# --- MK007 kbuild-extmod-needs-vmlinux -----------------------------------------------


def test_mk007_bare_vmlinux_on_module_target() -> None:
    bare = MODFINAL.replace(
        "$(and $(CONFIG_DEBUG_INFO_BTF_MODULES),$(KBUILD_BUILTIN),vmlinux)", "vmlinux"
    )
    found = review({"scripts/Makefile.modfinal": bare})
    assert where(found, "MK007") == [("scripts/Makefile.modfinal", 5, Severity.ERROR)]
    (finding,) = [f for f in found if f.rule == "MK007"]
    assert "No rule to make target 'vmlinux', needed by '.../test.ko'" in finding.message


def test_mk007_guards_are_respected() -> None:
    inline = MODFINAL.replace("$(KBUILD_BUILTIN),vmlinux)", "$(KBUILD_BUILTIN),vmlinux.o)")
    assert where(review({"scripts/Makefile.modfinal": inline}), "MK007") == []
    guarded = MODFINAL.replace(
        "%.ko: %.o %.mod.o $(ARCH_MODULE_LDS) "
        "$(and $(CONFIG_DEBUG_INFO_BTF_MODULES),$(KBUILD_BUILTIN),vmlinux) FORCE\n",
        "ifeq ($(KBUILD_EXTMOD),)\n%.ko: %.o vmlinux FORCE\nelse\n%.ko: %.o FORCE\nendif\n",
    )
    assert where(review({"scripts/Makefile.modfinal": guarded}), "MK007") == []


def test_mk007_external_module_branch_and_variables() -> None:
    extmod = MODPOST.replace(
        "modpost-deps += Module.symvers\n", "modpost-deps += Module.symvers vmlinux.o\n"
    )
    found = review({"scripts/Makefile.modpost": extmod})
    assert where(found, "MK007") == [("scripts/Makefile.modpost", 8, Severity.ERROR)]
    (finding,) = [f for f in found if f.rule == "MK007"]
    assert "external-module branch" in finding.message and "modpost-deps" in finding.message
    unguarded = MODPOST.replace(
        "modpost-deps += $(MODORDER)\n", "modpost-deps += $(MODORDER)\nmodpost-deps += vmlinux.a\n"
    )
    found = review({"scripts/Makefile.modpost": unguarded})
    assert where(found, "MK007") == [("scripts/Makefile.modpost", 4, Severity.ERROR)]


def test_mk007_only_kbuild_machinery() -> None:
    driver = add_line("drivers/iommu/Makefile", "$(obj)/x.ko: vmlinux\n")
    assert where(review(driver), "MK007") == []
