"""reviewbot's web API and pages: `create_app(config, store) -> aiohttp.web.Application`.

Map (each module states its job in its first docstring line):

- app.py         the application factory: routes, middlewares, background loops
- api.py         the JSON API under /api/v1/ (described by openapi.yaml beside it)
- pages.py       the HTML pages (templates/), plain and readable without JavaScript
- params.py      (pure) query parameters validated into filters; the ApiError type
- present.py     (pure) store rows shaped into the API's JSON and the pages' context
- hunks.py       (pure) the hunk a finding points at, witnesses, reproduce commands
- auth.py        (pure) API tokens (hashed, compared in constant time), rate limits
- maintainers.py (pure) MAINTAINERS entries and which files they cover
- ruledocs.py    where rules/<ID>/README.md are, and reading them
- indexer.py     the loop that records which files each stored patch touches
- metrics.py     Prometheus metrics (prometheus-client) from the store's status
- settings.py    (pure) the [web] config table

The store queries live in reviewbot/store/webq.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reviewbot.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that reading the config (settings.py) does not load aiohttp and jinja2.
    if name == "create_app":
        from reviewbot.web.app import create_app

        return create_app
    raise AttributeError(name)
