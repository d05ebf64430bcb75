"""What of a tool's output may be quoted in a finding (pure).

Text a sandboxed tool prints (conf, kconfiglib, make, the compiler) can carry whatever a
patched Kconfig or Makefile made it print. A finding quotes a message only when the
message is located in the tree or the output directory (a relative path without `..`);
anything else is withheld and only counted.
"""

from __future__ import annotations

import re

_LOCATION = re.compile(r"^(?P<path>[^\s:]+):(?P<line>\d{1,9}):")


def inside_tree(path: str | None) -> bool:
    """path names a file of the tree (relative, no `..`, no home or absolute prefix)."""
    if not path or path.startswith(("/", "~")) or "\x00" in path:
        return False
    return ".." not in path.split("/")


def located_in_tree(text: str) -> bool:
    """text starts with a location (path:line:) that names a file of the tree."""
    found = _LOCATION.match(text.strip())
    return found is not None and inside_tree(found["path"])


def quotable(text: str) -> bool:
    """A message may be quoted: its location, when it has one, lies in the tree."""
    found = _LOCATION.match(text.strip())
    return found is None or inside_tree(found["path"])
