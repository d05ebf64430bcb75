"""The service end to end on a spool source: --once, exactly-once reviews, status, config."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.servekit import db, make_spool, write_config


def _reviews(store: Path) -> list[tuple[int, int, str, str]]:
    with db(store) as conn:
        return conn.execute(
            "SELECT revision_id, generation, state, summary FROM reviews ORDER BY id"
        ).fetchall()


def test_once_reviews_every_series_once_and_names_its_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = tmp_path / "spool"
    expected = make_spool(spool, 6)
    config = write_config(tmp_path, spool)
    assert main(["serve", "--config", str(config), "--once"]) == 0
    store = tmp_path / "service.sqlite"
    rows = _reviews(store)
    assert len(rows) == len(expected)
    assert len({r[0] for r in rows}) == len(expected)
    with db(store) as conn:
        heads = dict(
            conn.execute("SELECT head_message_id, received FROM revisions WHERE state = 'reviewed'")
        )
        assert heads == expected
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert stored == len(list(spool.iterdir()))
        # odd series add EXTRA_CFLAGS: a kbuild finding on their first patch, nowhere else
        flagged = {
            head
            for (head,) in conn.execute(
                "SELECT DISTINCT v.head_message_id FROM findings f"
                " JOIN reviews r ON r.id = f.review_id JOIN revisions v ON v.id = r.revision_id"
                " WHERE f.path = 'drivers/foo/Makefile' AND f.severity != 'info'"
            )
        }
    assert flagged == {h for h in expected if int(h.split("-")[0][1:]) % 2}
    for _, _, state, summary in rows:
        assert state == "done"
        assert json.loads(summary)["base"] == f"default tree {tmp_path / 'tree'}"

    # a second run finds nothing new and reviews nothing again
    assert main(["serve", "--config", str(config), "--once"]) == 0
    assert len(_reviews(store)) == len(expected)

    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "queue: assembling 0, queued 0, reviewing 0, reviewed 6, failed 0" in out
    assert "spool: cursor '" in out and "last advanced" in out


def test_incomplete_series_waits_then_is_reviewed_as_partial(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    make_spool(spool, 3)  # series 2 has 3 patches: drop its second
    (spool / "000006.eml").unlink()
    config = write_config(tmp_path, spool)
    config.write_text(config.read_text().replace("hold_seconds = 3600", "hold_seconds = 1"))
    assert main(["serve", "--config", str(config), "--once"]) == 0
    store = tmp_path / "service.sqlite"
    with db(store) as conn:
        states = dict(conn.execute("SELECT head_message_id, state FROM revisions"))
    assert states["s2-0@example.org"] == "assembling"
    assert states["s1-0@example.org"] == "reviewed"
    time.sleep(1.2)  # the hold expires
    assert main(["serve", "--config", str(config), "--once"]) == 0
    with db(store) as conn:
        partial = conn.execute(
            "SELECT r.partial, r.summary FROM reviews r JOIN revisions v ON v.id = r.revision_id"
            " WHERE v.head_message_id = 's2-0@example.org'"
        ).fetchall()
    assert len(partial) == 1 and partial[0][0] == 1
    assert json.loads(partial[0][1])["missing"] == [2]


def test_config_names_every_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "[service]\nconcurency = 2\nhold_seconds = 'long'\nmax_attempts = 0\n"
        "[sources.a]\nkind = 'spool'\npth = '/x'\n"
        "[sources.b]\nkind = 'carrier-pigeon'\n"
        "[lists.foo.repo]\nbranches = []\n"
        "[service.extra]\nx = 1\n"
    )
    assert main(["serve", "--config", str(config), "--once"]) == 2
    err = capsys.readouterr().err
    for expected in (
        "service.concurency: unknown key",
        "service.hold_seconds: expected float, got 'long'",
        "service.max_attempts: at least 1",
        "sources.a.pth: unknown key for a spool source",
        "sources.a.path: required for a spool source",
        "sources.b.kind: 'carrier-pigeon' is not one of",
        "lists.foo.repo.remote: required",
        "lists.foo.repo.branches: name at least one branch",
        "service.extra: unknown key",
    ):
        assert expected in err, expected
    assert main(["serve", "--once"]) == 2
    assert "needs --config FILE" in capsys.readouterr().err


def test_example_config_is_valid_and_documents_every_key() -> None:
    from reviewbot.config import load_config
    from reviewbot.service_config import REPO_KEYS, SERVICE_KEYS, load_service_config
    from reviewbot.sources import KINDS

    example = Path(__file__).resolve().parents[2] / "deploy" / "reviewbot.example.toml"
    text = example.read_text()
    load_service_config(example)
    assert load_config(example).arches == ("x86_64", "arm64")  # `check` reads it too
    for keys in (SERVICE_KEYS, REPO_KEYS):
        for key in keys:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, key
    for kind, spec in KINDS.items():
        assert f'kind = "{kind}"' in text, kind
        for key in spec.keys:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, (kind, key)


def test_a_series_that_kills_every_attempt_is_given_up(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    make_spool(spool, 1)
    config = write_config(tmp_path, spool)
    config.write_text(config.read_text().replace("max_attempts = 100", "max_attempts = 2"))
    assert main(["serve", "--config", str(config), "--once"]) == 0
    store = tmp_path / "service.sqlite"
    with db(store) as conn:  # as if the process had died twice while reviewing it
        conn.execute("DELETE FROM findings")
        conn.execute("DELETE FROM reviews")
        conn.execute("UPDATE revisions SET state = 'reviewing', attempts = 2")
    assert main(["serve", "--config", str(config), "--once"]) == 0
    with db(store) as conn:
        assert conn.execute("SELECT state FROM revisions").fetchall() == [("failed",)]
        ((state, error),) = conn.execute("SELECT state, error FROM reviews").fetchall()
    assert state == "failed" and "gave up after 2 attempts" in error


def test_builds_are_on_by_default_in_the_service(tmp_path: Path) -> None:
    from reviewbot.service_config import load_service_config

    bare = tmp_path / "bare.toml"
    bare.write_text(f'cache_dir = "{tmp_path}"\n[service]\n')
    assert load_service_config(bare).build is True
    off = tmp_path / "off.toml"
    off.write_text(f'cache_dir = "{tmp_path}"\n[service]\nbuild = false\n')
    assert load_service_config(off).build is False
