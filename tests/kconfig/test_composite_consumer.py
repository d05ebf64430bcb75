"""A part of a composite module gated by its own bool symbol: the link questions ask
about both symbols (the part is built in only when the module's symbol is y)."""

from __future__ import annotations

from pathlib import Path

import kconfiglib
import pytest

from reviewbot.analysis.facts import PatchedIndex
from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.confirm import judge
from reviewbot.kconfig.facts import Witness
from reviewbot.kconfig.links import (
    condition_value,
    consumer_of,
    describe_consumer,
    resolve_call,
)
from reviewbot.kconfig.solver import BaseFormula, builtin_module, enabled_without, module_with
from tests.helpers import index_of

FILES = {
    "fs/smb/client/Makefile": (
        "obj-$(CONFIG_CIFS) += cifs.o\n"
        "cifs-y := connect.o\n"
        "cifs-$(CONFIG_CIFS_SMB_DIRECT) += smbdirect.o\n"
    ),
    "fs/smb/client/connect.c": "int cifs_connect(void) { return 0; }\n",
    "fs/smb/client/smbdirect.c": "void smbd_destroy(void) { ib_free_cq(0); }\n",
    "drivers/infiniband/core/Makefile": "obj-$(CONFIG_INFINIBAND) += ib_core.o\n"
    "ib_core-y := cq.o\n",
    "drivers/infiniband/core/cq.c": "void ib_free_cq(void *cq) {}\nEXPORT_SYMBOL(ib_free_cq);\n",
}

KCONFIG = """\
config MODULES
\tbool "modules"
\tmodules

config INFINIBAND
\ttristate "infiniband"

config CIFS
\ttristate "cifs"

config CIFS_SMB_DIRECT
\tbool "smb direct"
\tdepends on CIFS
\tdepends on CIFS=m && INFINIBAND || CIFS=y && INFINIBAND=y
"""


def test_a_part_of_a_composite_module_is_asked_about_with_its_module() -> None:
    index = PatchedIndex(index_of(FILES), {})
    assert consumer_of(index, "fs/smb/client/smbdirect.o") == "CIFS_SMB_DIRECT&CIFS"
    assert consumer_of(index, "fs/smb/client/connect.o") == "CIFS"
    assert consumer_of(index, "drivers/infiniband/core/cq.o") == "INFINIBAND"
    call = resolve_call(index, "fs/smb/client/smbdirect.c", "ib_free_cq", "CIFS_SMB_DIRECT&CIFS")
    assert call is not None and call.provider == "INFINIBAND"
    assert describe_consumer(call.consumer) == "CIFS_SMB_DIRECT (part of CIFS's module)"
    # a call into the module's own code is no cross-CONFIG call
    assert resolve_call(index, "fs/smb/client/smbdirect.c", "f", "CIFS_SMB_DIRECT&CIFS") is None


@pytest.fixture
def kc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kconfiglib.Kconfig:
    (tmp_path / "Kconfig").write_text(KCONFIG)
    monkeypatch.setenv("srctree", str(tmp_path))
    return OverlayKconfig(str(tmp_path), warn_to_stderr=False)


def _values(kc: kconfiglib.Kconfig, lines: tuple[tuple[str, str], ...]) -> dict[str, str]:
    kc.unset_values()
    for name, value in lines:
        kc.syms[name].set_value(value)
    return {n: kc.syms[n].str_value for n in ("CIFS", "CIFS_SMB_DIRECT", "INFINIBAND")}


def test_the_module_rule_of_the_old_expression_leaves_no_builtin_witness(
    kc: kconfiglib.Kconfig,
) -> None:
    view = BaseFormula(kc).view(kc)
    # asked about the bool alone, the part "can be y while INFINIBAND=m": with CIFS=m,
    # which puts it in cifs.ko (the false KC015 this condition removes)
    assert builtin_module(view, "CIFS_SMB_DIRECT", "INFINIBAND") is not None
    assert builtin_module(view, "CIFS_SMB_DIRECT&CIFS", "INFINIBAND") is None
    modular = module_with(view, "CIFS_SMB_DIRECT&CIFS", "INFINIBAND")
    assert modular is not None
    assert _values(kc, modular.lines)["CIFS"] == "m"
    assert enabled_without(view, "CIFS_SMB_DIRECT&CIFS", "INFINIBAND") is None


def test_dropping_the_module_rule_gives_a_builtin_witness(
    kc: kconfiglib.Kconfig, tmp_path: Path
) -> None:
    base = BaseFormula(kc)
    text = KCONFIG.replace(
        "\tdepends on CIFS=m && INFINIBAND || CIFS=y && INFINIBAND=y\n",
        "\tdepends on INFINIBAND\n",
    )
    patched = OverlayKconfig(str(tmp_path), {"Kconfig": text}, warn_to_stderr=False)
    answer = builtin_module(base.view(patched), "CIFS_SMB_DIRECT&CIFS", "INFINIBAND")
    assert answer is not None
    assert _values(patched, answer.lines) == {
        "CIFS": "y",
        "CIFS_SMB_DIRECT": "y",
        "INFINIBAND": "m",
    }


def test_conf_and_builds_read_a_condition_as_its_weakest_part() -> None:
    witness = Witness("builtin-module", "CIFS_SMB_DIRECT&CIFS", "INFINIBAND", True)
    in_module = {"CIFS_SMB_DIRECT": "y", "CIFS": "m", "INFINIBAND": "m"}
    built_in = {"CIFS_SMB_DIRECT": "y", "CIFS": "y", "INFINIBAND": "m"}
    assert condition_value(in_module, witness.subject) == "m"
    assert judge(witness, (), in_module)[0] is False
    ok, shown = judge(witness, (), built_in)
    assert ok and shown == "conf --olddefconfig: CIFS_SMB_DIRECT=y CIFS=y INFINIBAND=m"


def test_a_stub_whose_return_type_stands_on_the_line_before_is_a_stub(tmp_path: Path) -> None:
    from reviewbot.kconfig.search import inline_stubs

    header = tmp_path / "include/linux/pwrseq"
    header.mkdir(parents=True)
    (tmp_path / "arch").mkdir()
    (header / "consumer.h").write_text(
        "#if IS_ENABLED(CONFIG_POWER_SEQUENCING)\n"
        "struct pwrseq_desc * __must_check\n"
        "devm_pwrseq_get(struct device *dev, const char *target);\n"
        "int pwrseq_power_on(struct pwrseq_desc *desc);\n"
        "#else\n"
        "static inline void pwrseq_put(struct pwrseq_desc *desc)\n"
        "{\n"
        "}\n"
        "\n"
        "static inline struct pwrseq_desc * __must_check\n"
        "devm_pwrseq_get(struct device *dev, const char *target)\n"
        "{\n"
        "\treturn ERR_PTR(-ENOSYS);\n"
        "}\n"
        "#endif\n"
    )
    names = ["devm_pwrseq_get", "pwrseq_put", "pwrseq_power_on"]
    assert inline_stubs(tmp_path, names) == {"devm_pwrseq_get", "pwrseq_put"}
