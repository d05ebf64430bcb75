"""A local git remote made from the real 6.12 tree: a few of its files, commits on top.

Made once per test session (git init + the files the tests need, no full import), so it
costs a second even on a busy 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FILES = ("Kconfig", "drivers/misc/Kconfig", "drivers/misc/Makefile", "drivers/misc/dummy-irq.c")
OLD_LINE = " * Dummy IRQ handler driver.\n"
NEXT_LINE = " * Dummy IRQ handler driver: registers for one IRQ and ignores it.\n"


@dataclass(frozen=True)
class Remote:
    """The remote: master = the 6.12 files, next = master + one commit."""

    path: Path
    master: str
    next: str
    files: dict[str, str]  # the 6.12 text of FILES


def git(repo: Path, *args: str, date: str = "2026-01-01T00:00:00Z") -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="T",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="T",
        GIT_COMMITTER_EMAIL="t@example.org",
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
    )
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def remote(real_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Remote:
    repo = tmp_path_factory.mktemp("remote")
    git(repo, "init", "--quiet", "--initial-branch=master")
    files = {}
    for name in FILES:
        text = (real_tree / name).read_text()
        files[name] = text
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", *FILES)
    git(repo, "commit", "--quiet", "-m", "Linux 6.12 (the files these tests need)")
    master = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "-b", "next")
    irq = repo / "drivers/misc/dummy-irq.c"
    assert OLD_LINE in files["drivers/misc/dummy-irq.c"]
    irq.write_text(files["drivers/misc/dummy-irq.c"].replace(OLD_LINE, NEXT_LINE))
    git(
        repo,
        "commit",
        "--quiet",
        "-am",
        "misc: dummy-irq: say what it does",
        date="2026-02-01T00:00:00Z",
    )
    nxt = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "master")
    return Remote(repo, master, nxt, files)
