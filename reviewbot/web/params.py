"""Query parameters validated into filters and cursors; the API's error type (pure)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reviewbot.store.webq import SeriesFilter

STATES = ("assembling", "queued", "reviewing", "reviewed", "failed")
SEVERITIES = ("error", "warning", "info")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TEXT = 200

_RULE = re.compile(r"[A-Z]{2,3}\d{3}")
_PATH = re.compile(r"[A-Za-z0-9_.,+@=-]+(/[A-Za-z0-9_.,+@=-]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ApiError(Exception):
    """A request we refuse: the status, a clear message, and headers to send."""

    status: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


@dataclass(frozen=True)
class ListQuery:
    """The series list request: filters, where to continue, how many."""

    filter: SeriesFilter
    maintainers: str | None
    before: int | None
    limit: int


SERIES_PARAMS = frozenset(
    {"list", "submitter", "state", "since", "path", "maintainers", "rule", "severity"}
    | {"cursor", "limit"}
)


def _text(name: str, value: str) -> str:
    if not value or len(value) > MAX_TEXT or _CONTROL.search(value):
        raise ApiError(400, f"{name}: expected 1 to {MAX_TEXT} printable characters")
    return value


def parse_time(name: str, value: str) -> str:
    """An ISO 8601 time (a date alone is midnight UTC) as the store's UTC text."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(
            400, f"{name}: expected an ISO 8601 time such as 2026-01-31T12:00:00Z"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_path(name: str, value: str) -> str:
    """A tree path (file or directory), relative, without '..' or odd characters."""
    value = value.strip().strip("/")
    if not value or len(value) > MAX_TEXT or not _PATH.fullmatch(value):
        raise ApiError(400, f"{name}: expected a relative path such as drivers/iommu")
    if any(part in (".", "..") for part in value.split("/")):
        raise ApiError(400, f"{name}: '.' and '..' are not allowed")
    return value


def parse_rule(name: str, value: str) -> str:
    value = value.strip().upper()
    if not _RULE.fullmatch(value):
        raise ApiError(400, f"{name}: expected a rule id such as KC001")
    return value


def encode_cursor(revision_id: int) -> str:
    return base64.urlsafe_b64encode(f"r:{revision_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> int:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "cursor: not a cursor this API gave out") from exc
    kind, _, number = text.partition(":")
    if kind != "r" or not number.isdigit() or len(number) > 18:
        raise ApiError(400, "cursor: not a cursor this API gave out")
    return int(number)


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(400, f"limit: expected a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def parse_series_query(query: Mapping[str, str]) -> ListQuery:
    """Validate the series list's query string; unknown parameters are an error."""
    unknown = sorted(set(query) - SERIES_PARAMS)
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(unknown)}")
    state = query.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, f"state: expected one of {', '.join(STATES)}")
    severity = query.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise ApiError(400, f"severity: expected one of {', '.join(SEVERITIES)}")
    flt = SeriesFilter(
        list_id=_text("list", query["list"]) if "list" in query else None,
        submitter=_text("submitter", query["submitter"]) if "submitter" in query else None,
        state=state,
        since=parse_time("since", query["since"]) if "since" in query else None,
        path=parse_path("path", query["path"]) if "path" in query else None,
        rule=parse_rule("rule", query["rule"]) if "rule" in query else None,
        severity=severity,
    )
    maintainers = _text("maintainers", query["maintainers"]) if "maintainers" in query else None
    before = decode_cursor(query["cursor"]) if "cursor" in query else None
    return ListQuery(flt, maintainers, before, parse_limit(query.get("limit")))


def parse_message_id(value: str) -> str:
    """A Message-ID as given in a URL, with or without its angle brackets."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if not value or len(value) > 998 or _CONTROL.search(value) or " " in value:
        raise ApiError(400, "message_id: expected a Message-ID such as 20260131.1234@host")
    return value


def parse_id(name: str, value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ApiError(400, f"{name}: expected a positive whole number")
    return int(value)
