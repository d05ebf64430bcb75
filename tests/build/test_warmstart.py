"""The test session's background warm build: started only when missing, at nice 19."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from reviewbot import sandbox
from reviewbot.build.kbuild_plan import WARM_CONFIG
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import Arch, BuildConfig
from reviewbot.build.warm import Warm, warm_dir
from tests import warmstart


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / ".reviewbot-source").write_text("linux-source-6.12:sha256:feed\n")
    return root


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, Any]] = []
        self.thread = ""

    def __call__(
        self, root: Path, key: str, arch: Arch, config: BuildConfig, cache: Path, **kw: Any
    ) -> Warm:
        self.thread = threading.current_thread().name
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # the calling thread's, on Linux
        self.calls.append((arch.name, key, nice, kw.get("limits")))
        return Warm(cache, (), False, 0.0)


@pytest.fixture(autouse=True)
def _bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: True)


def test_missing_builds_run_in_a_low_priority_thread(tmp_path: Path) -> None:
    root, cache = _tree(tmp_path), tmp_path / "cache"
    build = _Recorder()
    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = warmstart.start(root, cache, ["x86_64", "x86_64", "no-such-arch"], build)
    assert thread is not None
    thread.join(30)
    assert build.thread == "warm-build"
    assert build.calls == [
        ("x86_64", "linux-source-6.12:sha256:feed", 19, warmstart.BACKGROUND_LIMITS)
    ]
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the test process keeps its own


def test_nothing_starts_when_the_warm_build_is_there(tmp_path: Path) -> None:
    root, cache = _tree(tmp_path), tmp_path / "cache"
    home = warm_dir(cache, "linux-source-6.12:sha256:feed", load_matrix()["x86_64"], WARM_CONFIG)
    home.mkdir(parents=True)
    (home / "warm.json").write_text(json.dumps({"missing": [], "modules": False}))
    build = _Recorder()
    assert warmstart.start(root, cache, ["x86_64"], build) is None
    assert warmstart.missing_arches(root, cache, ["x86_64", "arm64"]) == [load_matrix()["arm64"]]
    assert build.calls == []


def test_a_failed_background_build_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kw: Any) -> Warm:
        raise RuntimeError("the base does not link")

    thread = warmstart.start(_tree(tmp_path), tmp_path / "cache", ["arm64"], broken)
    assert thread is not None
    thread.join(30)
    assert "background warm build of arm64 failed" in caplog.text
