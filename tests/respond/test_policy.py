"""Per-list policy: parsed from TOML with one clear error per bad key; recipients and rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.config import load_config
from reviewbot.errors import ConfigError
from reviewbot.model import Severity
from reviewbot.respond.drain import Drainer
from reviewbot.respond.hook import on_reviewed
from reviewbot.respond.policy import ListPolicy, Mode
from reviewbot.respond.smtp import SmtpSender
from reviewbot.store import outbox
from reviewbot.store.outbox import OutboxKind, OutboxState
from reviewbot.store.store import Store
from tests.respond.conftest import SmtpServer
from tests.respond.seed import DATA, add_reviewed, config, seed_findings

SEED = DATA / "seed-iommufd-driver-tristate.patch"


def _load(tmp_path: Path, text: str) -> ListPolicy:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path).respond.policy("netdev.vger.kernel.org")


def test_defaults_are_dry_run(tmp_path: Path) -> None:
    assert load_config(None).respond.default.mode is Mode.DRY_RUN
    assert _load(tmp_path, "").mode is Mode.DRY_RUN


def test_list_table_overrides_defaults_key_by_key(tmp_path: Path) -> None:
    policy = _load(
        tmp_path,
        """
[respond.policy]
mode = "checks-only"
min_severity = "error"
rate_limit = 5
[lists."netdev.vger.kernel.org".respond]
mode = "email"
delay = 900
cc = ["netdev@vger.kernel.org"]
deny = ["*@kernel.org"]
""",
    )
    assert policy.mode is Mode.EMAIL and policy.min_severity is Severity.ERROR
    assert policy.rate_limit == 5 and policy.delay == 900.0
    assert policy.recipient_allowed("A <a@example.org>")
    assert not policy.recipient_allowed("Greg <gregkh@KERNEL.org>")
    assert not policy.recipient_allowed("no address")
    allow = ListPolicy(allow=("*@example.org",))
    assert allow.recipient_allowed("x@example.org") and not allow.recipient_allowed("x@other.org")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[respond.policy]\nmode = "loud"', "respond.policy.mode: 'loud' is not dry-run"),
        ('[respond.policy]\nmin_severity = "fatal"', "min_severity: 'fatal' is not error"),
        ("[respond.policy]\ndelay = -1", "respond.policy.delay: expected a number >= 0"),
        ('[respond.policy]\ncc = ["not an address"]', "respond.policy.cc: 'not an address'"),
        ("[respond.policy]\nfrobs = 1", "respond.policy: unknown keys ['frobs']"),
        ('[respond]\nfrom = "nobody"', "respond.from: 'nobody' is not a mail address"),
        ('[respond.smtp]\ntls = "ssl"', "respond.smtp.tls: expected none, starttls or tls"),
        ("[lists.x.respond]\nmode = 3", "lists.x.respond.mode: 3 is not dry-run"),
        ('[respond.patchwork]\ncontext_prefix = "a b"', "context_prefix: letters, digits"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("(", r"\(")):
        _load(tmp_path, text)


async def test_rate_limit_holds_mail_for_the_next_hour(tmp_path: Path, smtpd: SmtpServer) -> None:
    cfg = config(tmp_path, smtpd.port, 'mode = "email"\nrate_limit = 2')
    async with await Store.open(tmp_path / "s.sqlite") as store:
        clock = [1_800_000_000.0]
        store.clock = lambda: clock[0]
        drain = Drainer(store, cfg.respond, SmtpSender(cfg.respond.smtp), backoff=0)
        for i in range(3):
            raw = SEED.read_bytes().replace(b"<341b", f"<r{i}.341b".encode())
            findings = [
                {**f, "patch": f"r{i}.341b16560dd2@fixture.reviewbot"} for f in seed_findings()
            ]
            rev, review = await add_reviewed(store, [raw], findings, series_key=f"r{i}")
            await on_reviewed(store, cfg, rev, review)
        await drain.once()
        assert len(smtpd.recorder.messages) == 2
        held = [
            r
            for r in await outbox.all_rows(store)
            if r.kind is OutboxKind.EMAIL and r.state is OutboxState.PENDING
        ]
        assert len(held) == 1 and held[0].last_error == "rate limit" and held[0].attempts == 0
        clock[0] += 1800
        await drain.once()
        assert len(smtpd.recorder.messages) == 2
        clock[0] += 1801
        await drain.once()
    assert len(smtpd.recorder.messages) == 3
