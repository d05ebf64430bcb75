"""Read a subject's tags: [RFC PATCH net-next v3 2/7], Re:, [PATCHv2 1/4] (pure)."""

from __future__ import annotations

import re

from reviewbot.model import SubjectTags

_REPLY = re.compile(r"^\s*((re|aw|sv|fwd?|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_BRACKET = re.compile(r"^\s*\[([^\[\]]*)\]")
# At most 9 digits: int() of a 5,000-digit number raises, and no series has a billion
# parts (the series-total limit is applied when series are assembled).
_PART = re.compile(r"(?<!\d)(\d{1,9})\s*(?:/|\s+of\s+)\s*(\d{1,9})(?!\d)")
_VERSION = re.compile(r"(?:^|[^a-z]|(?<=patch))v(\d{1,9})$", re.IGNORECASE)


def parse_subject(subject: str) -> SubjectTags:
    """Split a subject into its tags and the series name the tags decorate."""
    text = " ".join(subject.split())
    is_reply = False
    match = _REPLY.match(text)
    if match:
        is_reply = True
        text = text[match.end() :]
    prefixes: list[str] = []
    version = 1
    number: int | None = None
    total: int | None = None
    is_patch = False
    while True:
        match = _BRACKET.match(text)
        if not match:
            break
        text = text[match.end() :]
        content = match.group(1)
        part = _PART.search(content)
        if part:
            number, total = int(part.group(1)), int(part.group(2))
            content = content[: part.start()] + " " + content[part.end() :]
        for token in re.split(r"[\s,]+", content):
            if not token:
                continue
            upper = token.upper()
            if upper.startswith("PATCH") or upper == "RFC":
                is_patch = True
            found = _VERSION.search(token)
            if found:
                version = int(found.group(1))
                stripped = token[: found.start(1) - 1]
                if stripped:
                    prefixes.append(stripped)
                continue
            prefixes.append(token)
        # A reply marker after the tags: "[PATCH] Re: foo" is still a reply.
        again = _REPLY.match(text)
        if again:
            is_reply = True
            text = text[again.end() :]
    if total is not None and (total == 0 or number is None or number > total):
        number, total = None, None
    return SubjectTags(
        name=text.strip(),
        prefixes=tuple(prefixes),
        version=max(version, 1),
        number=number,
        total=total,
        is_patch=is_patch,
        is_reply=is_reply,
    )
