"""The tree search for a header's users, and their arguments read back (runs grep)."""

from __future__ import annotations

from pathlib import Path

from reviewbot.build.argkinds import POINTER, UNSIGNED
from reviewbot.build.users import Changed, HeaderChange, Kind
from reviewbot.build.usersearch import header_users

INTS = "static u32 f(u32 a, u32 b)\n{\n\treturn min(a, b);\n}\n"
POINTERS = "static const char *f(const char *p, const char *end)\n{\n\treturn min(p + 4, end);\n}\n"


def test_the_user_passing_pointers_is_chosen_among_many_passing_integers(tmp_path: Path) -> None:
    for number in range(6):
        source = tmp_path / "drivers" / f"d{number}" / "x.c"
        source.parent.mkdir(parents=True)
        source.write_text(INTS)
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "p.c").write_text(POINTERS)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "t.c").write_text(POINTERS)  # not built for the target
    change = HeaderChange(
        "include/linux/minmax.h",
        (Changed("__is_nonneg", Kind.MACRO), Changed("min", Kind.MACRO, via="__careful_cmp")),
        frozenset({"cast", "compare"}),
    )
    found = header_users(tmp_path, change, lambda s: True, 2)
    assert found.sources[0] == "zz/p.c"
    assert found.kinds["zz/p.c"] == {POINTER}
    assert found.kinds[found.sources[1]] == {UNSIGNED}
    assert found.label("zz/p.c") == "zz/p.c (pointer)"
