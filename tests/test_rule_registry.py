"""The meta-test: every rule has its doc and fixtures, and the fixtures hold on the real tree."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot.build.executor import LocalExecutor
from reviewbot.build.kbuild_plan import WARM_CONFIG
from reviewbot.build.matrix import load_matrix
from reviewbot.build.provider import BuildEvaluator, RunMany, executor_runner
from reviewbot.build.warm import ensure_warm
from reviewbot.config import default_cache_dir
from reviewbot.kconfig.confirm import make_confirm, make_parse_check
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.rules.engine import review_series
from reviewbot.rules.fixtures import Expectation, Fixture, load_fixtures, resolve
from reviewbot.rules.registry import RULES
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fs import FsTree
from reviewbot.tree.identity import kernel_release
from reviewbot.tree.index import TreeIndex

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
SECTIONS = ("## What it checks", "## Why it matters", "## Example", "## Fix", "## Limits")
# A crash cannot be provoked by a patch (tested in tests/rules/test_engine.py); a Kconfig
# evaluation failure needs a worker killed by its limits (tests/kconfig/test_provider.py).
NO_BAD_FIXTURE = {"RB000", "RB003", "RB004"}  # made by the engine at a limit


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_doc(rule: object) -> None:
    doc = RULES_DIR / rule.id / "README.md"  # type: ignore[attr-defined]
    assert doc.is_file(), f"missing {doc}"
    text = doc.read_text()
    assert text.startswith(f"# {rule.id} {rule.name}"), "doc must open with '# ID name'"  # type: ignore[attr-defined]
    for section in SECTIONS:
        assert section in text, f"{doc}: missing section {section!r}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_fixtures(rule: object) -> None:
    rule_id = rule.id  # type: ignore[attr-defined]
    good = list((RULES_DIR / rule_id / "good").glob("*.patch"))
    bad = list((RULES_DIR / rule_id / "bad").glob("*.patch"))
    assert good, f"{rule_id}: no good fixture"
    if rule_id not in NO_BAD_FIXTURE:
        assert bad, f"{rule_id}: no bad fixture"


def test_every_rule_dir_is_registered() -> None:
    ids = {r.id for r in RULES}
    dirs = {p.name for p in RULES_DIR.iterdir() if p.is_dir()}
    assert dirs <= ids, f"rule directories without a rule: {sorted(dirs - ids)}"


FIXTURES = load_fixtures(RULES_DIR)
MATRIX = load_matrix()


@pytest.fixture(scope="session")
def evaluator(real_tree: Path, real_index: TreeIndex) -> Iterator[KconfigEvaluator]:
    """One warm Kconfig evaluator for every fixture (base parses stay cached)."""
    cache = default_cache_dir()
    warm = KconfigEvaluator(
        real_tree,
        real_index.kconfig_digest,
        make_confirm(real_tree, cache),
        parse_check=make_parse_check(real_tree, cache),
        index=real_index,
    )
    yield warm
    warm.close()


@pytest.fixture(scope="session")
def build_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMany]:
    """Builds as `reviewbot check --build` runs them: recorded, on a local process pool."""
    store_path = tmp_path_factory.mktemp("jobs") / "jobs.sqlite"
    with LocalExecutor(2) as executor, JobStore.open(store_path) as store:
        yield executor_runner(executor, store)


@pytest.mark.realtree
@pytest.mark.parametrize(
    "fixture", FIXTURES, ids=lambda f: f"{f.rule}/{f.path.parent.name}/{f.path.name}"
)
def test_fixture(
    fixture: Fixture,
    real_tree: Path,
    real_index: TreeIndex,
    evaluator: KconfigEvaluator,
    request: pytest.FixtureRequest,
) -> None:
    assert fixture.bad == bool(fixture.expected), "bad fixtures declare findings, good ones none"
    release = kernel_release(real_tree)
    elsewhere = ""
    if fixture.tree and fixture.tree != release:
        elsewhere = (
            f"{fixture.path.name} depends on Linux {fixture.tree} (it says `Tree: "
            f"{fixture.tree}`); the checked tree is Linux {release or 'of unknown release'}\n"
        )
    messages = [parse_mail(raw) for raw in read_input(fixture.path.read_bytes(), str(fixture.path))]
    series_list, _ = assemble(messages)
    assert series_list, "fixture holds no patch"

    def pinned(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
        return evaluator(replace(plan, arches=fixture.arches))

    # Build rules (BLD*) run real cross-builds, pinned to the fixture's arches. Link
    # checks (BLD006) need the warm full build of the smallest config, made once here.
    if fixture.rule == "BLD006":
        for arch in fixture.arches:
            ensure_warm(real_tree, real_index.key, MATRIX[arch], WARM_CONFIG, default_cache_dir())
    builder = (
        BuildEvaluator(
            real_tree,
            real_index.key,
            default_cache_dir(),
            fixture.arches,
            only=fixture.arches,
            run_many=request.getfixturevalue("build_runner"),
            link=fixture.rule == "BLD006",
        )
        if fixture.rule.startswith("BLD")
        else None
    )
    results = [
        review_series(series, FsTree(real_tree), real_index, RULES, (), pinned, builder)
        for series in series_list
    ]
    findings = [f for result in results for f in result.findings]
    if fixture.at_offset:
        assert any(r.offsets for r in results), "an offset fixture must apply at an offset"
    checked = {fixture.rule} | {e.rule for e in fixture.expected}
    if not any(e.rule == "RB002" for e in fixture.expected):
        assert not [f for f in findings if f.rule == "RB002"], (
            f"{elsewhere}fixture must apply to Linux {release}"
        )
    crashes = [f for f in findings if f.rule == "RB000"]
    assert not crashes, crashes
    got = {Expectation(f.rule, f.path, f.line) for f in findings if f.rule in checked}
    patches = [patch for series in series_list for patch in series.patches]
    # Declared lines follow their hunks to where they applied on this tree.
    expected = resolve(fixture.expected, patches, FsTree(real_tree))
    assert got == set(expected), elsewhere + "\n".join(
        f"{f.rule} {f.path}:{f.line} {f.severity}: {f.message}"
        for f in findings
        if f.rule in checked
    )
    # A build finding carries the exact failing commands and the first lines of output.
    for finding in findings:
        if finding.rule.startswith("BLD") and finding.rule in checked:
            assert "Reproduce: make O=build ARCH=" in finding.message, finding.message
            assert finding.evidence, f"{finding.rule} {finding.path}: no output quoted"
