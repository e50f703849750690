import itertools
import time
import uuid

import pytest
import redis

from sync.ratelimit import LocalRateLimiter, RedisRateLimiter, build_rate_limiter


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_local_reservations_are_spaced_one_interval_apart():
    limiter = LocalRateLimiter(rate_per_second=10, clock=FakeClock())

    waits = [limiter.reserve("org") for _ in range(4)]

    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_local_burst_lets_the_first_burst_go_at_once():
    limiter = LocalRateLimiter(rate_per_second=5, burst=3, clock=FakeClock())

    waits = [limiter.reserve("org") for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.2, 0.4])


def test_local_slot_is_free_again_once_the_clock_has_caught_up():
    clock = FakeClock()
    limiter = LocalRateLimiter(rate_per_second=2, clock=clock)
    limiter.reserve("org")
    limiter.reserve("org")

    clock.now += 10

    assert limiter.reserve("org") == 0.0


def test_local_sustained_rate_never_exceeds_the_limit():
    clock = FakeClock()
    limiter = LocalRateLimiter(rate_per_second=4, burst=2, clock=clock)
    send_times = []
    for _ in range(40):
        clock.now += limiter.reserve("org")  # the caller sleeps, then sends
        send_times.append(clock.now)

    assert send_times[-1] - send_times[0] >= (40 - 2) / 4 - 1e-9


def test_local_keys_do_not_share_slots():
    limiter = LocalRateLimiter(rate_per_second=1, clock=FakeClock())
    limiter.reserve("org-a")

    assert limiter.reserve("org-b") == 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_rate_or_burst_is_refused(rate, burst):
    with pytest.raises(ValueError):
        LocalRateLimiter(rate_per_second=rate, burst=burst)


def test_build_without_redis_shares_one_local_limiter_per_rate_and_burst():
    first = build_rate_limiter(redis_url="", rate_per_second=7.5, burst=2)

    assert build_rate_limiter(redis_url="", rate_per_second=7.5, burst=2) is first
    assert build_rate_limiter(redis_url="", rate_per_second=7.5, burst=3) is not first
    assert isinstance(first, LocalRateLimiter)


def test_build_with_redis_url_gives_a_redis_limiter():
    # Building connects lazily, so no Redis needs to answer here.
    limiter = build_rate_limiter(redis_url="redis://127.0.0.1:1/0", rate_per_second=5, burst=1)

    assert isinstance(limiter, RedisRateLimiter)


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"test-ratelimit:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


@pytest.mark.redis
def test_redis_limiters_in_two_processes_space_slots_on_a_shared_key(redis_url, redis_prefix):
    # Two clients stand in for two worker processes on different machines.
    first = RedisRateLimiter(redis.Redis.from_url(redis_url), rate_per_second=20, prefix=redis_prefix)
    second = RedisRateLimiter(redis.Redis.from_url(redis_url), rate_per_second=20, prefix=redis_prefix)

    slots = []
    for limiter in [first, second] * 4:
        slots.append(time.monotonic() + limiter.reserve("meraki:1"))

    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert gaps == pytest.approx([0.05] * 7, abs=0.02)


@pytest.mark.redis
def test_redis_limiter_keys_do_not_interfere(redis_url, redis_prefix):
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), rate_per_second=1, prefix=redis_prefix)
    limiter.reserve("meraki:1")

    assert limiter.reserve("meraki:1") > 0.9
    assert limiter.reserve("meraki:2") == 0.0


@pytest.mark.redis
def test_redis_limiter_burst_lets_the_first_burst_go_at_once(redis_url, redis_prefix):
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), rate_per_second=10, burst=3, prefix=redis_prefix)

    waits = [limiter.reserve("meraki:1") for _ in range(4)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1, abs=0.01)


@pytest.mark.redis
def test_redis_limiter_state_expires_once_its_slots_are_past(redis_url, redis_prefix):
    client = redis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, rate_per_second=2, prefix=redis_prefix)

    limiter.reserve("meraki:1")
    limiter.reserve("meraki:1")

    # Two slots of 0.5 s reach 1 s ahead; the key lives that long plus a one-second margin.
    assert 1000 < client.pttl(redis_prefix + "meraki:1") <= 2000
