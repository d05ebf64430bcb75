"""`reviewbot outbox list|drain --once|retry` on a store the service filled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reviewbot.cli import main
from reviewbot.respond.hook import on_reviewed
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxKind, OutboxState
from reviewbot.store.store import Store
from tests.respond.conftest import closed_port
from tests.respond.seed import DATA, add_reviewed, config, seed_findings


async def _fill(tmp_path: Path) -> str:
    cfg = config(tmp_path, closed_port(), 'mode = "email"', extra="max_attempts = 1")
    async with await Store.open(tmp_path / "s.sqlite") as store:
        raw = (DATA / "seed-iommufd-driver-tristate.patch").read_bytes()
        rev, review = await add_reviewed(store, [raw], seed_findings())
        await on_reviewed(store, cfg, rev, review)
        (row,) = await outbox.of_revision(store, rev, OutboxKind.EMAIL)
        return row.key


def test_list_drain_retry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = asyncio.run(_fill(tmp_path))
    args = ["--config", str(tmp_path / "reviewbot.toml"), "outbox", "--store"]
    args.append(str(tmp_path / "s.sqlite"))
    assert main([*args, "drain", "--once"]) == 0  # the relay is down: one try, failed
    assert main([*args, "list"]) == 0
    out = capsys.readouterr().out
    assert "failed     1" in out and key in out and "Connect" in out
    assert main([*args, "retry", key]) == 0
    assert main([*args, "retry", "email:nope"]) == 2
    assert "no failed outbox row" in capsys.readouterr().err

    async def state() -> OutboxState:
        async with await Store.open(tmp_path / "s.sqlite") as store:
            row = await outbox.get(store, key)
            assert row is not None
            return row.state

    assert asyncio.run(state()) is OutboxState.PENDING
