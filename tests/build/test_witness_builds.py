"""A Kconfig link witness built for real: the KC017 fixture's configuration compiled on
x86_64, base vs patched, and the finding saying what the build showed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.build.provider import BuildEvaluator
from reviewbot.config import default_cache_dir
from reviewbot.kconfig.confirm import make_confirm
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from reviewbot.sandbox import bwrap_available
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realtree,
    pytest.mark.skipif(not bwrap_available(), reason="bubblewrap cannot run here"),
]
REPO = Path(__file__).resolve().parents[2]
ARCH = ("x86_64",)


@pytest.fixture(scope="module")
def kconfig(real_tree: Path, real_index: TreeIndex) -> Iterator[KconfigEvaluator]:
    evaluator = KconfigEvaluator(
        real_tree,
        real_index.kconfig_digest,
        make_confirm(real_tree, default_cache_dir()),
        index=real_index,
        only=ARCH,
    )
    yield evaluator
    evaluator.close()


def _review(
    name: str, real_tree: Path, real_index: TreeIndex, kconfig: KconfigEvaluator
) -> tuple[list[Finding], BuildEvaluator]:
    path = REPO / "rules" / name
    series = assemble([parse_mail(r) for r in read_input(path.read_bytes(), path.name)])[0][0]
    builder = BuildEvaluator(real_tree, real_index.key, default_cache_dir(), ARCH, only=ARCH)
    seen: list[str] = []
    original = builder.witness_builds

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcomes = original(*args, **kwargs)
        seen.extend(o.job.steps[0].reason for o in outcomes)
        return outcomes

    builder.witness_builds = spy  # type: ignore[method-assign]
    result = review_series(series, FsTree(real_tree), real_index, RULES, ARCH, kconfig, builder)
    builder.seen = seen  # type: ignore[attr-defined]
    return list(result.findings), builder


def test_a_missing_select_is_confirmed_by_building_its_witness(
    real_tree: Path, real_index: TreeIndex, kconfig: KconfigEvaluator
) -> None:
    findings, builder = _review(
        "KC017/bad/regmap-i2c-without-select.patch", real_tree, real_index, kconfig
    )
    kc017 = [f for f in findings if f.rule == "KC017"]
    assert [(f.path, f.line) for f in kc017] == [("drivers/iio/light/bh1750.c", 257)]
    finding = kc017[0]
    # the patched bh1750.o calls __devm_regmap_init_i2c while REGMAP_I2C=n; the base
    # object does not call it
    assert "(confirmed by a real build: x86_64, drivers/iio/light/bh1750.o)" in finding.message
    shown = next(e for e in finding.evidence if e.startswith("confirmed by a real build"))
    assert "after the patch BH1750=y, REGMAP_I2C=n; the objects reference __devm_regmap" in shown
    assert "before it BH1750=y, REGMAP_I2C=n; the objects reference none" in shown
    command = next(e for e in finding.evidence if e.startswith("build: "))
    assert "scripts/config --file build/.config" in command and "-e BH1750" in command
    assert command.endswith("drivers/iio/light/bh1750.o")
    assert any("enabled-without BH1750 REGMAP_I2C" in r for r in builder.seen)  # type: ignore[attr-defined]


def test_its_fix_has_no_witness_and_builds_nothing_for_it(
    real_tree: Path, real_index: TreeIndex, kconfig: KconfigEvaluator
) -> None:
    findings, builder = _review(
        "KC017/good/regmap-i2c-with-select.patch", real_tree, real_index, kconfig
    )
    assert not [f for f in findings if f.rule in ("KC015", "KC017")]
    assert builder.seen == []  # type: ignore[attr-defined]
