"""Builders for service tests: a tiny tree, a spool of real-looking series, a config."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers import diff_of
from tests.tree.test_index import make_tree

REPO = Path(__file__).resolve().parent.parent
MAKEFILE = "obj-$(CONFIG_FOO) += foo.o \\\n\tfoo_extra.o\nfoo-y := core.o # comment\n"


def patch_mail(
    msgid: str,
    subject: str,
    diff: str,
    in_reply_to: str | None = None,
    sender: str = "Test Author <author@example.org>",
    body: str = "Change things.",
) -> bytes:
    reply = f"In-Reply-To: <{in_reply_to}>\nReferences: <{in_reply_to}>\n" if in_reply_to else ""
    return (
        f"From: {sender}\nSubject: {subject}\nMessage-ID: <{msgid}>\n{reply}"
        "Date: Tue, 1 Dec 2026 10:00:00 +0000\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"{body}\n\nSigned-off-by: {sender}\n---\n{diff}-- \n2.47.3\n"
    ).encode()


def series_mails(number: int, parts: int) -> list[tuple[str, bytes]]:
    """One series of `parts` patches (with a cover letter when parts > 1), each a new file.

    Odd series add a Makefile flag the kbuild rules warn about, so reviews have findings.
    """
    sender = f"Author {number} <a{number}@example.org>"
    name = f"foo: change {number}"
    head = f"s{number}-0@example.org" if parts > 1 else f"s{number}-1@example.org"
    out: list[tuple[str, bytes]] = []
    if parts > 1:
        cover = (
            f"From: {sender}\nSubject: [PATCH 0/{parts}] {name}\nMessage-ID: <{head}>\n"
            "Date: Tue, 1 Dec 2026 10:00:00 +0000\n\nA series.\n"
        ).encode()
        out.append((head, cover))
    for part in range(1, parts + 1):
        path = f"drivers/foo/s{number}_{part}.c"
        diff = diff_of(path, None, f"int s{number}_{part};\n")
        if part == 1 and number % 2:
            bad = MAKEFILE + "EXTRA_CFLAGS += -DDEBUG\n"
            diff += diff_of("drivers/foo/Makefile", MAKEFILE, bad)
        tag = f"[PATCH {part}/{parts}]" if parts > 1 else "[PATCH]"
        msgid = f"s{number}-{part}@example.org"
        reply = head if parts > 1 else None
        out.append((msgid, patch_mail(msgid, f"{tag} {name}", diff, reply, sender)))
    return out


def make_spool(directory: Path, count: int) -> dict[str, int]:
    """count series (1 to 3 patches) as files in name order; Message-ID -> patches of it."""
    directory.mkdir(parents=True, exist_ok=True)
    expected: dict[str, int] = {}
    serial = 0
    for number in range(count):
        parts = 1 + number % 3
        mails = series_mails(number, parts)
        expected[mails[0][0]] = parts
        for _, raw in mails:
            (directory / f"{serial:06d}.eml").write_bytes(raw)
            serial += 1
    return expected


def write_config(
    tmp: Path, spool: Path | None, extra: str = "", service: str = "", sources: str = ""
) -> Path:
    """The service's config: the tiny tree, static rules, fast ticks; a spool source unless
    `sources` gives others."""
    tree = tmp / "tree"
    if not tree.exists():
        make_tree(tree)
    config = tmp / "reviewbot.toml"
    spooled = f'[sources.spool]\nkind = "spool"\nlist = "foo"\npath = "{spool}"\nbatch = 3\n'
    config.write_text(
        f'cache_dir = "{tmp / "cache"}"\n'
        f'tree = "{tree}"\n'
        "[service]\n"
        f'store = "{tmp / "service.sqlite"}"\n'
        "kconfig = false\nbuild = false\nhold_seconds = 3600\npoll_interval = 0.2\ntick = 0.1\n"
        "concurrency = 2\nmax_attempts = 100\n"
        f"{service}{sources or spooled}{extra}"
    )
    return config


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO)
    return out


def serve_process(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`reviewbot -v serve` in a child process, its output appended to log."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reviewbot", "-v", "serve", "--config", str(config), *args],
            env=env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)
