"""Parse one raw message within the limits: size first, then a time budget (pure).

`parse_bounded(raw, limits) -> Message` is what `reviewbot check` runs per mail and what
the service runs per message it receives: a mail over limits.mail_bytes is refused
before any parsing (InputTooLargeError), parsing runs under limits.parse_seconds
(BudgetExceeded), and anything the parser chokes on is MalformedMailError. All three are
UserInputError: the caller skips the message with the reason and goes on with the queue.
"""

from __future__ import annotations

from reviewbot.budget import budget
from reviewbot.limits import DEFAULT_LIMITS, ReviewLimits
from reviewbot.mail.mbox import InputTooLargeError, maybe_gunzip
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail


def parse_bounded(raw: RawMail, limits: ReviewLimits = DEFAULT_LIMITS) -> Message:
    """raw as a Message, or a UserInputError that says which limit it broke."""
    if len(raw.data) > limits.mail_bytes:
        raise InputTooLargeError(
            f"{raw.source}: mail of {len(raw.data)} bytes is over the limit of "
            f"{limits.mail_bytes} (limits.mail_bytes)"
        )
    with budget("parsing the mail", limits.parse_seconds):
        return parse_mail(raw)


def read_message(data: bytes, source: str, limits: ReviewLimits = DEFAULT_LIMITS) -> Message:
    """The service's entry point: one received message's bytes (gzip allowed) to a Message."""
    return parse_bounded(RawMail(maybe_gunzip(data, source, limits.mail_bytes), source), limits)
