"""The HTML pages: they render, and a hostile mail renders harmlessly on every one."""

from __future__ import annotations

import json
import re

from reviewbot.store.store import Store
from tests.web.conftest import MakeClient
from tests.web.storefill import FindingSpec, RevisionSpec, add_revision, patch_mail

EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CONTROL = "\x1b[31m\x07\x00\u202e"
EVIL_PATH = 'drivers/<b>"x"</b>/evil.c'
EVIL_DIFF = f"""\
diff --git a/{EVIL_PATH} b/{EVIL_PATH}
--- a/{EVIL_PATH}
+++ b/{EVIL_PATH}
@@ -1,2 +1,3 @@
 int a;
+char *s = "</pre>{EVIL}";
 int b;
"""


async def hostile(store: Store) -> int:
    subject = f"[PATCH] {EVIL} {CONTROL}subject"
    raw = patch_mail(
        "evil@example.org",
        subject.replace("\x00", ""),
        EVIL_DIFF,
        sender=f'"{EVIL}" <evil@example.org>',
        body=f"{EVIL}\n{CONTROL}\n",
    )
    revision = await add_revision(
        store,
        RevisionSpec(
            subject=subject,
            submitter=f"{EVIL}{CONTROL} <evil@example.org>",
            list_id=f"{EVIL}.example.org",
            patches=[("evil@example.org", raw)],
            findings=[
                FindingSpec(
                    "KC001",
                    "error",
                    EVIL_PATH,
                    2,
                    f"{EVIL} {CONTROL}",
                    hint=EVIL,
                    evidence=(EVIL + CONTROL,),
                )
            ],
            summary={"builds": [{"arch": EVIL, "target": EVIL_PATH, "log": EVIL + CONTROL}]},
        ),
    )
    await store.source_error(f"lore:{EVIL}", f"remote said {EVIL}{CONTROL}")
    return revision


def assert_harmless(html: str) -> None:
    assert "<script" not in html.lower()
    assert "onerror=" not in html.lower().replace("onerror=alert", "")  # only escaped text
    assert "<img" not in html.lower()
    assert '<b>"x"' not in html
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", html)


async def test_hostile_mail_renders_harmlessly_on_every_page(
    store: Store, make_client: MakeClient
) -> None:
    revision = await hostile(store)
    client = await make_client()
    pages = [
        "/",
        f"/series/{revision}",
        "/rules",
        "/rules/KC001",
        "/status",
        "/?submitter=evil",
        "/?path=drivers",
    ]
    for page in pages:
        reply = await client.get(page)
        assert reply.status == 200, page
        assert reply.content_type == "text/html"
        assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
        assert_harmless(reply.text)
    series = (await client.get(f"/series/{revision}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in series  # shown, as text
    assert "\\x1b[31m" in series  # control characters made visible
    # the hostile file name, in the patch's file list and the hunk header, as text
    assert series.count("drivers/&lt;b&gt;&#34;x&#34;&lt;/b&gt;/evil.c") >= 3
    status = (await client.get("/status")).text
    assert "remote said &lt;script&gt;" in status
    # JSON escapes nothing away: the client gets the real text, safely encoded
    doc = (await client.get(f"/api/v1/series/{revision}")).json()
    assert doc["findings"][0]["path"] == EVIL_PATH
    assert EVIL in doc["subject"]
    raw = (await client.get(f"/api/v1/series/{revision}")).text
    assert "\x1b" not in raw and json.loads(raw)["submitter"].startswith(EVIL)


async def test_error_pages_for_browsers_are_html(store: Store, make_client: MakeClient) -> None:
    client = await make_client()
    reply = await client.get(
        f"/series/99?{EVIL}", headers={"Accept": "text/html"}, valid_request=False
    )
    assert reply.status in (400, 404) and reply.content_type == "text/html"
    assert_harmless(reply.text)
    api = await client.get("/series/99")
    assert api.status == 404 and api.json()["error"]["message"] == "no series revision 99"


async def test_list_page_filters_and_pages(store: Store, make_client: MakeClient) -> None:
    diff = EVIL_DIFF.replace(EVIL_PATH, "lib/x.c")
    for n in range(3):
        await add_revision(
            store,
            RevisionSpec(
                subject=f"[PATCH] lib: change {n}",
                patches=[
                    (
                        f"p{n}@example.org",
                        patch_mail(f"p{n}@example.org", f"[PATCH] lib: change {n}", diff),
                    )
                ],
            ),
        )
    client = await make_client()
    first = await client.get("/", params={"limit": "2", "list": "", "path": "lib"})
    assert first.status == 200
    assert "lib: change 2" in first.text and "lib: change 0" not in first.text
    older = re.search(r'href="([^"]*cursor=[^"]*)"', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert "lib: change 0" in second.text and "lib: change 2" not in second.text
    bad = await client.get("/", params={"state": "nope"}, headers={"Accept": "text/html"})
    assert bad.status == 400 and "state: expected one of" in bad.text
