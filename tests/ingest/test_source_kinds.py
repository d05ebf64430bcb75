"""The ingest sources as `reviewbot serve` builds them from its config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servekit import db, env, series_mails, write_config


def test_serve_once_reads_an_mbox_and_a_maildir_source(tmp_path: Path) -> None:
    mbox = tmp_path / "list.mbox"
    mbox.write_bytes(
        b"".join(
            b"From x Thu Jan  1 00:00:00 2026\n" + raw + b"\n" for _, raw in series_mails(1, 2)
        )
    )
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for i, (_, raw) in enumerate(series_mails(2, 1)):
        (maildir / "new" / f"{i}.host").write_bytes(raw)
    sources = (
        f'[sources.box]\nkind = "mbox"\nlist = "foo"\npath = "{mbox}"\nsettle_seconds = 0.0\n'
        f'[sources.md]\nkind = "maildir"\nlist = "foo"\npath = "{maildir}"\n'
    )
    config = write_config(tmp_path, None, sources=sources)
    done = subprocess.run(
        [sys.executable, "-m", "reviewbot", "serve", "--config", str(config), "--once"],
        env=env(),
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    with db(tmp_path / "service.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 4
        heads = {r[0] for r in conn.execute(
            "SELECT v.head_message_id FROM reviews r JOIN revisions v ON v.id = r.revision_id"
        )}  # fmt: skip
    assert heads == {"s1-0@example.org", "s2-1@example.org"}
