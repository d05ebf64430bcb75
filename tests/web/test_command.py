"""`reviewbot web` as a process: tokens, serving, a submission with curl-like HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.web.storefill import patch_mail

REPO = Path(__file__).resolve().parents[2]


def reviewbot(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "reviewbot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_web_command_serves_and_accepts_a_submission(tmp_path: Path) -> None:
    db = tmp_path / "service.sqlite"
    added = reviewbot("web", "--store", str(db), "token", "add", "ci-bot")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("rbt_")
    listed = reviewbot("web", "--store", str(db), "token", "list")
    assert listed.stdout.startswith("ci-bot\tsubmit\t") and token not in listed.stdout
    assert reviewbot("web", "--store", str(db), "token", "add", "bad name!").returncode == 2

    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reviewbot", "web", "--store", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        base = f"http://127.0.0.1:{found.group(1)}"
        mail = patch_mail(
            "cmd@example.org",
            "[PATCH] lib: x",
            "diff --git a/lib/x.c b/lib/x.c\n--- a/lib/x.c\n+++ b/lib/x.c\n@@ -1 +1,2 @@\n a\n+b\n",
        )
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/healthz") as reply:
                assert reply.status == 200
            async with session.post(
                base + "/api/v1/submissions",
                data=mail,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
            ) as reply:
                assert reply.status == 202, await reply.text()
                poll = (await reply.json())["url"]
            async with session.get(base + poll) as reply:
                assert (await reply.json())["messages"][0]["kind"] == "new"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert reviewbot("web", "--store", str(db), "token", "revoke", "ci-bot").returncode == 0
    assert reviewbot("web", "--store", str(db), "token", "revoke", "ci-bot").returncode == 2
