"""Say what a parsed mail is on a list stream: patch, cover, reply, or skipped with a reason (pure).

Used by series assembly on a stream (reviewbot/store/series.py). Bots' reports (the
kernel test robot, syzbot, patchwork's own bot, ...) and our own replies are skipped,
so that a review never reviews a review. Replies keep the trailers they give
(Reviewed-by, Acked-by, ...), outside quoted text.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from reviewbot.model import Message

# Mail from these senders is a bot's report, never a patch to review.
BOT_SENDERS = (
    "lkp@intel.com",  # kernel test robot (0-day)
    "syzbot",
    "patchwork-bot",
    "noreply@",
    "no-reply@",
    "ci_notify@linaro.org",
    "kernelci",
    "bot@kernel.org",
)
# Headers that only bots (ours included) put on mail.
BOT_HEADERS = ("x-reviewbot", "x-patchwork-bot", "x-kernel-test-robot")
REPLY_TRAILERS = (
    "Reviewed-by",
    "Acked-by",
    "Tested-by",
    "Nacked-by",
    "NACKed-by",
    "Reported-by",
    "Suggested-by",
)
_TRAILER_LINE = re.compile(r"^\s*(" + "|".join(REPLY_TRAILERS) + r"):\s*(\S.*?)\s*$", re.IGNORECASE)
_RAW_PART = re.compile(r"\[[^\]]*?\b(\d+)\s*(?:/|\s+of\s+)\s*(\d+|n)\b[^\]]*\]", re.IGNORECASE)


class Kind(StrEnum):
    """What a mail is to series assembly (the values are the store's message kinds)."""

    PATCH = "patch"
    COVER = "cover"
    REPLY = "reply"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str = ""


def address(sender: str) -> str:
    """The lower-cased e-mail address of a From header ('' when there is none)."""
    return email.utils.parseaddr(sender)[1].strip().lower()


def is_bot(
    sender: str, headers: Mapping[str, str], own_addresses: Iterable[str] = ()
) -> str | None:
    """Why a mail is a bot's (ours or another's), or None."""
    addr = address(sender)
    own = {a.strip().lower() for a in own_addresses if a.strip()}
    if addr and addr in own:
        return f"our own mail ({addr})"
    for name in BOT_HEADERS:
        if name in headers:
            return f"a bot's report (header {name})"
    low = sender.lower()
    for marker in BOT_SENDERS:
        if marker in low:
            return f"a bot's report (from {sender.strip()})"
    return None


def classify(message: Message) -> Verdict:
    """Patch, cover letter, reply, or skipped with the reason (bots are checked apart)."""
    tags = message.tags
    if tags.is_reply:
        return Verdict(Kind.REPLY)
    if message.has_patch:
        return Verdict(Kind.PATCH)
    if tags.number == 0 and tags.total and tags.is_patch:
        return Verdict(Kind.COVER)
    if message.in_reply_to or message.references:
        return Verdict(Kind.REPLY)
    if tags.is_patch:
        return Verdict(Kind.SKIPPED, "a [PATCH] mail without a diff and not a cover letter")
    return Verdict(Kind.SKIPPED, "not a patch: no diff and no [PATCH] tag")


def part(message: Message) -> tuple[int | None, int | None]:
    """(number, total) of a patch; an extra part "[PATCH 3/2]" or "[PATCH 3/n]" keeps its number.

    Subject parsing drops a number above the total; a part sent late on top of a series
    (patchwork's base-extra-patches case) still says which it is.
    """
    tags = message.tags
    if tags.number is not None:
        return tags.number, tags.total
    found = _RAW_PART.search(message.subject)
    if found is None:
        return None, None
    number = int(found.group(1))
    total = found.group(2)
    if total.isdigit() and number > int(total) > 0:
        return number, int(total)
    if not total.isdigit() and number > 0:
        return number, None
    return None, None


def topic(message: Message) -> str:
    """Subject prefixes that tell series apart ([PATCH net-next] vs [PATCH net])."""
    skip = {"PATCH", "RESEND", "RFC"}
    return " ".join(p.upper() for p in message.tags.prefixes if p.upper() not in skip)


def series_key(message: Message) -> str:
    """The topic that links v1 -> vN: the b4 change-id, else sender + normalised name."""
    if message.change_id:
        return f"change-id:{message.change_id}"
    name = " ".join(re.sub(r"\(v\d+\)\s*$", "", message.tags.name).lower().split())
    return f"name:{address(message.sender)}:{topic(message)}:{name}"


def reply_trailers(body: str) -> list[tuple[str, str]]:
    """Trailers a reply gives, outside quoted ('>') text and before the signature."""
    out: list[tuple[str, str]] = []
    for line in body.split("\n"):
        if line.rstrip() == "--":
            break
        if line.lstrip().startswith(">"):
            continue
        found = _TRAILER_LINE.match(line)
        if found:
            key = next(t for t in REPLY_TRAILERS if t.lower() == found.group(1).lower())
            out.append((key, found.group(2)))
    return out
