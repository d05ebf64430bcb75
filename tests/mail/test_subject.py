from __future__ import annotations

import pytest

from reviewbot.mail.subject import parse_subject


@pytest.mark.parametrize(
    ("subject", "version", "number", "total", "is_patch", "is_reply", "name"),
    [
        ("[PATCH] kbuild: fix", 1, None, None, True, False, "kbuild: fix"),
        ("[PATCH v3 2/7] kbuild: fix", 3, 2, 7, True, False, "kbuild: fix"),
        ("[RFC PATCH net-next v2 0/3] net: x", 2, 0, 3, True, False, "net: x"),
        ("[PATCHv4 01/10] a", 4, 1, 10, True, False, "a"),
        ("Re: [PATCH V2 3/4] b", 2, 3, 4, True, True, "b"),
        ("[PATCH 1 of 2] hg style", 1, 1, 2, True, False, "hg style"),
        ("[net,v2,1/2] net: thing", 2, 1, 2, False, False, "net: thing"),
        ("[PATCH 3/2] extra part", 1, None, None, True, False, "extra part"),
        ("[Buildroot] [PATCH 01/11] pkg: x", 1, 1, 11, True, False, "pkg: x"),
        ("AW: Re: [PATCH] x", 1, None, None, True, True, "x"),
        ("plain subject", 1, None, None, False, False, "plain subject"),
    ],
)
def test_parse_subject(
    subject: str,
    version: int,
    number: int | None,
    total: int | None,
    is_patch: bool,
    is_reply: bool,
    name: str,
) -> None:
    tags = parse_subject(subject)
    assert (tags.version, tags.number, tags.total) == (version, number, total)
    assert (tags.is_patch, tags.is_reply, tags.name) == (is_patch, is_reply, name)


def test_prefixes_keep_the_tree_tag() -> None:
    assert "net-next" in parse_subject("[PATCH net-next v2 1/2] x").prefixes
