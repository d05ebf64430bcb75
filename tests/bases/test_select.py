"""Base selection on a local remote made from the 6.12 tree, unit and through the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.analysis.view import DictTree
from reviewbot.bases.git import Git
from reviewbot.bases.gitindex import BlobFacts
from reviewbot.bases.select import Head, applies, choose
from reviewbot.bases.view import GitTree
from reviewbot.bases.worktrees import Worktrees
from reviewbot.cli import main
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail, Series
from reviewbot.review import BaseKind
from tests.bases.conftest import NEXT_LINE, OLD_LINE, Remote
from tests.helpers import diff_of
from tests.servekit import db, patch_mail, write_config

IRQ = "drivers/misc/dummy-irq.c"
MAKEFILE = "drivers/misc/Makefile"
NEW_LINE = " * Dummy IRQ handler driver, for debugging spurious interrupts.\n"


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def _diffs(remote: Remote) -> dict[str, str]:
    """Patches named by the bases they apply to."""
    irq = remote.files[IRQ]
    next_irq = _edit(irq, OLD_LINE, NEXT_LINE)
    makefile = remote.files[MAKEFILE]
    return {
        "next-only": diff_of(IRQ, next_irq, _edit(next_irq, NEXT_LINE, NEW_LINE)),
        "master-only": diff_of(IRQ, irq, _edit(irq, OLD_LINE, NEW_LINE)),
        "both": diff_of(
            MAKEFILE, makefile, _edit(makefile, "dummy-irq.o\n", "dummy-irq.o\n# debug aid\n")
        ),
        "none": diff_of(IRQ, irq.replace("Jiri", "J."), irq.replace("Jiri", "J. K.")),
    }


def _series(name: str, diff: str, base: str | None = None) -> tuple[str, bytes]:
    body = diff + (f"\nbase-commit: {base}\n" if base else "")
    msgid = f"{name}@example.org"
    sender = f"{name} <{name}@example.org>"
    return msgid, patch_mail(msgid, f"[PATCH] misc: {name}", body, None, sender)


def _parsed(raw: bytes) -> Series:
    message = parse_mail(RawMail(raw, "test"))
    return Series(
        message.message_id, message.subject, 1, 1, (message,), None, (), message.base_commit
    )


def test_applies_and_choose_order_pure(remote: Remote) -> None:
    diffs = _diffs(remote)
    master = DictTree(remote.files)
    nxt = DictTree({**remote.files, IRQ: _edit(remote.files[IRQ], OLD_LINE, NEXT_LINE)})
    views = {"m": master, "n": nxt}
    heads = [Head("master", "m", 1), Head("next", "n", 2)]

    def known(rev: str) -> str | None:
        return "m" if rev == "abc1234" else None

    def pick(name: str, base: str | None = None) -> tuple[BaseKind, str]:
        choice = choose(
            _parsed(_series(name, diffs[name], base)[1]), known, heads, views.__getitem__
        )
        return choice.kind, choice.ref

    assert applies(_parsed(_series("both", diffs["both"])[1]), master)
    assert not applies(_parsed(_series("next-only", diffs["next-only"])[1]), master)
    assert pick("next-only") == (BaseKind.BRANCH, "next")
    assert pick("master-only") == (BaseKind.BRANCH, "master")
    assert pick("both") == (BaseKind.BRANCH, "next")  # the newest head it applies to
    assert pick("both", "abc1234") == (BaseKind.TRAILER, "base-commit")
    assert pick("master-only", "def5678") == (BaseKind.BRANCH, "master")  # unknown object
    assert pick("none") == (BaseKind.DEFAULT, "")


def test_git_view_index_and_worktrees(remote: Remote, tmp_path: Path) -> None:
    git = Git(remote.path / ".git")
    try:
        view = GitTree(git, remote.next, git.ls_tree(remote.next))
        assert view.read(IRQ) == _edit(remote.files[IRQ], OLD_LINE, NEXT_LINE)
        assert view.read("drivers/misc/missing.c") is None
        assert view.exists("drivers/misc") and not view.exists("drivers/net")
        assert view.listdir("drivers/misc") == ("Kconfig", "Makefile", "dummy-irq.c")
        assert git.resolve(remote.master[:12]) == remote.master
        assert git.resolve("0" * 40) is None and git.resolve("--all") is None

        blobs = BlobFacts(tmp_path / "cache")
        index = blobs.index(git, remote.master)
        assert index.types_of("DUMMY_IRQ") == {"tristate"}
        assert index.builders_of("drivers/misc/dummy-irq.o")[0].config == "DUMMY_IRQ"
        assert blobs.last_read == 4
        blobs.save()
        reloaded = BlobFacts(tmp_path / "cache")
        again = reloaded.index(git, remote.next)
        assert again.kconfig_digest == index.kconfig_digest  # same Kconfig files
        # next changed only dummy-irq.c: one blob read, the rest known from master's
        assert reloaded.last_read == 1
        assert again.types_of("DUMMY_IRQ") == {"tristate"}

        trees = Worktrees(git, tmp_path / "wt", limit=1)
        first = trees.get(remote.master)
        assert (first / IRQ).read_text() == remote.files[IRQ]
        moved = trees.get(remote.next)  # the least recently used one is moved
        assert moved == first and NEXT_LINE in (moved / IRQ).read_text()
    finally:
        git.close()


def test_a_blob_over_the_limit_is_skipped_and_the_next_read_still_works(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reviewbot.bases.git as gitmod

    git = Git(remote.path / ".git")
    try:
        entries = git.ls_tree(remote.master)
        big = entries["drivers/misc/Kconfig"][1]  # ~20 kB: over a 3000-byte limit
        monkeypatch.setattr(gitmod, "MAX_BLOB_BYTES", 3000)
        monkeypatch.setattr(gitmod, "CHUNK", 1024)  # skipped in several reads
        for _ in range(2):
            assert git.read_blob(big) is None
            small = git.read_blob(entries["Kconfig"][1])
            assert small is not None and small.decode() == remote.files["Kconfig"]
        assert git.read_blob("0" * 40) is None  # missing: no answer body to skip
        assert git.read_blob(entries["Kconfig"][1]) is not None
    finally:
        git.close()


def test_service_reviews_each_series_on_its_base(remote: Remote, tmp_path: Path) -> None:
    diffs = _diffs(remote)
    spool = tmp_path / "spool"
    spool.mkdir()
    mails = [
        _series("next-only", diffs["next-only"]),
        _series("master-only", diffs["master-only"]),
        _series("both", diffs["both"]),
        _series("trailer", diffs["both"], remote.master),
        _series("unknown-trailer", diffs["master-only"], "0123456789ab"),
        _series("none", diffs["none"]),
    ]
    for number, (_, raw) in enumerate(mails):
        (spool / f"{number:04d}.eml").write_bytes(raw)
    extra = f'[lists.foo.repo]\nremote = "{remote.path}"\nbranches = ["master", "next"]\n'
    config = write_config(tmp_path, spool, extra=extra)
    assert main(["serve", "--config", str(config), "--once"]) == 0
    with db(tmp_path / "service.sqlite") as conn:
        rows = conn.execute(
            "SELECT v.head_message_id, r.base_kind, r.base_ref, r.base_commit, r.summary"
            " FROM reviews r JOIN revisions v ON v.id = r.revision_id"
        ).fetchall()
        not_applying = {
            mid
            for (mid,) in conn.execute(
                "SELECT v.head_message_id FROM findings f JOIN reviews r ON r.id = f.review_id"
                " JOIN revisions v ON v.id = r.revision_id WHERE f.name = 'patch-does-not-apply'"
            )
        }
    got = {mid.split("@")[0]: (kind, ref, commit) for mid, kind, ref, commit, _ in rows}
    assert got == {
        "next-only": ("branch", "next", remote.next),
        "master-only": ("branch", "master", remote.master),
        "both": ("branch", "next", remote.next),
        "trailer": ("trailer", "base-commit", remote.master),
        "unknown-trailer": ("branch", "master", remote.master),
        "none": ("default", "tree", None),
    }
    summaries = {mid.split("@")[0]: json.loads(s)["base"] for mid, *_, s in rows}
    assert summaries["next-only"] == f"branch next at {remote.next[:12]}"
    assert summaries["trailer"] == f"trailer base-commit at {remote.master[:12]}"
    # the review names its base, and on it the patch applies: no does-not-apply finding
    assert not_applying == {"none@example.org"}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_CACHE", str(tmp_path / "cache"))
