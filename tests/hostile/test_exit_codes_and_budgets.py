"""Family 5 (exit codes) and family 3's budgets, in process: no tree needed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from reviewbot import cli
from reviewbot.analysis.view import DictTree
from reviewbot.budget import BudgetExceeded, budget
from reviewbot.config import load_config
from reviewbot.errors import ConfigError
from reviewbot.limits import DEFAULT_LIMITS, ReviewLimits
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from tests.helpers import diff_of, index_of, mail


def test_our_own_bug_is_exit_3_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(cli, "assemble", broken)
    path = tmp_path / "x.patch"
    path.write_bytes(mail(diff_of("drivers/a.c", None, "int a;\n")))
    assert cli.main(["check", "--no-kconfig", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err
    assert cli.main(["-v", "check", "--no-kconfig", str(path)]) == 3
    assert "Traceback" in capsys.readouterr().err, "the traceback only under -v"


def test_memory_error_is_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def exhausted(*args: object, **kwargs: object) -> object:
        raise MemoryError

    monkeypatch.setattr(cli, "read_input", exhausted)
    path = tmp_path / "x.patch"
    path.write_bytes(b"x")
    assert cli.main(["check", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_limits_come_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nmail_bytes = 1048576\nkconfig_seconds = 30\n")
    limits = load_config(path).limits
    assert limits.mail_bytes == 1 << 20 and limits.kconfig_seconds == 30.0
    assert limits.series_total == DEFAULT_LIMITS.series_total
    for bad in ("mail_bytes = -1", "mail_bytes = 1.5", "nonsense = 3", 'disk_bytes = "x"'):
        path.write_text(f"[limits]\n{bad}\n")
        with pytest.raises(ConfigError):
            load_config(path)


def test_a_mail_over_the_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[limits]\nmail_bytes = 1000\n")
    path = tmp_path / "x.patch"
    path.write_bytes(mail(diff_of("drivers/a.c", None, "int a;\n" * 500)))
    assert cli.main(["--config", str(config), "check", "--no-kconfig", str(path)]) == 2
    assert "limits.mail_bytes" in capsys.readouterr().err


def test_a_budget_interrupts_python_code() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), budget("spinning", 0.3):
        while time.monotonic() - started < 30:
            pass
    assert time.monotonic() - started < 10


def test_a_budget_holds_for_code_that_swallows_exceptions() -> None:
    # An `except Exception` around the work swallows the interruption; the stage still
    # ends as over budget (its results are not trusted).
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), budget("swallowing", 0.3):
        while time.monotonic() - started < 2:
            with contextlib.suppress(Exception):  # what careless rule code does
                sum(range(10_000))


def _spin(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    started = time.monotonic()
    while time.monotonic() - started < 60:
        pass
    return ()


def test_rules_past_their_budget_are_a_warning_not_a_clean_review() -> None:
    slow = Rule("XX999", "test-slow-rule", Severity.INFO, "spins", _spin)
    files = {"drivers/a/Makefile": "obj-y += a.o\n"}
    data = mail(diff_of("drivers/a/Makefile", files["drivers/a/Makefile"], "obj-y += a.o b.o\n"))
    (series,), _ = assemble([parse_mail(raw) for raw in read_input(data, "t")])
    result = review_series(
        series,
        DictTree(files),
        index_of(files),
        (*RULES[:4], slow),
        limits=ReviewLimits(rules_seconds=0.5),
    )
    incomplete = [f for f in result.findings if f.rule == "RB004"]
    assert incomplete and incomplete[0].severity is Severity.WARNING
    assert "review incomplete" in incomplete[0].message
