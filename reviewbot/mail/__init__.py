"""Mail: split mailboxes, parse messages, rebuild series (pure)."""
