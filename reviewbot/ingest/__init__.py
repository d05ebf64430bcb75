"""Intake: the HTTP helper, the patchwork client and the sources that fill the store."""
