"""Replies: mail in the patch's thread and patchwork checks, through a durable outbox.

Map (each module states its job in its first docstring line):

- model.py    (pure)  the frozen data: ReplyInput, OutboundEmail, CheckPost, states
- policy.py   (pure)  per-list policy and the [respond] config tables
- quote.py    (pure)  the hunk lines a finding is about, quoted for a reply
- delta.py    (pure)  fixed / still present / new between two versions
- compose.py  (pure)  the reply mail, wrapped at 72, threaded and marked
- checks.py   (pure)  patchwork check states per stage, and when a post changes nothing
- commands.py (pure)  `reviewbot:` command lines in replies, and who may give them
- maintainers.py (pure) MAINTAINERS entries for a set of touched files
- gather.py   (edge)  read a review from the store into a ReplyInput
- hook.py     (edge)  on_reviewed: enqueue the reply and checks a review calls for
- smtp.py     (edge)  send one OutboundEmail with aiosmtplib
- drain.py    (edge)  drain the outbox: retries with backoff, exactly once
- intake.py   (edge)  obey maintainers' commands found in replies
- service.py  (edge)  what `serve` runs: reviewed_hook and respond_loop (drain + commands)
- cli.py      (edge)  `reviewbot outbox list|drain|retry`

The outbox queries live in reviewbot/store/outbox.py; docs/replies.md is the user's guide.
"""
