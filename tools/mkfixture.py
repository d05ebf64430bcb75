#!/usr/bin/env python3
"""Write a rule fixture: a format-patch style mail whose diff turns tree files into edited ones.

    python tools/mkfixture.py --tree ~/.cache/reviewbot/trees/linux-source-6.12 \
        --out rules/MK001/bad/extra-cflags.patch --subject "iommufd: add a define" \
        --expect "MK001 drivers/iommu/iommufd/Makefile:16" \
        drivers/iommu/iommufd/Makefile=/tmp/Makefile.edited [new/file.c=/tmp/new.c] [gone.c=]

PATH=FILE replaces (or adds) PATH with FILE's text; PATH= deletes it. The diff is made with
difflib (3 lines of context), so the fixture applies exactly to the tree it was made from.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
from pathlib import Path


def file_diff(path: str, old: str | None, new: str | None) -> str:
    old_lines = old.splitlines(keepends=True) if old is not None else []
    new_lines = new.splitlines(keepends=True) if new is not None else []
    head = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    elif new is None:
        head.append("deleted file mode 100644\n")
    body = list(
        difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
            n=3,
        )
    )
    fixed = []
    for line in body:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        fixed.append(line)
    return "".join(head + fixed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--body", default="")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--msgid")
    parser.add_argument("edits", nargs="+", metavar="PATH=FILE")
    args = parser.parse_args()
    diffs = []
    for edit in args.edits:
        path, _, source = edit.partition("=")
        base = args.tree / path
        old = base.read_text() if base.exists() else None
        new = Path(source).read_text() if source else None
        diffs.append(file_diff(path, old, new))
    diff = "".join(diffs)
    digest = hashlib.sha1(diff.encode()).hexdigest()[:12]
    msgid = args.msgid or f"{digest}@fixture.reviewbot"
    expects = "".join(f"Expect: {e}\n" for e in args.expect)
    body = (args.body.strip() + "\n\n") if args.body.strip() else ""
    text = (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: Fixture Author <author@example.org>\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\n"
        f"Subject: [PATCH] {args.subject}\n"
        f"Message-ID: <{msgid}>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{body}{expects}\nSigned-off-by: Fixture Author <author@example.org>\n---\n"
        f"{diff}-- \n2.47.3\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
