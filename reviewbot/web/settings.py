"""The `[web]` table of the config file, validated into WebSettings (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewbot.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """How the web app listens, links and limits; every key is documented in docs/web.md."""

    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""  # public URL of the app ("https://bot.example.org"), for links
    store: Path | None = None  # store file for `reviewbot web` (the service passes its own)
    rules_dir: Path | None = None  # rules/<ID>/README.md (default: found beside the code)
    maintainers: Path | None = None  # MAINTAINERS file (default: the configured tree's)
    anonymous_rate: float = 5.0  # requests per second per anonymous client ...
    anonymous_burst: int = 60  # ... with bursts up to this many
    trust_forwarded: bool = False  # behind a reverse proxy: client = last X-Forwarded-For
    max_submission_bytes: int = 10 * MIB
    max_submission_messages: int = 200
    index_interval: float = 5.0  # seconds between passes of the touched-files indexer


_TYPES: dict[str, tuple[type, ...]] = {
    "host": (str,),
    "port": (int,),
    "base_url": (str,),
    "store": (str,),
    "rules_dir": (str,),
    "maintainers": (str,),
    "anonymous_rate": (int, float),
    "anonymous_burst": (int,),
    "trust_forwarded": (bool,),
    "max_submission_bytes": (int,),
    "max_submission_messages": (int,),
    "index_interval": (int, float),
}


def parse_web(data: Any, where: str = "web") -> WebSettings:
    """Validate the `[web]` table; one clear ConfigError per bad key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(data) - set(_TYPES)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    for key, value in data.items():
        types = _TYPES[key]
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(f"{where}.{key}: expected {types[0].__name__}, got {value!r}")
        if not isinstance(value, types):
            raise ConfigError(f"{where}.{key}: expected {types[0].__name__}, got {value!r}")
    port = data.get("port", 8080)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where}.port: {port} is not a TCP port")
    for key in (
        "anonymous_rate",
        "anonymous_burst",
        "max_submission_bytes",
        "max_submission_messages",
        "index_interval",
    ):
        if key in data and data[key] <= 0:
            raise ConfigError(f"{where}.{key}: must be positive, got {data[key]!r}")
    base_url = str(data.get("base_url", "")).rstrip("/")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.base_url: expected an http(s) URL, got {base_url!r}")

    def path(key: str) -> Path | None:
        return Path(data[key]) if key in data else None

    return WebSettings(
        host=data.get("host", "127.0.0.1"),
        port=port,
        base_url=base_url,
        store=path("store"),
        rules_dir=path("rules_dir"),
        maintainers=path("maintainers"),
        anonymous_rate=float(data.get("anonymous_rate", 5.0)),
        anonymous_burst=int(data.get("anonymous_burst", 60)),
        trust_forwarded=bool(data.get("trust_forwarded", False)),
        max_submission_bytes=int(data.get("max_submission_bytes", 10 * MIB)),
        max_submission_messages=int(data.get("max_submission_messages", 200)),
        index_interval=float(data.get("index_interval", 5.0)),
    )
