"""Solver witnesses on the real tree are confirmed by the kernel's conf (as findings say)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot.config import default_cache_dir
from reviewbot.kconfig.confirm import make_confirm
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.fixtures import load_fixtures
from reviewbot.rules.registry import RULES
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

pytestmark = pytest.mark.realtree
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
CONFIRMED = {
    "KC011/bad/bsg-common-narrowed-if-scsi.patch",
    "KC011/bad/seed-kvm-arches-select-kvm-vfio-again.patch",
    "KC021/bad/acpi-hmat-tristate-calls-srat-internals.patch",
    "KC021/bad/adxl313-i2c-drops-select-regmap-i2c.patch",
    "KC021/bad/blk-mq-pci-narrowed-if-smp.patch",
    "KC021/bad/x509-parser-modular-under-builtin-keyring.patch",
}


@pytest.fixture(scope="module")
def evaluator(real_tree: Path, real_index: TreeIndex) -> Iterator[KconfigEvaluator]:
    warm = KconfigEvaluator(
        real_tree,
        real_index.kconfig_digest,
        make_confirm(real_tree, default_cache_dir()),
        index=real_index,
    )
    yield warm
    warm.close()


@pytest.mark.parametrize("name", sorted(CONFIRMED))
def test_the_witness_of_each_finding_is_confirmed_by_conf(
    name: str, real_tree: Path, real_index: TreeIndex, evaluator: KconfigEvaluator
) -> None:
    (fixture,) = [
        f
        for f in load_fixtures(RULES_DIR)
        if f"{f.rule}/{f.path.parent.name}/{f.path.name}" == name
    ]
    messages = [parse_mail(raw) for raw in read_input(fixture.path.read_bytes(), str(fixture.path))]

    def pinned(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
        return evaluator(replace(plan, arches=fixture.arches))

    findings: list[Finding] = [
        f
        for series in assemble(messages)[0]
        for f in review_series(series, FsTree(real_tree), real_index, RULES, (), pinned).findings
        if f.rule == fixture.rule
    ]
    assert len(findings) == len(fixture.expected)
    for finding in findings:
        # warning (not info) means conf printed what the witness claims
        assert finding.severity is Severity.WARNING, finding
        assert "confirmed by scripts/kconfig/conf olddefconfig" in finding.evidence
