"""Per-list git bases: the author's tree for each series, read from git objects.

Map (each module states its job in its first docstring line):

- git.py       (edge)  a bare kernel clone: fetch its configured branches, resolve
                       commits, list trees, and read blobs through one `git cat-file --batch`
- view.py      (edge)  GitTree: the TreeView rules read, over one commit's tree objects
- select.py    (pure)  base selection: base-commit trailer -> newest branch head the series
                       applies to -> the embedded default tree
- gitindex.py  (edge)  the tree index of a commit, per-file facts cached by blob id, so a
                       nearby base re-reads only the blobs that differ
- worktrees.py (edge)  the bounded cache of worktrees, only where Kconfig or builds need
                       files on disk; the least recently used is moved to the new commit
- manager.py   (edge)  BaseManager: per-list repositories, `choose(series, list) -> Base`
"""
