"""Where the rule docs (rules/<ID>/README.md) are, read once and rendered to HTML.

The docs live in the repository beside the package, not inside it. They are looked for in
order: the `[web] rules_dir` setting, the checkout the code runs from (`rules/` beside
`reviewbot/`, as in an editable install or a container that copies the repository), and
the data directories a packager would use (`<prefix>/share/reviewbot/rules`,
`/usr/share/reviewbot/rules`). A directory counts only if it holds the docs of rules the
registry knows. Raw HTML in a doc is escaped, not rendered.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

import reviewbot

log = logging.getLogger(__name__)

MAX_DOC_BYTES = 256 * 1024


@dataclass(frozen=True)
class RuleDoc:
    rule: str
    markdown: str
    html: str


def candidates(configured: Path | None) -> list[Path]:
    here = Path(reviewbot.__file__).resolve().parent.parent
    found = [here / "rules", Path(sys.prefix) / "share/reviewbot/rules"]
    found.append(Path("/usr/share/reviewbot/rules"))
    return ([configured] if configured is not None else []) + found


def find_rules_dir(configured: Path | None, rule_ids: Iterable[str]) -> Path | None:
    """The first candidate directory holding a README.md for one of the known rules."""
    ids = list(rule_ids)
    for directory in candidates(configured):
        if any((directory / rule / "README.md").is_file() for rule in ids):
            return directory
    if configured is not None:
        log.warning("web.rules_dir %s holds no rule docs", configured)
    return None


def load_docs(directory: Path | None, rule_ids: Iterable[str]) -> dict[str, RuleDoc]:
    """Read and render every known rule's doc; a missing or unreadable one is skipped."""
    if directory is None:
        return {}
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    docs: dict[str, RuleDoc] = {}
    for rule in rule_ids:
        path = directory / rule / "README.md"
        try:
            with path.open("rb") as handle:
                text = handle.read(MAX_DOC_BYTES).decode("utf-8", "replace")
        except OSError as exc:
            log.warning("rule doc %s: %s", path, exc)
            continue
        docs[rule] = RuleDoc(rule, text, renderer.render(text))
    return docs
