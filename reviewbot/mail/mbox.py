"""Split raw input into mails: mboxrd/mboxo, one mail, or a plain diff (pure)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

from reviewbot.errors import UserInputError
from reviewbot.limits import DEFAULT_LIMITS, ReviewLimits
from reviewbot.model import RawMail


class InputTooLargeError(UserInputError):
    """An input or a mail beyond its size limit (reviewbot.limits)."""


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")
_DIFF_START = re.compile(rb"^(diff --git |--- \S|Index: \S)", re.MULTILINE)


def maybe_gunzip(data: bytes, source: str, limit: int = DEFAULT_LIMITS.input_bytes) -> bytes:
    """Return data, decompressed if it is gzip, never more than limit bytes.

    Decompression is streamed (a 1 MB gzip bomb expands to gigabytes): output beyond
    limit, and a corrupt gzip, are UserInputError.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    out = bytearray()
    rest = data
    try:
        while rest[:2] == b"\x1f\x8b":  # concatenated gzip members
            inflater = zlib.decompressobj(wbits=31)
            pending = rest
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise InputTooLargeError(
                        f"{source}: decompresses to more than {limit} bytes (limits.input_bytes)"
                    )
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise UserInputError(f"{source}: corrupt gzip data: truncated")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise UserInputError(f"{source}: corrupt gzip data: {exc}") from exc
    return bytes(out)


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


_MESSAGE_START = re.compile(rb"(?:\A|(?<=\n\n)|(?<=\n\r\n))From [^\n]*(?:\n|\Z)")
_QUOTED_FROM_LINE = re.compile(rb"^>(>*From )", re.MULTILINE)


def split_mbox(data: bytes, source: str) -> Iterator[RawMail]:
    """Yield each message of an mbox (mboxrd unquoting; mboxo reads the same way).

    A message starts at a "From " line that opens the file or follows an empty line;
    ">From " lines inside a message lose one ">" (mboxrd). The input is never split
    into lines: each message is one slice (a flood of short lines costs no more than
    its bytes).
    """
    starts = [(m.start(), m.end()) for m in _MESSAGE_START.finditer(data)]
    if not starts or starts[0][0] != 0:
        starts.insert(0, (0, 0))
    index = 0
    for number, (_, body_start) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(data)
        body = data[body_start:end]
        if not body.strip():
            continue
        yield RawMail(_join(_QUOTED_FROM_LINE.sub(rb"\1", body)), f"{source}#{index}")
        index += 1


def _join(text: bytes) -> bytes:
    return text.rstrip(b"\n") + b"\n"


def read_input(data: bytes, source: str, limits: ReviewLimits = DEFAULT_LIMITS) -> list[RawMail]:
    """Turn one input file's bytes into raw mails; a plain diff becomes one pseudo-mail.

    Mails larger than limits.mail_bytes are returned too: parse_bounded refuses them
    one by one, so the rest of an mbox is still reviewed.
    """
    data = maybe_gunzip(data, source, limits.input_bytes)
    if len(data) > limits.input_bytes:
        raise InputTooLargeError(
            f"{source}: {len(data)} bytes, over the limit of {limits.input_bytes} "
            "(limits.input_bytes)"
        )
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
