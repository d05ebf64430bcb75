"""Configuration: TOML into frozen dataclasses, validated at start-up."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewbot.build.executor import SPEC_HELP, ExecutorError, parse_spec
from reviewbot.errors import ConfigError
from reviewbot.limits import DEFAULT_LIMITS, ReviewLimits, limits_from_table
from reviewbot.model import Severity
from reviewbot.respond.policy import RespondConfig, parse_respond
from reviewbot.rules.registry import RulePolicy, known_selector
from reviewbot.web.settings import WebSettings, parse_web


def default_cache_dir() -> Path:
    explicit = os.environ.get("REVIEWBOT_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "reviewbot" if xdg else Path.home() / ".cache" / "reviewbot"


@dataclass(frozen=True)
class Config:
    """The settings reviewbot runs with."""

    cache_dir: Path = field(default_factory=default_cache_dir)
    tree: Path | None = None
    arches: tuple[str, ...] = ("x86_64", "arm64")
    rules: RulePolicy = field(default_factory=RulePolicy)
    lists: Mapping[str, RulePolicy] = field(default_factory=dict)
    # where builds run: "inline", "local", "local:N" or a Dask scheduler address
    build_executor: str = "local"
    # replies: sender, SMTP, patchwork, per-list policy ([respond], [lists.<id>.respond])
    respond: RespondConfig = field(default_factory=RespondConfig)
    web: WebSettings = field(default_factory=WebSettings)  # [web]: see docs/web.md
    # bounds on mail size, series total, stage time, sandbox disk and memory
    limits: ReviewLimits = DEFAULT_LIMITS

    def policy_for(self, list_id: str | None) -> RulePolicy:
        if list_id and list_id in self.lists:
            return self.rules.merged(self.lists[list_id])
        return self.rules


def _policy(data: Any, where: str) -> RulePolicy:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(data) - {"disable", "enable", "severity"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("disable", "enable"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{key}: expected a list of rule ids or names")
        for selector in value:
            if not known_selector(selector):
                raise ConfigError(f"{where}.{key}: {selector!r} names no rule")
        lists[key] = tuple(value)
    grades: dict[str, Severity] = {}
    for selector, grade in dict(data.get("severity", {})).items():
        if not known_selector(selector):
            raise ConfigError(f"{where}.severity: {selector!r} names no rule")
        try:
            grades[selector] = Severity(grade)
        except ValueError as exc:
            raise ConfigError(
                f"{where}.severity.{selector}: {grade!r} is not error, warning or info"
            ) from exc
    return RulePolicy(disable=lists["disable"], enable=lists["enable"], severity=grades)


def load_config(path: Path | None) -> Config:
    """Read a TOML config; None gives the defaults."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    # the service's own tables are validated by `serve` (reviewbot.service_config)
    data = {key: value for key, value in data.items() if key not in ("service", "sources")}
    return config_from_data(data, str(path))


def config_from_data(data: Mapping[str, Any], path: str) -> Config:
    """The review settings from a parsed TOML table (the service's sections taken out)."""
    unknown = set(data) - {
        "cache_dir",
        "tree",
        "arches",
        "rules",
        "lists",
        "build",
        "respond",
        "web",
        "limits",
    }
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
    arches = data.get("arches", ["x86_64", "arm64"])
    if not isinstance(arches, list) or not all(isinstance(a, str) for a in arches):
        raise ConfigError(f"{path}: arches must be a list of names")
    lists = {
        name: _policy(table.get("rules", {}), f"lists.{name}.rules")
        for name, table in dict(data.get("lists", {})).items()
    }
    build = data.get("build", {})
    if not isinstance(build, dict) or set(build) - {"executor"}:
        raise ConfigError(f"{path}: [build] takes only 'executor'")
    executor = build.get("executor", "local")
    try:
        if not isinstance(executor, str):
            raise ExecutorError(f"expected a string: {SPEC_HELP}")
        parse_spec(executor)
    except ExecutorError as exc:
        raise ConfigError(f"{path}: build.executor {executor!r}: {exc}") from exc
    table = data.get("limits", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [limits] must be a table")
    return Config(
        build_executor=executor,
        limits=limits_from_table(table, f"{path}: limits"),
        cache_dir=Path(data["cache_dir"]) if "cache_dir" in data else default_cache_dir(),
        tree=Path(data["tree"]) if "tree" in data else None,
        arches=tuple(arches),
        rules=_policy(data.get("rules", {}), "rules"),
        lists=lists,
        respond=parse_respond(data.get("respond", {}), data.get("lists", {})),
        web=parse_web(data.get("web", {})),
    )
