"""Small builders for tests: mails from diffs, reviews on in-memory trees."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from reviewbot.analysis.view import DictTree
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding
from reviewbot.rules.base import Rule
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from reviewbot.tree.index import TreeIndex, facts_for, merge


def mail(
    diff: str,
    subject: str = "[PATCH] test: change",
    msgid: str = "t1@example.org",
    extra_headers: str = "",
) -> bytes:
    return (
        f"From: Test Author <author@example.org>\nSubject: {subject}\n"
        f"Message-ID: <{msgid}>\n{extra_headers}"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Change things.\n\nSigned-off-by: Test Author <author@example.org>\n---\n{diff}"
        "-- \n2.47.3\n"
    ).encode()


def diff_of(path: str, old: str | None, new: str | None) -> str:
    """A git-style diff turning old into new (None: the file does not exist)."""
    body = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}" if new is not None else "/dev/null",
    )
    head = f"diff --git a/{path} b/{path}\n"
    if old is None:
        head += "new file mode 100644\n"
    elif new is None:
        head += "deleted file mode 100644\n"
    return head + "".join(body)


def index_of(files: Mapping[str, str]) -> TreeIndex:
    return merge("/fake", "fake", {path: facts_for(path, text) for path, text in files.items()})


def review(
    files: Mapping[str, str], data: bytes | Sequence[bytes], rules: Sequence[Rule] = RULES
) -> list[Finding]:
    """Review all series in data against a tree given as a dict."""
    chunks = [data] if isinstance(data, bytes) else list(data)
    messages = [parse_mail(raw) for chunk in chunks for raw in read_input(chunk, "test")]
    series_list, _ = assemble(messages)
    tree = DictTree(files)
    index = index_of(files)
    return [f for s in series_list for f in review_series(s, tree, index, rules).findings]
