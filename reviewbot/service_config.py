"""The service's configuration: `[service]`, `[sources.*]` and `[lists.*.repo]`.

Read from the same TOML file as the review settings (reviewbot.config), validated at
start-up: every bad key gives one clear line, all of them in one ConfigError, so an
operator fixes the file in one go. The other tables (review settings, [respond], [web])
are the review Config's (reviewbot.config). deploy/reviewbot.example.toml documents every
key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewbot.config import Config, config_from_data
from reviewbot.errors import ConfigError
from reviewbot.sources import KINDS, SourceSpec

# [service] keys: name -> (type, default, help)
SERVICE_KEYS: dict[str, tuple[type, Any, str]] = {
    "store": (str, "", "the SQLite store (default: <cache_dir>/service.sqlite)"),
    "concurrency": (int, 1, "reviews run side by side"),
    "hold_seconds": (float, 600.0, "how long an incomplete series waits for its parts"),
    "poll_interval": (float, 60.0, "seconds between two polls of a source"),
    "tick": (float, 2.0, "seconds between two looks at the queue"),
    "max_attempts": (int, 3, "claims of one revision before it is given up as failed"),
    "retry_delay": (float, 60.0, "seconds before a review that failed on our side is retried"),
    "shutdown_grace": (float, 60.0, "on SIGTERM, seconds to let reviews in flight finish"),
    "kconfig": (bool, True, "run the Kconfig stage"),
    "build": (bool, True, "run quick cross-builds (sandboxed; docs/builds.md has the cost)"),
    "warm_bases": (int, 2, "bases whose Kconfig workers and build trees stay warm"),
    "worktrees": (int, 2, "worktrees kept on disk for Kconfig and builds on git bases"),
    "own_addresses": (list, [], "addresses the bot sends from: its mail coming back is skipped"),
    "web": (bool, False, "serve the web API and pages (reviewbot.web; its [web] table)"),
}
REPO_KEYS: dict[str, tuple[type, Any, str]] = {
    "remote": (str, "", "URL or path the list's kernel clone fetches from"),
    "branches": (list, ["master"], "branches whose heads are candidate bases"),
    "path": (str, "", "where the clone lives (default: <cache_dir>/repos/<list>.git)"),
    "fetch_interval": (float, 900.0, "seconds between two fetches of the remote"),
}
SERVICE_SECTIONS = ("service", "sources")


@dataclass(frozen=True)
class RepoConfig:
    """The git repository of one list: its remote and the branches that are bases."""

    list_id: str
    remote: str
    branches: tuple[str, ...]
    path: Path
    fetch_interval: float


@dataclass(frozen=True)
class ServiceConfig:
    """Everything `reviewbot serve` runs with."""

    review: Config
    store: Path
    concurrency: int = 1
    hold_seconds: float = 600.0
    poll_interval: float = 60.0
    tick: float = 2.0
    max_attempts: int = 3
    retry_delay: float = 60.0
    shutdown_grace: float = 60.0
    kconfig: bool = True
    build: bool = True
    warm_bases: int = 2
    worktrees: int = 2
    own_addresses: tuple[str, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    repos: Mapping[str, RepoConfig] = field(default_factory=dict)
    web: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)  # the whole file, for respond/web


def _typed(value: Any, kind: type, where: str, errors: list[str]) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append(f"{where}: expected a list of strings, got {value!r}")
            return None
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        errors.append(f"{where}: expected {kind.__name__}, got {value!r}")
        return None
    if isinstance(value, (int, float)) and value < 0:
        errors.append(f"{where}: must not be negative, got {value!r}")
        return None
    return value


def _table(
    data: Any, keys: Mapping[str, tuple[type, Any, str]], where: str, errors: list[str]
) -> dict[str, Any]:
    """Validate one table against its keys; defaults for the missing ones."""
    out = {name: default for name, (_, default, _) in keys.items()}
    if not isinstance(data, dict):
        errors.append(f"{where}: expected a table")
        return out
    for name, value in data.items():
        if name not in keys:
            errors.append(f"{where}.{name}: unknown key (known: {', '.join(sorted(keys))})")
            continue
        checked = _typed(value, keys[name][0], f"{where}.{name}", errors)
        if checked is not None:
            out[name] = checked
    return out


def _sources(data: Any, errors: list[str]) -> tuple[SourceSpec, ...]:
    if not isinstance(data, dict):
        errors.append("sources: expected a table of [sources.NAME] tables")
        return ()
    out = []
    for name, table in data.items():
        where = f"sources.{name}"
        if not isinstance(table, dict):
            errors.append(f"{where}: expected a table")
            continue
        kind = table.get("kind")
        if kind not in KINDS:
            errors.append(f"{where}.kind: {kind!r} is not one of {', '.join(sorted(KINDS))}")
            continue
        list_id = table.get("list", "")
        if not isinstance(list_id, str):
            errors.append(f"{where}.list: expected a string, got {list_id!r}")
            continue
        keys = KINDS[kind].keys
        options = {}
        for key, value in table.items():
            if key in ("kind", "list"):
                continue
            if key not in keys:
                errors.append(
                    f"{where}.{key}: unknown key for a {kind} source "
                    f"(known: kind, list, {', '.join(sorted(keys))})"
                )
                continue
            checked = _typed(value, keys[key][0], f"{where}.{key}", errors)
            if checked is not None:
                options[key] = checked
        missing = [k for k, (_, required, _) in keys.items() if required and k not in table]
        for key in missing:
            errors.append(f"{where}.{key}: required for a {kind} source")
        out.append(SourceSpec(name, kind, list_id, options))
    return tuple(out)


def _repos(lists: Any, cache_dir: Path, errors: list[str]) -> dict[str, RepoConfig]:
    out: dict[str, RepoConfig] = {}
    if not isinstance(lists, dict):
        return out
    for list_id, table in lists.items():
        if not isinstance(table, dict) or "repo" not in table:
            continue
        where = f"lists.{list_id}.repo"
        values = _table(table["repo"], REPO_KEYS, where, errors)
        if not values["remote"]:
            errors.append(f"{where}.remote: required (the URL or path to fetch from)")
        if not values["branches"]:
            errors.append(f"{where}.branches: name at least one branch")
        path = Path(values["path"]) if values["path"] else cache_dir / "repos" / f"{list_id}.git"
        out[list_id] = RepoConfig(
            list_id,
            values["remote"],
            tuple(values["branches"]),
            path,
            values["fetch_interval"],
        )
    return out


def load_service_config(path: Path) -> ServiceConfig:
    """Read and validate the service's TOML file; every bad key is named in the error."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    errors: list[str] = []
    review_data = {k: v for k, v in data.items() if k not in SERVICE_SECTIONS}
    if isinstance(review_data.get("lists"), dict):
        review_data["lists"] = {
            name: {k: v for k, v in table.items() if k != "repo"}
            if isinstance(table, dict)
            else table
            for name, table in review_data["lists"].items()
        }
    review = Config()
    try:
        review = config_from_data(review_data, str(path))
    except ConfigError as exc:
        errors.append(str(exc).removeprefix(f"{path}: "))
    service = _table(data.get("service", {}), SERVICE_KEYS, "service", errors)
    if service["concurrency"] < 1:
        errors.append("service.concurrency: at least 1")
    if service["max_attempts"] < 1:
        errors.append("service.max_attempts: at least 1")
    sources = _sources(data.get("sources", {}), errors)
    repos = _repos(data.get("lists", {}), review.cache_dir, errors)
    if errors:
        raise ConfigError(f"{path}: {len(errors)} bad key(s):\n  " + "\n  ".join(errors))
    store = Path(service["store"]) if service["store"] else review.cache_dir / "service.sqlite"
    return ServiceConfig(
        review=review,
        store=store,
        sources=sources,
        repos=repos,
        raw=data,
        own_addresses=tuple(service["own_addresses"]),
        **{k: v for k, v in service.items() if k not in ("store", "own_addresses")},
    )
