"""The Debian patches linux-source-6.12 carries get no new warning-level finding.

Debian's source package (its debian/patches) is what `python -m bench.distro_patches
--fetch` reviews; where the archive serves no source packages (this project's CI: the
mirror 404s every .dsc and .debian.tar.xz), the Kconfig, Makefile and Kbuild parts of the
Debian patches are rebuilt from the tree itself: each is a Debian-only block of the
unpacked tree, and the upstream file is that tree file without it. They are reviewed as
the distro checker reviews any patch of a stack: "revert, apply again".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.distro_patches import Outcome, is_build_patch, read_series, report, review_stack
from reviewbot.model import Finding, Severity
from tests.helpers import diff_of

_TOP = re.compile(r"^(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|comment)\b")

# Debian-only Kconfig blocks of linux-source-6.12 (debian/patches/...):
#   features/x86/x86-make-x32-syscall-support-conditional.patch
#   features/all/lockdown/efi-lock-down-the-kernel-if-booted-in-secure-boot-mo.patch
#   features/all/security-perf-allow-further-restriction-of-perf_event_open.patch
DEBIAN_BLOCKS = (
    ("arch/x86/Kconfig", "config X86_X32_DISABLED"),
    ("security/lockdown/Kconfig", "config LOCK_DOWN_IN_EFI_SECURE_BOOT"),
    ("security/Kconfig", "config SECURITY_PERF_EVENTS_RESTRICT"),
)
# Debian-only changes of existing lines (features/x86/intel-iommu-add-kconfig-option-to-
# exclude-igpu-by-default.patch; debian/android-enable-building-ashmem-and-binder-as-
# modules.patch): the upstream text and Debian's, in the tree.
DEBIAN_EDITS: tuple[tuple[str, tuple[tuple[str, re.Pattern[str], str], ...]], ...] = (
    (
        "intel-iommu-exclude-igpu",
        (
            (
                "drivers/iommu/intel/Kconfig",
                re.compile(r"choice\n\tprompt \"Default state of Intel DMA .*?endchoice\n", re.S),
                'config INTEL_IOMMU_DEFAULT_ON\n\tbool "Enable Intel DMA Remapping Devices by '
                'default"\n\tdefault y\n\thelp\n\t  Selecting this option will enable a DMAR '
                "device at boot time if\n\t  one is found. If this option is not selected, DMAR "
                "support can\n\t  be enabled by passing intel_iommu=on to the kernel.\n",
            ),
        ),
    ),
    (
        "android-binder-as-module",
        (
            (
                "drivers/android/Kconfig",
                re.compile(r'(config ANDROID_BINDER_IPC\n)\ttristate( "Android Binder IPC)'),
                r"\1\tbool\2",
            ),
            (
                "drivers/android/Makefile",
                re.compile(
                    r"obj-\$\(CONFIG_ANDROID_BINDER_IPC\)\t\+= binder_linux\.o\n"
                    r"binder_linux-y := binder\.o binder_alloc\.o\n"
                    r"binder_linux-\$\(CONFIG_ANDROID_BINDERFS\)\t\+= binderfs\.o\n"
                    r"binder_linux-(\$\(CONFIG_ANDROID_BINDER_IPC_SELFTEST\)) \+= "
                    r"binder_alloc_selftest\.o\n"
                ),
                "obj-$(CONFIG_ANDROID_BINDERFS)\t\t+= binderfs.o\n"
                "obj-$(CONFIG_ANDROID_BINDER_IPC)\t+= binder.o binder_alloc.o\n"
                r"obj-\1 += binder_alloc_selftest.o\n",
            ),
        ),
    ),
)


def test_series_files_and_build_patches() -> None:
    series = "# comment\ndebian/version.patch\n\nbugfix/x.patch -p1  # why\n"
    assert read_series(series) == ["debian/version.patch", "bugfix/x.patch"]
    assert is_build_patch("--- a/drivers/x/Kconfig\n+++ b/drivers/x/Kconfig\n")
    assert is_build_patch("--- a/scripts/Makefile.modfinal\n+++ b/scripts/Makefile.modfinal\n")
    assert not is_build_patch("--- a/drivers/x/x.c\n+++ b/drivers/x/x.c\n")


def test_the_report_fails_on_a_warning_only() -> None:
    info = Finding("KC014", "n", Severity.INFO, "a/Kconfig", 3, "m", patch="p")
    warn = Finding("KC011", "n", Severity.WARNING, "a/Kconfig", 4, "unmet", patch="p")
    assert report([Outcome("a.patch", "reviewed", (info,))])[1] == 0
    text, status = report([Outcome("a.patch", "reviewed", (info, warn))])
    assert status == 1 and "KC011 a/Kconfig:4 warning: unmet" in text


def _block_removed(text: str, start: str) -> str:
    """The file without the Debian block that starts at `start` (up to the next entry)."""
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    end = next((i for i in range(first + 1, len(lines)) if _TOP.match(lines[i])), len(lines))
    return "".join(lines[:first] + lines[end:])


def _debian_patches(tree: Path, into: Path) -> list[tuple[str, Path]]:
    patches: list[tuple[str, Path]] = []
    for path, start in DEBIAN_BLOCKS:
        debian = (tree / path).read_text()
        if start + "\n" not in debian:
            continue  # not in this Debian version
        name = start.split()[1].lower() + ".patch"
        diff = diff_of(path, _block_removed(debian, start), debian)
        (into / name).write_text(f"Subject: Debian: {start}\n---\n{diff}")
        patches.append((name, into / name))
    for slug, edits in DEBIAN_EDITS:
        diff = ""
        for path, pattern, upstream in edits:
            debian = (tree / path).read_text()
            if pattern.search(debian):
                diff += diff_of(path, pattern.sub(upstream, debian, count=1), debian)
        if not diff:
            continue
        (into / f"{slug}.patch").write_text(f"Subject: Debian: {slug}\n---\n{diff}")
        patches.append((f"{slug}.patch", into / f"{slug}.patch"))
    return patches


@pytest.mark.realtree
@pytest.mark.slow
def test_debian_kconfig_changes_get_no_warning(real_tree: Path, tmp_path: Path) -> None:
    patches = _debian_patches(real_tree, tmp_path)
    assert len(patches) >= 3, "the tree should carry Debian's Kconfig changes"
    outcomes = review_stack(patches, real_tree, ["x86_64"])
    assert [o.status for o in outcomes] == ["reviewed"] * len(patches)
    text, status = report(outcomes)
    assert status == 0, text
