"""The tree index of a git commit, per-file facts cached by blob id across bases.

A file's facts depend only on its path and its content, so they are kept per blob id
(in memory, and on disk in <cache>/index/git-blobs.v<format>.pickle): indexing a base
near one already indexed re-reads only the blobs that differ (a branch head moving by
a few commits costs milliseconds, not a tree walk). The Kconfig digest is made of the
Kconfig files' blob ids, so two bases with the same Kconfig files share it.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time
from pathlib import Path

from reviewbot.bases.git import Git
from reviewbot.tree.index import INDEX_FORMAT, FileFacts, TreeIndex, classify, facts_for, merge

log = logging.getLogger(__name__)

# The same top-level directories the on-disk index skips (reviewbot.tree.index.list_tree).
SKIP_TOP = frozenset({"tools", "Documentation", "LICENSES", "debian"})
# Facts kept across bases: about five kernel trees' worth; beyond that, only the last
# base's are kept (the cache is bounded however many bases go by).
MAX_FACTS = 300_000


def indexed(path: str) -> bool:
    """Whether the index reads this file (same rule as the on-disk index)."""
    parts = path.split("/")
    if parts[0] in SKIP_TOP or any(p.startswith(".") for p in parts[:-1]):
        return False
    return classify(path) is not None


class BlobFacts:
    """(blob id, path) -> FileFacts, shared by every base of every list."""

    def __init__(self, cache_dir: Path) -> None:
        self.file = cache_dir / "index" / f"git-blobs.v{INDEX_FORMAT}.pickle"
        self._facts: dict[str, FileFacts] | None = None
        self._lock = threading.Lock()
        self._dirty = False
        self.last_read = 0  # blobs read by the last index(): what a nearby base costs

    def _load(self) -> dict[str, FileFacts]:
        if self._facts is None:
            self._facts = {}
            if self.file.exists():
                try:
                    with self.file.open("rb") as handle:
                        self._facts = pickle.load(handle)
                except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
                    log.warning("blob facts %s unreadable (%s); starting afresh", self.file, exc)
        return self._facts

    def index(self, git: Git, commit: str) -> TreeIndex:
        """The index of one commit; unknown blobs are read and scanned, then remembered."""
        started = time.monotonic()
        entries = git.ls_tree(commit)
        facts: dict[str, FileFacts] = {}
        digest = hashlib.sha256()
        read = 0
        with self._lock:
            known = self._load()
            for path in sorted(entries):
                if not indexed(path):
                    continue
                sha = entries[path][1]
                kind = classify(path)
                if kind == "kconfig":
                    digest.update(f"{path}\0{sha}\n".encode())
                key = f"{sha}:{path}"  # facts name their file: the path is part of the key
                found = known.get(key)
                if found is None:
                    found = _scan(git, path, sha)
                    known[key] = found
                    read += 1
                    self._dirty = True
                facts[path] = found
            if len(known) > MAX_FACTS:
                self._facts = {f"{entries[p][1]}:{p}": f for p, f in facts.items()}
                self._dirty = True
        self.last_read = read
        index = merge(f"git:{commit}", commit, facts)
        index.kconfig_digest = digest.hexdigest()[:20]
        log.info(
            "indexed %s: %d blobs read of %d files in %.1fs",
            commit[:12],
            read,
            len(facts),
            time.monotonic() - started,
        )
        return index

    def save(self) -> None:
        """Persist what was learnt (atomic rename)."""
        with self._lock:
            if not self._dirty or self._facts is None:
                return
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                pickle.dump(self._facts, handle, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self.file)
            self._dirty = False


def _scan(git: Git, path: str, sha: str) -> FileFacts:
    data = git.read_blob(sha)
    if data is None:
        return FileFacts()
    if classify(path) == "source" and b"EXPORT_" not in data:
        return FileFacts()
    return facts_for(path, data.decode("utf-8", errors="replace"))
