import pytest
import requests

from sync.clients.errors import ApiError, ForbiddenHostError, RateLimitedError, TransientError
from sync.clients.retry import MalformedResponse, RetryPolicy, RetryStats, parse_retry_after, send_with_retry


def reply(status: int, *, headers: dict[str, str] | None = None, body: bytes = b"") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = body
    response.url = "https://api.example.test/thing"
    return response


class Script:
    """A `send` callable that answers from a list (the last answer repeats) and counts its calls."""

    def __init__(self, *answers: requests.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> requests.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


def low(a: float, b: float) -> float:
    return a


def high(a: float, b: float) -> float:
    return b


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def run(sleeps):
    def run(send, *, policy: RetryPolicy | None = None, stats: RetryStats | None = None, **overrides):
        options = {
            "parse": lambda response: response.status_code,
            "reject": lambda response: ApiError(f"rejected HTTP {response.status_code}", status=response.status_code),
            "policy": policy or RetryPolicy(),
            "stats": stats if stats is not None else RetryStats(),
            "service": "Example API",
            "host": "api.example.test",
            "sleep": sleeps.append,
        }
        return send_with_retry(send, **(options | overrides))

    return run


# Policy: backoff


def test_backoff_doubles_up_to_the_cap_with_the_jitter_at_its_top():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=5.0, jitter=high)

    assert [policy.backoff(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_never_drops_below_half_the_base():
    policy = RetryPolicy(backoff_base=2.0, jitter=low)

    assert [policy.backoff(n) for n in range(3)] == [1.0, 1.0, 1.0]


def test_backoff_is_full_jitter_within_its_bounds():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)

    for n in range(6):
        ceiling = min(8.0, 2.0**n)
        waits = [policy.backoff(n) for _ in range(300)]
        assert all(0.5 <= wait <= ceiling for wait in waits)
        if n >= 2:
            assert len(set(waits)) > 100, "waits should be spread out, not fixed"


def test_backoff_of_a_huge_retry_number_stays_at_the_cap():
    assert RetryPolicy(backoff_cap=30.0, jitter=high).backoff(10_000) == 30.0


def test_jitter_defaults_to_random_uniform_read_at_call_time(monkeypatch):
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=30.0)
    monkeypatch.setattr("random.uniform", high)

    assert policy.backoff(3) == 8.0


# Policy: rate-limit waits


def test_retry_after_is_capped_at_max_retry_after():
    assert RetryPolicy(max_retry_after=60).rate_limit_wait(3600.0, 0) == 60


def test_retry_after_is_floored_at_min_retry_after():
    assert RetryPolicy(min_retry_after=1.0).rate_limit_wait(0.2, 0) == 1.0


def test_missing_retry_after_uses_the_default_when_there_is_one():
    assert RetryPolicy(default_retry_after=15.0).rate_limit_wait(None, 0) == 15.0


def test_default_retry_after_is_capped_too():
    assert RetryPolicy(default_retry_after=15.0, max_retry_after=10.0).rate_limit_wait(None, 0) == 10.0


def test_missing_retry_after_without_a_default_backs_off():
    policy = RetryPolicy(backoff_base=1.0, jitter=high)

    assert [policy.rate_limit_wait(None, n) for n in range(3)] == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("0", 0.0),
        (" 3 ", 3.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"max_rate_limit_retries": -1},
        {"min_retry_after": 5.0, "max_retry_after": 1.0},
        {"min_retry_after": -1.0},
        {"backoff_base": -1.0},
    ],
)
def test_invalid_policy_is_refused(options):
    with pytest.raises(ValueError):
        RetryPolicy(**options)


# The loop


def test_2xx_returns_what_parse_makes_of_it(run, sleeps):
    send = Script(reply(200, body=b'{"ok": true}'))

    assert run(send, parse=lambda response: response.json()) == {"ok": True}
    assert send.calls == 1
    assert sleeps == []


def test_429_sleeps_retry_after_then_succeeds_and_is_counted(run, sleeps):
    send = Script(reply(429, headers={"Retry-After": "7"}), reply(200))
    stats = RetryStats()

    assert run(send, stats=stats) == 200
    assert sleeps == [7.0]
    assert (stats.rate_limited, stats.retries, stats.slept_for_rate_limit, stats.slept_for_backoff) == (1, 1, 7.0, 0)


def test_429s_do_not_use_up_transient_attempts(run):
    send = Script(reply(429), reply(500), reply(429), reply(429), reply(200))

    assert run(send, policy=RetryPolicy(max_attempts=2, jitter=low)) == 200
    assert send.calls == 5


def test_endless_429_gives_up_with_rate_limited_error_after_the_tolerated_retries(run, sleeps):
    send = Script(reply(429, headers={"Retry-After": "1"}))
    stats = RetryStats()

    with pytest.raises(RateLimitedError) as raised:
        run(
            send,
            policy=RetryPolicy(max_rate_limit_retries=2),
            stats=stats,
            subject=" for organization 42",
            rate_limit_hint="lower the sync rate",
        )

    assert raised.value.message == (
        "Example API rate limit still exceeded for organization 42 after 3 HTTP 429 responses: lower the sync rate"
    )
    assert raised.value.status == 429
    assert send.calls == 3
    assert sleeps == [1.0, 1.0]
    assert (stats.rate_limited, stats.retries) == (3, 2)


def test_other_rate_limit_statuses_are_waited_out_and_named(run, sleeps):
    policy = RetryPolicy(rate_limit_statuses={423, 429, 503}, max_rate_limit_retries=2, default_retry_after=15)
    send = Script(reply(503), reply(429, headers={"Retry-After": "2"}), reply(503))

    with pytest.raises(RateLimitedError, match=r"after 3 HTTP 429/503 responses") as raised:
        run(send, policy=policy)

    assert sleeps == [15, 2.0]
    assert raised.value.status == 503


def test_5xx_backs_off_then_gives_up_with_transient_error(run, sleeps):
    send = Script(reply(500), reply(502), reply(503))
    stats = RetryStats()

    with pytest.raises(TransientError) as raised:
        run(send, policy=RetryPolicy(max_attempts=3, backoff_base=1.0, jitter=high), stats=stats)

    assert raised.value.message == "Example API unavailable after 3 attempts: HTTP 503"
    assert raised.value.status == 503
    assert send.calls == 3
    assert sleeps == [1.0, 2.0]
    assert (stats.retries, stats.slept_for_backoff, stats.rate_limited) == (2, 3.0, 0)


def test_one_attempt_means_no_retry(run, sleeps):
    send = Script(reply(500))

    with pytest.raises(TransientError, match="after 1 attempts"):
        run(send, policy=RetryPolicy(max_attempts=1))
    assert send.calls == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        requests.Timeout("read timed out"),
        requests.ConnectionError("refused"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
)
def test_transport_errors_are_retried_then_transient_error_names_the_host(run, error):
    send = Script(error)

    with pytest.raises(TransientError) as raised:
        run(send, policy=RetryPolicy(max_attempts=2, jitter=low))

    assert (
        raised.value.message
        == f"Example API unavailable after 2 attempts: {type(error).__name__} reaching api.example.test"
    )
    assert raised.value.status is None
    assert raised.value.__cause__ is error
    assert send.calls == 2


def test_transport_error_then_success(run, sleeps):
    send = Script(requests.ConnectionError("refused"), reply(200))

    assert run(send, policy=RetryPolicy(jitter=low)) == 200
    assert sleeps == [0.5]


def test_malformed_2xx_is_retried_then_transient_error_says_why(run):
    def parse(response):
        raise MalformedResponse("body is not a JSON array")

    send = Script(reply(200, body=b"{}"))

    with pytest.raises(TransientError) as raised:
        run(send, parse=parse, policy=RetryPolicy(max_attempts=2, jitter=low))

    assert raised.value.message == (
        "Example API unavailable after 2 attempts: malformed response (HTTP 200 body is not a JSON array)"
    )
    assert send.calls == 2


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 409])
def test_other_answers_are_rejected_once_without_retry(run, sleeps, status):
    send = Script(reply(status))

    with pytest.raises(ApiError, match=f"rejected HTTP {status}"):
        run(send)
    assert send.calls == 1
    assert sleeps == []


def test_errors_raised_by_send_propagate_untouched(run):
    send = Script(ForbiddenHostError("refused host evil.example"))

    with pytest.raises(ForbiddenHostError, match=r"evil\.example"):
        run(send)
    assert send.calls == 1


def test_stats_accumulate_across_calls(run):
    stats = RetryStats()

    run(Script(reply(429, headers={"Retry-After": "1"}), reply(200)), stats=stats)
    run(Script(reply(429, headers={"Retry-After": "2"}), reply(200)), stats=stats)

    assert (stats.rate_limited, stats.retries, stats.slept_for_rate_limit) == (2, 2, 3.0)
