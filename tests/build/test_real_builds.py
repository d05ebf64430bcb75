"""Real sandboxed builds on the 6.12 tree: x86_64 gcc and the arm64 cross compiler.

Prepared trees are cached in the default cache dir (shared with the rule fixtures), so
only the first run pays for defconfig + prepare (about 15-30 s per arch and config).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot import sandbox
from reviewbot.build.diagnostics import new_diagnostics, step_failure
from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import BuildConfig, BuildJob, BuildOutcome, BuildStep, StepKind
from reviewbot.build.planner import NO_WERROR
from reviewbot.build.prepare import (
    CompilerMissingError,
    check_compiler,
    config_values,
    ensure_prepared,
)
from reviewbot.build.runner import JobRequest, run_job
from reviewbot.config import default_cache_dir
from reviewbot.tree.index import TreeIndex

pytestmark = [pytest.mark.slow, pytest.mark.realtree]
MATRIX = load_matrix()
NOPROTO = "\nint reviewbot_noproto(void)\n{\n\treturn 1;\n}\n"


def _needs(name: str) -> None:
    if not sandbox.bwrap_available():
        pytest.skip("bubblewrap cannot run here")
    try:
        check_compiler(MATRIX[name])
    except CompilerMissingError as exc:
        pytest.skip(str(exc))


class Builder:
    """run_job on the real tree, keyed like the rule fixtures so prepared trees are shared."""

    def __init__(self, tree: Path, key: str) -> None:
        self.tree = tree
        self.key = key

    def __call__(
        self,
        arch: str,
        step: BuildStep,
        overlay: dict[str, str | None],
        enable: tuple[tuple[str, str], ...] = (NO_WERROR,),
        limits: sandbox.Limits | None = None,
    ) -> BuildOutcome:
        _needs(arch)
        job = BuildJob(MATRIX[arch], BuildConfig(MATRIX[arch].defconfig, enable), (step,))
        request = JobRequest(
            job, str(self.tree), self.key, str(default_cache_dir()), tuple(overlay.items())
        )
        if limits is not None:
            request = replace(request, limits=limits)
        return run_job(request)


@pytest.fixture
def build(real_tree: Path, real_index: TreeIndex) -> Builder:
    return Builder(real_tree, real_index.key)


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_new_warning_found_on_patched_only(build: Builder, real_tree: Path, arch: str) -> None:
    text = (real_tree / "lib/cmdline.c").read_text() + NOPROTO
    step = BuildStep(StepKind.OBJECTS, ("lib/cmdline.o",))
    outcome = build(arch, step, {"lib/cmdline.c": text})
    base, patched = outcome.base[0], outcome.patched[0]
    assert base.ok and patched.ok, patched.tail
    new = new_diagnostics(base.diagnostics, patched.diagnostics, ())
    assert [(d.path, d.text) for d in new] == [
        ("lib/cmdline.c", "no previous prototype for 'reviewbot_noproto' [-Wmissing-prototypes]")
    ]
    assert patched.commands == (
        f"make O=build {' '.join(MATRIX[arch].make_vars())} -j2 W=1 -k lib/cmdline.o",
    )


def test_controlling_symbol_is_enabled_with_its_dependencies(build: Builder) -> None:
    """iova_bitmap.o needs IOMMUFD_DRIVER (promptless, off in x86_64 defconfig): without it
    `make iova_bitmap.o` fails with 'redefinition of iova_bitmap_alloc' against the stubs."""
    step = BuildStep(StepKind.OBJECTS, ("drivers/iommu/iommufd/iova_bitmap.o",))
    outcome = build("x86_64", step, {}, (("IOMMUFD_DRIVER", "y"), NO_WERROR))
    assert outcome.config_missing == ()
    assert outcome.base[0].ok, outcome.base[0].tail
    assert not [d for d in outcome.base[0].diagnostics if d.kind.value == "error"]


def test_external_module_builds_on_the_base(build: Builder) -> None:
    outcome = build("x86_64", BuildStep(StepKind.EXTMOD), {})
    assert outcome.base[0].ok and outcome.patched[0].ok, outcome.base[0].tail


class _Listener:
    """A loopback TCP server that records whether anything connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connected = False
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connected = True
            conn.close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    yield server
    server.stop = True
    server.thread.join()
    server.sock.close()


def _hostile_makefile(tree: Path, rule: str) -> dict[str, str | None]:
    text = (tree / "lib/Makefile").read_text()
    return {"lib/Makefile": text + "\n$(obj)/cmdline.o: $(obj)/hostile\n$(obj)/hostile:\n" + rule}


def test_patch_cannot_reach_the_network_or_write_outside(
    build: Builder, real_tree: Path, tmp_path: Path, listener: _Listener
) -> None:
    """A patched Makefile tries a (loopback) connection to the host and writes to the tree,
    the host's /tmp and $HOME: the build fails, is reported, and the host is untouched."""
    targets = [real_tree / "reviewbot-pwned", tmp_path / "pwned", Path.home() / "reviewbot-pwned"]
    rule = (
        "\t-python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
        f'{listener.port}), 3)"\n'
        + "".join(f"\t-touch {t}\n" for t in targets)
        + f"\ttouch {targets[0]}\n"
    )
    step = BuildStep(StepKind.OBJECTS, ("lib/cmdline.o",))
    outcome = build("x86_64", step, _hostile_makefile(real_tree, rule))
    assert not listener.connected
    assert not any(t.exists() for t in targets)
    failure = step_failure(outcome.base[0], outcome.patched[0])
    assert failure is not None and "exit status" in failure.text


def test_patch_that_runs_forever_is_stopped(build: Builder, real_tree: Path) -> None:
    limits = sandbox.Limits(cpu_seconds=120, memory_bytes=4 << 30, wall_seconds=20.0)
    step = BuildStep(StepKind.OBJECTS, ("lib/cmdline.o",))
    overlay = _hostile_makefile(real_tree, "\twhile :; do :; done\n")
    outcome = build("x86_64", step, overlay, limits=limits)
    assert outcome.base[0].ok
    patched = outcome.patched[0]
    assert patched.timed_out or patched.status < 0
    failure = step_failure(outcome.base[0], patched)
    assert failure is not None and ("wall-clock" in failure.text or "killed" in failure.text)


def test_prepared_config_keeps_requested_values(build: Builder) -> None:
    _needs("x86_64")
    config = BuildConfig("defconfig", (NO_WERROR,))
    prepared = ensure_prepared(build.tree, build.key, MATRIX["x86_64"], config, default_cache_dir())
    assert prepared.missing == () and prepared.modules
    values = config_values((prepared.out / ".config").read_text())
    assert values.get("WERROR") == "n" and values.get("MODULES") == "y"
    again = ensure_prepared(build.tree, build.key, MATRIX["x86_64"], config, default_cache_dir())
    assert again.cached and again.out == prepared.out
