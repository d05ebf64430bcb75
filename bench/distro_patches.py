"""Review a distribution's kernel patch stack the way the bot reviews a list's patches.

    python -m bench.distro_patches --fetch                  # Debian's patches of the tree
    python -m bench.distro_patches --quilt DIR              # DIR/series lists the patches
    python -m bench.distro_patches --debian-tar FILE        # a linux_*.debian.tar.xz
        [--arch A ...] [--all-files] [--tree PATH]

Debian's linux-source-6.12 is upstream 6.12.y with Debian's patches already applied, so
each patch is reviewed as the series "revert it, apply it again" on the unpacked tree
(the same way the real-fix acceptance test rebuilds a tree without a fix). By default
only patches that touch Kconfig, Makefile or Kbuild files are reviewed (the stages the
acceptance criterion is about); `--all-files` reviews every patch. A patch whose reverse
does not apply alone (a later patch of the stack changed the same lines) is counted and
skipped. Prints one line per reviewed patch and the warning- and error-level findings;
exits 1 when any patch got one, 2 on bad input (no series, an archive that serves no
source packages), 0 otherwise.

`--fetch` asks apt for the source package the installed linux-source-6.12 was built from
(`apt-get source --download-only`, with deb-src lines derived from the machine's deb
lines), at the installed version.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench._kconfig_common import revert_then_fix
from reviewbot.config import default_cache_dir
from reviewbot.kconfig.confirm import make_confirm
from reviewbot.kconfig.facts import KconfigDelta
from reviewbot.kconfig.plan import KconfigPlan
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.model import Finding, Message, Severity
from reviewbot.rules.engine import review_series
from reviewbot.rules.registry import RULES
from reviewbot.tree.fetch import PACKAGE, default_tree_dir, query_tool
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import build_index

SEVERE = (Severity.WARNING, Severity.ERROR)
_BUILD_FILE = re.compile(r"(^|/)(Kconfig[^/]*|Makefile[^/]*|Kbuild[^/]*)$")
_DIFF_PATH = re.compile(r"^(?:\+\+\+|---) (?:[ab]/)?(\S+)", re.M)
_MAX_PATCH_BYTES = 4 << 20


class InputError(Exception):
    """Bad input: no series, or no patches to read."""


@dataclass(frozen=True)
class Outcome:
    """What reviewing one patch of the stack gave."""

    name: str
    status: str  # "reviewed", "skipped: <why>"
    findings: tuple[Finding, ...] = ()


def read_series(text: str) -> list[str]:
    """The patch names of a quilt series file, in order (comments, blanks, -pN dropped)."""
    names: list[str] = []
    for row in text.splitlines():
        row = row.split("#", 1)[0].strip()
        if row:
            names.append(row.split()[0])
    return names


def touched_paths(diff: str) -> set[str]:
    return {p for p in _DIFF_PATH.findall(diff) if p != "/dev/null"}


def is_build_patch(diff: str) -> bool:
    """Does the patch change a Kconfig, Makefile or Kbuild file?"""
    return any(_BUILD_FILE.search(p) for p in touched_paths(diff))


def load_patch(path: Path, name: str) -> Message | None:
    """The patch as a message (DEP-3 headers or a mail), None when it holds no diff."""
    data = path.read_bytes()[:_MAX_PATCH_BYTES]
    mails = read_input(data, name)
    if not mails:
        return None
    message = parse_mail(mails[0])
    if not message.diff:
        return None
    subject = message.subject or name
    return replace(message, message_id=f"debian-patch.{name}", subject=subject)


def quilt_patches(root: Path) -> Iterator[tuple[str, Path]]:
    series = root / "series"
    if not series.is_file():
        raise InputError(f"{root}: no series file")
    for name in read_series(series.read_text(encoding="utf-8", errors="replace")):
        path = (root / name).resolve()
        if root.resolve() not in path.parents or not path.is_file():
            raise InputError(f"{root}/series names {name!r}, which is not a file under {root}")
        yield name, path


def extract_patches(tarball: Path, into: Path) -> Path:
    """debian/patches of a debian.tar.xz, unpacked safely under `into`."""
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("debian/patches/")]
        if not members:
            raise InputError(f"{tarball}: no debian/patches")
        archive.extractall(into, members=members, filter="data")
    return into / "debian" / "patches"


def _deb_src_lines() -> list[str]:
    """deb-src lines for every deb line apt is configured with (one-line and deb822)."""
    lines: list[str] = []
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = {
                    k.strip(): v.strip()
                    for k, _, v in (r.partition(":") for r in stanza.splitlines())
                    if not k.startswith("#")
                }
                if "deb" not in fields.get("Types", "").split():
                    continue
                for uri in fields.get("URIs", "").split():
                    for suite in fields.get("Suites", "").split():
                        lines.append(f"deb-src {uri} {suite} {fields.get('Components', 'main')}")
        else:
            for row in text.splitlines():
                row = row.split("#", 1)[0].strip()
                if row.startswith("deb "):
                    lines.append("deb-src " + row[4:])
    return lines


def fetch_debian_patches(into: Path) -> Path:
    """Download the installed linux-source's Debian source package; its debian/patches."""
    package = query_tool(["dpkg-query", "-W", "-f=${source:Package}", PACKAGE])
    version = query_tool(["dpkg-query", "-W", "-f=${Version}", PACKAGE])
    if not package or not version:
        raise InputError(f"{PACKAGE} is not installed: cannot tell which source to fetch")
    lists = into / "lists"
    (lists / "partial").mkdir(parents=True)
    (into / "src.list").write_text("\n".join(_deb_src_lines()) + "\n")
    options = [
        f"-oDir::Etc::sourcelist={into / 'src.list'}",
        "-oDir::Etc::sourceparts=-",
        f"-oDir::State::Lists={lists}",
        "-oAPT::Sandbox::User=root",
    ]
    subprocess.run(["apt-get", *options, "update"], capture_output=True, check=False, timeout=600)
    fetched = subprocess.run(
        ["apt-get", *options, "source", "--download-only", f"{package}={version}"],
        cwd=into,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    tarballs = sorted(into.glob(f"{package}_*.debian.tar.*"))
    if fetched.returncode != 0 or not tarballs:
        tail = (fetched.stderr or fetched.stdout).strip().splitlines()[-3:]
        raise InputError(
            f"apt could not fetch the source of {package} {version}: " + " / ".join(tail)
        )
    return extract_patches(tarballs[0], into / "unpacked")


def review_stack(
    patches: Sequence[tuple[str, Path]],
    tree: Path,
    arches: Sequence[str],
    all_files: bool = False,
) -> list[Outcome]:
    """Review each patch as "revert, apply" on the tree; findings of the second part only."""
    index = build_index(tree, default_cache_dir())
    evaluator = KconfigEvaluator(
        tree, index.kconfig_digest, make_confirm(tree, default_cache_dir()), index=index
    )

    def pinned(plan: KconfigPlan) -> Mapping[str, KconfigDelta]:
        return evaluator(replace(plan, arches=tuple(arches)))

    outcomes: list[Outcome] = []
    try:
        for name, path in patches:
            message = load_patch(path, name)
            if message is None:
                outcomes.append(Outcome(name, "skipped: no diff"))
                continue
            if not all_files and not is_build_patch(message.diff or ""):
                outcomes.append(Outcome(name, "skipped: no Kconfig/Makefile/Kbuild change"))
                continue
            try:
                series = revert_then_fix(message)
            except ValueError as exc:
                outcomes.append(Outcome(name, f"skipped: {exc}"))
                continue
            result = review_series(series, FsTree(tree), index, RULES, (), pinned)
            if any(f.rule == "RB002" for f in result.findings):
                outcomes.append(Outcome(name, "skipped: its reverse does not apply alone"))
                continue
            ours = tuple(f for f in result.findings if f.patch == message.message_id)
            outcomes.append(Outcome(name, "reviewed", ours))
    finally:
        evaluator.close()
    return outcomes


def report(outcomes: Sequence[Outcome]) -> tuple[str, int]:
    """The text report and the exit status (1 when a reviewed patch got a warning or error)."""
    lines: list[str] = []
    reviewed = [o for o in outcomes if o.status == "reviewed"]
    severe = 0
    for outcome in outcomes:
        bad = [f for f in outcome.findings if f.severity in SEVERE]
        severe += len(bad)
        counts = f"{len(outcome.findings)} findings, {len(bad)} warning/error"
        lines.append(
            f"{outcome.name}: {outcome.status}"
            + (f" ({counts})" if bad or outcome.status == "reviewed" else "")
        )
        lines += [f"    {f.rule} {f.path}:{f.line} {f.severity}: {f.message}" for f in bad]
    skipped = len(outcomes) - len(reviewed)
    lines.append(
        f"{len(outcomes)} patches: {len(reviewed)} reviewed, {skipped} skipped; "
        f"{severe} warning- or error-level findings"
    )
    return "\n".join(lines), 1 if severe else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fetch", action="store_true", help="fetch Debian's source package")
    source.add_argument("--quilt", type=Path, help="a directory with a quilt series file")
    source.add_argument("--debian-tar", type=Path, help="a linux_*.debian.tar.xz")
    parser.add_argument("--tree", type=Path, default=None, help="the tree (default: cached)")
    parser.add_argument("--arch", action="append", default=None, help="repeatable")
    parser.add_argument("--all-files", action="store_true", help="review every patch")
    args = parser.parse_args(argv)
    tree = args.tree or default_tree_dir(default_cache_dir())
    with tempfile.TemporaryDirectory(prefix="reviewbot-distro-") as scratch:
        try:
            if args.fetch:
                root = fetch_debian_patches(Path(scratch))
            elif args.debian_tar:
                root = extract_patches(args.debian_tar, Path(scratch))
            else:
                root = args.quilt
            patches = list(quilt_patches(root))
        except (InputError, OSError, tarfile.TarError) as exc:
            print(f"distro_patches: {exc}", file=sys.stderr)
            return 2
        outcomes = review_stack(patches, tree, args.arch or ["x86_64", "arm64"], args.all_files)
    text, status = report(outcomes)
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
