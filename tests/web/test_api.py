"""The JSON API: filters, pagination, one series, patches, rules, submissions, status.

Every response goes through CheckedClient, which validates it against openapi.yaml."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reviewbot.config import Config
from reviewbot.mail.mbox import read_input
from reviewbot.rules.registry import RULES
from reviewbot.store import webq
from reviewbot.store.db import parse_iso
from reviewbot.store.store import Store
from reviewbot.web import create_app
from reviewbot.web.auth import new_token, token_hash
from reviewbot.web.settings import WebSettings
from tests.web.conftest import MakeClient
from tests.web.storefill import FindingSpec, RevisionSpec, add_revision, patch_mail

REPO = Path(__file__).resolve().parents[2]

KCONFIG_DIFF = "\n".join(
    [
        "diff --git a/drivers/iommu/Kconfig b/drivers/iommu/Kconfig",
        "--- a/drivers/iommu/Kconfig",
        "+++ b/drivers/iommu/Kconfig",
        "@@ -8,7 +8,7 @@",
        " \tbool",
        " ",
        " config IOMMUFD_DRIVER",
        "-\tbool",
        "+\ttristate",
        " \tdefault n",
        " ",
        " menuconfig IOMMU_SUPPORT",
        "",
    ]
)

MAKEFILE_DIFF = """\
diff --git a/drivers/net/foo/Makefile b/drivers/net/foo/Makefile
--- a/drivers/net/foo/Makefile
+++ b/drivers/net/foo/Makefile
@@ -1,2 +1,3 @@
 obj-y += a.o
+obj-$(CONFIG_FOO) += foo.o
 obj-y += b.o
"""


async def fill(store: Store) -> dict[str, int]:
    """Three series: an IOMMU one with findings (v1 and v2), a net one, a queued one."""
    ids = {}
    ids["iommu_v1"] = await add_revision(
        store,
        RevisionSpec(
            subject="[PATCH] iommufd: make IOMMUFD_DRIVER tristate",
            key="iommufd",
            patches=[
                (
                    "v1.1@example.org",
                    patch_mail(
                        "v1.1@example.org",
                        "[PATCH] iommufd: make IOMMUFD_DRIVER tristate",
                        KCONFIG_DIFF,
                    ),
                )
            ],
            findings=[
                FindingSpec("KC014", "info", "drivers/iommu/Kconfig", 11, "becomes tristate")
            ],
            first_seen="2026-11-01T10:00:00.000+00:00",
            finished="2026-11-01T10:02:00.000+00:00",
        ),
    )
    ids["iommu_v2"] = await add_revision(
        store,
        RevisionSpec(
            subject="[PATCH v2] iommufd: make IOMMUFD_DRIVER tristate",
            key="iommufd",
            version=2,
            patches=[
                (
                    "v2.1@example.org",
                    patch_mail(
                        "v2.1@example.org",
                        "[PATCH v2] iommufd: make IOMMUFD_DRIVER tristate",
                        KCONFIG_DIFF,
                    ),
                )
            ],
            findings=[
                FindingSpec(
                    "KC015",
                    "error",
                    "drivers/iommu/Kconfig",
                    11,
                    "built-in code calls into it: IOMMUFD can be y while IOMMUFD_DRIVER=m "
                    "(IOMMUFD=y IOMMUFD_DRIVER=m VFIO=m, x86_64); vmlinux fails to link",
                    name="kconfig-builtin-calls-modular",
                ),
                FindingSpec("KC014", "info", "drivers/iommu/Kconfig", 11, "becomes tristate"),
            ],
            summary={
                "builds": [
                    {
                        "arch": "x86_64",
                        "target": "drivers/iommu/iommufd/iova_bitmap.o",
                        "config": "allmodconfig",
                        "result": "failed",
                        "seconds": 12.5,
                        "log": "ERROR: modpost: missing MODULE_LICENSE()",
                    }
                ]
            },
            base_commit="adc218676eef25575469234709c2d87185ca223a",
            first_seen="2026-11-02T10:00:00.000+00:00",
            finished="2026-11-02T10:10:00.000+00:00",
        ),
    )
    ids["net"] = await add_revision(
        store,
        RevisionSpec(
            subject="[PATCH] net: foo: build foo",
            submitter="Other Person <other@example.com>",
            list_id="netdev.vger.kernel.org",
            patches=[
                (
                    "net.1@example.com",
                    patch_mail("net.1@example.com", "[PATCH] net: foo: build foo", MAKEFILE_DIFF),
                )
            ],
            findings=[FindingSpec("MK002", "warning", "drivers/net/foo/Makefile", 2, "no foo.c")],
            first_seen="2026-11-02T20:00:00.000+00:00",
            finished="2026-11-02T20:05:00.000+00:00",
        ),
    )
    ids["queued"] = await add_revision(
        store,
        RevisionSpec(
            subject="[PATCH] net: bar: waiting",
            submitter="Other Person <other@example.com>",
            list_id="netdev.vger.kernel.org",
            state="queued",
            finished=None,
            patches=[
                (
                    "q.1@example.com",
                    patch_mail("q.1@example.com", "[PATCH] net: bar: waiting", MAKEFILE_DIFF),
                )
            ],
            first_seen="2026-11-04T10:00:00.000+00:00",
        ),
    )
    return ids


async def ids_of(client, **params: str) -> list[int]:
    reply = await client.get("/api/v1/series", params=params)
    assert reply.status == 200, reply.text
    return [item["id"] for item in reply.json()["items"]]


async def test_series_filters(store: Store, make_client: MakeClient) -> None:
    ids = await fill(store)
    client = await make_client()
    everything = [ids["queued"], ids["net"], ids["iommu_v2"], ids["iommu_v1"]]
    assert await ids_of(client) == everything
    assert await ids_of(client, list="netdev.vger.kernel.org") == [ids["queued"], ids["net"]]
    assert await ids_of(client, submitter="OTHER@example") == [ids["queued"], ids["net"]]
    assert await ids_of(client, state="queued") == [ids["queued"]]
    assert await ids_of(client, since="2026-11-02T10:05:00Z") == [
        ids["queued"],
        ids["net"],
        ids["iommu_v2"],
    ]
    assert await ids_of(client, path="drivers/iommu") == [ids["iommu_v2"], ids["iommu_v1"]]
    assert await ids_of(client, path="drivers/iommu/Kconfig") == [ids["iommu_v2"], ids["iommu_v1"]]
    assert await ids_of(client, path="drivers/io") == []  # a directory prefix, not a string one
    assert await ids_of(client, rule="KC015") == [ids["iommu_v2"]]
    assert await ids_of(client, rule="kc014") == [ids["iommu_v2"], ids["iommu_v1"]]
    assert await ids_of(client, severity="warning") == [ids["net"], ids["iommu_v2"]]
    assert await ids_of(client, severity="error") == [ids["iommu_v2"]]
    assert await ids_of(client, rule="KC014", severity="error") == []
    reply = await client.get("/api/v1/series", params={"list": "netdev.vger.kernel.org"})
    net = reply.json()["items"][1]
    assert net["findings"] == {"error": 0, "warning": 1, "info": 0}
    assert net["html_url"] == f"/series/{ids['net']}"


async def test_cursor_pagination_walks_everything_once(
    store: Store, make_client: MakeClient
) -> None:
    ids = await fill(store)
    client = await make_client()
    seen: list[int] = []
    url: str | None = "/api/v1/series?limit=1"
    while url is not None:
        reply = await client.get(url)
        assert reply.status == 200
        seen += [item["id"] for item in reply.json()["items"]]
        url = reply.json()["next"]
        assert len(seen) <= 4
    assert seen == sorted(ids.values(), reverse=True)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"state": "done"}, "state: expected one of"),
        ({"severity": "fatal"}, "severity: expected one of"),
        ({"limit": "0"}, "limit: expected a whole number"),
        ({"limit": "abc"}, "limit: expected a whole number"),
        ({"since": "yesterday"}, "since: expected an ISO 8601 time"),
        ({"path": "../etc/passwd"}, "path:"),
        ({"path": "/abs/../x"}, "path:"),
        ({"rule": "DROP TABLE"}, "rule: expected a rule id"),
        ({"cursor": "!!!"}, "cursor: not a cursor"),
        ({"cursor": "eDox"}, "cursor: not a cursor"),
        ({"bogus": "1"}, "unknown parameter(s): bogus"),
        ({"submitter": "a\x1bb"}, "submitter: expected 1 to 200 printable"),
        ({"maintainers": "IOMMUFD"}, "MAINTAINERS"),
    ],
)
async def test_bad_list_parameters_are_clear_json_errors(
    store: Store, make_client: MakeClient, params: dict[str, str], words: str
) -> None:
    client = await make_client()
    reply = await client.get("/api/v1/series", params=params, valid_request=False)
    assert reply.status in (400, 503)
    assert reply.content_type == "application/json"
    error = reply.json()["error"]
    assert error["status"] == reply.status
    assert words in error["message"]


async def test_one_series_with_everything(store: Store, make_client: MakeClient) -> None:
    ids = await fill(store)
    client = await make_client(base_url="https://bot.example.org")
    reply = await client.get(f"/api/v1/series/{ids['iommu_v2']}")
    assert reply.status == 200
    doc = reply.json()
    assert doc["version"] == 2
    assert [r["id"] for r in doc["revisions"]] == [ids["iommu_v1"], ids["iommu_v2"]]
    assert doc["patches"][0]["files"] == ["drivers/iommu/Kconfig"]
    assert doc["base_commit"] == "adc218676eef25575469234709c2d87185ca223a"
    assert doc["review"]["base"]["tree"] == "linux-source-6.12"
    kc015 = next(f for f in doc["findings"] if f["rule"] == "KC015")
    marked = [line for line in kc015["hunk"]["lines"] if line["mark"]]
    assert marked == [{"op": "+", "old": None, "new": 11, "text": "\ttristate", "mark": True}]
    assert kc015["witness"]["config"] == [
        "CONFIG_IOMMUFD=y",
        "CONFIG_IOMMUFD_DRIVER=m",
        "CONFIG_VFIO=m",
    ]
    assert kc015["witness"]["arch"] == "x86_64"
    assert kc015["rule_html_url"] == "https://bot.example.org/rules/KC015"
    assert doc["builds"][0]["result"] == "failed"
    assert any("reviewbot check" in line for line in doc["reproduce"])
    assert doc["reproduce"][-1].startswith(
        f"curl -sSf https://bot.example.org/api/v1/series/{ids['iommu_v2']}/mbox"
    )

    assert (await client.get("/api/v1/series/999999")).status == 404
    bad = await client.get("/api/v1/series/abc", valid_request=False)
    assert (
        bad.status == 400
        and "id: expected a positive whole number" in bad.json()["error"]["message"]
    )


async def test_series_mbox_round_trips(store: Store, make_client: MakeClient) -> None:
    ids = await fill(store)
    client = await make_client()
    reply = await client.get(f"/api/v1/series/{ids['net']}/mbox")
    assert reply.status == 200 and reply.content_type == "application/mbox"
    mails = read_input(reply.body, "x")
    assert len(mails) == 1 and b"Message-ID: <net.1@example.com>" in mails[0].data


async def test_patch_by_message_id(store: Store, make_client: MakeClient) -> None:
    ids = await fill(store)
    client = await make_client()
    for form in ("net.1@example.com", "<net.1@example.com>"):
        reply = await client.get(f"/api/v1/patches/{form}")
        assert reply.status == 200, reply.text
        doc = reply.json()
        assert doc["series"]["id"] == ids["net"]
        assert [f["rule"] for f in doc["findings"]] == ["MK002"]
    missing = await client.get("/api/v1/patches/nobody@example.org")
    assert missing.status == 404 and "nobody@example.org" in missing.json()["error"]["message"]


async def test_rules_and_their_docs(store: Store, make_client: MakeClient) -> None:
    client = await make_client()
    listed = (await client.get("/api/v1/rules")).json()["items"]
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    for rule in RULES:
        reply = await client.get(f"/api/v1/rules/{rule.id}")
        assert reply.status == 200, rule.id
        assert reply.json()["doc"] == (REPO / "rules" / rule.id / "README.md").read_text()
    assert (await client.get("/api/v1/rules/ZZ999")).status == 404
    assert (await client.get("/api/v1/rules/nope", valid_request=False)).status == 400


async def test_rule_docs_found_through_the_setting(
    store: Store, make_client: MakeClient, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    (docs / "KC001").mkdir(parents=True)
    (docs / "KC001" / "README.md").write_text("# KC001 from the setting\n")
    client = await make_client(rules_dir=docs)
    assert (await client.get("/api/v1/rules/KC001")).json()["doc"] == "# KC001 from the setting\n"
    assert (await client.get("/api/v1/rules/KC002")).status == 404


async def add_token(store: Store, name: str, scopes: tuple[str, ...] = ("submit",)) -> str:
    token = new_token()
    assert await webq.add_token(store, name, token_hash(token), scopes)
    return token


SUBMISSION = patch_mail("sub.1@example.org", "[PATCH] kbuild: a submitted change", MAKEFILE_DIFF)


async def test_submission_needs_a_token_and_is_stored(
    store: Store, make_client: MakeClient
) -> None:
    token = await add_token(store, "ci-bot")
    reader = await add_token(store, "reader", ())
    client = await make_client()
    mbox = b"From x Mon Sep 17 00:00:00 2001\n" + SUBMISSION
    headers = {"Content-Type": "application/mbox"}
    for auth in (None, "Bearer nope", f"Basic {token}", "Bearer " + token[:-1]):
        h = dict(headers) | ({"Authorization": auth} if auth else {})
        reply = await client.post("/api/v1/submissions", data=mbox, headers=h, valid_request=False)
        assert reply.status == 401, auth
        assert "API token" in reply.json()["error"]["message"]
    forbidden = await client.post(
        "/api/v1/submissions",
        data=mbox,
        headers=headers | {"Authorization": f"Bearer {reader}"},
        valid_request=False,
    )
    assert forbidden.status == 403
    assert await store.message("sub.1@example.org") is None

    auth = headers | {"Authorization": f"Bearer {token}"}
    reply = await client.post(
        "/api/v1/submissions",
        params={"list": "linux-kbuild.vger.kernel.org"},
        data=mbox,
        headers=auth,
    )
    assert reply.status == 202, reply.text
    accepted = reply.json()
    assert accepted["messages"] == [{"message_id": "sub.1@example.org", "stored": "new"}]
    assert reply.headers["Location"] == accepted["url"]
    stored = await store.message("sub.1@example.org")
    assert stored is not None and stored.source == "web:ci-bot"
    assert stored.list_id == "linux-kbuild.vger.kernel.org" and stored.raw == SUBMISSION

    poll = await client.get(accepted["url"])
    assert poll.status == 200
    assert poll.json()["messages"][0]["kind"] == "new" and poll.json()["done"] is False

    again = await client.post("/api/v1/submissions", data=mbox, headers=auth)
    assert again.json()["messages"][0]["stored"] == "duplicate"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "empty"),
        (b"\x00\x01garbage", 400, "not a mailbox"),
        (
            b"From: a@b\nSubject: hi\nMessage-ID: <x@y>\n\njust words\n",
            422,
            "no message carries a patch",
        ),
        (b"x" * 5000, 413, "too large (at most 4096 bytes)"),
    ],
)
async def test_bad_submissions(
    store: Store, make_client: MakeClient, body: bytes, status: int, words: str
) -> None:
    token = await add_token(store, "ci")
    client = await make_client(max_submission_bytes=4096)
    reply = await client.post(
        "/api/v1/submissions",
        data=body,
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {token}"},
        valid_request=bool(body),  # an empty body breaks the contract on purpose
    )
    assert reply.status == status, reply.text
    assert words in reply.json()["error"]["message"].lower()
    assert (await store.message_counts()) == {}


async def test_tokens_are_stored_hashed(store: Store) -> None:
    token = await add_token(store, "ci")
    rows = await store.fetchall("SELECT name, sha256 FROM api_tokens")
    assert rows == [("ci", token_hash(token))]
    assert token not in json.dumps(rows)
    assert not await webq.add_token(store, "ci", token_hash(new_token()), ())


async def test_status_and_metrics(store: Store, make_client: MakeClient) -> None:
    await fill(store)
    now = parse_iso("2026-11-03T09:00:00+00:00")  # v2 and net finished within the day
    await store.set_cursor("lore:linux-kbuild", "abc", newest="2026-11-03T08:00:00.000+00:00")
    await store.source_error("patchwork:kbuild", "HTTP 503 from patchwork")
    client = await make_client()
    st = await webq.status(store, clock=lambda: now)
    assert st.states["queued"] == 1 and st.states["reviewed"] == 3
    assert st.latency_count == 2  # v1 finished more than a day before
    assert st.latency_median == 300.0  # arrival -> report spans: 600 s (v2), 300 s (net)
    assert st.latency_p95 == 600.0
    lag = {s.source: s for s in st.sources}
    assert lag["lore:linux-kbuild"].lag == 3600.0
    assert lag["patchwork:kbuild"].last_error == "HTTP 503 from patchwork"

    reply = await client.get("/api/v1/status")
    doc = reply.json()
    assert doc["queue"]["queued"] == 1 and doc["workers"] == {"configured": 2, "busy": 0}
    assert doc["queue"]["oldest_queued_age"] > 0
    metrics = await client.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    revisions = {s.labels["state"]: s.value for s in families["reviewbot_revisions"].samples}
    assert revisions == {"queued": 1.0, "reviewed": 3.0}
    errors = {s.labels["source"]: s.value for s in families["reviewbot_source_error"].samples}
    assert errors == {"lore:linux-kbuild": 0.0, "patchwork:kbuild": 1.0}
    served = families["reviewbot_http_requests"].samples
    assert any(
        s.labels["route"] == "/api/v1/status" and s.labels["status"] == "200" for s in served
    )
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok"}


async def test_anonymous_clients_are_rate_limited(store: Store, make_client: MakeClient) -> None:
    token = await add_token(store, "ci")
    client = await make_client(anonymous_rate=0.01, anonymous_burst=3)
    statuses = [(await client.get("/api/v1/rules")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await client.get("/api/v1/rules")
    assert int(limited.headers["Retry-After"]) >= 1
    assert "too many requests" in limited.json()["error"]["message"]
    assert (await client.get("/healthz")).status == 200
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/rules", headers=auth)).status == 200


async def test_maintainers_filter_and_findings_summary(
    store: Store, make_client: MakeClient, tmp_path: Path
) -> None:
    ids = await fill(store)
    maintainers = tmp_path / "MAINTAINERS"
    maintainers.write_text(
        "List of maintainers\n\nIOMMUFD\nM:\tJason <j@example.org>\nF:\tdrivers/iommu/\n\n"
        "FOO NET DRIVER\nM:\tX <x@example.org>\nF:\tdrivers/net/foo/*\nX:\tdrivers/net/foo/skip\n"
    )
    client = await make_client(maintainers=maintainers)
    assert await ids_of(client, maintainers="iommufd") == [ids["iommu_v2"], ids["iommu_v1"]]
    assert await ids_of(client, maintainers="FOO NET DRIVER") == [ids["queued"], ids["net"]]
    missing = await client.get("/api/v1/series", params={"maintainers": "NOPE"})
    assert missing.status == 400 and "NOPE" in missing.json()["error"]["message"]
    summary = await client.get(
        "/api/v1/findings/summary", params={"maintainers": "IOMMUFD", "since": "2026-01-01"}
    )
    # current reviews only: v1's KC014 is superseded? no: each revision has its own review
    assert summary.json()["items"] == [
        {"rule": "KC014", "path": "drivers/iommu/Kconfig", "count": 2},
        {"rule": "KC015", "path": "drivers/iommu/Kconfig", "count": 1},
    ]


async def test_unknown_routes_and_methods_are_json(store: Store, make_client: MakeClient) -> None:
    client = await make_client()
    reply = await client.client.get("/api/v1/nothing")
    assert reply.status == 404
    assert (await reply.json())["error"]["status"] == 404
    reply = await client.client.delete("/api/v1/series")
    assert reply.status == 405 and (await reply.json())["error"]["status"] == 405


async def test_every_route_is_in_the_openapi_file(store: Store, make_client: MakeClient) -> None:
    client = await make_client()
    served = await client.get("/api/v1/openapi.yaml")
    import yaml

    spec = yaml.safe_load(served.body)
    paths = set(spec["paths"])
    for resource in client.client.app.router.resources():
        canonical = resource.canonical.replace("{message_id:.+}", "{message_id}")
        assert canonical in paths, canonical


async def test_path_filter_gives_the_same_answer_in_both_forms(
    store: Store, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await fill(store)
    await make_client()  # indexes the touched files
    answers = []
    for threshold in (10_000, 0):  # IN through the path index, then EXISTS per revision
        monkeypatch.setattr(webq, "COMMON_PATH_ROWS", threshold)
        for path in ("drivers/iommu", "drivers/net/foo/Makefile", "drivers/io", "fs"):
            rows, _ = await webq.list_series(store, webq.SeriesFilter(path=path), None, 50)
            answers.append((threshold, path, [r.id for r in rows]))
    by_path: dict[str, set[tuple[int, ...]]] = {}
    for _, path, found in answers:
        by_path.setdefault(path, set()).add(tuple(found))
    assert all(len(forms) == 1 for forms in by_path.values())
    assert by_path["drivers/iommu"] == {(ids["iommu_v2"], ids["iommu_v1"])}


async def test_the_apps_indexer_loop_picks_up_new_patches(
    store: Store, aiohttp_client: Any, tmp_path: Path
) -> None:
    """The background loop (started in cleanup_ctx) indexes patches stored while it runs."""
    settings = WebSettings(index_interval=0.05, anonymous_burst=10_000)
    config = Config(cache_dir=tmp_path, tree=tmp_path, web=settings)
    client = await aiohttp_client(create_app(config, store))
    ids = await fill(store)  # after the app started
    for _ in range(200):
        reply = await client.get("/api/v1/series", params={"path": "drivers/net/foo"})
        found = [item["id"] for item in (await reply.json())["items"]]
        if len(found) == 2:
            break
        await asyncio.sleep(0.05)
    assert found == [ids["queued"], ids["net"]]
    await client.close()  # cleanup_ctx cancels the loop; nothing is left running
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "reviewbot-web-indexer"]
