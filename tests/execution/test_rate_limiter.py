"""The adaptive limiter's algorithm on a fake clock, and its shared stores on a real DB and Redis."""

from __future__ import annotations

import threading
import time

import pytest

from restore.engine.config import RestoreConfig
from restore.engine.rate_limiter import (
    SHARED_REFRESH_S,
    AdaptiveRateLimiter,
    DatabaseStore,
    LimiterParams,
    base_rate_from,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(rate: float | None, **kw) -> tuple[AdaptiveRateLimiter, FakeClock]:
    clock = FakeClock()
    lim = AdaptiveRateLimiter(LimiterParams(base_rate=rate, **kw), sleep=clock.sleep, clock=clock)
    return lim, clock


def test_base_rate_is_the_stricter_of_per_second_and_per_minute():
    assert base_rate_from(RestoreConfig(rate_limit_per_second=10, rate_limit_per_minute=120)) == 2
    assert base_rate_from(RestoreConfig(rate_limit_per_second=3)) == 3
    assert base_rate_from(RestoreConfig(rate_limit_per_second=None)) is None


def test_it_paces_requests_at_the_configured_rate():
    lim, clock = limiter(10)
    start = clock.now
    for _ in range(110):
        lim.acquire()
        lim.record(200)
    # 10 burst tokens, then 100 more at 10/s
    assert 9.5 <= clock.now - start <= 10.5


def test_it_pauses_for_retry_after_and_cuts_the_rate_once_per_storm():
    lim, clock = limiter(10)
    lim.acquire()
    for _ in range(8):  # eight workers in flight all see the same 429
        lim.record(429, 3)
    state = lim.state()
    assert state["current_rate"] == 5
    assert state["paused_for"] == pytest.approx(3)
    assert state["throttle_events"] == 8
    before = clock.now
    lim.acquire()
    assert clock.now - before >= 3


def test_it_recovers_gradually_after_sustained_success():
    lim, clock = limiter(16)
    lim.record(429, 1)
    clock.sleep(1.1)
    lim.record(429, 1)  # a second storm halves again
    assert lim.state()["current_rate"] == 4
    rates = []
    for _ in range(200):
        lim.acquire()
        lim.record(200)
        rates.append(lim.state()["current_rate"])
        if rates[-1] == 16:
            break
    assert rates[-1] == 16
    assert len(set(rates)) >= 4  # stepped back up, not jumped
    assert not lim.state()["throttled"]


def test_unlimited_limiter_backs_off_from_the_observed_rate_and_returns_to_unlimited():
    lim, clock = limiter(None)
    for _ in range(100):
        lim.acquire()
        lim.record(200)
        clock.sleep(0.01)  # ~100 req/s observed
    lim.record(429, 1)
    cut = lim.state()["current_rate"]
    assert 30 <= cut <= 60
    for _ in range(2000):
        lim.acquire()
        lim.record(200)
        if lim.state()["current_rate"] is None:
            break
    assert lim.state()["current_rate"] is None


def test_threads_share_one_limiter():
    lim = AdaptiveRateLimiter(LimiterParams(base_rate=50))
    count = 0
    lock = threading.Lock()

    def work():
        nonlocal count
        for _ in range(15):
            lim.acquire()
            with lock:
                count += 1

    start = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - start
    assert count == 120
    assert 1.2 <= elapsed <= 3.0  # 50 burst + 70 at 50/s


@pytest.mark.django_db(transaction=True)
def test_database_store_is_shared_between_limiters():
    params = LimiterParams(base_rate=20)
    a = AdaptiveRateLimiter(params, DatabaseStore("s1", params))
    b = AdaptiveRateLimiter(params, DatabaseStore("s1", params))
    a.acquire()
    a.record(429, 2)
    state = b.state()
    assert state["scope"] == "database"
    assert state["current_rate"] == 10
    assert state["paused_for"] > 1
    start = time.monotonic()
    b.acquire()
    assert time.monotonic() - start >= 1.5


def redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return url


def test_redis_store_is_shared_between_limiters():
    from restore.engine.rate_limiter import RedisStore

    url = redis_url()
    key = f"test-{time.time_ns()}"
    params = LimiterParams(base_rate=20)
    a = AdaptiveRateLimiter(params, RedisStore(key, params, url, ttl=60))
    b = AdaptiveRateLimiter(params, RedisStore(key, params, url, ttl=60))
    a.record(429, 1)
    state = b.state()
    assert state["scope"] == "redis"
    assert state["current_rate"] == 10
    start = time.monotonic()
    b.acquire()
    assert time.monotonic() - start >= 0.5


@pytest.mark.django_db(transaction=True)
def test_unlimited_shared_limiter_reports_in_batches_and_still_sees_another_process_pause():
    params = LimiterParams(base_rate=None)
    a = AdaptiveRateLimiter(params, DatabaseStore("s2", params))
    b = AdaptiveRateLimiter(params, DatabaseStore("s2", params))
    applied = 0
    apply = a.store.apply

    def counted(fn):
        nonlocal applied
        applied += 1
        return apply(fn)

    a.store.apply = counted  # the real store, its round trips counted
    for _ in range(300):
        a.acquire()
        a.record(200)
    assert applied < 30  # not two database transactions per request
    time.sleep(SHARED_REFRESH_S)
    a.acquire()  # reads the state again, and reports the successes not reported yet
    assert b.state()["requests"] == 300  # every success counted, in batches

    b.record(429, 1)
    time.sleep(SHARED_REFRESH_S)
    start = time.monotonic()
    a.acquire()
    assert time.monotonic() - start >= 0.5  # the pause another process met holds this one too
