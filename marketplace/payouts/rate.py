"""The pace of payout requests to the provider: ``PAYOUT_RATE_PER_SECOND`` (Stripe allows 25
requests a second per endpoint by default), shared by every thread, job and worker process
that sends payouts.

A token bucket that reserves: each request takes a token, and when none is left it takes one
ahead and is told how long to wait for it, so callers queue at the configured pace with one
round trip each. With Redis (``REDIS_URL``) the bucket is a hash under the app's
``QUEUE_PREFIX`` updated by a Lua script on Redis's own clock, hence one bucket across
processes and machines; without it (the embedded default, one process) it lives in this
process's memory.

A 429 means the provider's own count ran ahead of ours (other clients of the same account,
clocks apart): ``pause`` pushes the whole bucket back by the ``Retry-After``, so every sender
waits, not only the one that was told.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from flask import Flask, current_app
from redis.exceptions import RedisError

from marketplace.queue import is_inline, queue_name, redis_connection

#: Tokens the bucket holds at most: 1 paces requests evenly (no burst above the rate).
BURST = 1
#: The Redis key of the payout bucket (after the app's QUEUE_PREFIX).
KEY = "payout-rate:stripe-transfers"

#: KEYS[1] the bucket; ARGV: rate (tokens/s), burst, pause (seconds, 0 = take a token).
#: Returns the seconds to wait before the reserved token may be used (a string: Lua numbers
#: come back as integers).
RESERVE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local pause = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if pause > 0 then
  tokens = math.min(tokens, -pause * rate)
else
  tokens = tokens - 1
  if tokens < 0 then wait = -tokens / rate end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(60 + wait + pause))
return tostring(wait)
"""


class Bucket(Protocol):
    def reserve(self) -> float:
        """Take a token; returns the seconds to wait before using it."""

    def pause(self, seconds: float) -> None:
        """Nobody takes a token for ``seconds`` (the provider said 429)."""


class LocalBucket:
    """The same bucket in this process's memory (threads share it; processes do not)."""

    def __init__(self, rate: float, burst: float = BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now

    def reserve(self) -> float:
        with self._lock:
            self._refill(time.monotonic())
            self.tokens -= 1
            return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._refill(time.monotonic())
            self.tokens = min(self.tokens, -seconds * self.rate)


class RedisBucket:
    """The bucket in Redis, shared by every process using the same key."""

    def __init__(self, app: Flask, rate: float, burst: float = BURST) -> None:
        self.rate, self.burst = rate, burst
        self.key = queue_name(KEY, app)
        self._script = redis_connection(app).register_script(RESERVE)

    def _call(self, pause: float) -> float:
        return float(self._script(keys=[self.key], args=[self.rate, self.burst, pause]))

    def reserve(self) -> float:
        return self._call(0)

    def pause(self, seconds: float) -> None:
        self._call(max(seconds, 0.001))


class Pace:
    """Waits for a token before each provider request. If Redis stops answering, the pace
    falls back to this process's bucket rather than failing (or flooding) the provider."""

    def __init__(self, bucket: Bucket, fallback: LocalBucket) -> None:
        self.bucket, self.fallback = bucket, fallback

    def _bucket_call(self, name: str, *args: float) -> float | None:
        try:
            return getattr(self.bucket, name)(*args)
        except RedisError:
            return getattr(self.fallback, name)(*args)

    def wait(self) -> float:
        """Block until a request may go; returns the seconds waited."""
        waited = self._bucket_call("reserve") or 0.0
        if waited > 0:
            time.sleep(waited)
        return waited

    def pause(self, seconds: float) -> None:
        self._bucket_call("pause", seconds)


def payout_pace(app: Flask | None = None) -> Pace:
    """The app's payout pace (built once per app, like its provider)."""
    app = app or current_app
    pace = app.extensions.get("payout_pace")
    if pace is None:
        rate = float(app.config.get("PAYOUT_RATE_PER_SECOND") or 25)
        local = LocalBucket(rate)
        pace = Pace(local if is_inline(app) else RedisBucket(app, rate), local)
        app.extensions["payout_pace"] = pace
    return pace
