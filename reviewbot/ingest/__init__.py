"""Intake: the HTTP helper, the patchwork client and the sources that fill the store.

Map (each module states its job in its first docstring line; docs/ingest.md for operators):

- http.py      (edge)  requests with an honest User-Agent, timeouts, bounded bodies, backoff
- patchwork.py (edge)  the patchwork REST 1.3 client: events, series, mboxes, checks
- source.py    (edge)  the Source protocol, backoff after errors, raw mail -> Incoming
- lore.py      (edge)  public-inbox v2 git epochs (manifest.js.gz, clone, fetch)
- atom.py      (edge)  lore's new.atom and whole threads (t.mbox.gz)
- pwsource.py  (edge)  patchwork series-completed events -> series mboxes
- local.py     (edge)  a local mbox file or maildir

Series assembly on the stored mail is reviewbot.store.series (with the pure
reviewbot.mail.classify).
"""
