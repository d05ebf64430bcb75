"""Placeholder: rules of this family are being written."""

from __future__ import annotations

from reviewbot.rules.base import Rule

RULES: tuple[Rule, ...] = ()
