"""Build the kernel's host `scripts/kconfig/conf` from a tree's own sources, once per tree.

conf is compiled directly with flex, bison and gcc from the tree's scripts/kconfig
sources (the object list is read from scripts/kconfig/Makefile's `common-objs`), so no
kbuild Makefile of the tree runs and the tree is only read. The binary is cached under
`<cache_dir>/conf/<key>/conf`, where key hashes the sources it is built from: trees with
the same kconfig sources share a binary, and a tree checked out at another commit with
different sources gets its own. A build happens in a private temporary directory that is
renamed into place, so concurrent builders never see a half-written binary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from reviewbot.errors import InfrastructureError

log = logging.getLogger(__name__)

_RECIPE = "reviewbot-conf-1"
_TOOLS = (("gcc", "gcc"), ("flex", "flex"), ("bison", "bison"))
# The objects of 6.12's conf (scripts/kconfig/Makefile), if the Makefile cannot be read.
_DEFAULT_OBJS = (
    "conf.o",
    "confdata.o",
    "expr.o",
    "lexer.lex.o",
    "menu.o",
    "parser.tab.o",
    "preprocess.o",
    "symbol.o",
    "util.o",
)
_CFLAGS = ("-O2", "-std=gnu11", "-fomit-frame-pointer", "-Wall")
_BUILD_TIMEOUT = 300


class ConfBuildError(InfrastructureError):
    """The host conf binary cannot be built (a tool is missing or the sources fail)."""


def _objects(kconfig_dir: Path) -> list[str]:
    """conf's object files as scripts/kconfig/Makefile lists them."""
    try:
        text = (kconfig_dir / "Makefile").read_text(errors="replace").replace("\\\n", " ")
    except OSError:
        return list(_DEFAULT_OBJS)
    common = re.search(r"^common-objs\s*:?=\s*(.*)$", text, re.MULTILINE)
    conf = re.search(r"^conf-objs\s*:?=\s*(.*)$", text, re.MULTILINE)
    if not common or not conf:
        return list(_DEFAULT_OBJS)
    objs = conf.group(1).replace("$(common-objs)", common.group(1)).split()
    if any("$" in obj or not obj.endswith(".o") for obj in objs):
        return list(_DEFAULT_OBJS)
    return objs


def _source_of(obj: str) -> str:
    stem = obj[:-2]
    if stem.endswith(".lex"):
        return stem[:-4] + ".l"
    if stem.endswith(".tab"):
        return stem[:-4] + ".y"
    return stem + ".c"


def _inputs(tree: Path) -> list[Path]:
    """Every file the binary is built from (its sources and their headers)."""
    kconfig = tree / "scripts" / "kconfig"
    files = [kconfig / _source_of(obj) for obj in _objects(kconfig)]
    missing = [str(f.relative_to(tree)) for f in files if not f.is_file()]
    if missing:
        raise ConfBuildError(
            f"{tree}: not a kconfig source layout conf can be built from "
            f"(missing {', '.join(missing)})"
        )
    headers = sorted(kconfig.glob("*.h")) + sorted((tree / "scripts" / "include").glob("*.h"))
    return files + headers


def conf_key(tree: Path) -> str:
    """The cache key of tree's conf: a hash of the sources it is built from."""
    digest = hashlib.sha256(_RECIPE.encode())
    for path in _inputs(tree):
        digest.update(str(path.relative_to(tree)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _check_tools() -> None:
    missing = [pkg for tool, pkg in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise ConfBuildError(
            "building the kernel's scripts/kconfig/conf needs "
            f"{', '.join(missing)}: apt-get install {' '.join(missing)}"
        )


def _step(argv: list[str], cwd: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=_BUILD_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfBuildError(f"building conf: {argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).splitlines()[-20:])
        raise ConfBuildError(f"building conf: `{' '.join(argv)}` failed:\n{tail}")


def _compile(tree: Path, out: Path) -> None:
    kconfig = tree / "scripts" / "kconfig"
    sources: list[str] = []
    for obj in _objects(kconfig):
        src = kconfig / _source_of(obj)
        stem = obj[:-2]
        if src.suffix == ".l":
            _step(["flex", f"-o{stem}.c", "-L", str(src)], out)
            sources.append(str(out / f"{stem}.c"))
        elif src.suffix == ".y":
            _step(["bison", "-o", f"{stem}.c", f"--defines={stem}.h", "-t", "-l", str(src)], out)
            sources.append(str(out / f"{stem}.c"))
        else:
            sources.append(str(src))
    includes = ["-I", str(out), "-I", str(kconfig), "-I", str(tree / "scripts" / "include")]
    _step(["gcc", *_CFLAGS, *includes, *sources, "-o", "conf"], out)


def ensure_conf(tree: Path, cache_dir: Path) -> Path:
    """The path of tree's conf binary, building it into cache_dir first if needed."""
    tree = tree.resolve()
    if not (tree / "scripts" / "kconfig").is_dir():
        raise ConfBuildError(f"{tree}: no scripts/kconfig directory (not a kernel tree?)")
    key = conf_key(tree)
    final = cache_dir / "conf" / key
    binary = final / "conf"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    _check_tools()
    final.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        _compile(tree, work)
        for leftover in work.iterdir():
            if leftover.name != "conf":
                leftover.unlink()
        try:
            work.rename(final)
        except OSError:
            if not binary.is_file():  # not another builder winning the race
                raise
    except OSError as exc:
        raise ConfBuildError(f"building conf into {final}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("built %s from %s in %.1f s", binary, tree, time.monotonic() - started)
    return binary
