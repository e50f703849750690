"""The one retry loop every cloud client (Meraki, Threat Response, Webex) sends through.

Why not urllib3's `Retry`: it hides each attempt, so a sync run could not report how many 429s it saw or
how long it waited, nor cap a hostile `Retry-After`. This loop is small enough to read in one go:

- a rate-limit answer (429; Webex also 423/503) is counted, then waits `Retry-After` (floored, capped; a
  default or backoff when the header is missing), and does not use up an attempt, up to
  `max_rate_limit_retries` of them per call, then RateLimitedError;
- a 5xx, a timeout, a connection error or a malformed 2xx body (the caller's `parse` raises
  MalformedResponse) backs off exponentially with full jitter, up to `max_attempts` attempts in all, then
  TransientError;
- a 2xx returns `parse(response)`; any other answer (3xx, 4xx) is not retried: `reject(response)` maps it
  to the caller's typed error, which is raised.

Anything else `send` raises (ForbiddenHostError for a refused redirect, say) propagates untouched.
"""

import logging
import math
import random
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

import requests

from sync.clients.errors import ApiError, RateLimitedError, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class MalformedResponse(Exception):
    """Raised by a `parse` callable: the 2xx body is unusable (the message says how); retried as transient."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often one call may wait and retry.

    `max_attempts` bounds sends for transient failures (1 = never retry them); rate-limit answers are
    bounded separately by `max_rate_limit_retries`, since waiting them out is the expected behaviour.
    A rate-limit wait is `Retry-After` clamped to [`min_retry_after`, `max_retry_after`]; when the
    header is missing or unusable it is `default_retry_after`, or, if that is None, a backoff.
    """

    max_attempts: int = 5
    max_rate_limit_retries: int = 10
    max_retry_after: float = 60.0
    min_retry_after: float = 0.0
    default_retry_after: float | None = None
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    rate_limit_statuses: Collection[int] = frozenset({429})
    jitter: Callable[[float, float], float] | None = None  # uniform(low, high); None: random.uniform

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_rate_limit_retries < 0:
            raise ValueError("max_attempts must be >= 1 and max_rate_limit_retries >= 0")
        if not 0 <= self.min_retry_after <= self.max_retry_after:
            raise ValueError("need 0 <= min_retry_after <= max_retry_after")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must be >= 0")

    def backoff(self, n: int) -> float:
        """Wait before retry `n` (0-based): full jitter under `base * 2**n` (capped), floored at base/2.

        The floor keeps a retry from firing at once after a failure.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(n, 32))
        uniform = self.jitter or random.uniform
        return max(self.backoff_base / 2, uniform(0, ceiling))

    def rate_limit_wait(self, retry_after: float | None, n: int) -> float:
        """Wait after the `n`-th (0-based) rate-limit answer of a call, given its parsed Retry-After."""
        if retry_after is None:
            if self.default_retry_after is None:
                return self.backoff(n)
            retry_after = self.default_retry_after
        return min(max(retry_after, self.min_retry_after), self.max_retry_after)


@dataclass
class RetryStats:
    """Counters accumulated over a client's life, readable after an exception too."""

    rate_limited: int = 0  # rate-limit answers seen (429; for Webex also 423/503)
    retries: int = 0  # re-sends after a rate-limit answer or a transient failure
    slept_for_rate_limit: float = 0.0  # seconds waited on Retry-After
    slept_for_backoff: float = 0.0  # seconds waited after transient failures


class RetryCounters:
    """What every client reports from its RetryStats, so a sync run or promotion can record it."""

    retry_stats: RetryStats

    @property
    def rate_limited(self) -> int:
        return self.retry_stats.rate_limited

    @property
    def retries(self) -> int:
        return self.retry_stats.retries


def send_with_retry(
    send: Callable[[], requests.Response],
    *,
    parse: Callable[[requests.Response], T],
    reject: Callable[[requests.Response], ApiError],
    policy: RetryPolicy,
    stats: RetryStats,
    service: str,
    host: str,
    sleep: Callable[[float], None] = time.sleep,
    subject: str = "",
    rate_limit_hint: str = "try again later",
    log_context: str = "",
) -> T:
    """Call `send()` until it yields a 2xx, then return `parse(response)`; see the module docstring.

    `service` and `host` name the API in messages ("Meraki API unavailable after 3 attempts: HTTP 503");
    `subject` (e.g. " for organization 123") and `rate_limit_hint` complete the RateLimitedError message;
    `log_context` (e.g. "org=123") goes into the log lines. None of them may hold a secret.
    """
    context = f" {log_context}" if log_context else ""
    failures = 0
    rate_limited_here: list[int] = []
    while True:
        cause: Exception | None = None
        status: int | None = None
        try:
            response = send()
        except TRANSPORT_ERRORS as exc:
            cause, problem = exc, f"{type(exc).__name__} reaching {host}"
        else:
            status = response.status_code
            if status in policy.rate_limit_statuses:
                rate_limited_here.append(status)
                stats.rate_limited += 1
                if len(rate_limited_here) > policy.max_rate_limit_retries:
                    seen = "/".join(str(s) for s in sorted(set(rate_limited_here)))
                    raise RateLimitedError(
                        f"{service} rate limit still exceeded{subject} after {len(rate_limited_here)}"
                        f" HTTP {seen} responses: {rate_limit_hint}",
                        status=status,
                    )
                header = response.headers.get("Retry-After")
                delay = policy.rate_limit_wait(parse_retry_after(header), len(rate_limited_here) - 1)
                logger.warning(
                    "%s rate limited%s host=%s status=%d retry_after=%s wait=%.2fs (#%d)",
                    service,
                    context,
                    host,
                    status,
                    (header or "-")[:20],
                    delay,
                    len(rate_limited_here),
                )
                stats.retries += 1
                stats.slept_for_rate_limit += delay
                sleep(delay)
                continue
            if 200 <= status < 300:
                try:
                    return parse(response)
                except MalformedResponse as exc:
                    problem = f"malformed response (HTTP {status} {exc})"
            elif status >= 500:
                problem = f"HTTP {status}"
            else:
                raise reject(response)

        failures += 1
        if failures >= policy.max_attempts:
            raise TransientError(
                f"{service} unavailable after {failures} attempts: {problem}", status=status
            ) from cause
        delay = policy.backoff(failures - 1)
        logger.warning(
            "%s retry%s host=%s problem=%s attempt=%d/%d wait=%.2fs",
            service,
            context,
            host,
            problem,
            failures,
            policy.max_attempts,
            delay,
        )
        stats.retries += 1
        stats.slept_for_backoff += delay
        sleep(delay)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (int or float); None when absent or unusable (e.g. an HTTP date)."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def one_line(text: str, limit: int = 300) -> str:
    """An API's error text fit for a message: whitespace collapsed, truncated with an ellipsis."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
