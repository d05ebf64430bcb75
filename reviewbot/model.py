"""The frozen data that flows between reviewbot's stages (pure).

RawMail -> Message -> Series -> Finding. Diff-level types live in analysis.diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is; ordered error > warning > info."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class RawMail:
    """One undecoded message and where it came from (file and position)."""

    data: bytes
    source: str


@dataclass(frozen=True)
class SubjectTags:
    """What a subject's bracketed prefixes say: [RFC PATCH net-next v3 2/7]."""

    name: str
    prefixes: tuple[str, ...] = ()
    version: int = 1
    number: int | None = None
    total: int | None = None
    is_patch: bool = False
    is_reply: bool = False


@dataclass(frozen=True)
class Message:
    """A parsed mail: headers decoded, body as text, the diff split out."""

    message_id: str
    subject: str
    sender: str
    date: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    tags: SubjectTags
    body: str
    diff: str | None
    source: str
    trailers: tuple[tuple[str, str], ...] = ()
    base_commit: str | None = None
    change_id: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def has_patch(self) -> bool:
        return self.diff is not None


@dataclass(frozen=True)
class Series:
    """A patch series rebuilt from mail: cover letter, patches in order, gaps."""

    message_id: str
    subject: str
    version: int
    total: int
    patches: tuple[Message, ...]
    cover: Message | None = None
    missing: tuple[int, ...] = ()
    base_commit: str | None = None

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, at a place in the patched tree."""

    rule: str
    name: str
    severity: Severity
    path: str
    line: int | None
    message: str
    hint: str = ""
    patch: str = ""
    evidence: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[str, str, int, str]:
        return (self.patch, self.path, self.line or 0, self.rule)
