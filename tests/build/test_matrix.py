"""The architecture matrix: every required arch is there and files are validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.build.matrix import by_srcarch, load_matrix, packages
from reviewbot.errors import ConfigError

REQUIRED = (
    "x86_64",
    "i386",
    "arm64",
    "arm",
    "riscv64",
    "powerpc64le",
    "s390x",
    "mips",
    "sparc64",
    "alpha",
    "m68k",
    "x86_64-clang",
    "arm64-clang",
)


def test_matrix_has_every_required_arch() -> None:
    matrix = load_matrix()
    assert set(REQUIRED) <= set(matrix)
    assert matrix["arm64-clang"].llvm and matrix["arm64-clang"].make_vars() == (
        "ARCH=arm64",
        "LLVM=1",
    )
    assert matrix["sparc64"].make_vars() == ("ARCH=sparc64", "CROSS_COMPILE=sparc64-linux-gnu-")
    assert {a.name for a in matrix.values() if a.modversions} == {"sparc64", "alpha"}
    assert all(o.endswith(".o") for a in matrix.values() for o in a.crc_objects)


def test_srcarch_lookup_prefers_gcc_and_64_bit() -> None:
    matrix = load_matrix()
    assert by_srcarch(matrix, "x86") == matrix["x86_64"]
    assert by_srcarch(matrix, "sparc") == matrix["sparc64"]
    assert by_srcarch(matrix, "hexagon") is None


def test_packages_list_the_debian_compilers() -> None:
    names = packages(load_matrix())
    assert "gcc-aarch64-linux-gnu" in names and "clang" in names and "lld" in names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'name = "bad"\narch = "x"\nsrcarch = "x"\ncross_compile = ""\npackage = "gcc"\n'
            'compiler = "gcc"\ncolour = "red"\n',
            "unknown keys",
        ),
        (
            'name = "bad"\narch = "x"\nsrcarch = "x"\ncross_compile = ""\npackage = "gcc"\n',
            "'compiler' must be a string",
        ),
        (
            'name = "bad"\narch = "x; rm -rf /"\nsrcarch = "x"\ncross_compile = ""\n'
            'package = "gcc"\ncompiler = "gcc"\n',
            "characters make would misread",
        ),
        (
            'name = "other"\narch = "x"\nsrcarch = "x"\ncross_compile = ""\npackage = "gcc"\n'
            'compiler = "gcc"\n',
            "does not match the file name",
        ),
        (
            'name = "bad"\narch = "x"\nsrcarch = "x"\ncross_compile = ""\npackage = "gcc"\n'
            'compiler = "gcc"\nllvm = "yes"\n',
            "'llvm' must be a bool",
        ),
    ],
)
def test_bad_arch_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_matrix(tmp_path)


def test_empty_matrix_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no arch files"):
        load_matrix(tmp_path)
