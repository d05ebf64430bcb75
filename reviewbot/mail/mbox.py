"""Split raw input into mails: mboxrd/mboxo, one mail, or a plain diff (pure)."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator

from reviewbot.errors import UserInputError
from reviewbot.model import RawMail

_FROM_LINE = re.compile(rb"^From \S*.*$")
_QUOTED_FROM = re.compile(rb"^>(>*From )")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")
_DIFF_START = re.compile(rb"^(diff --git |--- \S|Index: \S)", re.MULTILINE)


def maybe_gunzip(data: bytes, source: str) -> bytes:
    """Return data, decompressed if it is gzip; a corrupt gzip is a UserInputError."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserInputError(f"{source}: corrupt gzip data: {exc}") from exc


def kind_of(data: bytes) -> str:
    """Say what the input looks like: 'mbox', 'mail', 'diff' or 'unknown'."""
    head = data.lstrip(b"\r\n")[:4096]
    first = head.split(b"\n", 1)[0]
    if first.startswith(b"From ") and b"\n" in head:
        return "mbox"
    if _HEADER_LINE.match(first):
        return "mail"
    if b"\x00" not in head and _DIFF_START.search(data):
        return "diff"
    return "unknown"


def split_mbox(data: bytes, source: str) -> Iterator[RawMail]:
    """Yield each message of an mbox (mboxrd unquoting; mboxo reads the same way).

    A message starts at a "From " line that opens the file or follows an empty line;
    ">From " lines inside a message lose one ">" (mboxrd).
    """
    lines = data.split(b"\n")
    current: list[bytes] = []
    index = 0
    previous_blank = True
    for line in lines:
        bare = line.rstrip(b"\r")
        if previous_blank and _FROM_LINE.match(bare):
            if any(part.strip() for part in current):
                yield RawMail(_join(current), f"{source}#{index}")
                index += 1
            current = []
            previous_blank = False
            continue
        current.append(_QUOTED_FROM.sub(rb"\1", line))
        previous_blank = bare == b""
    if any(part.strip() for part in current):
        yield RawMail(_join(current), f"{source}#{index}")


def _join(lines: list[bytes]) -> bytes:
    text = b"\n".join(lines)
    return text.rstrip(b"\n") + b"\n"


def read_input(data: bytes, source: str) -> list[RawMail]:
    """Turn one input file's bytes into raw mails; a plain diff becomes one pseudo-mail."""
    data = maybe_gunzip(data, source)
    kind = kind_of(data)
    if kind == "mbox":
        mails = list(split_mbox(data, source))
        if not mails:
            raise UserInputError(f"{source}: empty mailbox")
        return mails
    if kind == "mail":
        return [RawMail(data, source)]
    if kind == "diff":
        return [RawMail(_pseudo_mail(data, source), source)]
    if not data.strip():
        raise UserInputError(f"{source}: empty input")
    raise UserInputError(f"{source}: not a mailbox, a mail or a diff")


def _pseudo_mail(diff: bytes, source: str) -> bytes:
    name = source.rsplit("/", 1)[-1]
    headers = (
        f"Message-ID: <{_slug(source)}@reviewbot.local>\n"
        f"Subject: [PATCH] {name}\n"
        "From: unknown\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode()
    return headers + diff


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "stdin"
