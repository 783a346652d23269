"""Behaving well towards the API: transient failures retried with backoff
and jitter, Retry-After honoured on 429 and 503, one deadline per request
(-o timeout, retries included), and a token bucket per service
(-o rate_limit)."""

import errno
import time

import pytest

from helpers import counts_delta, errno_of

FLAVORS_ROUTE = "compute.flavors.detail"
SERVERS_ROUTE = "compute.servers.detail"



def route_log(cloud, route):
    return [r for r in cloud.requests() if r["route"] == route]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_transient_failures_are_retried_until_an_answer(mount, cloud, status):
    m = mount()
    m.read("aggregates.json")  # authenticated, microversion known
    before = cloud.counts()
    cloud.fail(FLAVORS_ROUTE, status=status, count=2)
    assert b"m1.large" in m.read("flavors.json")
    # (Before 2.61 the fetch goes on with each flavor's extra specs.)
    assert counts_delta(before, cloud.counts()) == {**cloud.flavors_fetch_counts(),
                                                    FLAVORS_ROUTE: 3}
    assert [r["status"] for r in route_log(cloud, FLAVORS_ROUTE)][-3:] == [status, status, 200]
    assert m.stats()["api"]["retries"] == 2


@pytest.mark.parametrize("status", [400, 403, 404])
def test_answers_that_are_not_transient_are_not_retried(mount, cloud, status):
    m = mount()
    m.read("aggregates.json")
    before = cloud.counts()
    cloud.fail(FLAVORS_ROUTE, status=status, count=-1)
    assert errno_of(m.read, "flavors.json") in (errno.EIO, errno.ENOENT, errno.EACCES)
    assert counts_delta(before, cloud.counts()) == {FLAVORS_ROUTE: 1}


def test_a_dropped_connection_is_retried(mount, cloud):
    m = mount()
    m.read("aggregates.json")
    before = cloud.counts()
    cloud.fail(FLAVORS_ROUTE, mode="drop", count=1)
    assert b"m1.large" in m.read("flavors.json")
    assert counts_delta(before, cloud.counts()) == {**cloud.flavors_fetch_counts(),
                                                    FLAVORS_ROUTE: 2}


def test_retries_stop_at_the_configured_number(mount, cloud):
    m = mount("retries=2")
    m.read("aggregates.json")
    before = cloud.counts()
    cloud.fail(FLAVORS_ROUTE, status=503, count=-1)
    assert errno_of(m.read, "flavors.json") == errno.EIO
    assert counts_delta(before, cloud.counts()) == {FLAVORS_ROUTE: 3}
    cloud.clear_failures()


def test_backoff_waits_grow_within_their_jittered_ceilings(mount, cloud):
    # Full jitter: the n-th wait is somewhere in [0, 100 ms * 2^(n-1)].
    m = mount("retries=3")
    m.read("aggregates.json")
    cloud.fail(FLAVORS_ROUTE, status=503, count=3)
    m.read("flavors.json")
    times = [r["t"] for r in route_log(cloud, FLAVORS_ROUTE)][-4:]
    gaps = [b - a for a, b in zip(times, times[1:])]
    ceilings = [0.1, 0.2, 0.4]
    # The gap also holds a request's own round trip: allow 150 ms for it.
    assert all(0 <= gap <= ceiling + 0.15 for gap, ceiling in zip(gaps, ceilings)), gaps


def test_retry_after_on_429_is_honoured(mount, cloud):
    m = mount()
    m.read("aggregates.json")
    cloud.fail(FLAVORS_ROUTE, status=429, count=1, headers={"Retry-After": "1"})
    start = time.monotonic()
    assert b"m1.large" in m.read("flavors.json")
    assert time.monotonic() - start >= 0.95
    log = route_log(cloud, FLAVORS_ROUTE)[-2:]
    assert [r["status"] for r in log] == [429, 200]
    assert log[1]["t"] - log[0]["t"] >= 0.95
    assert m.stats()["api"]["throttled"] == 1


def test_retry_after_past_the_deadline_fails_at_once(mount, cloud):
    # Waiting 60 s would break -o timeout=3: the 429 stands, and the read
    # fails now instead of hanging.
    m = mount("timeout=3")
    m.read("aggregates.json")
    before = cloud.counts()
    cloud.fail(FLAVORS_ROUTE, status=429, count=-1, headers={"Retry-After": "60"})
    start = time.monotonic()
    assert errno_of(m.read, "flavors.json") == errno.EIO
    assert time.monotonic() - start < 2.0
    assert counts_delta(before, cloud.counts()) == {FLAVORS_ROUTE: 1}
    assert "429" in m.text(".infrafs/errors")
    cloud.clear_failures()


def test_retries_end_within_the_timeout(mount, cloud):
    # A backend that is slow and failing: every try takes 400 ms. With
    # timeout=2 the read ends in about 2 s, however many retries remain.
    m = mount("timeout=2", "retries=10")
    m.read("aggregates.json")
    cloud.latency(FLAVORS_ROUTE, 400)
    cloud.fail(FLAVORS_ROUTE, status=503, count=-1)
    start = time.monotonic()
    assert errno_of(m.read, "flavors.json") == errno.EIO
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 3.0, elapsed
    cloud.clear_failures()
    cloud.latency(FLAVORS_ROUTE, 0)


def test_rate_limit_spaces_requests_to_one_service(mount, cloud):
    # rate_limit=5 (a burst of 5, then 5 a second): 20 hosts' servers.json,
    # each its own request, take at least (20 - 5) / 5 = 3 s to fetch.
    m = mount("rate_limit=5")
    hosts = m.listdir("hosts")[:20]
    assert len(hosts) == 20
    start = time.monotonic()
    for host in hosts:
        m.read("hosts/%s/servers.json" % host)
    elapsed = time.monotonic() - start
    times = sorted(r["t"] for r in cloud.requests() if r["route"] == SERVERS_ROUTE)
    assert len(times) == 20
    assert times[-1] - times[0] >= 2.8, times[-1] - times[0]
    assert elapsed >= 2.8
    # In any window of one second, at most burst + rate requests.
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < 1.0) <= 10
    assert m.stats()["api"]["rate_limit_waits"] >= 10
