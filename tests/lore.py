"""A real public-inbox (Debian's `public-inbox`) in a temporary directory, served over HTTP.

`PublicInbox.create(root)` runs `public-inbox-init -V2` (config `publicinboxmda.spamcheck
= none`, everything under root: PI_CONFIG, HOME, the emergency dir), `import_mbox` loads
an mbox in bulk (the package's own InboxWritable::import_mbox, as `public-inbox-learn`
does), `deliver` hands one mail to `public-inbox-mda` as a mail server would, and
`serve()` runs `public-inbox-httpd` on 127.0.0.1:<free port> until the context exits.
The server publishes what lore does: new.atom, <msgid>/raw, <msgid>/t.mbox.gz,
manifest.js.gz and the v2 git epochs (`git clone <url>git/0.git`).

The `lore_server` fixture gives a served, empty inbox; tests load mail into it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

NAME = "linux-kbuild"
ADDRESS = "linux-kbuild@vger.kernel.org"

_IMPORT = r"""
use strict; use warnings;
use PublicInbox::Config; use PublicInbox::InboxWritable;
my $cfg = PublicInbox::Config->new;
my $ibx = $cfg->lookup_name($ARGV[0]) or die "no inbox $ARGV[0]\n";
PublicInbox::InboxWritable->new($ibx)->import_mbox(\*STDIN, 'mboxrd');
"""


def available() -> bool:
    return all(
        shutil.which(tool)
        for tool in ("public-inbox-init", "public-inbox-mda", "public-inbox-httpd", "perl")
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PublicInbox:
    """One v2 inbox and its configuration, all under root."""

    root: Path
    name: str = NAME
    address: str = ADDRESS
    url: str = ""  # set while served: http://127.0.0.1:<port>/<name>/

    @property
    def inboxdir(self) -> Path:
        return self.root / "inbox"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "PI_CONFIG": str(self.root / "config"),
            "PI_EMERGENCY": str(self.root / "emergency"),
            "LANG": "C.UTF-8",
        }

    @classmethod
    def create(cls, root: Path, indexlevel: str = "basic") -> PublicInbox:
        inbox = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "public-inbox-init",
                "-V2",
                "-L",
                indexlevel,
                inbox.name,
                str(inbox.inboxdir),
                f"http://127.0.0.1/{inbox.name}",
                inbox.address,
            ],
            inbox.env,
        )
        _run(
            ["git", "config", "-f", inbox.env["PI_CONFIG"], "publicinboxmda.spamcheck", "none"],
            inbox.env,
        )
        return inbox

    def import_mbox(self, mboxrd: bytes) -> None:
        """Load an mboxrd in bulk (one git commit per message, indexed)."""
        _run(["perl", "-e", _IMPORT, self.name], self.env, stdin=mboxrd, timeout=1800)

    def deliver(self, raw: bytes) -> None:
        """Deliver one mail as the list's mail server would (public-inbox-mda)."""
        env = {**self.env, "ORIGINAL_RECIPIENT": self.address}
        _run(["public-inbox-mda", "--no-precheck"], env, stdin=raw)

    def epochs(self) -> list[Path]:
        return sorted((self.inboxdir / "git").glob("*.git"), key=lambda p: int(p.stem))

    @contextmanager
    def serve(self, timeout: float = 60.0) -> Iterator[str]:
        """Run public-inbox-httpd on 127.0.0.1 and yield the inbox URL; stop it after."""
        port = _free_port()
        log = (self.root / "httpd.log").open("ab")
        proc = subprocess.Popen(
            ["public-inbox-httpd", "-W0", "-l", f"http://127.0.0.1:{port}"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/{self.name}/"
        try:
            _wait_ready(url + "manifest.js.gz", proc, timeout)
            self.url = url
            yield url
        finally:
            self.url = ""
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _run(
    argv: list[str], env: dict[str, str], stdin: bytes | None = None, timeout: float = 120
) -> None:
    done = subprocess.run(
        argv, check=False, env=env, input=stdin, capture_output=True, timeout=timeout
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {err}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"public-inbox-httpd exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"public-inbox-httpd did not answer {url} in {timeout:.0f} s")


@pytest.fixture
def lore_server(tmp_path: Path) -> Iterator[PublicInbox]:
    """A served, empty v2 public-inbox: `.url` to read it, `.deliver(raw)` to add a mail."""
    if not available():
        pytest.skip("Debian's public-inbox is not installed (run .ci/setup)")
    inbox = PublicInbox.create(tmp_path / "public-inbox")
    with inbox.serve():
        yield inbox


def purge(inbox: PublicInbox, raw: bytes) -> None:
    """Remove a message with public-inbox-purge: the epoch's history is rewritten."""
    _run(["public-inbox-purge", "--all"], inbox.env, stdin=raw)
