"""The command line's contract: formats, exit codes, notes, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.helpers import mail
from tests.tree.test_index import make_tree

DATA = Path(__file__).resolve().parent / "data"
BAD = (
    "--- a/drivers/foo/Makefile\n+++ b/drivers/foo/Makefile\n@@ -2,2 +2,3 @@\n"
    " \tfoo_extra.o\n foo-y := core.o # comment\n+EXTRA_CFLAGS += -DDEBUG\n"
)
GOOD = BAD.replace("EXTRA_CFLAGS", "ccflags-y")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REVIEWBOT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "tree"
    make_tree(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_and_exit_1(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "bad.patch"
    patch.write_bytes(mail(BAD))
    code, out, _ = run(capsys, "check", "--tree", str(tree), str(patch))
    assert code == 1
    assert out.startswith("drivers/foo/Makefile:4: warning: EXTRA_CFLAGS is deprecated")
    assert "[MK001 kbuild-extra-flags-deprecated]" in out


def test_json_contract_and_exit_0(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "good.mbox.gz"
    patch.write_bytes(gzip.compress(b"From x Mon Sep 17 00:00:00 2001\n" + mail(GOOD)))
    code, out, _ = run(capsys, "check", "--tree", str(tree), "--format", "json", str(patch))
    assert code == 0
    doc = json.loads(out)
    (series,) = doc["series"]
    assert {"subject", "message_id", "version", "patches"} <= set(series)
    assert series["message_id"] == "t1@example.org" and doc["findings"] == []


def test_json_finding_fields(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "bad.diff"
    patch.write_text(BAD)  # a plain diff, no mail around it
    code, out, _ = run(capsys, "check", "--tree", str(tree), "--format", "json", str(patch))
    (finding,) = json.loads(out)["findings"]
    assert code == 1
    assert set(finding) >= {"rule", "name", "severity", "patch", "path", "line", "message", "hint"}
    assert (finding["rule"], finding["severity"], finding["line"]) == ("MK001", "warning", 4)


def test_unusable_input_exits_2_with_one_line(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 not mail")
    code, _, err = run(capsys, "check", "--tree", str(tree), str(junk))
    assert code == 2 and err.count("\n") == 1 and "not a mailbox" in err
    code, _, err = run(capsys, "check", "--tree", str(tree), str(tmp_path / "missing"))
    assert code == 2
    code, _, err = run(capsys, "check", "--bogus")
    assert code == 2


def test_mail_without_patch_is_reported(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "check", "--tree", str(tree), str(DATA / "mail" / "0020-multipart-comment.mbox")
    )
    assert code == 0 and "reply or review, no patch" in err


def test_damaged_real_mail_is_an_error_not_a_crash(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "check", "--tree", str(tree), str(DATA / "mail" / "damaged-nbsp-outlook.mbox")
    )
    assert code == 1 and "RB001" in out and "non-breaking spaces" in out


def test_stdin_and_module_entry(tree: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reviewbot", "check", "--tree", str(tree), "-"],
        input=mail(BAD),
        capture_output=True,
        check=False,
        env={"REVIEWBOT_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stderr
    assert b"MK001" in result.stdout


def test_config_regrades_and_rejects_unknown(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "bad.patch"
    patch.write_bytes(mail(BAD))
    config = tmp_path / "c.toml"
    config.write_text('[rules.severity]\nMK001 = "info"\n')
    code, out, _ = run(capsys, "--config", str(config), "check", "--tree", str(tree), str(patch))
    assert code == 0 and "info: EXTRA_CFLAGS" in out
    config.write_text('[rules]\ndisable = ["NOPE999"]\n')
    code, _, err = run(capsys, "--config", str(config), "check", "--tree", str(tree), str(patch))
    assert code == 2 and "names no rule" in err


def test_build_executor_is_checked_and_wired(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "bad.patch"
    patch.write_bytes(mail(BAD))
    args = ("check", "--no-kconfig", "--tree", str(tree), str(patch))
    code, _, err = run(capsys, *args[:1], "--build", "--executor", "bogus", *args[1:])
    assert code == 2 and "--executor 'bogus'" in err
    config = tmp_path / "c.toml"
    config.write_text('[build]\nexecutor = "local:0"\n')
    code, _, err = run(capsys, "--config", str(config), *args)
    assert code == 2 and "build.executor" in err
    # a process pool and the job store under the cache dir, as `reviewbot check --build` runs
    code, out, _ = run(capsys, *args[:1], "--build", "--executor", "local:1", *args[1:])
    assert code == 1 and "MK001" in out
    assert (tmp_path / "cache" / "jobs.sqlite").is_file()


@pytest.mark.parametrize("header", [7, 1])
def test_hunk_at_an_offset_reports_real_lines_and_says_so(
    header: int, tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same hunk made on a base 5 lines longer (or 1 shorter): same finding, same line."""
    (tree / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 9\n")
    patch = tmp_path / "shifted.diff"
    patch.write_text(BAD.replace("@@ -2,2 +2,3 @@", f"@@ -{header},2 +{header},3 @@"))
    code, out, _ = run(capsys, "check", "--tree", str(tree), str(patch))
    assert code == 1
    assert out.startswith("drivers/foo/Makefile:4: warning: EXTRA_CFLAGS is deprecated"), out
    offset = 2 - header
    assert (
        f"drivers/foo/Makefile: note: applied at an offset: hunk #1 at 2 (offset {offset:+d} "
        f"line{'s' * (abs(offset) != 1)})" in out
    )
    assert out.rstrip().endswith(f"checked against Linux 6.12.9 at {tree.resolve()}")
    code, out, _ = run(capsys, "check", "--tree", str(tree), "--format", "json", str(patch))
    doc = json.loads(out)
    (finding,) = doc["findings"]
    assert (finding["path"], finding["line"]) == ("drivers/foo/Makefile", 4)
    (series,) = doc["series"]
    (moved,) = series["offsets"]
    assert (moved["path"], moved["hunk"], moved["header_line"], moved["line"]) == (
        "drivers/foo/Makefile",
        1,
        header,
        2,
    )
    assert moved["offset"] == offset
    assert doc["tree"]["release"] == "6.12.9" and doc["tree"]["path"] == str(tree.resolve())
