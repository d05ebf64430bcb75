"""The web's pure parts: MAINTAINERS matching, hunks and witnesses, tokens, limits, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.analysis.diff import parse_diff
from reviewbot.config import load_config
from reviewbot.errors import ConfigError
from reviewbot.store.webq import TokenRecord
from reviewbot.web.auth import RateLimiter, bearer, match_token, new_token, token_hash
from reviewbot.web.hunks import excerpt, reproduce_witness, witness
from reviewbot.web.maintainers import Matcher, parse_maintainers

MAINTAINERS = """\
Descriptions of section entries and preferred order
	F: *Files* and directories wildcard patterns.

ARM/FOO
M:	A <a@example.org>
F:	arch/arm/mach-foo/
F:	drivers/net/foo/*
F:	include/linux/foo.h
X:	arch/arm/mach-foo/skip/
N:	[^a-z]bar

KCONFIG
F:	scripts/kconfig/
"""


def test_maintainers_patterns_follow_get_maintainer() -> None:
    entries = parse_maintainers(MAINTAINERS)
    assert set(entries) == {"ARM/FOO", "KCONFIG"}
    foo = Matcher(entries["ARM/FOO"])
    assert foo.covers("arch/arm/mach-foo/board.c")
    assert foo.covers("arch/arm/mach-foo/sub/deep.c")
    assert not foo.covers("arch/arm/mach-foo/skip/x.c")  # X:
    assert foo.covers("drivers/net/foo/main.c")
    assert not foo.covers("drivers/net/foo/sub/main.c")  # '*' does not go below
    assert foo.covers("include/linux/foo.h")
    assert not foo.covers("include/linux/foo.hh")
    assert foo.covers("drivers/gpio/gpio-bar.c")  # N: regex
    assert not Matcher(entries["KCONFIG"]).covers("scripts/kconfiglib.py")
    assert foo.select(["a/b.c", "include/linux/foo.h"]) == {"include/linux/foo.h"}


DIFF = """\
diff --git a/drivers/Kconfig b/drivers/Kconfig
--- a/drivers/Kconfig
+++ b/drivers/Kconfig
@@ -8,5 +8,5 @@
 a
 b
-c
+C
 d
 e
"""


def test_excerpt_marks_the_line_and_falls_back_to_the_first_hunk() -> None:
    changes = parse_diff(DIFF)
    found = excerpt(changes, "drivers/Kconfig", 10)
    assert found is not None and found.header == "@@ -8,5 +8,5 @@"
    assert [(x.op, x.old, x.new, x.mark) for x in found.lines] == [
        (" ", 8, 8, False),
        (" ", 9, 9, False),
        ("-", 10, None, False),
        ("+", None, 10, True),
        (" ", 11, 11, False),
        (" ", 12, 12, False),
    ]
    other = excerpt(changes, "drivers/Kconfig", 500)
    assert other is not None and not any(x.mark for x in other.lines)
    assert excerpt(changes, "nope", 1) is None


def test_witness_from_message_or_evidence() -> None:
    found = witness("fails (A=y B=m C=n, arm64) at link", ())
    assert found is not None and found.arch == "arm64"
    assert found.config_lines() == ("CONFIG_A=y", "CONFIG_B=m", "# CONFIG_C is not set")
    assert "make ARCH=arm64 KCONFIG_ALLCONFIG=witness.config allnoconfig" in reproduce_witness(
        found
    )
    from_evidence = witness("no config here (see below)", ("CONFIG_X=y\nCONFIG_Y=m",))
    assert from_evidence is not None and from_evidence.assignments == (("X", "y"), ("Y", "m"))
    assert witness("nothing (here)", ()) is None


def test_tokens_match_only_their_hash() -> None:
    token = new_token()
    records = [
        TokenRecord("a", token_hash(new_token()), ()),
        TokenRecord("b", token_hash(token), ("submit",)),
    ]
    assert match_token(token, records) == records[1]
    assert match_token(token + "x", records) is None
    assert bearer(f"Bearer {token}") == token and bearer("Basic x") is None and bearer(None) is None


def test_rate_limiter_refills_and_forgets() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_clients=2)
    assert [limiter.check("a", 0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert limiter.check("a", 1.0) == 0.0
    limiter.check("b", 1.0)
    limiter.check("c", 1.0)
    assert len(limiter) == 2  # 'a' dropped, least recently seen
    assert limiter.prune(10.0) == 2 and len(limiter) == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[web]\nport = 70000\n", "web.port"),
        ("[web]\nanonymous_rate = 0\n", "web.anonymous_rate"),
        ("[web]\nbase_url = 'ftp://x'\n", "web.base_url"),
        ("[web]\nlisten = 'x'\n", "unknown keys ['listen']"),
        ("[web]\ntrust_forwarded = 'yes'\n", "web.trust_forwarded"),
        ("[web]\nport = true\n", "web.port"),
    ],
)
def test_bad_web_config(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_web_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[web]\nport = 9000\nbase_url = 'https://bot.example.org/'\nstore = '/srv/s.sqlite'\n"
    )
    web = load_config(path).web
    assert (web.port, web.base_url, web.store) == (
        9000,
        "https://bot.example.org",
        Path("/srv/s.sqlite"),
    )
