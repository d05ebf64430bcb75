"""Command line: `reviewbot check` and `reviewbot tree`, `reviewbot rules`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from reviewbot import __version__
from reviewbot.build.executor import ExecutorError, executor_from_spec, parse_spec
from reviewbot.build.provider import BuildEvaluator, executor_runner
from reviewbot.config import Config, load_config
from reviewbot.errors import MalformedMailError, ReviewbotError, UserInputError
from reviewbot.kconfig.confirm import make_confirm, make_parse_check
from reviewbot.kconfig.provider import KconfigEvaluator
from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Message, Series
from reviewbot.report import Skipped, exit_status, to_json, to_text
from reviewbot.rules.base import Rule
from reviewbot.rules.engine import SeriesResult, review_series
from reviewbot.rules.registry import RULES, select_rules
from reviewbot.store.jobs import JobStore
from reviewbot.tree.fetch import ensure_default_tree
from reviewbot.tree.fs import FsTree
from reviewbot.tree.index import TreeIndex, build_index

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


def _read_messages(files: Sequence[str]) -> tuple[list[Message], list[Skipped]]:
    messages: list[Message] = []
    skipped: list[Skipped] = []
    for name in files:
        if name == "-":
            data, source = sys.stdin.buffer.read(), "<stdin>"
        else:
            try:
                data, source = Path(name).read_bytes(), name
            except OSError as exc:
                raise UserInputError(f"{name}: {exc.strerror or exc}") from exc
        for raw in read_input(data, source):
            try:
                messages.append(parse_mail(raw))
            except MalformedMailError as exc:
                skipped.append(Skipped("", "", f"malformed mail: {exc}"))
    return messages, skipped


def _skip_reason(message: Message) -> str:
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


def _review(
    series: Series,
    base: FsTree,
    index: TreeIndex,
    rules: Sequence[Rule],
    arches: tuple[str, ...],
    evaluator: KconfigEvaluator | None,
    builder: BuildEvaluator | None,
) -> SeriesResult:
    if series.missing:
        print(
            f"note: series <{series.message_id}> v{series.version} is missing "
            f"part(s) {_ranges(series.missing)} of {series.total}; checking the parts present",
            file=sys.stderr,
        )
    return review_series(series, base, index, rules, arches, evaluator, builder)


def _builder(
    args: argparse.Namespace,
    config: Config,
    root: Path,
    index: TreeIndex,
    arches: tuple[str, ...],
    stack: ExitStack,
) -> BuildEvaluator:
    """The build provider on the chosen executor; jobs recorded in <cache>/jobs.sqlite."""
    spec = args.executor or config.build_executor
    if parse_spec(spec).kind == "inline":
        return BuildEvaluator(root, index.key, config.cache_dir, arches)
    executor = stack.enter_context(executor_from_spec(spec))
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    store = stack.enter_context(JobStore.open(config.cache_dir / "jobs.sqlite"))
    run_many = executor_runner(executor, store)
    return BuildEvaluator(root, index.key, config.cache_dir, arches, run_many=run_many)


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.executor:
        try:
            parse_spec(args.executor)
        except ExecutorError as exc:
            raise UserInputError(f"--executor {args.executor!r}: {exc}") from exc
    messages, skipped = _read_messages(args.files)
    series_list, others = assemble(messages)
    for message in others:
        reason = _skip_reason(message)
        skipped.append(Skipped(message.message_id, message.subject, reason))
    if not series_list:
        for item in skipped:
            print(f"note: <{item.message_id}> {item.subject!r}: {item.reason}", file=sys.stderr)
        if args.format == "json":
            sys.stdout.write(to_json([], skipped, ""))
        else:
            print("no patches found in the input", file=sys.stderr)
        return 0
    root, index = _tree_and_index(args.tree, config)
    rules = select_rules(config.policy_for(args.list))
    base = FsTree(root)
    arches = tuple(args.arch or config.arches)
    evaluator = (
        None
        if args.no_kconfig
        else KconfigEvaluator(
            root,
            index.kconfig_digest,
            make_confirm(root, config.cache_dir),
            parse_check=make_parse_check(root, config.cache_dir),
            index=index,
        )
    )
    with ExitStack() as stack:
        if evaluator is not None:
            stack.callback(evaluator.close)
        builder = _builder(args, config, root, index, arches, stack) if args.build else None
        results = [_review(s, base, index, rules, arches, evaluator, builder) for s in series_list]
    if args.format == "json":
        sys.stdout.write(to_json(results, skipped, index.key))
    else:
        for item in skipped:
            print(f"note: <{item.message_id}> {item.subject!r}: {item.reason}", file=sys.stderr)
        sys.stdout.write(to_text(results))
    return exit_status(results)


def cmd_tree(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root, index = _tree_and_index(args.path, config)
    print(f"tree: {root}")
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

    warm = sub.add_parser(
        "warm", help="make the warm full build per arch that `check --build` link checks use"
    )
    warm.add_argument("path", nargs="?", type=Path, help="kernel tree (default: linux-source-6.12)")
    warm.add_argument("--arch", action="append", metavar="ARCH", help="arch (default x86_64)")
    warm.set_defaults(func=cmd_warm)

    rules = sub.add_parser("rules", help="list the rules")
    rules.set_defaults(func=cmd_rules)
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


if __name__ == "__main__":
    sys.exit(main())
