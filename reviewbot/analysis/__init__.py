"""Analysis: diffs, patch application in memory, tree views (pure)."""
