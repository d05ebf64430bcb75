"""MK008 on small in-memory trees: lib-y where nothing links the lib.a."""

from __future__ import annotations

from collections.abc import Mapping

from reviewbot.model import Finding
from reviewbot.rules.kbuild_libs import RULES
from tests.helpers import diff_of, mail, review

TOP = "libs-y\t\t:= lib/\n"
TREE = {
    "Makefile": TOP,
    "arch/x86/Makefile": "libs-y  += arch/x86/lib/\n",
    "arch/mips/Makefile": "libs-y += arch/$(SRCARCH)/lib/\n",
    "arch/mips/dec/Platform": "libs-$(CONFIG_MACH_DECSTATION)\t+= arch/mips/dec/prom/\n",
    "arch/xtensa/boot/boot-redboot/Makefile": "LIBS := arch/xtensa/boot/lib/lib.a\n",
    "lib/Makefile": "obj-y += sort.o\n",
    "lib/crypto/Makefile": "obj-y += libblake2s.o\nlibblake2s-y := blake2s.o\n",
    "arch/x86/lib/Makefile": "obj-y += msr.o\n",
    "arch/mips/lib/Makefile": "obj-y += iomap.o\n",
    "arch/mips/dec/prom/Makefile": "obj-y += init.o\n",
    "arch/xtensa/boot/lib/Makefile": "zlib := inflate.c\n",
}


def _add(files: Mapping[str, str], path: str, line: str) -> list[Finding]:
    old = files[path]
    patched = {**files, path: old + line}
    return review(files, mail(diff_of(path, old, patched[path])), RULES)


def test_lib_y_in_a_directory_no_libs_y_lists_is_reported() -> None:
    (finding,) = _add(TREE, "lib/crypto/Makefile", "lib-y += blake2s-generic.o\n")
    assert (finding.rule, finding.path, finding.line) == ("MK008", "lib/crypto/Makefile", 3)
    assert "lib/crypto/lib.a" in finding.message
    (guarded,) = _add(TREE, "lib/crypto/Makefile", "lib-$(CONFIG_FOO) += foo.o\n")
    assert guarded.line == 3


def test_linked_archives_are_left_alone() -> None:
    assert _add(TREE, "lib/Makefile", "lib-y += bsearch.o\n") == []
    assert _add(TREE, "arch/x86/lib/Makefile", "lib-y += memcpy_64.o\n") == []
    # arch variables expanded, platform includes, archives linked by name
    assert _add(TREE, "arch/mips/lib/Makefile", "lib-y += memcpy.o\n") == []
    assert _add(TREE, "arch/mips/dec/prom/Makefile", "lib-y += memory.o\n") == []
    assert _add(TREE, "arch/xtensa/boot/lib/Makefile", "lib-y += zmem.o\n") == []
    # other lists are not lib-y
    assert _add(TREE, "lib/crypto/Makefile", "obj-y += blake2s-generic.o\n") == []
    assert _add(TREE, "lib/crypto/Makefile", "lib-objs := x.o\n") == []


def test_a_patch_that_also_lists_the_directory_in_libs_y_links() -> None:
    old = TREE["lib/crypto/Makefile"]
    new = old + "lib-y += blake2s-generic.o\n"
    diff = diff_of("lib/crypto/Makefile", old, new) + diff_of(
        "Makefile", TOP, "libs-y\t\t:= lib/ lib/crypto/\n"
    )
    assert review(TREE, mail(diff), RULES) == []
