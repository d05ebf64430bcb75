"""Render the reply to one reviewed revision: a plain-text mail, wrapped at 72 (pure).

The mail answers in the patch's thread (the cover letter for a series summary), says per
finding what goes wrong, in which configuration, and how to fix it, with the quoted hunk
lines; then how to reproduce everything (the reviewbot command, the base, arches and
compilers, the make command of builds), the tags to paste, and the series page. On v2 and
later it starts with what changed since vN-1. It is marked (X-Reviewbot, Auto-Submitted,
X-Patchwork-Hint: ignore, and "[reviewbot]" in the body) so that patchwork and other
bots do not take it for a patch and our own intake skips it. Prose is wrapped at 72;
quoted code, URLs and single long tokens are never broken.
"""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from reviewbot import __version__
from reviewbot.model import Severity
from reviewbot.respond.delta import Delta, delta, unsilenced
from reviewbot.respond.model import OutboundEmail, PatchInfo, ReplyFinding, ReplyInput
from reviewbot.respond.quote import quote_hunk

log = logging.getLogger(__name__)

WIDTH = 72
MARK_HEADER = "X-Reviewbot"
_WITNESS = re.compile(r"\b([A-Z][A-Z0-9_]*)=([ymn])\b")
_GROUP = re.compile(r"\(([^()]*)\)")
_ARCH_TAIL = re.compile(r",\s*([a-z][a-z0-9_-]*)\s*$")
_REPRODUCE = re.compile(r"\.?\s*Reproduce:\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Site:
    """Where the bot lives: its address, web pages, archive and rule docs."""

    sender: str
    series_url: str  # this revision's page
    archive_url: str = "https://lore.kernel.org/all/"
    rule_doc_url: str = ""  # "{rule}" is replaced by the rule id; "" = no link


def wrap(text: str, indent: str = "", first: str | None = None) -> list[str]:
    """Wrap prose at WIDTH, never breaking a word, a URL or a path."""
    lead = indent if first is None else first
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=lead,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [lead.rstrip()]


def shell(words: Sequence[str], prompt: str = "  $ ") -> list[str]:
    """A shell command split with backslash continuations to stay within WIDTH."""
    lines: list[str] = []
    indent = " " * (len(prompt) - len(prompt.lstrip()) + 4)
    current = prompt + words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) + 2 > WIDTH:
            lines.append(current + " \\")
            current = indent + word
        else:
            current += " " + word
    lines.append(current)
    return lines


def _first_name(author: str) -> str:
    name = parseaddr(author)[0].strip().strip('"')
    return name.split()[0] if name else ""


def _counts(findings: Iterable[ReplyFinding]) -> str:
    counts = dict.fromkeys(Severity, 0)
    for finding in findings:
        counts[finding.severity] += 1
    parts = [
        f"{n} {severity.value}{'s' if n != 1 else ''}"
        for severity, n in counts.items()
        if n and severity is not Severity.INFO
    ]
    if counts[Severity.INFO]:
        parts.append(f"{counts[Severity.INFO]} note{'s' if counts[Severity.INFO] != 1 else ''}")
    return ", ".join(parts) or "nothing"


def _patch_label(patches: Sequence[PatchInfo], message_id: str) -> str:
    for patch in patches:
        if patch.message_id == message_id:
            return patch.subject
    return ""


@dataclass(frozen=True)
class Witness:
    """The configuration a finding's message says shows the problem."""

    arch: str
    configs: tuple[str, ...]  # CONFIG_X=y|m|n
    text: str  # the parenthesised group it was read from, "(...)"


def witness(message: str) -> Witness | None:
    """The witness a message gives, if any.

    Rules write it in parentheses, "(A=y B=m, x86_64)"; the group with the most
    assignments (at least two) is the witness, and a trailing ", <arch>" names its
    architecture.
    """
    best: Witness | None = None
    for group in _GROUP.findall(message):
        found = _WITNESS.findall(group)
        if len(found) >= 2 and (best is None or len(found) > len(best.configs)):
            tail = _ARCH_TAIL.search(group)
            configs = tuple(dict.fromkeys(f"CONFIG_{n}={v}" for n, v in found))
            best = Witness(tail.group(1) if tail else "", configs, f"({group})")
    return best


def _split_reproduce(message: str) -> tuple[str, str]:
    """A build finding says 'Reproduce: cmd && cmd' at its end: split it off."""
    found = _REPRODUCE.search(message)
    if not found:
        return message, ""
    return message[: found.start()].rstrip() + ".", found.group(1).strip()


def finding_lines(
    number: int,
    finding: ReplyFinding,
    info: ReplyInput,
    site: Site,
    shown_quotes: dict[tuple[str, ...], int],
) -> list[str]:
    """One finding: where, the quoted hunk, what goes wrong, in which config, how to fix."""
    where = finding.path or "(the patch as a whole)"
    if finding.path and finding.line:
        where += f":{finding.line}"
    head = f"[{number}] {finding.severity.value}: {where}"
    tag = f"[{finding.rule} {finding.name}]"
    out = [f"{head} {tag}"] if len(head) + 1 + len(tag) <= WIDTH else [head, f"    {tag}"]
    label = _patch_label(info.patches, finding.patch_message_id)
    if label and len(info.patches) > 1:
        out += wrap(f"in {label}", "    ", "    ")
    diff = next((p.diff for p in info.patches if p.message_id == finding.patch_message_id), None)
    if finding.line is None:
        log.info(
            "<%s>: %s at %s has no line: nothing quoted",
            finding.patch_message_id,
            finding.rule,
            finding.path or "(patch)",
        )
    quoted = quote_hunk(diff, finding.path, finding.line)
    if quoted and quoted in shown_quotes:
        out += [f"    (the lines quoted in [{shown_quotes[quoted]}])"]
    elif quoted:
        shown_quotes[quoted] = number
        out += ["", *quoted]
    message, make = _split_reproduce(finding.message)
    seen = witness(message)
    if seen is not None:
        message = message.replace(seen.text, "(in the configuration below)")
    out += ["", *wrap(message, "    ", "    What goes wrong: ")]
    if seen is not None:
        lead = f"    Configuration ({seen.arch}): " if seen.arch else "    Configuration: "
        out += wrap(" ".join(seen.configs), "      ", lead)
    if finding.hint:
        out += wrap(finding.hint, "    ", "    How to fix: ")
    for note in finding.evidence:
        out += wrap(note, "      ", "    Note: ")
    if make:
        out += ["    Reproduce (in your tree, with the patch applied):"]
        for command in make.split(" && "):
            out += shell(command.split(), "      $ ")
    if site.rule_doc_url:
        url = site.rule_doc_url.replace("{rule}", finding.rule)
        out += [f"    About: {url}"] if len(url) + 11 <= WIDTH else ["    About:", f"      {url}"]
    return out


def _delta_lines(change: Delta, previous_version: int) -> list[str]:
    out = [f"Since v{previous_version}:"]
    for title, items in (
        ("fixed", change.fixed),
        ("still present", change.still),
        ("new", change.new),
    ):
        if not items:
            out.append(f"  {title}: none")
            continue
        out.append(f"  {title}:")
        for finding in items:
            where = finding.path or "(patch)"
            out += wrap(f"{finding.rule} {finding.name} in {where}", "      ", "    - ")
    return out


def _reproduce_lines(info: ReplyInput, site: Site, with_build: bool) -> list[str]:
    out = ["How to reproduce:"]
    url = f"{site.archive_url}{info.parent_message_id}/t.mbox.gz"
    out += shell(["curl", "-sL", url, "|", "gunzip", ">", "series.mbox"])
    command = ["reviewbot", "check"]
    if info.list_id:
        command += ["--list", info.list_id]
    for arch in info.arches:
        command += ["--arch", arch]
    if with_build:
        command.append("--build")
    if info.base_commit:
        out += shell(["git", "-C", "linux", "checkout", info.base_commit])
        command += ["--tree", "linux"]
    out += shell([*command, "series.mbox"])
    if info.base_commit:
        base = info.base_commit
        if info.base_ref:
            base += f" ({info.base_kind}: {info.base_ref})"
    else:
        base = f"{info.tree or 'the default tree'} (the default tree; no base-commit: matched)"
    out += wrap(base, "      ", "  base: ")
    if info.arches:
        out += wrap(", ".join(info.compilers or info.arches), "      ", "  arches: ")
    return out


def _intro(info: ReplyInput, shown: Sequence[ReplyFinding], hidden: int) -> list[str]:
    name = _first_name(info.author)
    what = "series" if len(info.patches) > 1 else "patch"
    lines = [f"Hi {name}," if name else "Hi,", ""]
    if shown:
        text = f"[reviewbot] I checked this {what} (v{info.version}) and found {_counts(shown)}."
    else:
        text = f"[reviewbot] I checked this {what} (v{info.version}) and found no problems."
    if hidden:
        text += f" {hidden} less severe note{' is' if hidden == 1 else 's are'} on the series page."
    if info.partial:
        text += f" Only {len(info.patches)} of {info.total} parts had arrived."
    return lines + wrap(text)


def render_reply(
    info: ReplyInput,
    site: Site,
    message_id: str,
    min_severity: Severity,
    cc: Sequence[str] = (),
) -> OutboundEmail:
    """The reply mail for a reviewed revision (findings already in store order)."""
    current = unsilenced(info.findings, info.silenced)
    shown = [f for f in current if f.severity.rank >= min_severity.rank]
    hidden = len(current) - len(shown)
    body = _intro(info, shown, hidden)
    if info.previous is not None and info.previous_version is not None:
        previous = [
            f
            for f in unsilenced(info.previous, info.silenced)
            if f.severity.rank >= min_severity.rank
        ]
        body += ["", *_delta_lines(delta(previous, shown), info.previous_version)]
    quotes: dict[tuple[str, ...], int] = {}
    for number, finding in enumerate(shown, 1):
        body += ["", *finding_lines(number, finding, info, site, quotes)]
    for silence in info.silenced:
        body += ["", *wrap(f"{silence.rule} is silenced by {silence.by}: {silence.reason}")]
    body += ["", *_reproduce_lines(info, site, any(f.rule.startswith("BLD") for f in shown))]
    if shown:
        body += ["", *wrap("If you fix this in a separate commit, you may add:"), ""]
        body += [
            f"Reported-by: {site.sender}",
            f"Closes: {site.archive_url}{message_id.strip('<>')}/",
        ]
    body += ["", *wrap(f"Details: {site.series_url}")]
    body += [
        "",
        *wrap(
            "A maintainer of the touched files can answer with a line "
            '"reviewbot: not-a-bug <RULE> <reason>" (silence a false alarm) or '
            '"reviewbot: retest".'
        ),
        "",
        "-- ",
        f"reviewbot {__version__}, an automated reviewer [reviewbot]",
    ]
    subject = info.subject if info.subject.lower().startswith("re:") else f"Re: {info.subject}"
    references = tuple(dict.fromkeys((*info.parent_references, info.parent_message_id)))
    return OutboundEmail(
        message_id=message_id,
        sender=site.sender,
        to=(info.author,),
        cc=tuple(cc),
        subject=subject,
        in_reply_to=info.parent_message_id,
        references=references,
        body="\n".join(line if line == "-- " else line.rstrip() for line in body) + "\n",
        headers=(
            (MARK_HEADER, f"{__version__}; revision={info.revision_id}"),
            ("Auto-Submitted", "auto-generated"),
            ("X-Patchwork-Hint", "ignore"),
        ),
    )


def to_mime(mail: OutboundEmail, date: datetime) -> EmailMessage:
    """The RFC 5322 message: plain text, UTF-8, 8bit, no MIME parts."""
    message = EmailMessage(policy=SMTP)
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = mail.message_id
    message["In-Reply-To"] = f"<{mail.in_reply_to.strip('<>')}>"
    message["References"] = " ".join(f"<{r.strip('<>')}>" for r in mail.references)
    for name, value in mail.headers:
        message[name] = value
    message.set_content(mail.body, charset="utf-8", cte="8bit")
    return message
