"""Rate limiters shared by every request to one budget (e.g. one Meraki organization).

Meraki allows 10 requests/s per organization, shared with every other tool that uses the org, so our
own workers must together stay under a configured rate. Both limiters implement GCRA (generic cell rate
algorithm): each key stores a theoretical arrival time (TAT); a reservation moves it one interval
T = 1/rate later and tells the caller how long to wait for its slot. N callers in M processes get evenly
spaced slots, `burst` of them may go at once, and the sustained rate never exceeds `rate_per_second`.

The limiter only *reserves*; the caller sleeps. That keeps the limiter non-blocking and lets tests
inject a sleep recorder.
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

DEFAULT_REDIS_PREFIX = "meraki-incidents:ratelimit:"


class RateLimiter(Protocol):
    def reserve(self, key: str) -> float:
        """Reserve the next slot for `key`; return the seconds to sleep before sending (0.0: go now)."""
        ...


def _interval(rate_per_second: float, burst: int) -> float:
    if not rate_per_second > 0:
        raise ValueError(f"rate_per_second must be positive, got {rate_per_second!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    return 1.0 / rate_per_second


class LocalRateLimiter:
    """GCRA for the threads of one process (no Redis configured: development, tests, one worker)."""

    def __init__(self, *, rate_per_second: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = _interval(rate_per_second, burst)
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        # One float per key ever used; keys are organizations, so this stays small.
        self._tat: dict[str, float] = {}

    def reserve(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            new_tat = max(self._tat.get(key, now), now) + self.interval
            self._tat[key] = new_tat
        return max(0.0, new_tat - now - self.burst * self.interval)


# Times are integer microseconds from Redis TIME so every machine shares one clock and no float
# rounding creeps in (microseconds since 1970 fit exactly in Lua's doubles). The key expires once its
# TAT is in the past, when a missing key means exactly the same thing.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
local wait = new_tat - now - burst * interval
if wait < 0 then
  wait = 0
end
return wait
"""


class RedisRateLimiter:
    """GCRA shared by all workers on all machines: one atomic Lua script per reservation."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        rate_per_second: float,
        burst: int = 1,
        prefix: str = DEFAULT_REDIS_PREFIX,
    ) -> None:
        self._interval_us = max(1, round(_interval(rate_per_second, burst) * 1_000_000))
        self.burst = burst
        self.prefix = prefix
        self._script = redis_client.register_script(_GCRA_LUA)

    def reserve(self, key: str) -> float:
        wait_us = self._script(keys=[self.prefix + key], args=[self._interval_us, self.burst])
        return int(wait_us) / 1_000_000


_local_limiters: dict[tuple[float, int], LocalRateLimiter] = {}
_redis_clients: dict[str, redis.Redis] = {}
_registry_lock = threading.Lock()


def build_rate_limiter(*, redis_url: str, rate_per_second: float, burst: int) -> RateLimiter:
    """The limiter for this deployment: Redis when configured, else one in-process limiter.

    Without Redis, every client in the process must share one limiter or each would get the full
    budget, so the same rate and burst always give the same instance. The Redis client is shared per
    URL for the same reason a connection pool is (redis-py reconnects after a fork on its own).
    """
    with _registry_lock:
        if redis_url:
            client = _redis_clients.get(redis_url)
            if client is None:
                # A dead Redis should fail a sync within seconds, not hang a worker.
                client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
                _redis_clients[redis_url] = client
            return RedisRateLimiter(client, rate_per_second=rate_per_second, burst=burst)
        limiter = _local_limiters.get((rate_per_second, burst))
        if limiter is None:
            limiter = LocalRateLimiter(rate_per_second=rate_per_second, burst=burst)
            _local_limiters[(rate_per_second, burst)] = limiter
        return limiter
