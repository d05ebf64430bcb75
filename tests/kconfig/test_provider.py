"""The sandboxed worker on the real tree: witnesses, loops, limits, and RB003."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reviewbot.budget import BudgetExceeded
from reviewbot.kconfig.client import KconfigClient, worker_pid, worker_rss_kb
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex
from tests.helpers import mail

pytestmark = pytest.mark.realtree


def test_worker_finds_the_kvm_vfio_witness_only_after_the_patch(real_tree: Path) -> None:
    text = (real_tree / "virt/kvm/Kconfig").read_text()
    patched = text.replace(
        "config KVM_VFIO\n       bool", "config KVM_VFIO\n       bool\n       depends on VFIO"
    )
    assert patched != text
    with KconfigClient(real_tree) as client:
        delta = client.evaluate(
            "arm64",
            "t",
            {"virt/kvm/Kconfig": patched},
            ["KVM_VFIO", "KVM"],
            [("unmet-select", "KVM", "KVM_VFIO")],
        )
    (after,) = delta.patched.witnesses
    (before,) = delta.base.witnesses
    values = dict(after.implied) | dict(after.assignments)
    assert after.found and values["VFIO"] == "n" and values["KVM"] == "y"
    # minimal: only what a .config must say (VFIO=n is the default)
    assert ("VFIO", "n") not in after.assignments and len(after.assignments) <= 3
    assert not before.found
    assert delta.patched.symbols["KVM_VFIO"].direct_dep == "VFIO"


def test_shell_in_patched_kconfig_is_sandboxed(real_tree: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"config EVIL\n\tdef_bool $(shell,touch {marker} && echo y || echo n)\n"
    text = (real_tree / "init/Kconfig").read_text() + hostile
    with KconfigClient(real_tree) as client:
        assert client.sandboxed
        delta = client.evaluate("x86_64", "t", {"init/Kconfig": text}, ["EVIL"])
    assert "EVIL" in delta.patched.symbols
    assert not marker.exists()


def test_a_hanging_shell_is_killed_and_reported(real_tree: Path, real_index: TreeIndex) -> None:
    hanging = "config SLOW\n\tdef_bool $(shell,sleep 600; echo y)\n"
    text = (real_tree / "init/Kconfig").read_text() + hanging
    with (
        KconfigClient(real_tree, timeout=15) as client,
        pytest.raises(BudgetExceeded, match="budget"),
    ):
        client.evaluate("x86_64", "t", {"init/Kconfig": text}, ["SLOW"])

    # Through the engine the patch's review is incomplete: an RB004 warning, never a
    # silent clean; the static rules still run.
    lines = (real_tree / "init/Kconfig").read_text().split("\n")
    start = len(lines) - 3
    patch = (
        "--- a/init/Kconfig\n+++ b/init/Kconfig\n"
        f"@@ -{start},3 +{start},5 @@\n"
        + "".join(f" {t}\n" for t in lines[-4:-1])
        + "+config SLOW\n+\tdef_bool $(shell,sleep 600; echo y)\n"
    )

    def provider(plan: KconfigPlan) -> dict[str, KconfigDelta]:
        with KconfigClient(real_tree, timeout=15) as client:
            return {"x86_64": client.evaluate("x86_64", "t", plan.after, plan.names)}

    series, _ = assemble([parse_mail(r) for r in read_input(mail(patch), "t")])
    result = review_series(series[0], FsTree(real_tree), real_index, RULES, (), provider)
    incomplete = [f for f in result.findings if f.rule == "RB004"]
    assert len(incomplete) == 1 and incomplete[0].severity is Severity.WARNING
    assert "Kconfig" in incomplete[0].message


def test_the_worker_outlives_the_callers_threads(real_tree: Path) -> None:
    """bwrap --die-with-parent fires when the forking *thread* exits: callers' pools
    (the evaluator's, aiohttp's, Dask's) must not take the warm worker with them."""
    with KconfigClient(real_tree) as client:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(client.evaluate, "x86_64", "t", {}, ["MODULES"]).result()
        first = worker_pid(client)
        assert first is not None
        rss = worker_rss_kb(client)
        assert rss is not None and rss > 50_000, "the python worker holding a parse, not bwrap"
        time.sleep(1.0)  # a PDEATHSIG kill would land by now
        assert worker_pid(client) == first
        with ThreadPoolExecutor(1) as pool:
            delta = pool.submit(client.evaluate, "x86_64", "t", {}, ["MODULES"]).result()
        assert worker_pid(client) == first
        assert "MODULES" in delta.base.symbols
