from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.errors import MalformedMailError, UserInputError
from reviewbot.mail.mbox import kind_of, read_input, split_mbox
from reviewbot.mail.parse import parse_mail
from reviewbot.model import RawMail
from tests.helpers import mail

DATA = Path(__file__).resolve().parent.parent / "data"


def parse_file(path: Path) -> list:  # type: ignore[type-arg]
    return [parse_mail(raw) for raw in read_input(path.read_bytes(), str(path))]


def test_mboxrd_unquotes_from_lines() -> None:
    data = b"From a@b Thu Jan 1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\n"
    (raw,) = split_mbox(data, "t")
    assert b"\nFrom here\n>From there\n" in raw.data


def test_mbox_splits_on_from_after_blank_only() -> None:
    data = (
        b"From a Thu Jan 1 00:00:00 1970\nSubject: one\n\nbody\nFrom inside\n\n"
        b"From b Thu Jan 1 00:00:00 1970\nSubject: two\n\nbody2\n"
    )
    mails = list(split_mbox(data, "t"))
    assert len(mails) == 2
    assert b"From inside" in mails[0].data


def test_kinds() -> None:
    assert kind_of(b"From x Mon Sep 17 00:00:00 2001\nFrom: a\n") == "mbox"
    assert kind_of(b"Subject: x\nFrom: y\n\nbody") == "mail"
    assert kind_of(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n") == "diff"
    assert kind_of(b"\x89PNG\r\n\x1a\n\x00\x00") == "unknown"


def test_unusable_input_is_a_user_error() -> None:
    with pytest.raises(UserInputError):
        read_input(b"\x89PNG\r\n\x1a\n\x00\x00binary", "img.png")
    with pytest.raises(UserInputError):
        read_input(b"", "empty")
    with pytest.raises(UserInputError):
        read_input(b"\x1f\x8b\x08\x00garbage", "bad.gz")


def test_gzip_and_plain_diff() -> None:
    import gzip

    diff = b"--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"
    (raw,) = read_input(gzip.compress(diff), "x.diff.gz")
    message = parse_mail(raw)
    assert message.diff is not None and "+b" in message.diff


def test_format_patch_mail_splits_message_diff_and_trailers() -> None:
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    text = mail(diff, "[PATCH v2 1/3] x: y") + b"\nbase-commit: 0123456789abcdef0123\n"
    message = parse_mail(RawMail(text, "t"))
    assert message.diff == diff
    assert message.tags.version == 2 and message.tags.number == 1
    assert ("Signed-off-by", "Test Author <author@example.org>") in message.trailers
    assert message.base_commit == "0123456789abcdef0123"
    assert "-- \n" not in (message.diff or "")


def test_removed_signature_like_line_inside_hunk_stays_in_diff() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1,2 +1,1 @@\n-- \n a\n"
    message = parse_mail(RawMail(mail(diff), "t"))
    assert message.diff == diff


def test_multipart_patch_is_found() -> None:
    (message,) = parse_file(DATA / "mail" / "0019-multipart-patch.mbox")
    assert message.has_patch


def test_reply_without_diff_has_no_patch() -> None:
    (message,) = parse_file(DATA / "mail" / "0020-multipart-comment.mbox")
    assert not message.has_patch and message.tags.is_reply


def test_invalid_charset_loses_nothing() -> None:
    (message,) = parse_file(DATA / "mail" / "0010-invalid-charset.mbox")
    assert message.has_patch


def test_base64_text_and_latin1_fallback() -> None:
    raw = (
        b"Subject: =?iso-8859-1?q?caf=E9?=\nMessage-ID: <x@y>\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"Y2Fm6Qo=\n"
    )
    message = parse_mail(RawMail(raw, "t"))
    assert message.subject == "caf\u00e9"
    assert message.body.startswith("caf\u00e9")
    assert any("latin-1" in p for p in message.problems)


@pytest.mark.parametrize(
    "name", ["codec-null.mbox", "refshdr.mbox", "base64err.mbox", "value2.mbox"]
)
def test_fuzz_mails_parse_or_fail_cleanly(name: str) -> None:
    path = DATA / "fuzz" / name
    for raw in read_input(path.read_bytes(), name):
        try:
            message = parse_mail(raw)
        except MalformedMailError:
            continue
        assert message.message_id


def test_missing_message_id_is_made_from_content() -> None:
    message = parse_mail(RawMail(b"Subject: x\n\nbody\n", "t"))
    assert message.message_id.endswith("@reviewbot.missing-id")
    assert message.problems
