"""The JSON API under /api/v1/ (every route is described in openapi.yaml beside this file)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from aiohttp import web

from reviewbot.analysis.diff import FileChange
from reviewbot.errors import MalformedMailError, ReviewbotError, UserInputError
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Message, RawMail
from reviewbot.rules.registry import RULES
from reviewbot.store import webq
from reviewbot.store.db import iso
from reviewbot.store.store import Incoming
from reviewbot.web import present
from reviewbot.web import state as appmod
from reviewbot.web.params import (
    ApiError,
    ListQuery,
    encode_cursor,
    parse_id,
    parse_limit,
    parse_message_id,
    parse_path,
    parse_rule,
    parse_series_query,
    parse_time,
)

OPENAPI = resources.files("reviewbot.web").joinpath("openapi.yaml").read_bytes()
RULES_BY_ID = {rule.id: rule for rule in RULES}


async def series_page(
    request: web.Request, params: Mapping[str, str]
) -> tuple[ListQuery, list[webq.SeriesRow], str | None]:
    """Validate the list's query and run it: the query, the rows, the next cursor."""
    state = request.app[appmod.STATE]
    query = parse_series_query(params)
    flt = query.filter
    if query.maintainers is not None:
        paths = await state.entry_paths(query.maintainers)
        flt = webq.SeriesFilter(**{**flt.__dict__, "paths": paths})
    rows, more = await webq.list_series(state.store, flt, query.before, query.limit)
    return query, rows, (encode_cursor(more) if more is not None else None)


async def list_series(request: web.Request) -> web.Response:
    base = appmod.base_url(request)
    _, rows, cursor = await series_page(request, request.query)
    next_url = None
    if cursor is not None:
        params = {k: v for k, v in request.query.items() if k != "cursor"}
        next_url = str(request.rel_url.with_query({**params, "cursor": cursor}))
        next_url = base + next_url
    return web.json_response(
        {"items": [present.series_row(row, base) for row in rows], "next": next_url}
    )


async def revision_document(request: web.Request, revision_id: int) -> dict[str, Any]:
    """The series document (API and series page): 404 when there is no such revision."""
    state = request.app[appmod.STATE]
    detail = await webq.revision(state.store, revision_id)
    if detail is None:
        raise ApiError(404, f"no series revision {revision_id}")
    named = {f.patch_message_id for f in detail.findings}
    ids = [p.message_id for p in detail.patches if p.message_id in named]
    if any(f.patch_message_id not in ids for f in detail.findings):
        ids = [p.message_id for p in detail.patches]  # a finding on the whole series
    raws = await webq.raw_messages(state.store, ids) if ids else {}

    def parse() -> dict[str, tuple[FileChange, ...]]:
        return {m: state.changes_of(m, raw) for m, raw in raws.items()}

    cold = sum(state.diff_key(m, raw) not in state.diffs for m, raw in raws.items())
    changes = await asyncio.to_thread(parse) if cold > 2 else parse()
    return present.revision(detail, changes, appmod.base_url(request))


async def get_series(request: web.Request) -> web.Response:
    revision_id = parse_id("id", request.match_info["id"])
    return web.json_response(await revision_document(request, revision_id))


async def get_series_mbox(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    revision_id = parse_id("id", request.match_info["id"])
    detail = await webq.revision(state.store, revision_id)
    if detail is None:
        raise ApiError(404, f"no series revision {revision_id}")
    ids = ([detail.cover_message_id] if detail.cover_message_id else []) + [
        p.message_id for p in detail.patches
    ]
    raws = await webq.raw_messages(state.store, ids)
    parts = []
    for message_id in ids:
        raw = raws.get(message_id)
        if raw is None:
            continue
        body = b"\n".join(
            b">" + line if line.startswith((b"From ", b">From ")) else line
            for line in raw.rstrip(b"\n").split(b"\n")
        )
        parts.append(b"From reviewbot Thu Jan  1 00:00:00 1970\n" + body + b"\n\n")
    return web.Response(
        body=b"".join(parts),
        content_type="application/mbox",
        headers={"Content-Disposition": f'inline; filename="series-{revision_id}.mbox"'},
    )


async def get_patch(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    message_id = parse_message_id(request.match_info["message_id"])
    found = await webq.patch_by_message_id(state.store, message_id)
    if found is None:
        raise ApiError(404, f"no patch with Message-ID <{message_id}>")
    document = await revision_document(request, found.revision_id)
    base = appmod.base_url(request)
    return web.json_response(
        {
            "message_id": found.message_id,
            "number": found.number,
            "subject": found.subject,
            "series": {
                "id": found.revision_id,
                "subject": document["subject"],
                "version": document["version"],
                "state": document["state"],
                "url": f"{base}/api/v1/series/{found.revision_id}",
                "html_url": f"{base}/series/{found.revision_id}",
            },
            "findings": [f for f in document["findings"] if f["patch"] == found.message_id],
        }
    )


async def list_rules(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    base = appmod.base_url(request)
    return web.json_response({"items": [present.rule(r, r.id in state.docs, base) for r in RULES]})


def rule_or_404(request: web.Request) -> str:
    rule_id = parse_rule("rule", request.match_info["rule"])
    if rule_id not in RULES_BY_ID:
        raise ApiError(404, f"no rule {rule_id}")
    return rule_id


async def get_rule(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    rule_id = rule_or_404(request)
    doc = state.docs.get(rule_id)
    if doc is None:
        raise ApiError(404, f"the doc of {rule_id} is not installed on this server")
    body = present.rule(RULES_BY_ID[rule_id], True, appmod.base_url(request))
    return web.json_response({**body, "doc": doc.markdown})


async def findings_summary(request: web.Request) -> web.Response:
    """Which files trip which rules: counts over current reviews, most first."""
    state = request.app[appmod.STATE]
    query = request.query
    unknown = sorted(set(query) - {"path", "maintainers", "since", "limit"})
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(unknown)}")
    since = (
        parse_time("since", query["since"]) if "since" in query else iso(state.clock() - 90 * 86400)
    )
    path = parse_path("path", query["path"]) if "path" in query else None
    paths = await state.entry_paths(query["maintainers"]) if "maintainers" in query else None
    rows = await webq.findings_by_path(
        state.store, since, path, paths, parse_limit(query.get("limit"))
    )
    return web.json_response(
        {
            "since": since,
            "items": [{"rule": r, "path": p, "count": n} for r, p, n in rows],
        }
    )


def _incoming(raw: RawMail, message: Message, source: str, list_id: str) -> Incoming:
    return Incoming(
        message_id=message.message_id,
        raw=raw.data,
        source=source,
        list_id=list_id,
        subject=message.subject,
        sender=message.sender,
        date=message.date,
        in_reply_to=message.in_reply_to,
    )


async def submit(request: web.Request) -> web.Response:
    """Store a posted mbox for review (token with the 'submit' scope); 202 and a URL to poll."""
    state = request.app[appmod.STATE]
    token = await appmod.authenticated(request)
    if token is None:
        raise ApiError(
            401,
            "a valid API token is required: Authorization: Bearer <token>",
            {"WWW-Authenticate": 'Bearer realm="reviewbot"'},
        )
    if "submit" not in token.scopes:
        raise ApiError(403, f"token {token.name!r} may not submit (no 'submit' scope)")
    unknown = sorted(set(request.query) - {"list"})
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(unknown)}")
    list_id = request.query.get("list", "")
    if len(list_id) > 200 or not list_id.isprintable():
        raise ApiError(400, "list: expected a list id such as linux-kbuild.vger.kernel.org")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = state.settings.max_submission_bytes
        raise ApiError(413, f"body: too large (at most {limit} bytes)") from exc
    digest = hashlib.sha256(body).hexdigest()[:16]
    try:
        raws = read_input(body, f"web-{digest}")
    except UserInputError as exc:
        raise ApiError(400, f"body: {exc}") from exc
    if len(raws) > state.settings.max_submission_messages:
        raise ApiError(
            413, f"body: {len(raws)} messages, at most {state.settings.max_submission_messages}"
        )
    parsed: list[tuple[RawMail, Message]] = []
    for number, raw in enumerate(raws, 1):
        try:
            parsed.append((raw, parse_mail(raw)))
        except MalformedMailError as exc:
            raise ApiError(400, f"body: message {number} cannot be parsed: {exc}") from exc
    if not any(message.has_patch for _, message in parsed):
        raise ApiError(422, "body: no message carries a patch")
    source = f"web:{token.name}"
    added = await state.store.add_messages(
        [_incoming(raw, message, source, list_id) for raw, message in parsed]
    )
    ids = [message.message_id for _, message in parsed]
    submission_id = await webq.add_submission(state.store, token.name, list_id, ids)
    url = f"{appmod.base_url(request)}/api/v1/submissions/{submission_id}"
    return web.json_response(
        {
            "id": submission_id,
            "url": url,
            "messages": [
                {"message_id": m, "stored": a.value} for m, a in zip(ids, added, strict=True)
            ],
        },
        status=202,
        headers={"Location": url},
    )


async def get_submission(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    submission_id = parse_id("id", request.match_info["id"])
    found = await webq.submission(state.store, submission_id)
    if found is None:
        raise ApiError(404, f"no submission {submission_id}")
    states = {s.message_id: s for s in await webq.message_states(state.store, found.message_ids)}
    base = appmod.base_url(request)
    items = []
    for message_id in found.message_ids:
        current = states.get(message_id)
        revision_id = current.revision_id if current else None
        items.append(
            {
                "message_id": message_id,
                "kind": current.kind if current else "unknown",
                "reason": current.reason if current else "",
                "series_id": revision_id,
                "state": current.revision_state if current else None,
                "url": f"{base}/api/v1/series/{revision_id}" if revision_id else None,
                "html_url": f"{base}/series/{revision_id}" if revision_id else None,
            }
        )
    patches = [i for i in items if i["kind"] == "patch"]
    done = bool(patches) and all(i["state"] in ("reviewed", "failed") for i in patches)
    return web.json_response(
        {
            "id": found.id,
            "created": found.created,
            "list": found.list_id,
            "done": done,
            "messages": items,
        }
    )


async def get_status(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    return web.json_response(present.status(await state.current_status(), state.workers))


async def healthz(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    try:
        await state.store.fetchone("SELECT 1")
    except ReviewbotError as exc:
        return web.json_response({"status": "unavailable", "error": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    state = request.app[appmod.STATE]
    state.metrics.set_status(await state.current_status())
    return web.Response(
        body=state.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI, content_type="application/yaml")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/openapi.yaml", openapi)
    router.add_get("/api/v1/series", list_series)
    router.add_get("/api/v1/series/{id}", get_series)
    router.add_get("/api/v1/series/{id}/mbox", get_series_mbox)
    router.add_get("/api/v1/patches/{message_id:.+}", get_patch)
    router.add_get("/api/v1/rules", list_rules)
    router.add_get("/api/v1/rules/{rule}", get_rule)
    router.add_get("/api/v1/findings/summary", findings_summary)
    router.add_post("/api/v1/submissions", submit)
    router.add_get("/api/v1/submissions/{id}", get_submission)
    router.add_get("/api/v1/status", get_status)
    router.add_get("/healthz", healthz)
    router.add_get("/metrics", metrics)
