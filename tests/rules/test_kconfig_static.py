"""KC001-KC005 on small in-memory trees: what each rule reports, and what it leaves alone."""

from __future__ import annotations

import difflib

import pytest

from reviewbot.analysis.view import DictTree
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.kconfig_static import RULES
from reviewbot.tree.index import classify, facts_for, merge

IOMMU_KCONFIG = """\
# SPDX-License-Identifier: GPL-2.0-only
config IOMMU_API
\tbool

config IOMMUFD_DRIVER
\tbool
\tdefault n

config IOMMUFD
\ttristate "IOMMU Userspace API"
\tdefault n
\thelp
\t  Provides /dev/iommu.

config VFIO
\ttristate "VFIO"
\tdefault y if IOMMU_API
\thelp
\t  VFIO provides a framework for secure userspace device drivers.
"""
END = "\t  VFIO provides a framework for secure userspace device drivers.\n"

BASE = {
    "drivers/iommu/Kconfig": IOMMU_KCONFIG,
    "drivers/iommu/Makefile": "obj-$(CONFIG_IOMMU_API) += iommu.o\n",
    "drivers/iommu/iommu.c": '#include "iommu.h"\n\nint x;\n',
    "drivers/iommu/iommu.h": "#define CONFIG_LOCAL_KNOB 1\n",
    "drivers/iommu/old.c": "#ifdef CONFIG_STALE_THING\n#endif\n",
    "include/uapi/linux/foo.h": "#ifndef _UAPI_FOO_H\n#define _UAPI_FOO_H\n\n#endif\n",
    "scripts/headers_install.sh": (
        'config_leak_ignores="\ninclude/uapi/linux/foo.h:CONFIG_OLD_LEAK\n"\n'
    ),
}


def diff_of(path: str, old: str | None, new: str) -> str:
    body = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}",
    )
    head = f"diff --git a/{path} b/{path}\n" + ("new file mode 100644\n" if old is None else "")
    return head + "".join(body)


def review_diff(diff: str, base: dict[str, str] = BASE) -> list[Finding]:
    mail = (
        "From: A <a@example.org>\nSubject: [PATCH] test\nMessage-ID: <t@example.org>\n\n"
        f"body\n---\n{diff}-- \n2.47\n"
    ).encode()
    messages = [parse_mail(raw) for raw in read_input(mail, "t.patch")]
    series, _ = assemble(messages)
    index = merge("/t", "t", {p: facts_for(p, t) for p, t in base.items() if classify(p)})
    return [f for s in series for f in review_series(s, DictTree(base), index, RULES).findings]


def review(edits: dict[str, str], base: dict[str, str] = BASE) -> list[Finding]:
    return review_diff("".join(diff_of(p, base.get(p), t) for p, t in edits.items()), base)


def found(findings: list[Finding], rule: str) -> list[tuple[str, int | None, Severity]]:
    return sorted((f.path, f.line, f.severity) for f in findings if f.rule == rule)


def kconfig(old: str, new: str) -> dict[str, str]:
    assert old in IOMMU_KCONFIG
    return {"drivers/iommu/Kconfig": IOMMU_KCONFIG.replace(old, new, 1)}


def append_kconfig(text: str) -> dict[str, str]:
    return kconfig(END, END + text)


# --- KC001 ------------------------------------------------------------------------------


def test_kc001_typo_in_depends_is_an_error_with_a_suggestion() -> None:
    findings = review(kconfig("\tbool\n\tdefault n\n", "\tbool\n\tdepends on IOMMU_APII\n"))
    assert found(findings, "KC001") == [("drivers/iommu/Kconfig", 7, Severity.ERROR)]
    message = next(f.message for f in findings if f.rule == "KC001")
    assert message.startswith("IOMMU_APII is not defined")
    assert "did you mean IOMMU_API?" in message


def test_kc001_config_prefix_and_upper_case_constant_in_kconfig() -> None:
    findings = review(
        append_kconfig("\nconfig NEWOPT\n\tbool\n\tdepends on CONFIG_VFIO\n\tdefault Y\n")
    )
    assert found(findings, "KC001") == [
        ("drivers/iommu/Kconfig", 23, Severity.ERROR),
        ("drivers/iommu/Kconfig", 24, Severity.ERROR),
    ]
    messages = sorted(f.message + f.hint for f in findings if f.rule == "KC001")
    assert "did you mean VFIO?" in messages[0] and "CONFIG_ prefix" in messages[0]
    assert "did you mean y?" in messages[1]


def test_kc001_ignores_help_text_comments_strings_and_macros() -> None:
    findings = review(
        append_kconfig(
            '\nconfig NEWOPT\n\tbool "uses UNDEFINED_IN_PROMPT" if VFIO # NOT_A_REF\n'
            "\tdepends on $(cc-option,-mUNDEFINED_FLAG)\n\thelp\n"
            "\t  if you say Y here, depends on UNDEFINED_IN_HELP\n"
            "\t  select THIS_IS_PROSE too.\n"
        )
    )
    assert found(findings, "KC001") == []


def test_kc001_makefile_references_but_not_definitions_or_comments() -> None:
    new = (
        "obj-$(CONFIG_IOMMU_API) += iommu.o\n"
        "obj-$(CONFIG_IOMMU_APY) += typo.o\n"
        "ifdef CONFIG_ANOTHER_TYPO\nendif\n"
        "ccflags-y += -DCONFIG_PRIVATE_FLAG=1  # CONFIG_IN_COMMENT\n"
        "CONFIG_MAKE_VAR := 1\n"
        "cmd = $(CONFIG_SHELL) x.sh\n"
    )
    findings = review({"drivers/iommu/Makefile": new})
    assert found(findings, "KC001") == [
        ("drivers/iommu/Makefile", 2, Severity.ERROR),
        ("drivers/iommu/Makefile", 3, Severity.ERROR),
    ]


def test_kc001_c_is_a_warning_and_skips_local_names() -> None:
    new = (
        '#include "iommu.h"\n\n'
        "#if IS_ENABLED(CONFIG_IOMMU_APY) /* CONFIG_IN_COMMENT */\n"
        "#endif\n"
        '#define CONFIG_MINE 1\nstatic const char *s = "CONFIG_IN_STRING";\n'
        "#if defined(CONFIG_MINE) || defined(CONFIG_VFIO_MODULE) || defined(CONFIG_LOCAL_KNOB)\n"
        "#endif\n"
        "#ifdef CONFIG_FOO\n#endif\n"
        "int x;\n"
    )
    findings = review({"drivers/iommu/iommu.c": new})
    assert found(findings, "KC001") == [("drivers/iommu/iommu.c", 3, Severity.WARNING)]


def test_kc001_one_finding_per_symbol_and_file() -> None:
    new = BASE["drivers/iommu/iommu.c"] + "#ifdef CONFIG_TYPO_X\n#endif\n#ifndef CONFIG_TYPO_X\n"
    findings = [f for f in review({"drivers/iommu/iommu.c": new}) if f.rule == "KC001"]
    assert [(f.line, f.evidence[-1]) for f in findings] == [(4, "also on line(s) 6")]


def test_kc001_symbol_the_file_already_names_was_not_introduced() -> None:
    new = "#ifdef CONFIG_STALE_THING\n#endif\n#if IS_ENABLED(CONFIG_STALE_THING)\n#endif\n"
    assert found(review({"drivers/iommu/old.c": new}), "KC001") == []


def test_kc001_symbol_defined_by_the_same_patch() -> None:
    edits = append_kconfig("\nconfig IOMMU_NEW\n\tbool\n")
    edits["drivers/iommu/Makefile"] = BASE["drivers/iommu/Makefile"] + (
        "obj-$(CONFIG_IOMMU_NEW) += new.o\n"
    )
    assert found(review(edits), "KC001") == []


def test_kc001_skips_documentation_and_tools() -> None:
    edits = {
        "tools/testing/Makefile": "ifdef CONFIG_NOPE_NOPE\nendif\n",
        "Documentation/Kconfig": "config X\n\tdepends on NOPE_NOPE\n",
    }
    assert found(review(edits), "KC001") == []


def test_kc001_is_info_when_the_patch_does_not_apply() -> None:
    diff = (
        "diff --git a/drivers/iommu/Makefile b/drivers/iommu/Makefile\n"
        "--- a/drivers/iommu/Makefile\n+++ b/drivers/iommu/Makefile\n"
        "@@ -1,2 +1,3 @@\n obj-$(CONFIG_IOMMU_API) += iommu.o\n"
        " obj-$(CONFIG_SOMETHING_NEWER) += newer.o\n+obj-$(CONFIG_IOMMU_APY) += typo.o\n"
    )
    findings = review_diff(diff)
    assert found(findings, "KC001") == [("drivers/iommu/Makefile", 3, Severity.INFO)]


def test_kc001_skips_files_newer_than_the_tree_when_the_patch_does_not_apply() -> None:
    diff = (
        "diff --git a/drivers/newer/Makefile b/drivers/newer/Makefile\n"
        "--- a/drivers/newer/Makefile\n+++ b/drivers/newer/Makefile\n"
        "@@ -1,1 +1,2 @@\n obj-y += a.o\n+obj-$(CONFIG_NEWER_DRIVER) += b.o\n"
    )
    assert found(review_diff(diff), "KC001") == []


# --- KC002 ------------------------------------------------------------------------------

NEW_DRIVER = (
    '\nconfig NEWDRV\n\ttristate "New driver"\n\tdepends on IOMMU_API\n{default}\thelp\n\t  New.\n'
)


def test_kc002_new_visible_option_default_y_is_a_warning() -> None:
    findings = review(append_kconfig(NEW_DRIVER.format(default="\tdefault y\n")))
    assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 24, Severity.WARNING)]
    finding = next(f for f in findings if f.rule == "KC002")
    assert "new option NEWDRV defaults to y" in finding.message
    assert "kconfig-language.rst" in finding.message
    assert "replaces code that was always built" in finding.hint


@pytest.mark.parametrize(
    "default",
    [
        "",
        "\tdefault n\n\tdefault y if IOMMU_API\n",
        "\tdefault IOMMU_API\n",
        "\tdefault m if KUNIT_ALL_TESTS\n",
    ],
)
def test_kc002_allows_no_default_expressions_and_kunit(default: str) -> None:
    entry = NEW_DRIVER.format(default=default)
    findings = review(append_kconfig(entry))
    if "default n" in default:
        # 'default n' followed by another default is not redundant; the y one is new.
        assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 25, Severity.INFO)]
    else:
        assert found(findings, "KC002") == []


def test_kc002_invisible_symbols_may_default_to_y() -> None:
    findings = review(
        append_kconfig("\nconfig HELPER\n\tdef_bool y\n\nconfig HELPER2\n\tbool\n\tdefault y\n")
    )
    assert found(findings, "KC002") == []


def test_kc002_def_bool_y_with_a_prompt_counts() -> None:
    findings = review(append_kconfig('\nconfig OPT\n\tdef_bool y\n\tprompt "Opt"\n\thelp\n\t  x\n'))
    assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 22, Severity.WARNING)]


def test_kc002_sub_option_of_a_default_n_driver_is_info() -> None:
    entry = '\nconfig IOMMUFD_EXTRA\n\tbool "Extra"\n\tdepends on IOMMUFD\n\tdefault y\n'
    findings = [f for f in review(append_kconfig(entry + "\thelp\n\t  x\n")) if f.rule == "KC002"]
    assert [(f.line, f.severity) for f in findings] == [(24, Severity.INFO)]
    assert "sub-option of IOMMUFD" in findings[0].evidence[0]


def test_kc002_menuconfig_gate_is_info() -> None:
    entry = '\nmenuconfig NEW_VENDOR\n\tbool "New vendor devices"\n\tdefault y\n\thelp\n\t  x\n'
    findings = review(append_kconfig(entry))
    assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 23, Severity.INFO)]


def test_kc002_existing_default_y_edited_is_not_new() -> None:
    findings = review(kconfig("\tdefault y if IOMMU_API\n", "\tdefault y if IOMMU_API || VFIO\n"))
    assert found(findings, "KC002") == []


def test_kc002_existing_option_gaining_default_y() -> None:
    findings = review(
        kconfig(
            '\ttristate "IOMMU Userspace API"\n\tdefault n\n',
            '\ttristate "IOMMU Userspace API"\n\tdefault y\n',
        )
    )
    assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 11, Severity.WARNING)]
    assert "IOMMUFD now defaults to y" in next(f.message for f in findings if f.rule == "KC002")


def test_kc002_redundant_default_n_is_info() -> None:
    findings = review(append_kconfig("\nconfig LIB\n\ttristate\n\tdefault n\n"))
    assert found(findings, "KC002") == [("drivers/iommu/Kconfig", 23, Severity.INFO)]


# --- KC003 ------------------------------------------------------------------------------


def test_kc003_new_prompted_option_without_help() -> None:
    findings = review(append_kconfig('\nconfig NEWOPT\n\tbool "New option"\n'))
    assert found(findings, "KC003") == [("drivers/iommu/Kconfig", 21, Severity.WARNING)]


def test_kc003_prompt_added_to_an_existing_symbol() -> None:
    findings = review(
        kconfig(
            "config IOMMUFD_DRIVER\n\tbool\n", 'config IOMMUFD_DRIVER\n\tbool "IOMMUFD helpers"\n'
        )
    )
    assert found(findings, "KC003") == [("drivers/iommu/Kconfig", 6, Severity.WARNING)]
    assert "IOMMUFD_DRIVER gains a prompt" in next(f.message for f in findings if f.rule == "KC003")


@pytest.mark.parametrize(
    "entry",
    [
        '\nconfig NEWOPT\n\tbool "New option"\n\thelp\n\t  Short.\n',
        "\nconfig NEWLIB\n\ttristate\n",
        '\nconfig NEWOPT\n\tbool "New option"\n\n\t# comment\n\thelp\n\t  Text.\n',
    ],
)
def test_kc003_help_or_no_prompt_is_fine(entry: str) -> None:
    assert found(review(append_kconfig(entry)), "KC003") == []


def test_kc003_choice_member_is_info() -> None:
    entry = (
        '\nchoice\n\tprompt "Mode"\n\thelp\n\t  Pick one.\n\nconfig MODE_A\n\tbool "A"\n'
        '\nconfig MODE_B\n\tbool "B"\n\tdepends on VFIO\n\thelp\n\t  B.\nendchoice\n'
    )
    findings = review(append_kconfig(entry))
    assert found(findings, "KC003") == [("drivers/iommu/Kconfig", 26, Severity.INFO)]


def test_kc003_existing_prompt_without_help_is_not_new() -> None:
    base = dict(BASE)
    base["drivers/iommu/Kconfig"] = IOMMU_KCONFIG + '\nconfig OLDOPT\n\tbool "Old"\n'
    new = base["drivers/iommu/Kconfig"] + "\tdepends on VFIO\n"
    assert found(review({"drivers/iommu/Kconfig": new}, base), "KC003") == []


def test_kc003_moved_symbol_is_not_new() -> None:
    base = dict(BASE)
    base["drivers/iommu/Kconfig"] = IOMMU_KCONFIG + '\nconfig OLDOPT\n\tbool "Old"\n'
    base["drivers/iommu/amd/Kconfig"] = "config AMD\n\tbool\n"
    edits = {
        "drivers/iommu/Kconfig": IOMMU_KCONFIG,
        "drivers/iommu/amd/Kconfig": base["drivers/iommu/amd/Kconfig"]
        + '\nconfig OLDOPT\n\tbool "Old"\n',
    }
    assert found(review(edits, base), "KC003") == []


# --- KC004 ------------------------------------------------------------------------------


def c_file(body: str) -> dict[str, str]:
    return {"drivers/iommu/iommu.c": BASE["drivers/iommu/iommu.c"] + body}


def test_kc004_ifdef_on_tristate() -> None:
    findings = review(c_file("#ifdef CONFIG_VFIO\n#endif\n#if !defined(CONFIG_IOMMUFD)\n#endif\n"))
    assert found(findings, "KC004") == [
        ("drivers/iommu/iommu.c", 4, Severity.WARNING),
        ("drivers/iommu/iommu.c", 6, Severity.WARNING),
    ]
    finding = next(f for f in findings if f.rule == "KC004")
    assert "false when VFIO=m" in finding.message
    assert "IS_ENABLED(CONFIG_VFIO)" in finding.hint


@pytest.mark.parametrize(
    "body",
    [
        "#if IS_ENABLED(CONFIG_VFIO)\n#endif\n",
        "#ifdef CONFIG_IOMMU_API\n#endif\n",
        "#if defined(CONFIG_VFIO) || \\\n    defined(CONFIG_VFIO_MODULE)\n#endif\n",
        "/* #ifdef CONFIG_VFIO */\n",
    ],
)
def test_kc004_leaves_correct_forms_alone(body: str) -> None:
    assert found(review(c_file(body)), "KC004") == []


def test_kc004_moved_directive_is_not_new() -> None:
    base = dict(BASE)
    base["drivers/iommu/old.c"] = "#ifdef CONFIG_VFIO\nint a;\n#endif\n"
    edits = {"drivers/iommu/old.c": "", **c_file("#ifdef CONFIG_VFIO\nint a;\n#endif\n")}
    assert found(review(edits, base), "KC004") == []


# --- KC005 ------------------------------------------------------------------------------


def uapi(body: str) -> dict[str, str]:
    return {"include/uapi/linux/foo.h": BASE["include/uapi/linux/foo.h"].replace("\n\n", body)}


def test_kc005_config_in_uapi_header_is_an_error() -> None:
    findings = review(uapi("\n#ifdef CONFIG_VFIO\n#define FOO_VFIO 1\n#endif\n"))
    assert found(findings, "KC005") == [("include/uapi/linux/foo.h", 3, Severity.ERROR)]
    assert found(findings, "KC004") == []
    message = next(f.message for f in findings if f.rule == "KC005")
    assert "leak CONFIG_VFIO to user-space" in message


@pytest.mark.parametrize(
    "body",
    [
        "\n#ifdef __KERNEL__\n#ifdef CONFIG_VFIO\n#endif\n#endif\n",
        "\n/* works with or without CONFIG_VFIO */\n",
        "\n#ifdef CONFIG_OLD_LEAK\n#endif\n",
    ],
)
def test_kc005_kernel_only_blocks_comments_and_the_frozen_list(body: str) -> None:
    assert found(review(uapi(body)), "KC005") == []


def test_kc005_user_branch_of_kernel_conditional_is_exported() -> None:
    body = "\n#ifdef __KERNEL__\n#define A 1\n#else\n#define A CONFIG_NR_X\n#endif\n"
    assert found(review(uapi(body)), "KC005") == [("include/uapi/linux/foo.h", 6, Severity.ERROR)]
