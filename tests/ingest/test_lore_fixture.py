"""The real public-inbox fixture serves what lore serves: raw mail, Atom, threads, git epochs."""

from __future__ import annotations

import gzip
import json
import subprocess
import urllib.request
from pathlib import Path

from tests.lore import PublicInbox

SERIES = Path(__file__).resolve().parents[1] / "data" / "series"

MAIL = b"""From: Ada Lovelace <ada@example.org>
To: linux-kbuild@vger.kernel.org
Subject: [PATCH] kbuild: a test patch
Message-ID: <fixture-1@example.org>
Date: Thu, 01 Jan 2026 10:00:00 +0000

Body.
"""


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def test_delivered_mail_is_served_over_http_and_git(
    lore_server: PublicInbox, tmp_path: Path
) -> None:
    lore_server.deliver(MAIL)
    url = lore_server.url
    assert b"Subject: [PATCH] kbuild: a test patch" in _get(url + "fixture-1@example.org/raw")
    assert b"fixture-1@example.org" in _get(url + "new.atom")
    thread = gzip.decompress(_get(url + "fixture-1@example.org/t.mbox.gz"))
    assert thread.startswith(b"From ") and b"<fixture-1@example.org>" in thread
    manifest = json.loads(gzip.decompress(_get(url + "manifest.js.gz")))
    assert list(manifest) == [f"/{lore_server.name}/git/0.git"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--mirror", url + "git/0.git", str(clone)], check=True)
    log = subprocess.run(
        ["git", "--git-dir", str(clone), "log", "--format=%s", "--all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert log.splitlines() == ["[PATCH] kbuild: a test patch"]
