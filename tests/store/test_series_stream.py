"""Series assembly on a stream: every case of patchwork's series fixtures, one test each.

Each case is fed twice: the whole mailbox in one pass, and one message per pass (as a
list stream delivers it); both must give the same revisions. Expectations follow
patchwork's own tests (patchwork/tests/test_series.py) for the same mailboxes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reviewbot.mail.mbox import split_mbox
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from reviewbot.store.series import assemble_pending, load_series
from reviewbot.store.store import Incoming, Store

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"
NOW = 1_800_000_000.0
HOLD = 600.0
# A lore link for the Depends-on: lines of the dependency-* templates.
DEPENDS = "https://lore.kernel.org/r/20240610210912.161735-1-ahassick@iol.unh.edu"


_OPEN: list[Store] = []


@pytest.fixture(autouse=True)
async def _close_stores() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


@dataclass(frozen=True, order=True)
class Rev:
    version: int
    total: int
    parts: tuple[int, ...]
    cover: bool
    state: str


def _mails(name: str) -> list[bytes]:
    data = (SERIES / name).read_bytes()
    if name.endswith(".template"):
        text = data.decode()
        data = text.format(
            depends_token=DEPENDS, depends_token_1=DEPENDS, depends_token_2=DEPENDS + "2"
        ).encode()
    return [raw.data for raw in split_mbox(data, name)]


def _incoming(raw: bytes) -> Incoming:
    return Incoming(parse_mail(RawMail(raw, "test")).message_id, raw, source="test")


async def _revisions(store: Store) -> list[tuple[int, Rev]]:
    rows = await store.fetchall(
        "SELECT r.id, r.series_id, r.version, r.total, r.cover_message_id IS NOT NULL, r.state,"
        " (SELECT json_group_array(number) FROM"
        "   (SELECT number FROM patches WHERE revision_id = r.id ORDER BY number))"
        " FROM revisions r ORDER BY r.id"
    )
    return [
        (int(series), Rev(int(v), int(t), tuple(json.loads(p)), bool(c), str(s)))
        for _, series, v, t, c, s, p in rows
    ]


async def _feed(tmp_path: Path, name: str, one_by_one: bool) -> tuple[Store, list[int]]:
    store = await Store.open(tmp_path / f"{name}-{one_by_one}.db")
    _OPEN.append(store)
    mails = [_incoming(raw) for raw in _mails(name)]
    queued: list[int] = []
    if one_by_one:
        for item in mails:
            await store.add_messages([item])
            queued += await assemble_pending(store, NOW, HOLD)
    else:
        await store.add_messages(mails)
        queued += await assemble_pending(store, NOW, HOLD)
    return store, queued


async def assemble(tmp_path: Path, name: str) -> tuple[list[Rev], list[int], Store]:
    """Revisions (in creation order) and their series grouping; both feeds must agree."""
    results = []
    for one_by_one in (False, True):
        store, queued = await _feed(tmp_path, name, one_by_one)
        revs = await _revisions(store)
        results.append((revs, queued, store))
    (a, _, sa), (b, _, _) = results
    assert sorted(r for _, r in a) == sorted(r for _, r in b), "stream and batch disagree"
    groups = {series: i for i, (series, _) in enumerate(reversed(a))}
    return [r for _, r in a], [groups[s] for s, _ in a], sa


def q(version: int, total: int, parts: tuple[int, ...], cover: bool) -> Rev:
    return Rev(version, total, parts, cover, "queued")


def waiting(version: int, total: int, parts: tuple[int, ...], cover: bool) -> Rev:
    return Rev(version, total, parts, cover, "assembling")


async def test_base_single_patch(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "base-single-patch.mbox")
    assert revs == [q(1, 1, (1,), False)]
    series = await load_series(store, 1)
    assert series.complete and len(series.patches) == 1 and series.cover is None


async def test_base_cover_letter(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "base-cover-letter.mbox")
    assert revs == [q(1, 2, (1, 2), True)]
    series = await load_series(store, 1)
    assert series.subject == "A sample series" and series.cover is not None


async def test_base_no_cover_letter(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "base-no-cover-letter.mbox")
    assert revs == [q(1, 2, (1, 2), False)]


async def test_base_deep_threaded(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "base-deep-threaded.mbox")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_base_out_of_order(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "base-out-of-order.mbox")
    assert revs == [q(1, 2, (1, 2), True)]
    series = await load_series(store, 1)
    assert [p.tags.number for p in series.patches] == [1, 2]


async def test_base_different_versions(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "base-different-versions.mbox")
    assert revs == [q(3, 4, (1, 2, 3, 4), True)]


async def test_bugs_multiple_references(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "bugs-multiple-references.mbox")
    assert revs == [q(2, 4, (1, 2, 3, 4), True)]


async def test_base_no_references(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "base-no-references.mbox")
    assert revs == [q(2, 2, (1, 2), False)]


async def test_base_no_references_no_cover(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "base-no-references-no-cover.mbox")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_bugs_multiple_content_types(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "bugs-multiple-content-types.mbox")
    assert revs == [q(1, 1, (1,), False)]
    assert await store.message_counts() == {"patch": 1, "reply": 1}


async def test_revision_basic(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-basic.mbox")
    assert revs == [q(1, 2, (1, 2), True), q(2, 2, (1, 2), True)]
    assert groups[0] == groups[1]  # v1 -> v2 of one series


async def test_revision_threaded_to_single_patch(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-threaded-to-single-patch.mbox")
    assert revs == [q(1, 1, (1,), False), q(2, 1, (1,), False)]
    assert groups[0] == groups[1]


async def test_revision_threaded_to_cover(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-threaded-to-cover.mbox")
    assert revs == [q(1, 2, (1, 2), True), q(2, 2, (1, 2), True)]
    assert groups[0] == groups[1]


async def test_revision_threaded_to_patch(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-threaded-to-patch.mbox")
    assert revs == [q(1, 2, (1, 2), True), q(2, 2, (1, 2), True)]
    assert groups[0] == groups[1]


async def test_revision_out_of_order(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-out-of-order.mbox")
    assert sorted(revs, key=lambda r: r.version) == [q(1, 2, (1, 2), True), q(2, 2, (1, 2), True)]
    assert groups[0] == groups[1]


async def test_revision_no_cover_letter(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "revision-no-cover-letter.mbox")
    assert revs == [q(1, 2, (1, 2), True), q(2, 2, (1, 2), False)]


async def test_revision_unlabeled(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "revision-unlabeled.mbox")
    assert revs == [q(1, 2, (1, 2), True), q(1, 2, (1, 2), True)]
    assert groups[0] == groups[1]


async def test_revision_unlabeled_noreferences(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "revision-unlabeled-noreferences.mbox")
    assert revs == [q(2, 2, (1, 2), False), q(2, 2, (1, 2), False)]


async def test_bugs_unnumbered(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "bugs-unnumbered.mbox")
    assert revs == [waiting(1, 2, (1,), True), q(1, 1, (1,), False)]


async def test_bugs_nocover_noversion(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "bugs-nocover-noversion.mbox")
    assert revs == [q(1, 2, (1, 2), False), q(1, 2, (1, 2), False)]


async def test_bugs_nocover(tmp_path: Path) -> None:
    revs, groups, _ = await assemble(tmp_path, "bugs-nocover.mbox")
    assert revs == [q(1, 2, (1, 2), False), q(2, 2, (1, 2), False)]
    assert groups[0] == groups[1]


async def test_bugs_spamming(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "bugs-spamming.mbox")
    assert revs == [waiting(2, 4, (1,), False)] * 3


async def test_bugs_mixed_versions(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "bugs-mixed-versions.mbox")
    assert revs == [waiting(1, 2, (1,), False), waiting(2, 2, (2,), False)]


async def test_base_incomplete(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "base-incomplete.mbox")
    assert revs == [waiting(1, 2, (1,), True)]
    assert await assemble_pending(store, NOW + HOLD - 1, HOLD) == []
    assert await assemble_pending(store, NOW + HOLD, HOLD) == [1]  # partial at its deadline
    series = await load_series(store, 1)
    assert series.missing == (2,) and not series.complete


async def test_base_extra_patches(tmp_path: Path) -> None:
    revs, _, store = await assemble(tmp_path, "base-extra-patches.mbox")
    assert revs == [q(1, 2, (1, 2, 3), True)]
    assert (await load_series(store, 1)).complete


async def test_mercurial_cover_letter(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "mercurial-cover-letter.mbox")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_mercurial_no_cover_letter(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "mercurial-no-cover-letter.mbox")
    assert revs == [q(1, 2, (1, 2), False)]


async def test_dependency_base_patch(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "dependency-base-patch.mbox")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_dependency_multi(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "dependency-multi.mbox.template")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_dependency_multi_2(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "dependency-multi-2.mbox.template")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_dependency_one_cover(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "dependency-one-cover.mbox.template")
    assert revs == [q(1, 2, (1, 2), True)]


async def test_dependency_one_first_patch(tmp_path: Path) -> None:
    revs, _, _ = await assemble(tmp_path, "dependency-one-first-patch.mbox.template")
    assert revs == [q(1, 2, (1, 2), True)]


# -- beyond patchwork's cases: late parts, replies, bots ---------------------------------


async def test_a_late_part_of_a_reviewed_revision_queues_it_again(tmp_path: Path) -> None:
    store, _ = await _feed(tmp_path, "base-incomplete.mbox", one_by_one=False)
    assert await assemble_pending(store, NOW + HOLD, HOLD) == [1]
    async with store.transaction() as tx:  # as the reviewer leaves it
        await tx.execute("UPDATE revisions SET state = 'reviewed', reviewed_generation = 0")
    late = _mails("base-cover-letter.mbox")[2]  # the 2/2 that base-incomplete lacks
    await store.add_messages([_incoming(late)])
    assert await assemble_pending(store, NOW + HOLD + 5, HOLD) == [1]
    row = await store.fetchone("SELECT state, generation, complete FROM revisions WHERE id = 1")
    assert tuple(row) == ("queued", 1, 1)
    assert (await load_series(store, 1)).complete


REPLY = b"""From: Reviewer <rev@example.org>
To: linux-kbuild@vger.kernel.org
Subject: Re: [PATCH 1/2] test: Add some lorem ipsum
Message-ID: <reply-1@example.org>
In-Reply-To: <1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>
References: <1473632524-8585-1-git-send-email-stephenfinucane@gmail.com>
 <1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>

> Reviewed-by: Someone Quoted <quoted@example.org>

Looks fine.

Reviewed-by: Reviewer <rev@example.org>
Acked-by: Other <other@example.org>
"""

ROBOT = b"""From: kernel test robot <lkp@intel.com>
To: linux-kbuild@vger.kernel.org
Subject: Re: [PATCH 1/2] test: Add some lorem ipsum
Message-ID: <robot-1@intel.com>
In-Reply-To: <1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>

Hi, kernel test robot noticed the following build errors:
"""

OURS = b"""From: Review Bot <bot@example.org>
X-Reviewbot: 1
Subject: [PATCH] not ours to review
Message-ID: <ours-1@example.org>

diff --git a/x b/x
--- a/x
+++ b/x
@@ -1 +1 @@
-a
+b
"""


async def test_replies_keep_their_trailers_and_bots_are_skipped(tmp_path: Path) -> None:
    store, _ = await _feed(tmp_path, "base-cover-letter.mbox", one_by_one=False)
    await store.add_messages([_incoming(m) for m in (REPLY, ROBOT, OURS)])
    await assemble_pending(store, NOW, HOLD)
    row = await store.fetchone(
        "SELECT parent_message_id, revision_id, trailers FROM replies WHERE message_id = ?",
        ("reply-1@example.org",),
    )
    assert row[0] == "1473632524-8585-2-git-send-email-stephenfinucane@gmail.com"
    assert row[1] == 1
    assert json.loads(row[2]) == [
        ["Reviewed-by", "Reviewer <rev@example.org>"],
        ["Acked-by", "Other <other@example.org>"],
    ]
    robot = await store.message("robot-1@intel.com")
    ours = await store.message("ours-1@example.org")
    assert robot is not None and robot.kind == "skipped" and "lkp@intel.com" in robot.reason
    assert ours is not None and ours.kind == "skipped" and "x-reviewbot" in ours.reason
    assert len(await _revisions(store)) == 1  # the bot's diff did not become a series
