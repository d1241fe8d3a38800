"""The adaptive limiter's algorithm on a fake clock, and its shared stores on a real DB and Redis."""

from __future__ import annotations

import re
import threading
import time

import pytest

from restore.engine.core.config import RestoreConfig
from restore.engine.limits.rate_limiter import (
    SHARED_REFRESH_S,
    AdaptiveRateLimiter,
    CpuBusy,
    CpuWanted,
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


def limiter(rate: float | None, busy: float = 0.1, **kw) -> tuple[AdaptiveRateLimiter, FakeClock]:
    """A limiter on a fake clock; `busy` is this process' CPU load as the limiter sees it."""
    clock = FakeClock()
    lim = AdaptiveRateLimiter(
        LimiterParams(base_rate=rate, **kw), sleep=clock.sleep, clock=clock, busy=lambda: busy
    )
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


def go_free(lim: AdaptiveRateLimiter) -> None:
    """A limiter that found no limit is needed (what slow start ends in against a fast
    destination): its state says so."""
    lim.store.apply(lambda state, now: state.update(rate=None))


def demand(lim: AdaptiveRateLimiter, clock: FakeClock, seconds: float, per_s: float,
           latency: float = 0.0, status=lambda i: 200) -> int:  # fmt: skip
    """One worker asking for `per_s` requests a second for `seconds` of fake time; each answer
    takes `latency` s. Returns the requests sent."""
    end, n = clock.now + seconds, 0
    while clock.now < end:
        lim.acquire()
        clock.sleep(latency)
        lim.record(status(n))
        n += 1
        clock.sleep(max(0.0, 1.0 / per_s - latency))
    return n


def test_by_default_nothing_limits_the_start_until_the_destination_pushes_back():
    lim, clock = limiter(None)
    state = lim.state()
    assert state["current_rate"] is None and state["mode"] == "finding capacity"
    assert state["reason"].startswith("no limit until the destination pushes back"), state
    # the session's cap on requests in flight bounds the start, not a rate to climb first
    assert demand(lim, clock, 0.2, 1000) >= 195
    assert demand(lim, clock, 1.0, 1000) >= 990
    assert lim.state()["throttled"] is False


def test_a_429_at_the_start_cuts_to_half_of_what_the_destination_took_in_its_first_burst():
    lim, clock = limiter(None)
    demand(lim, clock, 0.1, 500)  # 50 answers in a tenth of a second: a bucket's burst
    lim.record(429, 1)
    state = lim.state()
    # half of 50 answers over at least half a second: not 250/s, and not a crawl either
    assert 40 <= state["current_rate"] <= 60, state
    assert state["paused_for"] == pytest.approx(1)
    assert state["reason"].startswith("429 at ") and "Retry-After 1" in state["reason"]
    before = clock.now
    sent = demand(lim, clock, 3.0, 500)
    assert clock.now - before >= 1  # paused, then paced: about 2 s at 50-110/s
    assert 90 <= sent <= 250, sent


def test_without_a_ceiling_it_settles_where_the_destination_took_what_the_workers_wanted():
    lim, clock = limiter(None)
    demand(lim, clock, 6.0, 150)  # the workers only ever want 150/s
    state = lim.state()
    assert state["current_rate"] is None
    assert 100 <= state["settled_rate"] <= 160, state


def test_after_a_cut_it_holds_its_rate_while_the_destination_answers_many_5xx():
    lim, clock = limiter(None)
    demand(lim, clock, 1.0, 100)
    lim.record(429, 0.1)  # cut to 50/s
    rate = lim.state()["current_rate"]
    demand(lim, clock, 3.0, 1000, status=lambda i: 500 if i % 3 == 0 else 200)
    state = lim.state()
    assert state["current_rate"] == rate, state  # a third of the answers 5xx: no increase
    assert "5xx" in state["reason"]


def test_a_429_cuts_to_half_of_what_the_destination_took_and_it_returns_to_no_limit():
    lim, clock = limiter(None)
    go_free(lim)
    demand(lim, clock, 1.0, 100)  # ~100 req/s observed
    lim.record(429, 1)
    state = lim.state()
    assert 30 <= state["current_rate"] <= 60
    assert state["reason"].startswith("429 at ") and "Retry-After 1" in state["reason"]
    for _ in range(2000):
        lim.acquire()
        lim.record(200)
        if lim.state()["current_rate"] is None:
            break
    assert lim.state()["current_rate"] is None


def test_climbing_latency_cuts_the_rate_once_and_learns_the_new_baseline():
    lim, clock = limiter(None, latency_min_samples=3)  # one simulated worker: few samples
    demand(lim, clock, 6.0, 100, latency=0.02)  # 20 ms answers: no cut, no limit needed
    assert lim.state()["latency_cuts"] == 0 and lim.state()["current_rate"] is None
    demand(lim, clock, 2.5, 100, latency=0.3)  # the destination slows down under the load
    state = lim.state()
    assert state["latency_cuts"] == 1, state
    said = [state["reason"], *state["recent_reasons"]]
    assert any("latency climbed from 20 to 300 ms" in r for r in said), said
    # cut to 70% of what the destination was taking (then, one worker using less than that,
    # no limit is needed again)
    cut = next(r for r in said if r.startswith("latency climbed"))
    was, to = (float(x) for x in re.findall(r"at ([\d.]+) requests/s: cut to ([\d.]+)/s", cut)[0])
    assert to == pytest.approx(0.7 * was, abs=0.1)
    demand(lim, clock, 8.0, 100, latency=0.3)  # it stays slow: not our doing, no more cuts
    assert lim.state()["latency_cuts"] == 1


def test_latency_climbing_while_this_process_is_saturated_is_its_own_doing():
    lim, clock = limiter(None, busy=0.95, latency_min_samples=3)
    demand(lim, clock, 6.0, 100, latency=0.02)
    demand(lim, clock, 2.5, 100, latency=0.3)
    assert lim.state()["latency_cuts"] == 0


def test_cpu_busy_measures_this_process():
    busy = CpuBusy()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    spinning = busy()
    time.sleep(0.3)
    sleeping = busy()
    assert spinning > 0 and sleeping < 0.1 < spinning


def test_cpu_wanted_keeps_the_time_of_threads_that_ended():
    """Pool threads that exit leave /proc/self/task: their CPU time must not drop out of the
    reading, or CpuBusy would see the process as idle (or negative) right after."""
    cpu = CpuWanted()
    spun, done = threading.Barrier(4), threading.Event()

    def spin() -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.1:
            pass
        spun.wait()
        done.wait()

    threads = [threading.Thread(target=spin) for _ in range(3)]
    for t in threads:
        t.start()
    spun.wait()
    with_them = cpu()
    done.set()
    for t in threads:
        t.join()
    assert cpu() >= with_them


def test_cpu_wanted_never_goes_backwards_when_threads_end_or_ids_are_reused(tmp_path):
    def threads(**wanted: tuple[int, int]) -> None:
        for old in tmp_path.iterdir():
            (old / "schedstat").unlink()
            old.rmdir()
        for tid, (on_cpu, waiting) in wanted.items():
            (tmp_path / tid).mkdir()
            (tmp_path / tid / "schedstat").write_text(f"{on_cpu} {waiting} 7\n")

    cpu = CpuWanted(str(tmp_path))
    threads(t1=(10**9, 0), t2=(2 * 10**9, 10**9))
    assert cpu() == 4.0
    threads(t1=(15 * 10**8, 0))  # t2 ended
    assert cpu() == 4.5
    threads(t1=(15 * 10**8, 0), t2=(5 * 10**8, 0))  # a new thread under t2's old ID
    assert cpu() == 5.0
    threads()  # all ended
    assert cpu() == 5.0


def test_noise_of_a_few_milliseconds_is_not_climbing_latency():
    lim, clock = limiter(None)
    demand(lim, clock, 5.0, 200, latency=0.001)
    demand(lim, clock, 3.0, 200, latency=0.02)  # 20× slower, but 19 ms: scheduling noise
    assert lim.state()["latency_cuts"] == 0


def test_a_ceiling_is_never_exceeded_and_latency_does_not_cut_it():
    lim, clock = limiter(20)
    assert lim.state()["mode"] == "ceiling"
    sent = demand(lim, clock, 10.0, 1000, latency=0.001)
    assert sent <= 20 * 10 + 20 + 1  # 20/s and one second's burst
    assert lim.state()["current_rate"] == 20


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
    from restore.engine.limits.rate_limiter import RedisStore

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
    go_free(a)  # slow start found no limit was needed
    b.state()
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
