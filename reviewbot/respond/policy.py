"""Per-list reply policy and the [respond] config tables, parsed from TOML (pure).

    [respond]                       # how replies leave: sender, SMTP, patchwork, web links
    from = "reviewbot <reviewbot@example.org>"
    web_base_url = "https://reviewbot.example.org"   # series pages: <url>/series/<id>
    archive_url = "https://lore.kernel.org/all/"     # thread mbox and Closes: links
    rule_doc_url = "..."            # each rule's doc, {rule} = its id; "" = no link
    max_attempts = 8                # tries of one mail or check before it is failed
    [respond.smtp]                  # host, port, tls ("none", "starttls", "tls"), username,
                                    # password_env (the variable holding the password), timeout
    [respond.patchwork]             # token_env, context_prefix
    [respond.policy]                # the default policy of every list (keys below)
    [lists.<list-id>.respond]       # one list's policy: overrides [respond.policy] key by key

Policy keys: mode ("dry-run", the default: nothing leaves; "checks-only"; "email": mail
and checks), min_severity (the least severe finding that makes a mail), delay (seconds
between a review and its mail, so a quick v2 supersedes v1), cc (addresses to copy),
allow / deny (recipient patterns, fnmatch, case-insensitive: allow empty = anyone not
denied), rate_limit (mails per list per hour), mail_clean (mail a series with no
finding), commanders (addresses allowed to send commands besides MAINTAINERS).
Secrets are never in the file: the file names the environment variables that hold them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from reviewbot.errors import ConfigError
from reviewbot.model import Severity

# each rule's documentation in the project's repository ({rule}: the rule id)
RULE_DOC_URL = "https://github.com/reviewbot/reviewbot/blob/main/rules/{rule}/README.md"


class Mode(StrEnum):
    """What a list lets the bot do."""

    DRY_RUN = "dry-run"  # record what would be sent; send nothing
    CHECKS_ONLY = "checks-only"  # patchwork checks, no mail
    EMAIL = "email"  # patchwork checks and mail


class Tls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True)
class ListPolicy:
    """What the bot may send for one list."""

    mode: Mode = Mode.DRY_RUN
    min_severity: Severity = Severity.WARNING
    delay: float = 0.0
    cc: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    rate_limit: int = 30
    mail_clean: bool = False
    commanders: tuple[str, ...] = ()

    @property
    def sends_checks(self) -> bool:
        return self.mode in (Mode.CHECKS_ONLY, Mode.EMAIL)

    @property
    def sends_mail(self) -> bool:
        return self.mode is Mode.EMAIL

    def recipient_allowed(self, address: str) -> bool:
        addr = parseaddr(address)[1].lower()
        if not addr or "@" not in addr:
            return False
        if any(fnmatch.fnmatchcase(addr, pattern.lower()) for pattern in self.deny):
            return False
        return not self.allow or any(
            fnmatch.fnmatchcase(addr, pattern.lower()) for pattern in self.allow
        )

    def may_command(self, address: str) -> bool:
        addr = parseaddr(address)[1].lower()
        return bool(addr) and addr in {parseaddr(c)[1].lower() for c in self.commanders}


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    tls: Tls = Tls.NONE
    username: str = ""
    password_env: str = ""
    timeout: float = 60.0


@dataclass(frozen=True)
class RespondConfig:
    """The [respond] tables: where replies come from and go, and each list's policy."""

    sender: str = "reviewbot <reviewbot@localhost>"
    web_base_url: str = "http://localhost:8080"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    token_env: str = "REVIEWBOT_PATCHWORK_TOKEN"
    context_prefix: str = "reviewbot"
    archive_url: str = "https://lore.kernel.org/all/"
    rule_doc_url: str = RULE_DOC_URL
    max_attempts: int = 8
    default: ListPolicy = field(default_factory=ListPolicy)
    lists: Mapping[str, ListPolicy] = field(default_factory=dict)

    def policy(self, list_id: str | None) -> ListPolicy:
        if list_id and list_id in self.lists:
            return self.lists[list_id]
        return self.default

    def series_url(self, revision_id: int) -> str:
        return f"{self.web_base_url.rstrip('/')}/series/{revision_id}"


def _table(data: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(data) - keys
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    return data


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _number(value: Any, where: str, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}: expected a number >= {minimum}")
    return float(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


_POLICY_KEYS = {
    "mode",
    "min_severity",
    "delay",
    "cc",
    "allow",
    "deny",
    "rate_limit",
    "mail_clean",
    "commanders",
}


def parse_policy(data: Any, where: str, base: ListPolicy) -> ListPolicy:
    """One policy table over `base` (keys it does not name keep base's values)."""
    table = _table(data, where, _POLICY_KEYS)
    out = base
    if "mode" in table:
        try:
            out = replace(out, mode=Mode(table["mode"]))
        except ValueError as exc:
            raise ConfigError(
                f"{where}.mode: {table['mode']!r} is not dry-run, checks-only or email"
            ) from exc
    if "min_severity" in table:
        try:
            out = replace(out, min_severity=Severity(table["min_severity"]))
        except ValueError as exc:
            raise ConfigError(
                f"{where}.min_severity: {table['min_severity']!r} is not error, warning or info"
            ) from exc
    if "delay" in table:
        out = replace(out, delay=_number(table["delay"], f"{where}.delay"))
    if "rate_limit" in table:
        out = replace(out, rate_limit=int(_number(table["rate_limit"], f"{where}.rate_limit", 1)))
    if "mail_clean" in table:
        if not isinstance(table["mail_clean"], bool):
            raise ConfigError(f"{where}.mail_clean: expected true or false")
        out = replace(out, mail_clean=table["mail_clean"])
    lists = {
        key: _strs(table[key], f"{where}.{key}")
        for key in ("cc", "allow", "deny", "commanders")
        if key in table
    }
    out = replace(
        out,
        cc=lists.get("cc", out.cc),
        allow=lists.get("allow", out.allow),
        deny=lists.get("deny", out.deny),
        commanders=lists.get("commanders", out.commanders),
    )
    for address in out.cc:
        if "@" not in parseaddr(address)[1]:
            raise ConfigError(f"{where}.cc: {address!r} is not a mail address")
    return out


def _smtp(data: Any, where: str) -> SmtpSettings:
    table = _table(data, where, {"host", "port", "tls", "username", "password_env", "timeout"})
    try:
        tls = Tls(table.get("tls", "none"))
    except ValueError as exc:
        raise ConfigError(f"{where}.tls: expected none, starttls or tls") from exc
    port = table.get("port", 465 if tls is Tls.TLS else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port: expected a port number")
    return SmtpSettings(
        host=_str(table.get("host", "localhost"), f"{where}.host"),
        port=port,
        tls=tls,
        username=_str(table.get("username", ""), f"{where}.username"),
        password_env=_str(table.get("password_env", ""), f"{where}.password_env"),
        timeout=_number(table.get("timeout", 60.0), f"{where}.timeout", 1),
    )


def parse_respond(data: Any, lists: Any) -> RespondConfig:
    """The [respond] table and every [lists.<id>.respond] table."""
    table = _table(
        data,
        "respond",
        {
            "from",
            "web_base_url",
            "archive_url",
            "rule_doc_url",
            "smtp",
            "patchwork",
            "policy",
            "max_attempts",
        },
    )
    sender = _str(table.get("from", RespondConfig.sender), "respond.from")
    if "@" not in parseaddr(sender)[1]:
        raise ConfigError(f"respond.from: {sender!r} is not a mail address")
    web = _str(table.get("web_base_url", RespondConfig.web_base_url), "respond.web_base_url")
    if not web.startswith(("http://", "https://")):
        raise ConfigError("respond.web_base_url: expected an http(s) URL")
    archive = _str(table.get("archive_url", RespondConfig.archive_url), "respond.archive_url")
    if not archive.startswith(("http://", "https://")):
        raise ConfigError("respond.archive_url: expected an http(s) URL")
    archive = archive.rstrip("/") + "/"
    rule_doc = _str(table.get("rule_doc_url", RULE_DOC_URL), "respond.rule_doc_url")
    pw = _table(table.get("patchwork", {}), "respond.patchwork", {"token_env", "context_prefix"})
    prefix = _str(pw.get("context_prefix", "reviewbot"), "respond.patchwork.context_prefix")
    if not prefix or not all(c.isalnum() or c in "-_" for c in prefix):
        raise ConfigError("respond.patchwork.context_prefix: letters, digits, - and _ only")
    default = parse_policy(table.get("policy", {}), "respond.policy", ListPolicy())
    per_list: dict[str, ListPolicy] = {}
    if not isinstance(lists, dict):
        raise ConfigError("lists: expected a table")
    for name, list_table in lists.items():
        if isinstance(list_table, dict) and "respond" in list_table:
            where = f"lists.{name}.respond"
            per_list[name] = parse_policy(list_table["respond"], where, default)
    return RespondConfig(
        sender=sender,
        web_base_url=web,
        archive_url=archive,
        rule_doc_url=rule_doc,
        smtp=_smtp(table.get("smtp", {}), "respond.smtp"),
        token_env=_str(pw.get("token_env", "REVIEWBOT_PATCHWORK_TOKEN"), "respond.patchwork"),
        context_prefix=prefix,
        max_attempts=int(_number(table.get("max_attempts", 8), "respond.max_attempts", 1)),
        default=default,
        lists=per_list,
    )
