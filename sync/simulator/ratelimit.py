"""The simulated Meraki API's own rate limit: a token bucket per organization, as the server enforces it.

This is the server side the product's client-side limiter (`sync.ratelimit`) must stay under. Meraki
documents 10 requests/s per organization plus a burst of 10 in the first second, at most 30 requests in 2 s:
a bucket of 10 tokens refilled at 10 per second gives exactly that (10 stored + 10 refilled in the first
second, + 10 more in the next). State lives in this process only (module-level `meraki_buckets`), which is
enough for the demo's one web process and for tests; `reset()` empties it and can swap the clock.
"""

import threading
import time
from collections.abc import Callable

MERAKI_REQUESTS_PER_SECOND = 10.0
MERAKI_BURST = 10


class TokenBucket:
    """Per-key token buckets: `capacity` tokens, refilled continuously at `rate_per_second`."""

    def __init__(
        self,
        *,
        capacity: int = MERAKI_BURST,
        rate_per_second: float = MERAKI_REQUESTS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or not rate_per_second > 0:
            raise ValueError("capacity must be >= 1 and rate_per_second > 0")
        self.capacity = capacity
        self.rate_per_second = rate_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, time of that count)

    def take(self, key: str) -> bool:
        """Spend one token of `key`'s bucket; False (and nothing spent) when it is empty."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - then) * self.rate_per_second)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        return allowed

    def reset(self, *, clock: Callable[[], float] | None = None) -> None:
        """Forget every bucket (all full again); optionally read time from `clock` from now on."""
        with self._lock:
            self._buckets.clear()
            if clock is not None:
                self._clock = clock


meraki_buckets = TokenBucket()
