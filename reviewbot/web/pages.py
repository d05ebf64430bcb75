"""The HTML pages: series list, series, rules, status (templates/, no JavaScript).

Every page is rendered from the same documents the JSON API returns, through jinja2 with
autoescaping on and control characters made visible (app.py), so nothing a mail carries
reaches the page unescaped.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from reviewbot.rules.registry import RULES
from reviewbot.web import api, present
from reviewbot.web import state as appmod
from reviewbot.web.params import STATES, parse_id

STYLE = resources.files("reviewbot.web").joinpath("templates/style.css").read_bytes()


async def index(request: web.Request) -> web.Response:
    # a GET form sends empty fields: they mean "any"
    given = {k: v for k, v in request.query.items() if v.strip()}
    _, rows, cursor = await api.series_page(request, given)
    base = appmod.base_url(request)
    next_url = None
    if cursor is not None:
        params = {k: v for k, v in given.items() if k != "cursor"}
        next_url = str(request.rel_url.with_query({**params, "cursor": cursor}))
    context: dict[str, Any] = {
        "rows": [present.series_row(row, base) for row in rows],
        "query": given,
        "states": STATES,
        "next_url": next_url,
        "rules": [rule.id for rule in RULES],
    }
    return aiohttp_jinja2.render_template("index.html", request, context)


async def series(request: web.Request) -> web.Response:
    revision_id = parse_id("id", request.match_info["id"])
    document = await api.revision_document(request, revision_id)
    return aiohttp_jinja2.render_template("series.html", request, {"s": document})


async def rules(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    base = appmod.base_url(request)
    items = [present.rule(r, r.id in state.docs, base) for r in RULES]
    return aiohttp_jinja2.render_template("rules.html", request, {"rules": items})


async def rule(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    rule_id = api.rule_or_404(request)
    current = api.RULES_BY_ID[rule_id]
    doc = state.docs.get(rule_id)
    context = {
        "rule": present.rule(current, doc is not None, appmod.base_url(request)),
        # rendered by markdown-it with raw HTML disabled (escaped), from our own docs
        "doc_html": doc.html if doc is not None else None,
    }
    return aiohttp_jinja2.render_template("rule.html", request, context)


async def status(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    document = present.status(await state.current_status(), state.workers)
    return aiohttp_jinja2.render_template("status.html", request, {"st": document})


async def style(request: web.Request) -> web.Response:
    return web.Response(
        body=STYLE, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", index)
    router.add_get("/series/{id}", series)
    router.add_get("/rules", rules)
    router.add_get("/rules/{rule}", rule)
    router.add_get("/status", status)
    router.add_get("/static/style.css", style)
