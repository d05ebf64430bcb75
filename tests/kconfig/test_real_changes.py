"""Real accepted Kconfig changes get no new warning-level finding from the Kconfig stage.

The solver-backed rules (KC010-KC022) run with the Kconfig worker and conf, as `reviewbot
check` wires them, on the Kconfig part of real linux-kbuild patches that apply to 6.12 and
on real fixes of Kconfig defects that are in 6.12 (reviewed as the series "revert, fix").
The Debian patches linux-source-6.12 carries are not in the unpacked tree, so they are
not part of this list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from bench._kconfig_common import revert_then_fix, single_series
from reviewbot.config import default_cache_dir
from reviewbot.kconfig.confirm import make_confirm
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, Series, Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex

pytestmark = pytest.mark.realtree
DATA = Path(__file__).resolve().parent.parent / "data"
CHECKED = {"KC010", "KC011", "KC012", "KC013", "KC015", "KC016", "KC017", "KC020", "KC021", "KC022"}
SEVERE = {Severity.WARNING, Severity.ERROR}

# Message-IDs of the real changes (the Kconfig part of each patch), in
# tests/data/kconfig-real-changes.mbox.
REAL_CHANGES = (
    "20251219154418.3592607-3-elver@google.com",
    "20251219154418.3592607-4-elver@google.com",
    "20251230-gcc-rust-v5-v6-3-2ac86ba728c8@isrc.iscas.ac.cn",
    "20251202-inline-helpers-v1-3-879dae33a66a@google.com",
    "20260203-inline-helpers-v2-3-beb8547a03c9@google.com",
    "20251219181825.1289460-1-ihor.solodrai@linux.dev",
    "20251219181321.1283664-6-ihor.solodrai@linux.dev",
    "20251223-uapi-nostdinc-v1-5-d91545d794f7@linutronix.de",
    "20260113-module-hashes-v4-9-0b932db9b56b@weissschuh.net",
    "20260505-module-hashes-v5-2-e174a5a49fce@weissschuh.net",
    "20260316062237.30948-7-sv@linux.ibm.com",
    "20260223-fms-anonymous-structs-v1-2-8ee406d3c36c@kernel.org",
    "20260709163833.3851179-5-sashal@kernel.org",
    "20260314141749.3382679-4-sashal@kernel.org",
    "20260327002433.4138813-1-suzhidao@xiaomi.com",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-2-b3b8cda46bdd@kernel.org",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-4-b3b8cda46bdd@kernel.org",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-5-b3b8cda46bdd@kernel.org",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-7-b3b8cda46bdd@kernel.org",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-9-b3b8cda46bdd@kernel.org",
    "20260517-bump-minimum-supported-llvm-version-to-17-v2-14-b3b8cda46bdd@kernel.org",
    "20260505-module-hashes-v5-7-e174a5a49fce@weissschuh.net",
    "20260518042833.272221-1-enelsonmoore@gmail.com",
    "20260606092501.3200459-1-chenhuacai@loongson.cn",
    "20260708-vdso-sysfs-v1-1-fcd93385006d@linutronix.de",
    "20251120145835.3833031-4-elver@google.com",
    "20251120145835.3833031-5-elver@google.com",
    "20251124-gcc-rust-v4-v4-3-4e06e07421ae@gmail.com",
    "20251202-inline-helpers-v1-4-879dae33a66a@google.com",
    "20251204-gcc-rust-v5-v5-3-2d4f20d86c24@gmail.com",
    "20251205223046.4155870-5-ihor.solodrai@linux.dev",
    "20260307172022.460402-5-sashal@kernel.org",
    "20260504153401.2416391-5-sashal@kernel.org",
    "20260505084628.17940-7-sv@linux.ibm.com",
)
# Real fixes already in 6.12: reviewed as "revert, fix" so the fix lands on a tree without it.
REAL_FIXES = (
    "20240612050257.3670768-1-masahiroy@kernel.org",
    "20220912065210.7932-1-masahiroy@kernel.org",
    "20200121100150.31660-1-geert+renesas@glider.be",
)


def _mails(name: str) -> dict[str, Message]:
    path = DATA / name
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), str(path))]
    return {m.message_id: m for m in messages}


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


def _findings(
    series: Series,
    real_tree: Path,
    real_index: TreeIndex,
    evaluator: KconfigEvaluator,
    patch: str | None = None,
) -> list[str]:
    def pinned(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
        # the arch the patch touches, and x86_64 (arm64 is left out to keep the test short)
        arches = tuple(a for a in plan.arches if a != "arm64") or ("x86_64",)
        return evaluator(replace(plan, arches=arches[:2]))

    result = review_series(series, FsTree(real_tree), real_index, RULES, (), pinned)
    assert not [f for f in result.findings if f.rule in ("RB000", "RB002")], result.findings
    return [
        f"{f.rule} {f.path}:{f.line} {f.severity}: {f.message}"
        for f in result.findings
        if f.rule in CHECKED and f.severity in SEVERE and (patch is None or f.patch == patch)
    ]


def test_the_list_is_at_least_thirty_real_changes() -> None:
    mails = _mails("kconfig-real-changes.mbox")
    assert set(REAL_CHANGES) <= set(mails)
    assert len(set(REAL_CHANGES)) + len(REAL_FIXES) >= 30


@pytest.mark.parametrize("message_id", REAL_CHANGES)
def test_real_change_gets_no_warning(
    message_id: str, real_tree: Path, real_index: TreeIndex, evaluator: KconfigEvaluator
) -> None:
    message = _mails("kconfig-real-changes.mbox")[message_id]
    assert _findings(single_series(message), real_tree, real_index, evaluator) == []


@pytest.mark.parametrize("message_id", REAL_FIXES)
def test_real_fix_gets_no_warning(
    message_id: str, real_tree: Path, real_index: TreeIndex, evaluator: KconfigEvaluator
) -> None:
    fix = _mails("kbuild-kconfig-fix-positives.mbox")[message_id]
    # findings on the revert (patch 1) are the defect coming back; the fix must add none
    found = _findings(revert_then_fix(fix), real_tree, real_index, evaluator, patch=fix.message_id)
    assert found == []
