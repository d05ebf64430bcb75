"""KC020 compares a new entry only with entries one arch's Kconfig tree reads as well."""

from __future__ import annotations

from reviewbot.rules.kconfig_redefine import RULES, same_tree
from tests.helpers import diff_of, mail, review

GENERIC = 'config FOO\n\tbool "foo"\n\tdepends on PCI\n'
BASE = {
    "drivers/foo/Kconfig": GENERIC,
    "arch/x86/Kconfig": "config ARCH_BAR\n\tdef_bool y\n\tdepends on X86_64\n",
    "scripts/kconfig/tests/choice/Kconfig": 'config A\n\tbool "A"\n',
    "drivers/bar/Kconfig": "config OTHER\n\tbool\n",
    "arch/arm64/Kconfig": "config ARM64\n\tdef_bool y\n",
}


def _rules_on(path: str, added: str) -> list[tuple[str, str, int | None]]:
    new = BASE.get(path, "") + added
    findings = review(BASE, mail(diff_of(path, BASE.get(path), new)), RULES)
    return [(f.rule, f.path, f.line) for f in findings]


def test_trees_by_path() -> None:
    assert same_tree("drivers/a/Kconfig", "drivers/b/Kconfig")
    assert same_tree("arch/x86/Kconfig", "drivers/b/Kconfig")
    assert same_tree("arch/x86/Kconfig", "arch/x86/Kconfig.cpu")
    assert not same_tree("arch/x86/Kconfig", "arch/arm64/Kconfig")
    assert not same_tree("scripts/kconfig/tests/a/Kconfig", "scripts/kconfig/tests/b/Kconfig")
    assert not same_tree("tools/x/Kconfig", "drivers/b/Kconfig")


def test_a_second_entry_with_other_dependencies_in_one_tree() -> None:
    added = '\nconfig FOO\n\ttristate "foo"\n\tdepends on USB\n'
    assert _rules_on("drivers/bar/Kconfig", added) == [("KC020", "drivers/bar/Kconfig", 4)]


def test_per_arch_definitions_do_not_merge() -> None:
    # every arch defines its own ARCH_* / MMU-like symbols: arm64's tree never reads x86's
    added = "\nconfig ARCH_BAR\n\tdef_bool y\n\tdepends on ARM64_VA_BITS_48\n"
    assert _rules_on("arch/arm64/Kconfig", added) == []


def test_kconfig_test_inputs_are_not_in_any_tree() -> None:
    added = '\nconfig A\n\ttristate "A"\n\tdepends on B\n'
    assert _rules_on("scripts/kconfig/tests/new_case/Kconfig", added) == []
