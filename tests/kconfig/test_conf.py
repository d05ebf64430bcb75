"""The kernel's conf, built from the tree and run sandboxed, as the Kconfig ground truth."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import kconfiglib
import pytest

from reviewbot.errors import BadDiffError
from reviewbot.kconfig.compat import OverlayKconfig
from reviewbot.kconfig.conf import (
    ConfBuildError,
    ConfDiagnostic,
    ConfParse,
    ConfSeverity,
    Override,
    UnmetDependency,
    conf_diff_warnings,
    conf_olddefconfig,
    conf_parse,
    ensure_conf,
    shadow_tree,
)
from reviewbot.kconfig.conf_output import (
    ConfMessages,
    config_text,
    diff_messages,
    parse_config,
    parse_messages,
)
from reviewbot.kconfig.env import kconfig_env
from reviewbot.sandbox import Limits

ERROR, WARNING = ConfSeverity.ERROR, ConfSeverity.WARNING

# Real stderr of 6.12 conf (RULES-RESEARCH §3), as the fixtures below reproduce it.
UNMET_KVM_VFIO = """
WARNING: unmet direct dependencies detected for KVM_VFIO
  Depends on [n]: VFIO [=n]
  Selected by [y]:
  - KVM [=y] && VIRTUALIZATION [=y] && AS_HAS_ARMV8_4 [=y]
"""
LOOP_VFIO = """\
error: recursive dependency detected!
\tsymbol VFIO depends on IOMMUFD_DRIVER
\tsymbol IOMMUFD_DRIVER is selected by MLX5_VFIO_PCI
\tsymbol MLX5_VFIO_PCI depends on VFIO
For a resolution refer to Documentation/kbuild/kconfig-language.rst
subsection "Kconfig recursive dependency limitations"

"""
KVM_VFIO_UNMET = UnmetDependency(
    "KVM_VFIO", "n", "VFIO [=n]", ("KVM [=y] && VIRTUALIZATION [=y] && AS_HAS_ARMV8_4 [=y]",)
)


# -- reading conf's output (pure) ---------------------------------------------------------


def test_parse_messages_reads_unmet_blocks_once() -> None:
    found = parse_messages(UNMET_KVM_VFIO + UNMET_KVM_VFIO, failed=False)
    assert found == ConfMessages(unmet=(KVM_VFIO_UNMET,))
    assert found.unmet[0].text == UNMET_KVM_VFIO.strip()


def test_parse_messages_reads_a_recursive_dependency() -> None:
    found = parse_messages(LOOP_VFIO, failed=True)
    assert found.diagnostics == ()
    (loop,) = found.recursions
    assert loop.symbols == ("VFIO", "IOMMUFD_DRIVER", "MLX5_VFIO_PCI")
    assert loop.chain[1] == "symbol IOMMUFD_DRIVER is selected by MLX5_VFIO_PCI"


def test_parse_messages_locates_parser_errors_and_warnings() -> None:
    stderr = (
        "/work/src/virt/kvm/Kconfig:62: syntax error\n"
        'virt/kvm/Kconfig:62: unknown statement "boolean"\n'
        "drivers/foo/Kconfig:7:warning: 'FOO' defined with blank help text\n"
        "curl: (7) Couldn't connect to server\n"
    )
    found = parse_messages(stderr, failed=True, roots=("/work/src",))
    assert found.diagnostics == (
        ConfDiagnostic(ERROR, "virt/kvm/Kconfig", 62, "syntax error"),
        ConfDiagnostic(ERROR, "virt/kvm/Kconfig", 62, 'unknown statement "boolean"'),
        ConfDiagnostic(WARNING, "drivers/foo/Kconfig", 7, "'FOO' defined with blank help text"),
        ConfDiagnostic(ERROR, None, None, "curl: (7) Couldn't connect to server"),
    )
    # The same unprefixed message from a run that succeeded is a $(warning-if) warning.
    assert parse_messages("Kconfig:3: hello\n", failed=False).diagnostics == (
        ConfDiagnostic(WARNING, "Kconfig", 3, "hello"),
    )


def test_parse_messages_keeps_continuation_lines_with_their_message() -> None:
    stderr = (
        "Recursive inclusion detected.\n"
        "Inclusion path:\n"
        "  current file : a/Kconfig\n"
        "  included from: b/Kconfig:3\n"
    )
    found = parse_messages(stderr, failed=True)
    assert [d.text for d in found.diagnostics] == [
        "Recursive inclusion detected.",
        "Inclusion path:\n  current file : a/Kconfig\n  included from: b/Kconfig:3",
    ]


def test_config_text_round_trips_through_parse_config() -> None:
    text = config_text({"CONFIG_KVM": "y", "VFIO": "n", "NR_CPUS": "64", "LOCALVERSION": "-rb"})
    assert text == (
        'CONFIG_KVM=y\n# CONFIG_VFIO is not set\nCONFIG_NR_CPUS=64\nCONFIG_LOCALVERSION="-rb"\n'
    )
    assert parse_config(text) == {
        "KVM": "y",
        "VFIO": "n",
        "NR_CPUS": "64",
        "LOCALVERSION": '"-rb"',
    }
    with pytest.raises(ValueError, match="not a Kconfig symbol"):
        config_text({"KVM=y\nCONFIG_VFIO": "y"})


def test_diff_ignores_moved_lines_and_values_but_not_new_messages() -> None:
    base = parse_messages("a/Kconfig:10:warning: old\n" + UNMET_KVM_VFIO, failed=False)
    patched = parse_messages(
        "a/Kconfig:12:warning: old\n"
        "a/Kconfig:30:warning: new\n" + UNMET_KVM_VFIO.replace("[=n]", "[=m]") + LOOP_VFIO,
        failed=True,
    )
    diff = diff_messages(base, patched)
    assert diff.diagnostics == (ConfDiagnostic(WARNING, "a/Kconfig", 30, "new"),)
    assert diff.unmet == ()
    assert [r.symbols for r in diff.recursions] == [("VFIO", "IOMMUFD_DRIVER", "MLX5_VFIO_PCI")]
    assert not diff_messages(patched, patched)


# -- shadow tree -----------------------------------------------------------------------------


def test_shadow_tree_links_the_base_and_holds_patched_files(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "drivers" / "vfio").mkdir(parents=True)
    (base / "drivers" / "net").mkdir()
    (base / "scripts").mkdir()
    (base / "Kconfig").write_text("base top\n")
    (base / "drivers" / "Kconfig").write_text("base drivers\n")
    (base / "drivers" / "vfio" / "Kconfig").write_text("base vfio\n")
    (base / "drivers" / "vfio" / "Kconfig.old").write_text("to delete\n")
    overlay = {
        "drivers/vfio/Kconfig": "patched vfio\n",
        "drivers/vfio/Kconfig.old": None,
        "drivers/new/Kconfig": "added\n",
    }
    shadow = shadow_tree(base, overlay, tmp_path / "shadow")

    assert (shadow / "Kconfig").is_symlink() and (shadow / "scripts").is_symlink()
    assert (shadow / "drivers" / "net").is_symlink()
    assert (shadow / "drivers" / "Kconfig").read_text() == "base drivers\n"
    assert not (shadow / "drivers").is_symlink()
    assert (shadow / "drivers" / "vfio" / "Kconfig").read_text() == "patched vfio\n"
    assert not (shadow / "drivers" / "vfio" / "Kconfig").is_symlink()
    assert not (shadow / "drivers" / "vfio" / "Kconfig.old").exists()
    assert (shadow / "drivers" / "new" / "Kconfig").read_text() == "added\n"
    # The base is untouched.
    assert (base / "drivers" / "vfio" / "Kconfig").read_text() == "base vfio\n"
    assert (base / "drivers" / "vfio" / "Kconfig.old").exists()
    assert not (base / "drivers" / "new").exists()


def test_a_patched_script_keeps_the_base_files_execute_bit(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "scripts").mkdir(parents=True)
    (base / "scripts" / "ld-version.sh").write_text("#!/bin/sh\necho base\n")
    (base / "scripts" / "ld-version.sh").chmod(0o755)
    (base / "scripts" / "Kconfig.include").write_text("x := 1\n")
    (base / "scripts" / "Kconfig.include").chmod(0o644)
    overlay = {
        "scripts/ld-version.sh": "#!/bin/sh\necho patched\n",
        "scripts/Kconfig.include": "x := 2\n",
        "scripts/new.sh": "#!/bin/sh\n",
    }
    shadow = shadow_tree(base, overlay, tmp_path / "shadow") / "scripts"
    assert os.access(shadow / "ld-version.sh", os.X_OK)
    assert not os.access(shadow / "Kconfig.include", os.X_OK)
    assert (shadow / "new.sh").read_text() == "#!/bin/sh\n"


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../b", ""])
def test_shadow_tree_refuses_paths_outside_the_tree(tmp_path: Path, path: str) -> None:
    with pytest.raises(BadDiffError):
        shadow_tree(tmp_path, {path: "x"}, tmp_path / "shadow")


# -- building conf ---------------------------------------------------------------------------


def _fake_kconfig_tree(root: Path) -> Path:
    kconfig = root / "scripts" / "kconfig"
    kconfig.mkdir(parents=True)
    (root / "scripts" / "include").mkdir()
    (kconfig / "Makefile").write_text(
        "common-objs\t:= util.o \\\n\t\t   other.o\nconf-objs\t:= conf.o $(common-objs)\n"
    )
    (kconfig / "conf.c").write_text('#include "lkc.h"\nint main(void) { return helper(); }\n')
    (kconfig / "util.c").write_text('#include "lkc.h"\nint helper(void) { return other(); }\n')
    (kconfig / "other.c").write_text('#include "lkc.h"\nint other(void) { return 7; }\n')
    (kconfig / "lkc.h").write_text("int helper(void);\nint other(void);\n")
    return root


def test_ensure_conf_builds_from_the_makefile_list_and_caches(tmp_path: Path) -> None:
    tree = _fake_kconfig_tree(tmp_path / "tree")
    binary = ensure_conf(tree, tmp_path / "cache")
    assert subprocess.run([binary], check=False).returncode == 7
    built = binary.stat().st_mtime_ns
    assert ensure_conf(tree, tmp_path / "cache") == binary
    assert binary.stat().st_mtime_ns == built
    assert sorted(p.name for p in binary.parent.iterdir()) == ["conf"]
    # Other sources, another binary.
    (tree / "scripts" / "kconfig" / "other.c").write_text("int other(void) { return 3; }\n")
    rebuilt = ensure_conf(tree, tmp_path / "cache")
    assert rebuilt != binary
    assert subprocess.run([rebuilt], check=False).returncode == 3


def test_ensure_conf_names_the_missing_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _fake_kconfig_tree(tmp_path / "tree")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfBuildError, match=r"gcc, flex, bison: apt-get install"):
        ensure_conf(tree, tmp_path / "cache")


def test_ensure_conf_reports_a_failing_compile(tmp_path: Path) -> None:
    tree = _fake_kconfig_tree(tmp_path / "tree")
    (tree / "scripts" / "kconfig" / "util.c").write_text("this is not C\n")
    with pytest.raises(ConfBuildError, match=r"util\.c"):
        ensure_conf(tree, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "conf").iterdir())


# -- the real 6.12 tree ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def conf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache: conf is built once per test session, from the real tree."""
    return tmp_path_factory.mktemp("conf-cache")


@pytest.fixture(scope="module")
def base_parse(real_tree: Path, conf_cache: Path) -> Callable[[str], ConfParse]:
    done: dict[str, ConfParse] = {}

    def parse(arch: str) -> ConfParse:
        if arch not in done:
            done[arch] = conf_parse(real_tree, {}, arch, conf_cache)
        return done[arch]

    return parse


def _edit(tree: Path, path: str, old: str, new: str) -> dict[str, str | None]:
    text = (tree / path).read_text()
    assert old in text, f"{path} no longer contains {old!r}"
    return {path: text.replace(old, new, 1)}


def _top_kconfig(tree: Path, extra: str) -> dict[str, str | None]:
    """The top-level Kconfig with extra entries right after it sources Kconfig.include."""
    lines = (tree / "Kconfig").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "scripts/Kconfig.include" in line) + 1
    return {"Kconfig": "".join([*lines[:at], extra, *lines[at:]])}


@pytest.mark.realtree
def test_conf_builds_from_the_real_tree(real_tree: Path, conf_cache: Path) -> None:
    binary = ensure_conf(real_tree, conf_cache)
    assert os.access(binary, os.X_OK)
    usage = subprocess.run([binary, "--help"], capture_output=True, text=True, check=False)
    assert "--olddefconfig" in usage.stdout + usage.stderr
    assert ensure_conf(real_tree, conf_cache) == binary


@pytest.mark.realtree
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_base_tree_parses_clean(base_parse: Callable[[str], ConfParse], arch: str) -> None:
    result = base_parse(arch)
    assert result.ok, result.stderr
    assert (result.errors, result.warnings, result.diagnostics) == ((), (), ())
    assert (result.unmet, result.recursions) == ((), ())


@pytest.mark.realtree
def test_boolean_fails_conf_although_kconfiglib_accepts_it(
    real_tree: Path, conf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = _edit(
        real_tree,
        "virt/kvm/Kconfig",
        "config KVM_VFIO\n       bool\n",
        "config KVM_VFIO\n       boolean\n",
    )
    result = conf_parse(real_tree, overlay, "x86_64", conf_cache)
    assert not result.ok
    assert result.returncode == 1
    unknown = ConfDiagnostic(ERROR, "virt/kvm/Kconfig", 62, 'unknown statement "boolean"')
    assert unknown in result.diagnostics
    assert 'virt/kvm/Kconfig:62: error: unknown statement "boolean"' in result.errors

    for name, value in kconfig_env(str(real_tree), "x86_64").items():
        monkeypatch.setenv(name, value)
    kc = OverlayKconfig(str(real_tree), overlay, warn_to_stderr=False)
    assert kc.syms["KVM_VFIO"].type == kconfiglib.BOOL


@pytest.mark.realtree
def test_new_parser_warning_is_reported_against_the_base(
    real_tree: Path, conf_cache: Path, base_parse: Callable[[str], ConfParse]
) -> None:
    overlay = _top_kconfig(
        real_tree, 'config RB_BLANK\n\tbool "blank help"\n\thelp\n\nconfig RB_AFTER\n\tbool\n'
    )
    patched = conf_parse(real_tree, overlay, "x86_64", conf_cache)
    assert patched.ok
    diff = conf_diff_warnings(base_parse("x86_64"), patched)
    assert diff.diagnostics == (
        ConfDiagnostic(WARNING, "Kconfig", 13, "'RB_BLANK' defined with blank help text"),
    )


@pytest.mark.realtree
def test_kvm_vfio_witness_makes_conf_warn_unmet_dependencies(
    real_tree: Path, conf_cache: Path
) -> None:
    """RULES-RESEARCH §3 variant B: `depends on VFIO` on a symbol KVM selects."""
    overlay = _edit(
        real_tree,
        "virt/kvm/Kconfig",
        "config KVM_VFIO\n       bool\n",
        "config KVM_VFIO\n       bool\n       depends on VFIO\n",
    )
    witness = {"VIRTUALIZATION": "y", "KVM": "y", "VFIO": "n"}
    base = conf_olddefconfig(real_tree, {}, "arm64", witness, conf_cache)
    patched = conf_olddefconfig(real_tree, overlay, "arm64", witness, conf_cache)

    assert base.ok and base.unmet == ()
    assert patched.ok
    assert "WARNING: unmet direct dependencies detected for KVM_VFIO" in patched.parse.stderr
    assert patched.unmet == (KVM_VFIO_UNMET,)
    assert (patched.value("KVM"), patched.value("CONFIG_KVM_VFIO")) == ("y", "y")
    assert patched.value("VFIO") in (None, "n")
    assert patched.overridden == ()
    diff = conf_diff_warnings(base.parse, patched.parse)
    assert diff.unmet == (KVM_VFIO_UNMET,) and diff.diagnostics == ()


@pytest.mark.realtree
def test_olddefconfig_reports_values_conf_did_not_keep(real_tree: Path, conf_cache: Path) -> None:
    # KVM_VFIO has no prompt: only a select can set it.
    run = conf_olddefconfig(real_tree, {}, "arm64", {"KVM": "n", "KVM_VFIO": "y"}, conf_cache)
    assert run.ok
    assert run.overridden == (Override("KVM_VFIO", "y", None),)


@pytest.mark.realtree
def test_iommufd_driver_tristate_gives_the_recursive_dependency(
    real_tree: Path, conf_cache: Path
) -> None:
    overlay = {
        **_edit(
            real_tree,
            "drivers/iommu/Kconfig",
            "config IOMMUFD_DRIVER\n\tbool\n",
            "config IOMMUFD_DRIVER\n\ttristate\n",
        ),
        **_edit(
            real_tree,
            "drivers/vfio/Kconfig",
            "\tdepends on IOMMUFD || !IOMMUFD\n",
            "\tdepends on IOMMUFD || !IOMMUFD\n\tdepends on m || IOMMUFD_DRIVER != m\n",
        ),
    }
    result = conf_parse(real_tree, overlay, "x86_64", conf_cache)
    assert not result.ok
    assert "error: recursive dependency detected!" in result.stderr
    (loop,) = result.recursions
    assert loop.chain == (
        "symbol VFIO depends on IOMMUFD_DRIVER",
        "symbol IOMMUFD_DRIVER is selected by MLX5_VFIO_PCI",
        "symbol MLX5_VFIO_PCI depends on VFIO",
    )
    assert any(e.startswith("error: recursive dependency detected!") for e in result.errors)


@pytest.mark.realtree
def test_shell_probes_run_only_inside_the_sandbox(
    real_tree: Path, conf_cache: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "pwned"
    in_tmp = Path("/tmp") / f"reviewbot-pwned-{uuid.uuid4().hex}"
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        connect = f"exec 3<>/dev/tcp/127.0.0.1/{port}"
        probe = f"bash -c '{connect}'"
        overlay = _top_kconfig(
            real_tree,
            f"config RB_WROTE\n\tdef_bool $(shell,echo x > {outside}; touch {in_tmp}; echo y)\n"
            f"config RB_NET\n\tdef_bool $(success,{probe})\n"
            f"config RB_CURL\n\tdef_bool $(success,curl -s -m 5 http://127.0.0.1:{port}/)\n",
        )
        run = conf_olddefconfig(real_tree, overlay, "x86_64", {}, conf_cache)

        assert run.ok, run.parse.stderr
        assert run.value("RB_WROTE") == "y"  # the commands did run ...
        assert not outside.exists()  # ... but wrote nothing on the host
        assert not in_tmp.exists()
        assert run.value("RB_NET") != "y"  # and reached no network
        assert run.value("RB_CURL") != "y"
        with pytest.raises(BlockingIOError):
            server.accept()
        # Control: the same probe outside the sandbox reaches the server.
        assert subprocess.run(["bash", "-c", connect], check=False).returncode == 0


@pytest.mark.realtree
def test_hanging_shell_is_killed_by_the_wall_clock_limit(real_tree: Path, conf_cache: Path) -> None:
    overlay = _top_kconfig(real_tree, "config RB_HANG\n\tdef_bool $(shell,sleep 1000)\n")
    limits = Limits(cpu_seconds=60, memory_bytes=2 << 30, processes=256, wall_seconds=3.0)
    started = time.monotonic()
    result = conf_parse(real_tree, overlay, "x86_64", conf_cache, limits=limits)
    assert time.monotonic() - started < 30
    assert not result.ok and result.timed_out
    assert result.errors[-1] == (
        "conf was killed after 3 s (wall-clock limit); a Kconfig $(shell,...) may hang"
    )
