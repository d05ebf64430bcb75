"""Send one recorded mail over SMTP with aiosmtplib, and say what the server's answer means.

`SmtpSender(settings, password).send(mail, date)` returns a Delivery: SENT (the server
took it; recipients it refused are listed), RETRY (4xx, connection refused or lost, a
timeout: try again later with the same Message-ID) or FAIL (5xx: the server will not take
it, retrying cannot help). A timeout after DATA is in doubt: the server may have taken the
mail, so the retry carries the same Message-ID and receivers that deduplicate by it
(public-inbox, mailing-list software) keep one copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum

import aiosmtplib

from reviewbot.respond.compose import to_mime
from reviewbot.respond.model import OutboundEmail
from reviewbot.respond.policy import SmtpSettings, Tls

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""


def _code_outcome(code: int) -> Outcome:
    return Outcome.FAIL if 500 <= code < 600 else Outcome.RETRY


class SmtpSender:
    """Sends mail through one SMTP server (a relay such as the local MTA)."""

    def __init__(self, settings: SmtpSettings, password: str | None = None) -> None:
        self.settings = settings
        self.password = password

    async def send(self, mail: OutboundEmail, date: datetime) -> Delivery:
        message = to_mime(mail, date)
        recipients = [a for a in (parseaddr(r)[1] for r in (*mail.to, *mail.cc)) if a]
        if not recipients:
            return Delivery(Outcome.FAIL, "no recipient address")
        s = self.settings
        try:
            refused, response = await aiosmtplib.send(
                message,
                sender=parseaddr(mail.sender)[1],
                recipients=recipients,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=self.password if s.username else None,
                use_tls=s.tls is Tls.TLS,
                start_tls=s.tls is Tls.STARTTLS,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [e.code for e in exc.recipients]
            outcome = (
                Outcome.FAIL if codes and all(500 <= c < 600 for c in codes) else Outcome.RETRY
            )
            text = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
            return Delivery(outcome, f"every recipient refused: {text}")
        except aiosmtplib.SMTPResponseException as exc:
            return Delivery(_code_outcome(exc.code), f"SMTP {exc.code} {exc.message}")
        except aiosmtplib.SMTPTimeoutError as exc:
            return Delivery(Outcome.RETRY, f"timeout: {exc}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Delivery(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        detail = str(response)
        if refused:
            detail += "; refused: " + ", ".join(
                f"{a} ({r.code} {r.message})" for a, r in refused.items()
            )
            log.warning("%s: some recipients refused: %s", mail.message_id, detail)
        return Delivery(Outcome.SENT, detail)
