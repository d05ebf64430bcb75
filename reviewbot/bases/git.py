"""A bare kernel clone: fetch its branches, resolve commits, list trees, read blobs.

Every git command has a timeout. Blobs are read through one long-lived
`git cat-file --batch` per repository (a lock serialises the threads that share it),
so reading a base file costs a pipe round trip, not a process.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from pathlib import Path

from reviewbot.errors import InfrastructureError

log = logging.getLogger(__name__)

_HEX = re.compile(r"^[0-9a-fA-F]{7,64}$")
MAX_BLOB_BYTES = 8 << 20
CHUNK = 1 << 20  # bytes read at a time when a blob over the limit is skipped
FETCH_TIMEOUT = 3600.0


class GitError(InfrastructureError):
    """A git command failed or timed out."""


class Git:
    """One bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._batch: subprocess.Popen[bytes] | None = None

    def run(self, *args: str, timeout: float = 120.0, check: bool = True) -> str:
        command = ["git", "--git-dir", str(self.path), *args]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {args[0]}: {exc}") from exc
        if check and done.returncode != 0:
            error = done.stderr.decode(errors="replace").strip()[-500:]
            raise GitError(f"git {' '.join(args[:3])} failed: {error}")
        return done.stdout.decode(errors="replace")

    def ensure(self, remote: str) -> None:
        """Create the bare repository (once) with `origin` pointing at remote."""
        if not (self.path / "HEAD").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self.run("init", "--bare", "--quiet")
        urls = self.run("remote", check=False).split()
        verb = "set-url" if "origin" in urls else "add"
        self.run("remote", verb, "origin", remote)

    def fetch(self, branches: tuple[str, ...]) -> None:
        """Fetch the configured branches into refs/remotes/origin/ (no tags, pruned)."""
        specs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in branches]
        self.run("fetch", "--no-tags", "--quiet", "origin", *specs, timeout=FETCH_TIMEOUT)

    def resolve(self, rev: str) -> str | None:
        """The commit id rev names here, or None (an unknown object is not an error)."""
        if rev.startswith("-") or not rev.strip():
            return None
        out = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        sha = out.strip()
        return sha if _HEX.match(sha) else None

    def head(self, branch: str) -> tuple[str, int] | None:
        """(commit, committer time) of a fetched branch, or None when it is not there."""
        out = self.run(
            "log", "-1", "--format=%H %ct", f"refs/remotes/origin/{branch}", "--", check=False
        ).split()
        if len(out) != 2 or not _HEX.match(out[0]):
            return None
        return out[0], int(out[1])

    def ls_tree(self, commit: str) -> dict[str, tuple[str, str]]:
        """Every file of a commit: path -> (mode, blob id)."""
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit, timeout=300.0)
        files: dict[str, tuple[str, str]] = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            mode, kind, sha = meta.split(" ")
            if kind == "blob":
                files[path] = (mode, sha)
        return files

    def read_blob(self, sha: str) -> bytes | None:
        """A blob's bytes (None when missing or larger than MAX_BLOB_BYTES)."""
        with self._lock:
            batch = self._batch_process()
            assert batch.stdin is not None and batch.stdout is not None
            try:
                batch.stdin.write(sha.encode() + b"\n")
                batch.stdin.flush()
                header = batch.stdout.readline().split()
                if len(header) != 3:
                    return None
                size = int(header[2])
                if size > MAX_BLOB_BYTES:
                    left = size + 1  # drain it (and its newline), keep nothing
                    while left > 0:
                        chunk = batch.stdout.read(min(CHUNK, left))
                        if not chunk:
                            raise OSError("git cat-file ended in the middle of a blob")
                        left -= len(chunk)
                    data = b""
                else:
                    data = batch.stdout.read(size + 1)[:size]
                    if len(data) < size:
                        raise OSError("git cat-file ended in the middle of a blob")
            except (OSError, ValueError) as exc:
                self._close_batch()
                raise GitError(f"git cat-file --batch: {exc}") from exc
        return None if size > MAX_BLOB_BYTES else data

    def _batch_process(self) -> subprocess.Popen[bytes]:
        if self._batch is None or self._batch.poll() is not None:
            self._batch = subprocess.Popen(
                ["git", "--git-dir", str(self.path), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._batch

    def _close_batch(self) -> None:
        if self._batch is not None:
            if self._batch.stdin is not None:
                self._batch.stdin.close()
            try:
                self._batch.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._batch.kill()
                self._batch.wait()
            if self._batch.stdout is not None:
                self._batch.stdout.close()
            self._batch = None

    def close(self) -> None:
        with self._lock:
            self._close_batch()
