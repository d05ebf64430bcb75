"""API tokens (stored hashed, compared in constant time) and per-client rate limits (pure).

A token is `rbt_` and 43 URL-safe random characters, shown once when it is made; the
store keeps only its SHA-256. A presented token is hashed and compared with every stored
hash through hmac.compare_digest, without stopping at a match, so the time taken says
nothing about which hash (if any) matched or how much of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from reviewbot.store.webq import TokenRecord

TOKEN_PREFIX = "rbt_"
SCOPES = ("submit",)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def match_token(token: str, records: Sequence[TokenRecord]) -> TokenRecord | None:
    """The record whose hash is the token's, compared in constant time with each."""
    digest = token_hash(token).encode()
    found: TokenRecord | None = None
    for record in records:
        if hmac.compare_digest(digest, record.sha256.encode()) and found is None:
            found = record
    return found


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per client key; bounded memory (least recently seen keys dropped)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 50_000):
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, key: str, now: float) -> float:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def prune(self, now: float) -> int:
        """Forget clients whose bucket is full again; return how many were dropped."""
        full_after = self.burst / self.rate
        stale = [k for k, b in self._buckets.items() if now - b.at >= full_after]
        for key in stale:
            del self._buckets[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._buckets)
