"""Hostile-input fixtures: canary secrets planted in host paths, and the check runner."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.hostile_inputs import Run


@dataclass(frozen=True)
class Canary:
    """Secret files in host paths the sandbox must never show (root-only permissions)."""

    token: str
    paths: tuple[Path, ...]

    def assert_absent(self, text: str) -> None:
        assert self.token not in text, "a host secret reached the output"
        for line in _shadow_lines():
            assert line not in text, "a line of /etc/shadow reached the output"


def _shadow_lines() -> list[str]:
    try:
        lines = Path("/etc/shadow").read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines if len(line) > 20]


@pytest.fixture(scope="session")
def canary() -> Iterator[Canary]:
    token = f"REVIEWBOT-CANARY-{secrets.token_hex(8)}"
    planted: list[Path] = []
    for directory, mode in ((Path("/etc"), 0o640), (Path("/root"), 0o600)):
        path = directory / f"reviewbot-canary-{token[-16:]}"
        try:
            path.write_text(f"{token}: root:$6$planted$secret:19000:0:99999:7:::\n")
            path.chmod(mode)
        except OSError:
            continue
        planted.append(path)
    if not planted:
        pytest.skip("cannot plant a canary in /etc or /root (not root)")
    yield Canary(token, tuple(planted))
    for path in planted:
        path.unlink(missing_ok=True)


def assert_bounded(run: Run, seconds: float, rss_mb: float, codes: tuple[int, ...]) -> None:
    """Exit code, wall time and peak RSS within their bounds, and one line on failure."""
    assert run.returncode in codes, f"exit {run.returncode}: {run.output[-2000:]}"
    assert "Traceback" not in run.output, run.output[-3000:]
    assert run.seconds < seconds, f"took {run.seconds:.0f} s (bound {seconds} s)"
    assert run.peak_rss_mb < rss_mb, f"peak RSS {run.peak_rss_mb:.0f} MB (bound {rss_mb} MB)"
    if run.returncode in (2, 3):
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
