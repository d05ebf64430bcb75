"""EX001-EX007 on small in-memory trees: what each rule reports, and what it leaves alone."""

from __future__ import annotations

from reviewbot.model import Finding, Severity
from reviewbot.rules.exports import RULES
from reviewbot.rules.exports_ctext import parse_c
from reviewbot.rules.exports_place import placement
from tests.helpers import diff_of, mail, review

IOVA = (
    "// SPDX-License-Identifier: GPL-2.0\n"  # 1
    "#include <linux/iova_bitmap.h>\n"  # 2
    "\n"  # 3
    "static unsigned long helper(unsigned long iova)\n"  # 4
    "{\n"  # 5
    "\treturn iova >> 12;\n"  # 6
    "}\n"  # 7
    "\n"  # 8
    "static int later(int x);\n"  # 9
    "\n"  # 10
    "int iova_bitmap_set(unsigned long iova)\n"  # 11
    "{\n"  # 12
    "\treturn later(helper(iova));\n"  # 13
    "}\n"  # 14
    "EXPORT_SYMBOL_NS_GPL(iova_bitmap_set, IOMMUFD);\n"  # 15
    "\n"  # 16
    "int later(int x)\n"  # 17
    "{\n"  # 18
    "\treturn x;\n"  # 19
    "}\n"  # 20
)
IOVA_PATH = "drivers/iommu/iommufd/iova_bitmap.c"
KCONFIG = 'config IOMMUFD_DRIVER\n\tbool\n\tdefault n\n\nconfig IOMMUFD\n\ttristate "IOMMUFD"\n'
MAKEFILE = (
    "obj-$(CONFIG_IOMMUFD) += iommufd.o\n"
    "iommufd-y := main.o pages.o\n"
    "obj-$(CONFIG_IOMMUFD_DRIVER) += iova_bitmap.o\n"
)
MAIN_C = '// SPDX-License-Identifier: GPL-2.0\nMODULE_LICENSE("GPL");\nMODULE_DESCRIPTION("x");\n'
BASE = {
    IOVA_PATH: IOVA,
    "drivers/iommu/Kconfig": KCONFIG,
    "drivers/iommu/iommufd/Makefile": MAKEFILE,
    "drivers/iommu/iommufd/main.c": MAIN_C,
    "drivers/iommu/iommufd/pages.c": "// SPDX-License-Identifier: GPL-2.0\nint pages;\n",
}


def run(edits: dict[str, str | None], base: dict[str, str] = BASE) -> list[Finding]:
    diff = "".join(diff_of(path, base.get(path), text) for path, text in edits.items())
    return review(base, mail(diff), RULES)


def run_series(patches: list[dict[str, str | None]], base: dict[str, str]) -> list[Finding]:
    """A threaded series; each patch's edits are given against the tree the earlier left."""
    tree = dict(base)
    mails = []
    for number, edits in enumerate(patches, 1):
        diff = "".join(diff_of(path, tree.get(path), text) for path, text in edits.items())
        reply = "" if number == 1 else "In-Reply-To: <p1@example.org>\n"
        mails.append(
            mail(
                diff,
                subject=f"[PATCH {number}/{len(patches)}] test",
                msgid=f"p{number}@example.org",
                extra_headers=reply,
            )
        )
        for path, text in edits.items():
            if text is None:
                tree.pop(path, None)
            else:
                tree[path] = text
    return review(base, mails, RULES)


def where(findings: list[Finding], rule: str) -> list[tuple[str, int | None]]:
    return sorted((f.path, f.line) for f in findings if f.rule == rule)


def lines_replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- the C text helper -------------------------------------------------------------


def test_declarations_know_static_prototypes_and_definitions() -> None:
    cfile = parse_c(IOVA)
    kinds = [(d.kind, d.line, d.static) for d in cfile.declarations("later")]
    assert kinds == [("prototype", 9, True), ("function", 17, False)]
    (decl,) = cfile.declarations("helper")
    assert (decl.kind, decl.start, decl.end, decl.static) == ("function", 4, 7, True)


def test_declarations_skip_uses_comments_and_defines() -> None:
    text = (
        "/* static int foo; */\n"
        "#define MAKE(x) static int x\n"
        "int bar = foo(1);\n"
        "struct foo *baz;\n"
        "static DEFINE_MUTEX(foo_lock);\n"
        "DEFINE_PER_CPU(int, foo_count);\n"
        "void (*foo_hook)(void);\n"
    )
    cfile = parse_c(text)
    assert cfile.declarations("foo") == []
    assert [(d.kind, d.static) for d in cfile.declarations("foo_lock")] == [("macro", True)]
    assert [d.kind for d in cfile.declarations("foo_count")] == ["macro"]
    assert [d.kind for d in cfile.declarations("foo_hook")] == ["variable"]


def test_placement_follows_checkpatch() -> None:
    text = (
        "int a(void)\n{\n\treturn 0;\n}\n"  # 1-4
        "/* comment */\n"  # 5
        "EXPORT_SYMBOL(a);\n"  # 6
        "int b;\n"  # 7
        "\n"  # 8
        "EXPORT_SYMBOL(b);\n"  # 9
        "EXPORT_SYMBOL(elsewhere);\n"  # 10
    )
    cfile = parse_c(text)
    found = {e.name: placement(cfile, e)[0] for e in cfile.exports()}
    assert found == {"a": "adjacent", "b": "apart", "elsewhere": "elsewhere"}


def test_if_else_branches_are_exclusive() -> None:
    text = "#ifdef A\nint x;\n#else\nint y;\n#endif\nint z;\n"
    cfile = parse_c(text)
    assert cfile.exclusive(2, 4)
    assert not cfile.exclusive(2, 6)


def test_complementary_conditions_are_exclusive() -> None:
    text = (
        "#ifdef CONFIG_A\nint x;\n#endif\n"  # 1-3
        "#ifndef CONFIG_A\nint y;\n#endif\n"  # 4-6
        "#if !IS_ENABLED(CONFIG_B)\nint z;\n#else\nint w;\n#endif\n"  # 7-11
        "#if defined(CONFIG_B) && defined(CONFIG_C)\nint v;\n#endif\n"  # 12-14
    )
    cfile = parse_c(text)
    assert cfile.exclusive(2, 5)
    assert not cfile.exclusive(2, 8)
    assert cfile.exclusive(8, 10)
    assert not cfile.exclusive(13, 8)


# --- EX001 -------------------------------------------------------------------------


def test_ex001_export_of_static_function() -> None:
    new = lines_replace(
        IOVA, "\treturn iova >> 12;\n}\n", "\treturn iova >> 12;\n}\nEXPORT_SYMBOL_GPL(helper);\n"
    )
    assert where(run({IOVA_PATH: new}), "EX001") == [(IOVA_PATH, 8)]


def test_ex001_static_forward_declaration_counts() -> None:
    new = IOVA + "EXPORT_SYMBOL_GPL(later);\n"
    findings = run({IOVA_PATH: new})
    assert where(findings, "EX001") == [(IOVA_PATH, 21)]
    assert "declared static at line 9" in findings[0].message


def test_ex001_static_added_to_exported_function() -> None:
    new = lines_replace(IOVA, "int iova_bitmap_set(", "static int iova_bitmap_set(")
    assert where(run({IOVA_PATH: new}), "EX001") == [(IOVA_PATH, 11)]


def test_ex001_quiet_for_non_static_tracepoint_and_else_branch() -> None:
    new = lines_replace(IOVA, "static int later(int x);\n", "int later(int x);\n")
    new += "EXPORT_SYMBOL_GPL(later);\nEXPORT_TRACEPOINT_SYMBOL_GPL(helper);\n"
    new += "#ifdef CONFIG_X\nint alt(void) { return 0; }\n#else\nstatic int alt(void) "
    new += "{ return 1; }\n#endif\n"
    new = lines_replace(
        new,
        "#ifdef CONFIG_X\nint alt(void) { return 0; }\n",
        "#ifdef CONFIG_X\nint alt(void) { return 0; }\nEXPORT_SYMBOL(alt);\n",
    )
    assert where(run({IOVA_PATH: new}), "EX001") == []


# --- EX002 -------------------------------------------------------------------------


def test_ex002_export_of_init_function_and_exit_data() -> None:
    base = dict(BASE)
    base[IOVA_PATH] = IOVA + "int __init setup_it(void)\n{\n\treturn 0;\n}\n"
    new = base[IOVA_PATH] + "EXPORT_SYMBOL(setup_it);\nstatic int tbl[2] __exitdata;\n"
    new += "EXPORT_SYMBOL(tbl);\n"
    findings = run({IOVA_PATH: new}, base)
    assert where(findings, "EX002") == [(IOVA_PATH, 25), (IOVA_PATH, 27)]
    assert (
        "used for exit symbol"
        in next(f for f in findings if f.line == 27 and f.rule == "EX002").message
    )


def test_ex002_init_added_to_exported_function() -> None:
    new = lines_replace(IOVA, "int iova_bitmap_set(", "int __init iova_bitmap_set(")
    assert where(run({IOVA_PATH: new}), "EX002") == [(IOVA_PATH, 11)]


# --- EX003 -------------------------------------------------------------------------


def test_ex003_blank_line_and_distant_export() -> None:
    new = IOVA + "\nEXPORT_SYMBOL(later);\n"
    assert where(run({IOVA_PATH: new}), "EX003") == [(IOVA_PATH, 22)]
    new = IOVA + "int tail;\nEXPORT_SYMBOL(later);\n"
    assert where(run({IOVA_PATH: new}), "EX003") == [(IOVA_PATH, 22)]


def test_ex003_one_finding_per_block_of_exports() -> None:
    new = IOVA + "int a;\nint b;\n\nEXPORT_SYMBOL(later);\nEXPORT_SYMBOL(iova_bitmap_set);\n"
    new = new.replace("EXPORT_SYMBOL_NS_GPL(iova_bitmap_set, IOMMUFD);\n", "")
    new += "EXPORT_SYMBOL(a);\n"
    findings = [f for f in run({IOVA_PATH: new}) if f.rule == "EX003"]
    assert [(f.line, f.severity) for f in findings] == [(23, Severity.WARNING)]
    assert "lines 23-25 export later, iova_bitmap_set, a" in findings[0].message


def test_ex003_quiet_when_an_apart_export_is_only_rewritten() -> None:
    base = dict(BASE)
    base[IOVA_PATH] = IOVA + "int tail;\n\nEXPORT_SYMBOL(tail);\n"
    new = IOVA + "int tail2;\n\nEXPORT_SYMBOL(tail2);\n"
    assert where(run({IOVA_PATH: new}, base), "EX003") == []


def test_ex003_quiet_for_adjacent_defined_elsewhere_and_lists() -> None:
    new = lines_replace(IOVA, "static int later(int x);\n", "int later(int x);\n")
    new += "EXPORT_SYMBOL(later);\nEXPORT_SYMBOL(from_asm);\n"
    assert where(run({IOVA_PATH: new}), "EX003") == []


def test_ex003_info_in_files_that_keep_an_export_list() -> None:
    base = dict(BASE)
    base[IOVA_PATH] = IOVA + "int a;\nint b;\nint c;\nEXPORT_SYMBOL(a);\nEXPORT_SYMBOL(b);\n"
    new = base[IOVA_PATH] + "EXPORT_SYMBOL(later);\n"
    findings = [f for f in run({IOVA_PATH: new}, base) if f.rule == "EX003"]
    assert [(f.line, f.severity) for f in findings] == [(26, Severity.INFO)]


# --- EX004 -------------------------------------------------------------------------


def test_ex004_export_in_public_header_only() -> None:
    base = dict(BASE)
    base["include/linux/foo.h"] = "#ifndef FOO_H\n#define FOO_H\n#endif\n"
    base["kernel/rcu/tree_stall.h"] = "int stall;\n"
    base["kernel/rcu/tree.c"] = '#include "tree_stall.h"\n'
    edits: dict[str, str | None] = {
        "include/linux/foo.h": "#ifndef FOO_H\n#define FOO_H\nint foo;\nEXPORT_SYMBOL(foo);\n"
        "#define DEF(x) int x; \\\n\tEXPORT_SYMBOL(x)\n#endif\n",
        "kernel/rcu/tree_stall.h": "int stall;\nEXPORT_SYMBOL(stall);\n",
    }
    assert where(run(edits, base), "EX004") == [("include/linux/foo.h", 4)]


# --- EX005 -------------------------------------------------------------------------


def test_ex005_second_export_in_same_file() -> None:
    new = IOVA + "EXPORT_SYMBOL_NS_GPL(iova_bitmap_set, IOMMUFD);\n"
    findings = run({IOVA_PATH: new})
    assert where(findings, "EX005") == [(IOVA_PATH, 21)]
    assert [f.severity for f in findings if f.rule == "EX005"] == [Severity.ERROR]


def test_ex005_other_file_is_info_other_arch_is_quiet() -> None:
    base = dict(BASE)
    base["arch/arm64/mm/phys.c"] = "int phys(void)\n{\n\treturn 0;\n}\nEXPORT_SYMBOL(phys);\n"
    base["lib/phys.c"] = "int other;\n"
    x86 = "int phys(void)\n{\n\treturn 1;\n}\nEXPORT_SYMBOL(phys);\n"
    assert where(run({"arch/x86/mm/phys.c": x86}, base), "EX005") == []
    generic = "int other;\nint phys(void)\n{\n\treturn 2;\n}\nEXPORT_SYMBOL(phys);\n"
    findings = [f for f in run({"lib/phys.c": generic}, base) if f.rule == "EX005"]
    assert [(f.path, f.line, f.severity) for f in findings] == [("lib/phys.c", 6, Severity.INFO)]


def test_ex005_moves_read_from_the_diffs_even_when_they_do_not_apply() -> None:
    base = dict(BASE)
    base["lib/old.c"] = "int moved(void)\n{\n\treturn 0;\n}\nEXPORT_SYMBOL(moved);\n"
    new = IOVA + "int moved(void)\n{\n\treturn 0;\n}\nEXPORT_SYMBOL(moved);\n"
    stale = dict(base)
    stale["lib/old.c"] = "int other;\n" + base["lib/old.c"]  # the author's tree differs
    removal = diff_of("lib/old.c", stale["lib/old.c"], "int other;\n")
    data = mail(diff_of(IOVA_PATH, IOVA, new) + removal)
    findings = review(base, data, RULES)
    assert where(findings, "EX005") == []


def test_ex005_quiet_for_ifelse_and_moves_within_the_series() -> None:
    base = dict(BASE)
    base["lib/old.c"] = "int moved(void)\n{\n\treturn 0;\n}\nEXPORT_SYMBOL(moved);\n"
    new = IOVA + "#ifdef A\nint alt;\nEXPORT_SYMBOL(alt);\n#else\nlong alt;\n"
    new += "EXPORT_SYMBOL(alt);\n#endif\n"
    new += "int moved(void)\n{\n\treturn 0;\n}\nEXPORT_SYMBOL(moved);\n"
    findings = run_series([{IOVA_PATH: new}, {"lib/old.c": None}], base)
    assert where(findings, "EX005") == []
    # Without the second patch the copy stays a duplicate (info: another file).
    assert where(run({IOVA_PATH: new}, base), "EX005") == [(IOVA_PATH, 32)]


# --- EX006 / EX007 -----------------------------------------------------------------


def test_ex006_bool_to_tristate_seed() -> None:
    kconfig = lines_replace(KCONFIG, "\tbool\n", "\ttristate\n")
    findings = run({"drivers/iommu/Kconfig": kconfig})
    assert where(findings, "EX006") == [("drivers/iommu/Kconfig", 2)]
    assert "missing MODULE_LICENSE() in drivers/iommu/iommufd/iova_bitmap.o" in findings[0].message
    assert where(findings, "EX007") == []  # EX006 speaks for this object


def test_ex006_tristate_with_license_leaves_description_as_info() -> None:
    kconfig = lines_replace(KCONFIG, "\tbool\n", "\ttristate\n")
    iova = IOVA + 'MODULE_LICENSE("GPL");\n'
    findings = run({"drivers/iommu/Kconfig": kconfig, IOVA_PATH: iova})
    assert where(findings, "EX006") == []
    assert [(f.rule, f.line, f.severity) for f in findings] == [("EX007", 2, Severity.INFO)]


def test_ex007_tristate_with_the_object_renamed_is_still_existing_code() -> None:
    # Debian's "android: enable building binder as a module" does both at once: the symbol
    # turns tristate and its objects become the composite binder_linux.o. The module is
    # code that was built in before (info), not a new module (warning).
    kconfig = lines_replace(KCONFIG, "\tbool\n", "\ttristate\n")
    iova = IOVA + 'MODULE_LICENSE("GPL");\n'
    makefile = lines_replace(
        MAKEFILE,
        "obj-$(CONFIG_IOMMUFD_DRIVER) += iova_bitmap.o\n",
        "obj-$(CONFIG_IOMMUFD_DRIVER) += iova_mod.o\niova_mod-y := iova_bitmap.o\n",
    )
    edits: dict[str, str | None] = {
        "drivers/iommu/Kconfig": kconfig,
        "drivers/iommu/iommufd/Makefile": makefile,
        IOVA_PATH: iova,
    }
    findings = run(edits)
    assert [(f.rule, f.path, f.line, f.severity) for f in findings] == [
        ("EX007", "drivers/iommu/Kconfig", 2, Severity.INFO)
    ]


def test_ex007_a_new_tristate_symbol_builds_a_new_module() -> None:
    kconfig = KCONFIG + 'config IOVA_NEW\n\ttristate "new"\n'
    makefile = MAKEFILE + "obj-$(CONFIG_IOVA_NEW) += fresh.o\n"
    edits: dict[str, str | None] = {
        "drivers/iommu/Kconfig": kconfig,
        "drivers/iommu/iommufd/Makefile": makefile,
        "drivers/iommu/iommufd/fresh.c": 'MODULE_LICENSE("GPL");\n',
    }
    findings = run(edits)
    assert [(f.rule, f.path, f.line, f.severity) for f in findings] == [
        ("EX007", "drivers/iommu/iommufd/Makefile", 4, Severity.WARNING)
    ]


def test_ex006_new_single_and_composite_modules() -> None:
    makefile = MAKEFILE + "obj-m += solo.o\nobj-$(CONFIG_IOMMUFD) += combo.o\n"
    makefile += "combo-y := c1.o c2.o\n"
    edits: dict[str, str | None] = {
        "drivers/iommu/iommufd/Makefile": makefile,
        "drivers/iommu/iommufd/solo.c": 'MODULE_DESCRIPTION("solo");\n',
        "drivers/iommu/iommufd/c1.c": "int c1;\n",
        "drivers/iommu/iommufd/c2.c": 'MODULE_LICENSE("GPL");\n',
    }
    findings = run(edits)
    assert where(findings, "EX006") == [("drivers/iommu/iommufd/Makefile", 4)]
    assert where(findings, "EX007") == [("drivers/iommu/iommufd/Makefile", 5)]


def test_ex006_license_in_included_c_file() -> None:
    makefile = MAKEFILE + "obj-$(CONFIG_IOMMUFD) += wrap.o\n"
    edits: dict[str, str | None] = {
        "drivers/iommu/iommufd/Makefile": makefile,
        "drivers/iommu/iommufd/wrap.c": '#include "impl.c"\n',
        "drivers/iommu/iommufd/impl.c": 'MODULE_LICENSE("GPL");\nMODULE_DESCRIPTION("w");\n',
    }
    assert run(edits) == []


def test_ex006_removed_license_and_pre_existing_problems() -> None:
    main = lines_replace(MAIN_C, 'MODULE_LICENSE("GPL");\n', "")
    assert where(run({"drivers/iommu/iommufd/main.c": main}), "EX006") == [
        ("drivers/iommu/iommufd/main.c", 2)
    ]
    # pages.c has no license, but main.c (same module) still does.
    assert run({"drivers/iommu/iommufd/pages.c": "int pages;\nint more;\n"}) == []
    # A module that already lacked its license is not this patch's doing.
    base = dict(BASE)
    base["drivers/iommu/iommufd/main.c"] = main
    moved = MAKEFILE.replace("iommufd-y := main.o pages.o", "iommufd-y := pages.o main.o")
    assert run({"drivers/iommu/iommufd/Makefile": moved}, base) == []
