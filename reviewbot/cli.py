"""Command line: check, tree, rules, serve, status, outbox and web (parsing only)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from reviewbot import __version__
from reviewbot.budget import BudgetExceeded
from reviewbot.build.executor import ExecutorError, parse_spec
from reviewbot.config import Config, load_config
from reviewbot.errors import MalformedMailError, ReviewbotError, UserInputError
from reviewbot.limits import ReviewLimits
from reviewbot.mail.bounded import parse_bounded
from reviewbot.mail.mbox import InputTooLargeError, read_input
from reviewbot.mail.series import assemble, over_total
from reviewbot.model import Message, Series
from reviewbot.report import Skipped, exit_status, to_json, to_text
from reviewbot.respond.cli import add_parser as add_outbox_parser
from reviewbot.review import Reviewer, ReviewSettings
from reviewbot.rules.registry import RULES
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.identity import describe_tree
from reviewbot.tree.index import TreeIndex, build_index
from reviewbot.web.command import add_web_parser

log = logging.getLogger("reviewbot")


class _Progress:
    """Progress on a terminal (stderr), silent otherwise."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.2:
            return
        self.last = now
        percent = 100 * done // max(total, 1)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{step}: {percent:3d}% ({done}/{total})" + end)
        sys.stderr.flush()


def _tree_and_index(tree: Path | None, config: Config) -> tuple[Path, TreeIndex]:
    progress = _Progress()
    root = tree or config.tree or ensure_default_tree(config.cache_dir, progress)
    if not root.is_dir():
        raise UserInputError(f"--tree {root}: not a directory")
    return root, build_index(root, config.cache_dir, progress)


def _read_file(name: str, limit: int) -> tuple[bytes, str]:
    """An input file's bytes, never more than limit (+1 to tell it was over)."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(limit + 1), "<stdin>"
        with open(name, "rb") as handle:
            return handle.read(limit + 1), name
    except OSError as exc:
        raise UserInputError(f"{name}: {exc.strerror or exc}") from exc


def _read_messages(
    files: Sequence[str], limits: ReviewLimits
) -> tuple[list[Message], list[Skipped], int]:
    """Messages, skipped mails, and how many mails were refused by a limit."""
    messages: list[Message] = []
    skipped: list[Skipped] = []
    refused = 0
    for name in files:
        data, source = _read_file(name, limits.input_bytes)
        if len(data) > limits.input_bytes:
            raise InputTooLargeError(
                f"{source}: over the input limit of {limits.input_bytes} bytes (limits.input_bytes)"
            )
        for raw in read_input(data, source, limits):
            try:
                messages.append(parse_bounded(raw, limits))
            except (InputTooLargeError, BudgetExceeded) as exc:
                refused += 1
                skipped.append(Skipped("", "", f"review incomplete: {exc}"))
            except MalformedMailError as exc:
                skipped.append(Skipped("", "", f"malformed mail: {exc}"))
        del data
    return messages, skipped, refused


def _skip_reason(message: Message, limits: ReviewLimits) -> str:
    if over_total(message, limits.series_total):
        return (
            f"review incomplete: part {message.tags.number} of {message.tags.total}: a series "
            f"of more than {limits.series_total} parts is not assembled (limits.series_total)"
        )
    if message.tags.is_reply:
        return "reply with an inline diff" if message.has_patch else "reply or review, no patch"
    if message.tags.number == 0:
        return "cover letter without patches"
    if message.has_patch:
        return "patch outside its series (duplicate or beyond the total)"
    return "no patch in this mail"


def _ranges(numbers: Sequence[int]) -> str:
    """(1, 2, 3, 5) -> '1-3, 5'."""
    parts: list[str] = []
    for number in numbers:
        if parts and "-" not in parts[-1].split(", ")[-1] and int(parts[-1]) == number - 1:
            parts[-1] = f"{parts[-1]}-{number}"
        elif parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == number - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{number}"
        else:
            parts.append(str(number))
    return ", ".join(parts)


def _note_missing(series: Series) -> None:
    if series.missing:
        print(
            f"note: series <{series.message_id}> v{series.version} is missing "
            f"part(s) {_ranges(series.missing)} of {series.total}; checking the parts present",
            file=sys.stderr,
        )


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.executor:
        try:
            parse_spec(args.executor)
        except ExecutorError as exc:
            raise UserInputError(f"--executor {args.executor!r}: {exc}") from exc
    limits = config.limits
    messages, skipped, refused = _read_messages(args.files, limits)
    series_list, others = assemble(messages, limits.series_total)
    for message in others:
        reason = _skip_reason(message, limits)
        refused += reason.startswith("review incomplete")
        skipped.append(Skipped(message.message_id, message.subject, reason))
    if not series_list and refused:
        first = next(s.reason for s in skipped if s.reason.startswith("review incomplete"))
        raise UserInputError(first.removeprefix("review incomplete: "))
    if not series_list:
        for item in skipped:
            print(f"note: <{item.message_id}> {item.subject!r}: {item.reason}", file=sys.stderr)
        if args.format == "json":
            sys.stdout.write(to_json([], skipped, None))
        else:
            print("no patches found in the input", file=sys.stderr)
        return 0
    settings = ReviewSettings(
        tree=args.tree,
        arches=tuple(args.arch or ()),
        kconfig=not args.no_kconfig,
        build=args.build,
        executor=args.executor or "",
    )
    with Reviewer(config, settings, _Progress()) as reviewer:
        base = reviewer.default_base()
        results = []
        for series in series_list:
            _note_missing(series)
            results.append(reviewer.review(series, base, args.list))
    index = base.index
    info = describe_tree(base.disk(), index.key)
    if args.format == "json":
        sys.stdout.write(to_json(results, skipped, info))
    else:
        for item in skipped:
            print(f"note: <{item.message_id}> {item.subject!r}: {item.reason}", file=sys.stderr)
        sys.stdout.write(to_text(results, info))
    # A mail refused by a limit was not reviewed: never report that as clean.
    return max(exit_status(results), 1 if refused else 0)


def cmd_tree(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root, index = _tree_and_index(args.path, config)
    info = describe_tree(root, index.key)
    print(f"tree: {root}")
    print(f"version: {info.label}")
    print(f"key: {index.key}")
    print(f"kconfig files: {len(index.kconfig_files)}, kbuild files: {len(index.kbuild_files)}")
    print(
        f"symbols: {len(index.symbols)}, exports: {len(index.exports)}, "
        f"objects: {len(index.objects)}"
    )
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    """Build (once) the warm full build link checks use, per arch (minutes each)."""
    from reviewbot.build.kbuild_plan import WARM_CONFIG
    from reviewbot.build.matrix import load_matrix
    from reviewbot.build.prepare import check_compiler
    from reviewbot.build.warm import ensure_warm

    config = load_config(args.config)
    root, index = _tree_and_index(args.path, config)
    matrix = load_matrix()
    for name in args.arch or ["x86_64"]:
        if name not in matrix:
            raise UserInputError(f"unknown arch {name!r}: one of {', '.join(sorted(matrix))}")
        check_compiler(matrix[name])
        warm = ensure_warm(root, index.key, matrix[name], WARM_CONFIG, config.cache_dir)
        made = f"built in {warm.seconds:.0f} s" if warm.seconds else "already there"
        print(f"{name} {WARM_CONFIG.defconfig}: {warm.out} ({made})")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    for current in RULES:
        print(f"{current.id}  {current.name:40s} {current.severity.value:8s} {current.summary}")
    return 0


def _service_config(args: argparse.Namespace) -> Path:
    if args.config is None:
        raise UserInputError(
            f"{args.command} needs --config FILE (see deploy/reviewbot.example.toml)"
        )
    return Path(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    from reviewbot.daemon import serve

    return serve(_service_config(args), args.once)


def cmd_status(args: argparse.Namespace) -> int:
    from reviewbot.daemon import status

    return status(_service_config(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reviewbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"reviewbot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="review patches in mbox, mail or diff files")
    check.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="mbox (.gz too), a mail, git format-patch output or a diff; - = stdin",
    )
    check.add_argument(
        "--tree", type=Path, help="kernel tree to check against (default: Debian linux-source-6.12)"
    )
    check.add_argument(
        "--arch", action="append", metavar="ARCH", help="architecture to evaluate (repeatable)"
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--list", metavar="LIST_ID", help="apply this list's rule policy")
    check.add_argument(
        "--no-kconfig", action="store_true", help="skip Kconfig evaluation (static rules only)"
    )
    check.add_argument(
        "--build",
        action="store_true",
        help="also cross-build what each patch touches, base vs patched (sandboxed; slow)",
    )
    check.add_argument(
        "--executor",
        metavar="SPEC",
        help="where --build runs its jobs: inline, local (default; a process pool), local:N, "
        "or a Dask scheduler address such as tcp://10.0.0.5:8786",
    )
    check.set_defaults(func=cmd_check)

    tree = sub.add_parser("tree", help="fetch (if needed) and index a kernel tree")
    tree.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="a kernel or other Kconfig tree (default: Debian linux-source-6.12)",
    )
    tree.set_defaults(func=cmd_tree)

    serve = sub.add_parser("serve", help="watch the configured sources and review each series")
    serve.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, help="the service's TOML file"
    )
    serve.add_argument("--once", action="store_true", help="drain what is there, then exit")
    serve.set_defaults(func=cmd_serve)

    status = sub.add_parser("status", help="the service's queue, sources and last errors")
    status.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, help="the service's TOML file"
    )
    status.set_defaults(func=cmd_status)

    warm = sub.add_parser(
        "warm", help="make the warm full build per arch that `check --build` link checks use"
    )
    warm.add_argument("path", nargs="?", type=Path, help="kernel tree (default: linux-source-6.12)")
    warm.add_argument("--arch", action="append", metavar="ARCH", help="arch (default x86_64)")
    warm.set_defaults(func=cmd_warm)

    rules = sub.add_parser("rules", help="list the rules")
    rules.set_defaults(func=cmd_rules)
    add_outbox_parser(sub)
    add_web_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code not in (0, None) else 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except UserInputError as exc:
        print(f"reviewbot: error: {exc}", file=sys.stderr)
        return 2
    except ReviewbotError as exc:
        print(f"reviewbot: failed: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        # The input limits keep parsing far below this; what is left is an input we did
        # not foresee, and it is the input that is too large.
        print("reviewbot: error: out of memory reading the input", file=sys.stderr)
        return 2
    except Exception as exc:  # our bug: one line, the traceback only under -v
        log.debug("unexpected failure", exc_info=True)
        if args.verbose:
            traceback.print_exc()
        print(f"reviewbot: internal error: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
