"""Exactly-once delivery through SMTP faults and SIGKILL mid-drain, against a real aiosmtpd.

Faults: server down, 4xx, 5xx, a server that never answers (timeout), and a drain process
killed with SIGKILL while it sends, then restarted. Every mail keeps the Message-ID it was
given before its first try; a mail is marked sent once; a mail the server took while the
drain was killed is either recognised (it came back through intake) or sent again under
the same Message-ID, which is how receivers deduplicate it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from reviewbot.config import Config
from reviewbot.respond.drain import Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxKind, OutboxRow, OutboxState
from reviewbot.store.store import Incoming, Store
from tests.respond.conftest import SmtpServer, closed_port
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

SEED = DATA / "seed-iommufd-driver-tristate.patch"
REPO = Path(__file__).resolve().parents[2]


async def _mails(store: Store) -> list[OutboxRow]:
    return [r for r in await outbox.all_rows(store) if r.kind is OutboxKind.EMAIL]


async def _series(store: Store, cfg: Config, n: int) -> None:
    """n single-patch series, each reviewed with the seed's findings."""
    for i in range(n):
        raw = SEED.read_bytes().replace(b"341b16560dd2@", f"s{i}.341b16560dd2@".encode())
        findings = [{**f, "patch": f"s{i}.341b16560dd2@fixture.reviewbot"} for f in seed_findings()]
        rev, review = await add_reviewed(store, [raw], findings, series_key=f"s{i}")
        await on_reviewed(store, cfg, rev, review)


async def _drain_until_quiet(drain: Drainer, clock: list[float], rounds: int = 12) -> None:
    for _ in range(rounds):
        await drain.once()
        clock[0] += 7200


@pytest.mark.parametrize(
    ("faults", "attempts"),
    [
        (["451 4.3.0 try again later"], 2),
        (["421 4.7.0 too busy", "452 4.3.1 insufficient storage"], 3),
    ],
)
async def test_4xx_retried_then_delivered_once(
    tmp_path: Path, smtpd: SmtpServer, faults: list[str], attempts: int
) -> None:
    smtpd.recorder.faults.extend(faults)
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=60)
        await _series(store, cfg, 1)
        mail = (await _mails(store))[0]
        await drain.once()
        row = await outbox.get(store, mail.key)
        assert row is not None and row.state is OutboxState.PENDING  # backed off, not lost
        assert row.not_before > mail.not_before
        assert faults[0][:3] in (row.last_error or "")
        await _drain_until_quiet(drain, clock)
        row = await outbox.get(store, mail.key)
    assert row is not None and row.state is OutboxState.SENT and row.attempts == attempts
    assert smtpd.recorder.ids() == [mail.payload["message_id"]]


async def test_5xx_fails_for_good_never_delivered_twice(tmp_path: Path, smtpd: SmtpServer) -> None:
    smtpd.recorder.faults.append("554 5.7.1 relay access denied")
    cfg = config(tmp_path, smtpd.port)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=60)
        await _series(store, cfg, 1)
        await _drain_until_quiet(drain, clock)
        (row,) = await _mails(store)
    assert row.state is OutboxState.FAILED and row.attempts == 1
    assert "554" in (row.last_error or "")
    assert smtpd.recorder.messages == []


async def test_server_down_then_up_delivered_once(tmp_path: Path, smtpd: SmtpServer) -> None:
    down = closed_port()
    cfg_down = config(tmp_path, down)
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        await _series(store, cfg_down, 2)
        drain = Drainer(store, cfg_down.respond, SmtpSender(cfg_down.respond.smtp), backoff=60)
        await _drain_until_quiet(drain, clock, rounds=3)
        rows = await _mails(store)
        assert all(r.state is OutboxState.PENDING and r.attempts == 3 for r in rows)
        assert all(
            "Connect" in (r.last_error or "") or "refused" in (r.last_error or "").lower()
            for r in rows
        )
        cfg_up = config(tmp_path, smtpd.port)  # the relay is back
        drain = Drainer(store, cfg_up.respond, SmtpSender(cfg_up.respond.smtp), backoff=60)
        await _drain_until_quiet(drain, clock)
        rows = await _mails(store)
    assert all(r.state is OutboxState.SENT for r in rows)
    assert sorted(smtpd.recorder.ids()) == sorted(r.payload["message_id"] for r in rows)


async def test_timeouts_retried_same_message_id(tmp_path: Path, smtpd: SmtpServer) -> None:
    smtpd.recorder.faults.append("hang")  # never answers DATA, keeps nothing
    cfg = config(tmp_path, smtpd.port, extra="")
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        settings = cfg.respond.smtp.__class__(host="127.0.0.1", port=smtpd.port, timeout=1)
        drain = Drainer(store, cfg.respond, SmtpSender(settings), backoff=60)
        await _series(store, cfg, 1)
        await drain.once()
        (row,) = await _mails(store)
        assert row.state is OutboxState.PENDING and "timeout" in (row.last_error or "").lower()
        await _drain_until_quiet(drain, clock, rounds=3)
        (row,) = await _mails(store)
    assert row.state is OutboxState.SENT and row.attempts == 2
    assert smtpd.recorder.ids() == [row.payload["message_id"]]


async def test_max_attempts_then_failed(tmp_path: Path) -> None:
    cfg = config(tmp_path, closed_port(), extra="max_attempts = 3")
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        await _series(store, cfg, 1)
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=60)
        await _drain_until_quiet(drain, clock)
        (row,) = await _mails(store)
    assert row.state is OutboxState.FAILED and row.attempts == 3


# -- SIGKILL mid-drain, then restart --------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


async def _start_drain(cfg_path: Path, store_path: Path, once: bool) -> asyncio.subprocess.Process:
    args = [sys.executable, "-m", "reviewbot", "--config", str(cfg_path), "outbox"]
    args += ["--store", str(store_path), "drain"] + (["--once"] if once else [])
    return await asyncio.create_subprocess_exec(
        *args, env=_env(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def _wait_for(predicate: object, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sigkill_while_server_holds_the_mail_then_restart(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    """Killed after the server took the mail, before the drain heard: resent, same id."""
    cfg = config(tmp_path, smtpd.port)
    cfg_path = tmp_path / "reviewbot.toml"
    store_path = tmp_path / "s.sqlite"
    async with await Store.open(store_path) as store:
        await _series(store, cfg, 2)
    smtpd.recorder.faults.append("take-and-hang")
    proc = await _start_drain(cfg_path, store_path, once=False)
    await _wait_for(lambda: len(smtpd.recorder.messages) == 1)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    async with await Store.open(store_path) as store:
        rows = await _mails(store)
        inflight = [r for r in rows if r.inflight]
        assert len(inflight) == 1 and inflight[0].state is OutboxState.PENDING
    proc = await _start_drain(cfg_path, store_path, once=True)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    async with await Store.open(store_path) as store:
        rows = await _mails(store)
    assert all(r.state is OutboxState.SENT and not r.inflight for r in rows)
    counts = Counter(smtpd.recorder.ids())
    assert set(counts) == {r.payload["message_id"] for r in rows}
    # the one in doubt arrived twice under one Message-ID; the other exactly once
    assert sorted(counts.values()) == [1, 2]
    assert counts[inflight[0].payload["message_id"]] == 2


@pytest.mark.slow
async def test_sigkill_in_doubt_mail_seen_in_intake_is_not_resent(
    tmp_path: Path, smtpd: SmtpServer
) -> None:
    cfg = config(tmp_path, smtpd.port)
    cfg_path = tmp_path / "reviewbot.toml"
    store_path = tmp_path / "s.sqlite"
    async with await Store.open(store_path) as store:
        await _series(store, cfg, 1)
    smtpd.recorder.faults.append("take-and-hang")
    proc = await _start_drain(cfg_path, store_path, once=False)
    await _wait_for(lambda: len(smtpd.recorder.messages) == 1)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    delivered = smtpd.recorder.messages[0]
    async with await Store.open(store_path) as store:
        # the list delivered it and lore gave it back to intake
        msgid = str(delivered["Message-ID"]).strip("<>")
        await store.add_messages([Incoming(msgid, delivered.as_bytes(), "lore:test")])
    proc = await _start_drain(cfg_path, store_path, once=True)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    async with await Store.open(store_path) as store:
        (row,) = await _mails(store)
    assert row.state is OutboxState.SENT and "seen in intake" in (row.last_error or "")
    assert len(smtpd.recorder.messages) == 1


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sigkill_at_random_points_every_mail_sent_once(
    tmp_path: Path, smtpd: SmtpServer, seed: int
) -> None:
    """Kill the drain at random moments until it finishes; nothing lost, no id sent twice
    except the mails in flight at a kill, each under its one Message-ID."""
    rng = random.Random(seed)
    cfg = config(tmp_path, smtpd.port)
    cfg_path = tmp_path / "reviewbot.toml"
    store_path = tmp_path / "s.sqlite"
    async with await Store.open(store_path) as store:
        await _series(store, cfg, 6)
    smtpd.recorder.faults.extend(["slow", "451 4.3.0 busy", "slow", "slow", "451 4.3.0 busy"])
    smtpd.recorder.faults.extend(["slow"] * 20)
    kills = 0
    for _ in range(5):
        proc = await _start_drain(cfg_path, store_path, once=True)
        # kill once the drain is sending: after a random number of new deliveries, plus
        # a random moment (which may fall inside the next SMTP transaction)
        target = len(smtpd.recorder.messages) + rng.randint(0, 2)
        done = asyncio.ensure_future(proc.wait())
        try:
            await _wait_for(
                lambda t=target, d=done: len(smtpd.recorder.messages) >= t or d.done(), 60
            )
            await asyncio.wait_for(asyncio.shield(done), rng.uniform(0.0, 0.5))
        except TimeoutError:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        await done
        async with await Store.open(store_path) as store:
            rows = await _mails(store)
            # rows backed off after a 451 are due again at once for the test
            async with store.transaction() as tx:
                await tx.execute("UPDATE outbox SET not_before = created WHERE state = 'pending'")
        if all(r.state is OutboxState.SENT for r in rows):
            break
    # the last restart runs undisturbed to the end
    proc = await _start_drain(cfg_path, store_path, once=True)
    assert await asyncio.wait_for(proc.wait(), 120) == 0
    async with await Store.open(store_path) as store:
        rows = await _mails(store)
    assert all(r.state is OutboxState.SENT for r in rows), [r.state for r in rows]
    counts = Counter(smtpd.recorder.ids())
    assert set(counts) == {r.payload["message_id"] for r in rows}
    assert sum(counts.values()) - len(rows) <= kills  # a duplicate needs a kill in flight
    assert kills >= 1
