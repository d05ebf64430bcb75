"""The SAT encoding against kconfiglib itself: every witness, replayed, shows what it claims."""

from __future__ import annotations

from pathlib import Path

import kconfiglib
import pytest

from reviewbot.kconfig import solver
from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.solver import (
    BaseFormula,
    ask,
    builtin_module,
    enabled_without,
    module_with,
    reachable,
    unmet_select,
)

KCONFIG = """\
config MODULES
\tbool "modules"
\tmodules

config VIRT
\tbool "virtualization"

config KVM
\ttristate "KVM"
\tdepends on VIRT

config KVM_INTEL
\ttristate "intel"
\tdepends on KVM

config KVM_AMD
\ttristate "amd"
\tdepends on KVM

config KVM_X86
\tdef_tristate KVM if (KVM_INTEL != n || KVM_AMD != n)
\tselect KVM_VFIO

config HAVE_ARCH_VFIO
\tbool

config VFIO
\ttristate "vfio"

config KVM_VFIO
\tdef_bool y
\tdepends on HAVE_ARCH_VFIO
\tdepends on VFIO

config LIB
\ttristate

config USER_A
\ttristate "user a"
\tselect LIB

config CONSUMER
\tbool "consumer"

config PD
\tbool

config HIDDEN
\tbool "hidden"
\tdepends on PD

choice
\tprompt "mode"
\tdefault MODE_A

config MODE_A
\tbool "a"

config MODE_B
\tbool "b"
\tselect VIRT

endchoice
"""


@pytest.fixture
def kc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> kconfiglib.Kconfig:
    (tmp_path / "Kconfig").write_text(KCONFIG)
    monkeypatch.setenv("srctree", str(tmp_path))
    return OverlayKconfig(str(tmp_path), warn_to_stderr=False)


def _replay(kc: kconfiglib.Kconfig, lines: tuple[tuple[str, str], ...]) -> None:
    """Load the witness's .config lines the way conf does (unset = default)."""
    kc.unset_values()
    for name, value in lines:
        sym = kc.syms[name]
        if sym.choice is not None and value == "y":
            sym.choice.set_value(2)
        sym.set_value(value)


def test_a_promptless_selector_is_found_and_replays(kc: kconfiglib.Kconfig) -> None:
    view = BaseFormula(kc).view(kc)
    answer = unmet_select(view, "KVM_X86", "KVM_VFIO")
    assert answer is not None
    _replay(kc, answer.lines)
    assert kc.syms["KVM_X86"].tri_value >= 1
    assert kconfiglib.expr_value(kc.syms["KVM_VFIO"].direct_dep) == 0
    # small: the .config needs the visible symbols only (VFIO=n is the default); VIRT
    # comes on either directly or through the choice member that selects it
    names = {name for name, _ in answer.lines}
    assert names <= {"VIRT", "MODE_B", "KVM", "KVM_INTEL", "KVM_AMD"} and len(names) == 3


def test_a_provider_at_m_under_a_builtin_consumer(kc: kconfiglib.Kconfig) -> None:
    view = BaseFormula(kc).view(kc)
    answer = builtin_module(view, "CONSUMER", "LIB")
    assert answer is not None
    _replay(kc, answer.lines)
    assert (kc.syms["CONSUMER"].tri_value, kc.syms["LIB"].tri_value) == (2, 1)
    assert ("MODULES", "y") in answer.lines and ("USER_A", "m") in answer.lines


def test_enabled_without_and_unsatisfiable_questions(kc: kconfiglib.Kconfig) -> None:
    view = BaseFormula(kc).view(kc)
    answer = enabled_without(view, "KVM_INTEL", "VIRT")
    assert answer is None  # KVM_INTEL needs KVM, which needs VIRT
    assert reachable(view, "HIDDEN") is None  # nothing selects PD
    off = enabled_without(view, "USER_A", "VFIO")
    assert off is not None
    _replay(kc, off.lines)
    assert kc.syms["USER_A"].tri_value >= 1 and kc.syms["VFIO"].tri_value == 0


def test_a_consumer_made_tristate_can_be_a_module_with_its_provider_on(
    kc: kconfiglib.Kconfig, tmp_path: Path
) -> None:
    base = BaseFormula(kc)
    assert module_with(base.view(kc), "CONSUMER", "VFIO") is None  # bool: never m
    text = KCONFIG.replace(
        'config CONSUMER\n\tbool "consumer"\n',
        'config CONSUMER\n\ttristate "consumer"\n\tdepends on VFIO\n',
    )
    patched = OverlayKconfig(str(tmp_path), {"Kconfig": text}, warn_to_stderr=False)
    answer = module_with(base.view(patched), "CONSUMER", "VFIO")
    assert answer is not None
    _replay(patched, answer.lines)
    assert patched.syms["CONSUMER"].tri_value == 1 and patched.syms["VFIO"].tri_value >= 1


def test_choices_pick_one_member_and_its_selects_count(kc: kconfiglib.Kconfig) -> None:
    view = BaseFormula(kc).view(kc)
    answer = reachable(view, "KVM")
    assert answer is not None
    _replay(kc, answer.lines)
    assert kc.syms["KVM"].tri_value >= 1
    default = reachable(view, "MODE_A")
    assert default is not None and default.lines == ()  # the choice's default member


def test_a_patched_parse_reencodes_only_what_changed(
    kc: kconfiglib.Kconfig, tmp_path: Path
) -> None:
    base = BaseFormula(kc)
    patched_text = KCONFIG.replace("config PD\n\tbool\n", "config PD\n\tbool\n\tdefault y\n")
    patched = OverlayKconfig(str(tmp_path), {"Kconfig": patched_text}, warn_to_stderr=False)
    view = base.view(patched)
    answer = reachable(view, "HIDDEN")
    assert answer is not None and view.reencoded == ["PD"]
    assert reachable(base.view(kc), "HIDDEN") is None


def test_a_witness_is_plain_data_for_a_build_job() -> None:
    from reviewbot.kconfig.facts import Witness

    witness = Witness(
        "unmet-select",
        "KVM_X86",
        "KVM_VFIO",
        True,
        (("KVM", "y"), ("KVM_AMD", "y"), ("VFIO", "n")),
        implied=(("KVM_X86", "y"), ("VFIO", "n")),
    )
    assert witness.config_lines() == (
        "CONFIG_KVM=y",
        "CONFIG_KVM_AMD=y",
        "# CONFIG_VFIO is not set",
    )
    assert witness.text() == "KVM=y KVM_AMD=y VFIO=n (so KVM_X86=y)"


def test_one_solver_per_view_gives_each_question_what_a_fresh_one_gives(
    kc: kconfiglib.Kconfig,
) -> None:
    questions = [
        ("unmet-select", "KVM_X86", "KVM_VFIO"),
        ("builtin-module", "CONSUMER", "LIB"),
        ("enabled-without", "KVM_INTEL", "VIRT"),
        ("enabled-without", "USER_A", "VFIO"),
        ("reachable", "KVM", ""),
        ("reachable", "HIDDEN", ""),
    ]
    shared = BaseFormula(kc).view(kc)
    together = ask(shared, questions)
    for question, answer in together:
        alone = ask(BaseFormula(kc).view(kc), [question])[0][1]
        assert (answer is None) == (alone is None), question
        if answer is not None and alone is not None:
            assert len(answer.lines) == len(alone.lines), question
            _replay(kc, answer.lines)
            kind, subject, other = question
            if kind == "enabled-without":
                assert kc.syms[subject].tri_value >= 1 and kc.syms[other].tri_value == 0


def test_a_view_is_kept_with_its_parse_and_answers_once(
    kc: kconfiglib.Kconfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = BaseFormula(kc)
    patched = OverlayKconfig(str(tmp_path), {"Kconfig": KCONFIG + "\n"}, warn_to_stderr=False)
    assert base.view(kc) is base.view(kc) and base.view(patched) is base.view(patched)
    asked: list[str] = []
    real = solver.QUERIES["unmet-select"]

    def counting(view: solver.FormulaView, subject: str, other: str) -> solver.Answer | None:
        asked.append(subject)
        return real(view, subject, other)

    monkeypatch.setitem(solver.QUERIES, "unmet-select", counting)
    question = [("unmet-select", "KVM_X86", "KVM_VFIO")]
    first = ask(base.view(patched), question)
    again = ask(base.view(patched), question)
    assert first == again and asked == ["KVM_X86"]
    ask(base.view(kc), question)  # another parse: asked again
    assert asked == ["KVM_X86", "KVM_X86"]
