"""The two other ways a patch drops a dependency: a symbol made tristate, a stricter `if`."""

from __future__ import annotations

from reviewbot.analysis.diff import parse_diff
from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import DictTree
from reviewbot.kconfig.modular import find_modular, modular_edges
from reviewbot.kconfig.narrowed import consumers, exported_by, narrowed_entries
from tests.helpers import diff_of, index_of

KCONFIG = (
    'config CORE\n\tbool "core"\n\nconfig DRV\n\tbool "driver"\n\tdepends on CORE\n\n'
    "config LIB\n\tdef_bool y\n"
)
CORE_C = "int core_helper(int x)\n{\n\treturn x;\n}\n\nint core_exported(void)\n{\n\treturn 0;\n}\n"
TREE = {
    "Kconfig": KCONFIG,
    "Makefile": "obj-$(CONFIG_CORE) += core.o\nobj-$(CONFIG_DRV) += drv.o\n"
    "obj-$(CONFIG_LIB) += lib.o\n",
    "core.c": CORE_C + "EXPORT_SYMBOL(core_exported);\n",
    "drv.c": "static int probe(void)\n{\n\treturn core_helper(1) + lib_call();\n}\n",
    "lib.c": "int lib_call(void)\n{\n\treturn 1;\n}\nEXPORT_SYMBOL(lib_call);\n",
}


def test_bool_to_tristate_is_a_modular_edge_at_the_changed_line() -> None:
    new = KCONFIG.replace('\tbool "driver"', '\ttristate "driver"')
    changes = parse_diff(diff_of("Kconfig", KCONFIG, new))
    assert modular_edges(changes, {"Kconfig": KCONFIG}, {"Kconfig": new}) == [
        ("DRV", "Kconfig", 5, 'bool "driver"')
    ]
    # a prompt change only is no edge
    other = KCONFIG.replace('"driver"', '"the driver"')
    changes = parse_diff(diff_of("Kconfig", KCONFIG, other))
    assert modular_edges(changes, {"Kconfig": KCONFIG}, {"Kconfig": other}) == []


def test_a_module_calling_an_unexported_function_of_its_dependency() -> None:
    new = KCONFIG.replace('\tbool "driver"', '\ttristate "driver"')
    changes = parse_diff(diff_of("Kconfig", KCONFIG, new))
    index = PatchedIndex(index_of(TREE), {})
    (found,) = find_modular(changes, {"Kconfig": KCONFIG}, {"Kconfig": new}, index, DictTree(TREE))
    assert (found.symbol, found.provider, found.how) == ("DRV", "CORE", "modular")
    assert found.functions == ("core_helper",)
    assert (found.consumer_file, found.provider_object) == ("drv.c", "core.o")
    # once the function is exported, the module links: nothing to report
    exported = dict(TREE, **{"core.c": TREE["core.c"] + "EXPORT_SYMBOL(core_helper);\n"})
    index = PatchedIndex(index_of(exported), {})
    view = DictTree(exported)
    assert find_modular(changes, {"Kconfig": KCONFIG}, {"Kconfig": new}, index, view) == []


def test_an_if_around_an_entry_is_narrowing_at_the_added_if() -> None:
    new = KCONFIG.replace("config LIB\n", "if CORE\nconfig LIB\n") + "endif\n"
    changes = parse_diff(diff_of("Kconfig", KCONFIG, new))
    assert narrowed_entries(changes, {"Kconfig": KCONFIG}, {"Kconfig": new}) == [
        ("LIB", "Kconfig", 8, "if CORE")
    ]
    index = PatchedIndex(index_of(TREE), {})
    view = DictTree(TREE)
    exports = exported_by(index, view, "LIB")
    assert exports == {"lib_call": "lib.o"}
    (found,) = consumers(
        index,
        view,
        narrowed_entries(changes, {"Kconfig": KCONFIG}, {"Kconfig": new})[0],
        exports,
        ["drv.c"],
    )
    assert (found.symbol, found.provider, found.how, found.line) == ("DRV", "LIB", "if", 8)
    assert found.functions == ("lib_call",)


def test_a_guarded_call_and_an_unchanged_if_are_not_followed() -> None:
    guarded = dict(
        TREE,
        **{"drv.c": "int probe(void)\n{\n#ifdef CONFIG_LIB\n\treturn lib_call();\n#endif\n}\n"},
    )
    new = KCONFIG.replace("config LIB\n", "if CORE\nconfig LIB\n") + "endif\n"
    changes = parse_diff(diff_of("Kconfig", KCONFIG, new))
    index = PatchedIndex(index_of(guarded), {})
    view = DictTree(guarded)
    item = narrowed_entries(changes, {"Kconfig": KCONFIG}, {"Kconfig": new})[0]
    assert consumers(index, view, item, exported_by(index, view, "LIB"), ["drv.c"]) == []
    # a help text sentence starting with "if" opens no block
    plain = KCONFIG + 'config LAST\n\tbool "last"\n'
    worded = plain.replace("def_bool y\n", "def_bool y\n\thelp\n\t  if unsure, say Y.\n")
    changes = parse_diff(diff_of("Kconfig", plain, worded))
    assert narrowed_entries(changes, {"Kconfig": plain}, {"Kconfig": worded}) == []
    # an entry edited inside an if that was already there is not narrowed
    base = new
    edited = base.replace("def_bool y", "def_bool y\n\thelp\n\t  text")
    changes = parse_diff(diff_of("Kconfig", base, edited))
    assert narrowed_entries(changes, {"Kconfig": base}, {"Kconfig": edited}) == []


def test_a_part_of_the_providers_own_module_links_without_exports() -> None:
    composite = dict(
        TREE,
        Makefile="obj-$(CONFIG_CORE) += both.o\nboth-y := core.o\nboth-$(CONFIG_DRV) += drv.o\n"
        "obj-$(CONFIG_LIB) += lib.o\n",
    )
    new = KCONFIG.replace('\tbool "driver"', '\ttristate "driver"')
    changes = parse_diff(diff_of("Kconfig", KCONFIG, new))
    index = PatchedIndex(index_of(composite), {})
    assert index.base.objects_by_config.get("DRV") == ["drv.o"]
    view = DictTree(composite)
    assert find_modular(changes, {"Kconfig": KCONFIG}, {"Kconfig": new}, index, view) == []
