"""Fixtures of the respond tests: a real SMTP server (aiosmtpd) on 127.0.0.1, the patchwork fake."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.fakes.patchwork import patchwork_server

__all__ = ["SmtpServer", "patchwork_server", "smtpd"]


@dataclass
class Recorder:
    """An aiosmtpd handler that records every mail, with faults to inject at DATA.

    A fault is an SMTP reply ("451 4.3.0 try later", "554 5.7.1 no"), "slow" (take it
    after 0.3 s), "hang" (never answer, take nothing) or "take-and-hang" (keep the mail,
    never answer: the client cannot know it was delivered).
    """

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.faults.pop(0) if self.faults else ""
        if fault == "slow":
            await asyncio.sleep(0.3)
            fault = ""
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault and fault != "take-and-hang":
            return fault
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        if fault == "take-and-hang":
            await asyncio.sleep(3600)
        return "250 2.0.0 OK"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


@dataclass
class SmtpServer:
    recorder: Recorder
    host: str
    port: int


@pytest.fixture
async def smtpd() -> AsyncIterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 in this test's event loop."""
    recorder = Recorder()
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(recorder, hostname="reviewbot-test", loop=loop)

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield SmtpServer(recorder, "127.0.0.1", port)
    server.close()
    await server.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
