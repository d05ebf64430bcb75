"""robot_replay --port: carry a series that does not apply onto the tree with GNU patch's fuzz.

The robot built these patches on newer trees; on 6.12 most of their hunks sit at other
lines or in slightly different context. `port` applies each part with
`patch -p1 --fuzz=3` to copies of the files it touches (the tree is never written),
then writes the mail again with the diff that results, made against the tree, so
`reviewbot check` applies it as it stands. A part none of whose hunks may be dropped:
when the answered patch itself does not port whole, nothing is ported; an earlier part
that does not port whole is left out and named. This is the benchmark's adaptation,
not reviewbot's apply logic: the report marks every ported row.
"""

from __future__ import annotations

import email.policy
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from reviewbot.model import Message

_PATHS = re.compile(r"^(?:---|\+\+\+) [ab]/(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Ported:
    mails: tuple[bytes, ...]  # the parts kept, as mails with the diff made against the tree
    dropped: tuple[str, ...]  # subjects of earlier parts that did not port whole
    fuzzed: int  # hunks patch placed with fuzz or at an offset


def _copy_in(root: Path, work: Path, paths: set[str]) -> None:
    for path in paths:
        source = root / path
        if not (work / path).exists() and source.is_file():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, work / path)


def _diff(before: Path, after: Path, paths: set[str]) -> str:
    out = []
    for path in sorted(paths):
        old, new = before / path, after / path
        argv = ["diff", "-u", "--label", f"a/{path}", "--label", f"b/{path}"]
        argv += [
            str(old) if old.exists() else "/dev/null",
            str(new) if new.exists() else "/dev/null",
        ]
        text = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        if text:
            out.append(f"diff --git a/{path} b/{path}\n{text}")
    return "".join(out)


def _mail(message: Message, diff: str) -> bytes:
    body, sep, tail = message.body.rpartition("\n-- \n")
    if not sep:
        body, tail = message.body, ""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = message.sender
    mail["Subject"] = message.subject
    if message.date:
        mail["Date"] = message.date
    mail["Message-ID"] = f"<{message.message_id}>"
    if message.in_reply_to:
        mail["In-Reply-To"] = f"<{message.in_reply_to}>"
    if message.references:
        mail["References"] = " ".join(f"<{r}>" for r in message.references)
    mail.set_content(f"{body.rstrip()}\n\n{diff}" + (f"-- \n{tail}" if sep else ""), cte="8bit")
    return mail.as_bytes()


def port(root: Path, parts: tuple[Message, ...]) -> Ported | None:
    """The parts carried onto root with fuzz; None when the last part does not port whole."""
    mails: list[bytes] = []
    dropped: list[str] = []
    fuzzed = 0
    with tempfile.TemporaryDirectory(prefix="robot-port-") as tmp:
        before, after = Path(tmp) / "a", Path(tmp) / "b"
        before.mkdir()
        for n, part in enumerate(parts):
            paths = set(_PATHS.findall(part.diff or ""))
            _copy_in(root, before, paths)
            shutil.rmtree(after, ignore_errors=True)
            shutil.copytree(before, after)
            done = subprocess.run(
                ["patch", "-p1", "--fuzz=3", "-N", "-t", "--no-backup-if-mismatch", "-r", "-"],
                input=part.diff or "",
                cwd=after,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                if n == len(parts) - 1:
                    return None
                dropped.append(part.subject)
                continue
            fuzzed += len(re.findall(r"^Hunk #\d+ succeeded", done.stdout, re.MULTILINE))
            mails.append(_mail(part, _diff(before, after, paths)))
            shutil.rmtree(before)
            after.rename(before)
    return Ported(tuple(mails), tuple(dropped), fuzzed)
