"""Rebuild patch series from parsed messages (pure).

A patch joins the series of the nearest message it replies to that is the cover
letter (0/n) or first patch (1/n) of the same version and size; otherwise patches
of one sender, version and size that arrive without threading are grouped by their
normalised subject prefix order (patchwork's "no references" case). Duplicates by
Message-ID are dropped; parts beyond the total are kept out; gaps are listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reviewbot.limits import DEFAULT_LIMITS
from reviewbot.model import Message, Series


@dataclass
class _Group:
    root: Message
    version: int
    total: int
    sender: str
    cover: Message | None = None
    parts: dict[int, Message] = field(default_factory=dict)


def _key(message: Message) -> tuple[int, int, str] | None:
    tags = message.tags
    if tags.total is None or tags.number is None:
        return None
    return (tags.version, tags.total, message.sender)


def over_total(message: Message, max_total: int) -> bool:
    """A [PATCH m/n] whose n is beyond the series-total limit (limits.series_total)."""
    return message.tags.total is not None and message.tags.total > max_total


def assemble(
    messages: Iterable[Message], max_total: int = DEFAULT_LIMITS.series_total
) -> tuple[list[Series], list[Message]]:
    """Return (series, messages that carry no patch and are not cover letters).

    A message numbered beyond max_total parts is not placed in any series (it is
    returned with the others; over_total says why): a `[PATCH 1/20000000]` must not
    make a twenty-million-entry list of missing parts.
    """
    seen: set[str] = set()
    unique: list[Message] = []
    others: list[Message] = []
    for message in messages:
        if message.message_id in seen:
            continue
        if over_total(message, max_total):
            seen.add(message.message_id)
            others.append(message)
            continue
        seen.add(message.message_id)
        unique.append(message)

    groups: list[_Group] = []
    by_root: dict[str, _Group] = {}
    loose: list[Message] = []
    singles: list[Message] = []

    # Roots first: cover letters, then first patches that do not thread to a cover.
    for number in (0, 1):
        for message in unique:
            tags = message.tags
            key = _key(message)
            if tags.is_reply or key is None or not _is_candidate(message):
                continue
            if tags.number == number and not _threads_to_root(message, by_root, key):
                group = _Group(message, key[0], key[1], key[2])
                groups.append(group)
                by_root[message.message_id] = group
    position = {id(message): n for n, message in enumerate(unique)}
    groups.sort(key=lambda g: position[id(g.root)])

    for message in unique:
        tags = message.tags
        key = _key(message)
        if tags.is_reply or not _is_candidate(message):
            if not message.has_patch or tags.is_reply:
                others.append(message)
            continue
        if key is None:
            if message.has_patch:
                singles.append(message)
            else:
                others.append(message)
            continue
        found = by_root.get(message.message_id) or _threads_to_root(message, by_root, key)
        if found is None:
            loose.append(message)
            continue
        _place(found, message, others)

    for message in loose:
        target = _loose_group(groups, message)
        if target is None:
            target = _Group(message, message.tags.version, message.tags.total or 1, message.sender)
            groups.append(target)
        _place(target, message, others)

    series = [_finish(group) for group in groups if group.parts]
    others.extend(group.cover for group in groups if not group.parts and group.cover)
    for message in singles:
        series.append(
            Series(
                message_id=message.message_id,
                subject=message.tags.name or message.subject,
                version=message.tags.version,
                total=1,
                patches=(message,),
                base_commit=message.base_commit,
            )
        )
    return series, others


def _is_candidate(message: Message) -> bool:
    """A numbered mail is part of a series if it has a patch or is a cover letter."""
    return message.has_patch or (message.tags.number == 0 and message.tags.is_patch)


def _threads_to_root(
    message: Message, by_root: dict[str, _Group], key: tuple[int, int, str]
) -> _Group | None:
    chain = [message.in_reply_to] if message.in_reply_to else []
    chain += list(reversed(message.references))
    for ref in chain:
        group = by_root.get(ref or "")
        if group is None or (group.total, group.sender) != key[1:]:
            continue
        # An unversioned patch threaded under a "vN" cover letter belongs to it.
        if group.version == key[0] or key[0] == 1:
            return group
    return None


def _topic(message: Message) -> tuple[str, ...]:
    """Subject prefixes that tell series apart: [PATCH 6.12 ...] vs [PATCH 6.6 ...]."""
    return tuple(p.upper() for p in message.tags.prefixes if p.upper() not in ("PATCH", "RESEND"))


def _loose_group(groups: list[_Group], message: Message) -> _Group | None:
    for group in reversed(groups):
        if (
            (group.version, group.total, group.sender)
            == (message.tags.version, message.tags.total, message.sender)
            and _topic(group.root) == _topic(message)
            and message.tags.number not in group.parts
        ):
            return group
    return None


def _place(group: _Group, message: Message, others: list[Message]) -> None:
    number = message.tags.number or 0
    if number == 0:
        if group.cover is None:
            group.cover = message
        else:
            others.append(message)
        return
    if number > group.total or number in group.parts:
        others.append(message)
        return
    group.parts[number] = message


def _finish(group: _Group) -> Series:
    patches = tuple(group.parts[n] for n in sorted(group.parts))
    missing = tuple(n for n in range(1, group.total + 1) if n not in group.parts)  # <= max_total
    head = group.cover or group.parts.get(1) or patches[0]
    base = next((m.base_commit for m in (group.cover, *patches) if m and m.base_commit), None)
    return Series(
        message_id=head.message_id,
        subject=head.tags.name or head.subject,
        version=group.version,
        total=group.total,
        patches=patches,
        cover=group.cover,
        missing=missing,
        base_commit=base,
    )
