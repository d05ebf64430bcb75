"""The frozen data respond works on: a review as a reply sees it, and what leaves (pure).

Review (from the store) -> ReplyInput -> OutboundEmail | CheckPost. The outbox keeps
OutboundEmail and CheckPost as JSON payloads (`to_payload` / `from_payload`), so what is
sent after a restart is exactly what was recorded before the first try.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from reviewbot.model import Severity


class CheckState(StrEnum):
    """A patchwork check's state (patchwork's own names)."""

    PENDING = "pending"
    SUCCESS = "success"
    WARNING = "warning"
    FAIL = "fail"

    @property
    def final(self) -> bool:
        return self is not CheckState.PENDING


class Stage(StrEnum):
    """A review stage; one patchwork check context each."""

    STATIC = "static"
    KCONFIG = "kconfig"
    BUILD = "build"


@dataclass(frozen=True)
class ReplyFinding:
    """A finding as stored (findings table)."""

    rule: str
    name: str
    severity: Severity
    patch_message_id: str
    path: str
    line: int | None
    message: str
    hint: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatchInfo:
    """One patch of the revision: where it is and its diff (None when it has none)."""

    message_id: str
    number: int | None
    subject: str
    diff: str | None = None


@dataclass(frozen=True)
class Silence:
    """A maintainer said a rule's finding is not a bug in this series."""

    rule: str
    reason: str
    by: str


@dataclass(frozen=True)
class ReplyInput:
    """Everything a reply to one reviewed revision says, gathered from the store."""

    revision_id: int
    version: int
    subject: str  # the subject of the mail replied to
    list_id: str
    author: str  # "Name <addr>" or "" when the series has none
    parent_message_id: str  # the cover letter, or the first patch
    parent_references: tuple[str, ...]
    patches: tuple[PatchInfo, ...]
    findings: tuple[ReplyFinding, ...]
    base_commit: str | None = None
    base_ref: str = ""
    base_kind: str = "default"
    tree: str = ""
    arches: tuple[str, ...] = ()
    compilers: tuple[str, ...] = ()  # "arm64: aarch64-linux-gnu-gcc", in arches order
    partial: bool = False
    total: int = 0
    previous_version: int | None = None
    previous: tuple[ReplyFinding, ...] | None = None  # vN-1's findings, when it was reviewed
    silenced: tuple[Silence, ...] = ()


@dataclass(frozen=True)
class OutboundEmail:
    """One mail, fixed before the first try (its Message-ID never changes)."""

    message_id: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    body: str
    headers: tuple[tuple[str, str], ...] = field(default=())

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> OutboundEmail:
        return cls(
            message_id=str(data["message_id"]),
            sender=str(data["sender"]),
            to=tuple(data["to"]),
            cc=tuple(data["cc"]),
            subject=str(data["subject"]),
            in_reply_to=str(data["in_reply_to"]),
            references=tuple(data["references"]),
            body=str(data["body"]),
            headers=tuple((str(k), str(v)) for k, v in data.get("headers", [])),
        )


@dataclass(frozen=True)
class CheckPost:
    """One patchwork check on one patch."""

    patch_message_id: str
    context: str
    state: CheckState
    target_url: str
    description: str

    def to_payload(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CheckPost:
        return cls(
            patch_message_id=str(data["patch_message_id"]),
            context=str(data["context"]),
            state=CheckState(data["state"]),
            target_url=str(data["target_url"]),
            description=str(data["description"]),
        )
