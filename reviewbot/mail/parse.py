"""Parse one raw mail into a Message: headers, charsets, MIME parts, the diff (pure)."""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import hashlib
import re

from reviewbot.errors import MalformedMailError, UserInputError
from reviewbot.mail.diffscan import find_diff
from reviewbot.mail.subject import parse_subject
from reviewbot.model import Message, RawMail

_MSGID = re.compile(r"<([^<>\s]+)>")
_TRAILER = re.compile(r"^([A-Z][A-Za-z0-9-]*[a-z0-9]):\s+(\S.*)$")
_BASE_COMMIT = re.compile(r"^base-commit:\s*([0-9a-fA-F]{7,64})\s*$", re.MULTILINE)
_CHANGE_ID = re.compile(r"^change-id:\s*(\S+)\s*$", re.MULTILINE)
_PATCH_TYPES = ("text/x-patch", "text/x-diff", "application/x-patch", "text/x-diff-file")


def parse_mail(raw: RawMail) -> Message:
    """Parse a raw mail; problems that lose nothing (bad charset, bad header) are recorded."""
    try:
        return _parse(raw)
    except UserInputError:  # MalformedMailError, or a budget that ran out
        raise
    except Exception as exc:  # a mail must never crash the run: it is reported instead
        raise MalformedMailError(f"{raw.source}: cannot parse mail: {exc!r}") from exc


def _parse(raw: RawMail) -> Message:
    if not raw.data.strip():
        raise MalformedMailError(f"{raw.source}: empty message")
    try:
        msg = email.message_from_bytes(raw.data, policy=email.policy.compat32)
    except UserInputError:  # a budget that ran out
        raise
    except Exception as exc:  # the stdlib parser is lenient; anything raised is malformed
        raise MalformedMailError(f"{raw.source}: cannot parse mail: {exc}") from exc
    problems: list[str] = []
    subject = _header(msg, "Subject", problems)
    message_id = _first_id(_header(msg, "Message-ID", problems))
    if message_id is None:
        digest = hashlib.sha1(raw.data).hexdigest()[:16]
        message_id = f"{digest}@reviewbot.missing-id"
        problems.append("no Message-ID; one was made from the content")
    in_reply_to = _first_id(_header(msg, "In-Reply-To", problems))
    references = tuple(_MSGID.findall(_header(msg, "References", problems)))
    text, diff = _body_and_diff(msg, problems)
    tags = parse_subject(subject)
    date = _header(msg, "Date", problems) or None
    return Message(
        message_id=message_id,
        subject=" ".join(subject.split()),
        sender=" ".join(_header(msg, "From", problems).split()),
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        tags=tags,
        body=text,
        diff=diff,
        source=raw.source,
        trailers=_trailers(text),
        base_commit=_search(_BASE_COMMIT, text, diff),
        change_id=_search(_CHANGE_ID, text, diff),
        problems=tuple(problems),
    )


def _search(pattern: re.Pattern[str], text: str, diff: str | None) -> str | None:
    found = pattern.search(text)
    return found.group(1) if found else None


def _first_id(value: str) -> str | None:
    found = _MSGID.search(value)
    if found:
        return found.group(1)
    value = value.strip()
    return value if value and " " not in value and len(value) < 1000 else None


def _header(msg: email.message.Message, name: str, problems: list[str]) -> str:
    """Decode an RFC 2047 header, never failing: undecodable parts are kept as text."""
    try:
        value = msg.get(name)
    except Exception:  # compat32 can raise on broken folding
        problems.append(f"unreadable {name} header")
        return ""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    value = str(value)
    try:
        parts = email.header.decode_header(value)
    except Exception:
        problems.append(f"undecodable {name} header")
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        out.append(_decode(chunk, charset, problems, name))
    return "".join(out) if len(parts) > 1 or not isinstance(parts[0][0], str) else value


def _decode(data: bytes, charset: str | None, problems: list[str], what: str) -> str:
    """Decode bytes with the declared charset, then utf-8, then latin-1 (never lossy)."""
    for candidate in (charset, "utf-8"):
        if not candidate or candidate.lower() in ("unknown-8bit", "x-unknown"):
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    problems.append(f"{what} is not valid {charset or 'utf-8'}; read as latin-1")
    return data.decode("latin-1")


def _body_and_diff(msg: email.message.Message, problems: list[str]) -> tuple[str, str | None]:
    """Return the message text and the first diff found in an inline or attached part."""
    texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").lower()
        is_text = ctype == "text/plain" or ctype in _PATCH_TYPES
        if not is_text:
            attached_text = ctype.startswith("text/") and "attachment" in disposition
            patch_blob = ctype == "application/octet-stream" and _looks_like_patch_name(part)
            is_text = attached_text or patch_blob
        if not is_text:
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            problems.append("a MIME part could not be decoded")
            continue
        if not isinstance(payload, bytes):
            continue
        texts.append(_decode(payload, part.get_content_charset(), problems, "body"))
    if not texts:
        if msg.get_content_maintype() != "multipart":
            problems.append(f"no text part ({msg.get_content_type()})")
        return "", None
    body = texts[0].replace("\r\n", "\n")
    for text in texts:
        text = text.replace("\r\n", "\n")
        span = find_diff(text)
        if span is not None:
            lines = text.split("\n")
            start, end = span
            diff = "\n".join(lines[start:end]) + "\n"
            tail = "\n".join(lines[end:])
            if text is texts[0] or text == body:
                body = "\n".join(lines[:start]) + "\n" + tail
            return body, diff
    return body, None


def _looks_like_patch_name(part: email.message.Message) -> bool:
    name = part.get_filename() or ""
    return name.endswith((".patch", ".diff"))


def _trailers(text: str) -> tuple[tuple[str, str], ...]:
    """Trailers of the commit message: Key: value lines in its last paragraph."""
    message = re.split(r"^---\s*$", text, maxsplit=1, flags=re.MULTILINE)[0]
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if not paragraphs:
        return ()
    found: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2).strip()))
    return tuple(found)
