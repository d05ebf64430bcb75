"""The environment kconfiglib and conf need for one architecture (pure)."""

from __future__ import annotations

import os

# ARCH as users spell it -> (ARCH for make, SRCARCH directory under arch/)
ARCHES: dict[str, tuple[str, str]] = {
    "x86_64": ("x86_64", "x86"),
    "i386": ("i386", "x86"),
    "x86": ("x86", "x86"),
    "arm64": ("arm64", "arm64"),
    "arm": ("arm", "arm"),
    "riscv": ("riscv", "riscv"),
    "riscv64": ("riscv", "riscv"),
    "powerpc": ("powerpc", "powerpc"),
    "powerpc64le": ("powerpc", "powerpc"),
    "s390": ("s390", "s390"),
    "s390x": ("s390", "s390"),
    "mips": ("mips", "mips"),
    "sparc64": ("sparc64", "sparc"),
    "sparc": ("sparc", "sparc"),
    "alpha": ("alpha", "alpha"),
    "m68k": ("m68k", "m68k"),
    "loongarch": ("loongarch", "loongarch"),
    "parisc": ("parisc", "parisc"),
    "sh": ("sh", "sh"),
    "xtensa": ("xtensa", "xtensa"),
    "arc": ("arc", "arc"),
    "csky": ("csky", "csky"),
    "hexagon": ("hexagon", "hexagon"),
    "microblaze": ("microblaze", "microblaze"),
    "nios2": ("nios2", "nios2"),
    "openrisc": ("openrisc", "openrisc"),
    "um": ("um", "um"),
}


def srcarch(arch: str) -> str:
    return ARCHES.get(arch, (arch, arch))[1]


def kconfig_env(srctree: str, arch: str) -> dict[str, str]:
    """Variables for evaluating the tree's Kconfig for arch with the kernel's dummy tools."""
    make_arch, src = ARCHES.get(arch, (arch, arch))
    dummy = os.path.join(srctree, "scripts", "dummy-tools")
    env = {
        "srctree": srctree,
        "ARCH": make_arch,
        "SRCARCH": src,
        "KERNELVERSION": "6.12.0",
        "CC": os.path.join(dummy, "gcc"),
        "LD": os.path.join(dummy, "ld"),
        "NM": os.path.join(dummy, "nm"),
        "OBJCOPY": os.path.join(dummy, "objcopy"),
        "CC_VERSION_TEXT": "reviewbot dummy-tools gcc",
        "CROSS_COMPILE": "",
        "HOSTCC": "gcc",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LC_ALL": "C",
    }
    if make_arch == "um":
        env.update({"HEADER_ARCH": "x86", "SUBARCH": "x86"})
    return env
