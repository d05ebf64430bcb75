"""Shared fixtures: the real 6.12 tree and its index, fake trees, loopback-only network."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.config import default_cache_dir
from reviewbot.tree.index import TreeIndex, build_index

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No network but loopback in the test run."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not (
            str(host).startswith("127.") or host in ("::1", "localhost")
        ):
            raise OSError(f"test tried to reach {host!r}: only loopback is allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


def _real_tree_root() -> Path | None:
    explicit = os.environ.get("REVIEWBOT_TREE")
    if explicit:
        return Path(explicit)
    root = default_cache_dir() / "trees" / "linux-source-6.12"
    return root if (root / ".reviewbot-source").exists() else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the link fixtures' warm full build now when the selected tests need it and it
    is missing (tests/warmstart.py): it then overlaps the tests before them."""
    arches: list[str] = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        fixture = callspec.params.get("fixture") if callspec is not None else None
        if getattr(fixture, "rule", None) == "BLD006":
            arches += fixture.arches
    root = _real_tree_root()
    if arches and root is not None and root.exists():
        from tests.warmstart import start

        start(root, default_cache_dir(), arches)


@pytest.fixture(scope="session")
def real_tree() -> Path:
    root = _real_tree_root()
    if root is None:
        if os.environ.get("REVIEWBOT_REQUIRE_TREE"):
            pytest.fail("the real tree is required (run `reviewbot tree` first)")
        pytest.skip("real 6.12 tree not installed: run `reviewbot tree`")
    return root


@pytest.fixture(scope="session")
def real_index(real_tree: Path) -> TreeIndex:
    return build_index(real_tree, default_cache_dir())
