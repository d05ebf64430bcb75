"""Evaluated Kconfig rules on hand-made deltas (the real-tree cases are the fixtures)."""

from __future__ import annotations

from reviewbot.analysis.view import DictTree
from reviewbot.kconfig.facts import KconfigDelta, KconfigFacts
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from tests.helpers import index_of, mail

KCONFIG = 'config A\n\tbool "A"\n\tdepends on B\n\nconfig B\n\tbool "B"\n\nconfig C\n\tbool "C"\n'
PATCH = """\
--- a/Kconfig
+++ b/Kconfig
@@ -5,5 +5,7 @@ config A
 config B
 \tbool "B"
+\tdepends on C
{blank}
 config C
 \tbool "C"
+\tdepends on A
""".format(blank=" ")


def test_a_loop_named_differently_per_arch_is_one_finding() -> None:
    # kconfiglib names the loop its set order meets first, so two arches (or two runs)
    # can name different loops through the same added line: one finding, not two.
    loops = {
        "x86_64": (("A", "Kconfig", 1), ("B", "Kconfig", 5), ("C", "Kconfig", 9)),
        "arm64": (("B", "Kconfig", 5), ("C", "Kconfig", 9), ("A", "Kconfig", 1), ("D", "K", 3)),
    }

    def provider(plan: KconfigPlan) -> dict[str, KconfigDelta]:
        return {
            arch: KconfigDelta(
                arch, KconfigFacts(arch), KconfigFacts(arch, error="loop", loop=loop)
            )
            for arch, loop in loops.items()
        }

    files = {"Kconfig": KCONFIG}
    series, _ = assemble([parse_mail(r) for r in read_input(mail(PATCH), "t")])
    result = review_series(series[0], DictTree(files), index_of(files), RULES, (), provider)
    found = [f for f in result.findings if f.rule == "KC010"]
    assert len(found) == 1, found
    assert (found[0].path, found[0].line) == ("Kconfig", 7)
