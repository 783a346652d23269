"""Faults from the backend (issue 5): 5xx, connection refused, a server
that never answers, one that trickles a byte a second, truncated and
invalid JSON, valid JSON of the wrong shape, a body over the 64 MiB limit,
401 on every request and 429 storms.

Each fault of the matrix is applied to one class, flavors (its one request:
compute.flavors.detail), on two mounts at once, with -o timeout=3 and a TTL
of 0 without grace (-o ttl.flavors=0,grace.flavors=0: a copy is expired as
soon as it is fetched, so no test waits for a TTL to run out; the read
after it takes the same path as one after a longer TTL):

- `cached` holds a copy whose TTL has passed: its read fetches, fails, and
  gets that copy, the same bytes, marked stale (user.infrafs.stale = 1);
- `fresh` never read flavors: its read fails, EIO (EACCES for 401);
- both reads end within the timeout plus a margin;
- .infrafs/errors of each names `flavors`, the kind of error and what
  happened;
- once the fault is cleared, both get fresh data without a remount (polled:
  the cached copy's entry asks the API again only after a 2 s back-off);
- both daemons are still running; the mount fixture's teardown requires
  exit code 0 and no warning/critical/error line in their logs.

Further tests: a 50 MB body (under the 64 MiB limit) is served; 401 on
every request costs at most one token request per read; a count-limited
429 storm with Retry-After: 0 is ridden out, and an endless one ends in EIO
within the deadline.
"""

import errno
import json
import os
import re
import secrets
import shutil
import threading
import time

import pytest

import helpers
from helpers import call_with_deadline, counts_delta, errno_name, wait_until

ROUTE = "compute.flavors.detail"
CLASS = "flavors"
FILE = "flavors.json"
TIMEOUT_S = 3
RETRIES = 1
TTL_S = 0                     # see the docstring
MARGIN_S = 2.0                # a read ends before the timeout + MARGIN_S
RECOVERY_S = 10               # 2 s back-off, then one fetch
STALE = "user.infrafs.stale"
MAX_BODY_BYTES = 64 * 1024 * 1024   # src/http.c; docs/configuration.md
# rate_limit=0: with TTL 0 every lookup fetches, and before 2.61 a flavors
# fetch is 17 requests (one per flavor's extra specs): the default limit
# of 50 a second would make the polls crawl.
OPTS = ("retries=%d" % RETRIES, "ttl.%s=%d" % (CLASS, TTL_S), "grace.%s=0" % CLASS,
        "max_stale=86400", "rate_limit=0")
NGINX_502 = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 "
             "Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n")
ARRAY_EXPECTED = r'expected "flavors" to be an array'
ROUTE_PATH = r"/flavors/detail\b"   # in the message of every error of ROUTE's answer


class Fault:
    """One kind of fault: the /_fake/fail rule that makes it (None: the
    cloud goes down), the kind and message .infrafs/errors must show, and
    the request it must name (docs/control-files.md: "Messages hold the
    request URL"), the errno of a read without a copy, and the requests to
    ROUTE each failed read costs."""

    def __init__(self, rule, kind, message, err=errno.EIO, tries=1, tokens=None,
                 timeout_s=TIMEOUT_S, where=ROUTE_PATH):
        self.rule = rule
        self.where = where
        self.timeout_s = timeout_s  # -o timeout of both mounts
        self.kind = kind
        self.message = message
        self.err = err
        # requests to ROUTE per failed read: a number, or (least, most)
        self.tries = tries if isinstance(tries, tuple) else (tries, tries)
        self.tokens = tokens        # most identity.tokens requests per failed read


def rule(**body):
    return dict({"route": ROUTE, "count": -1}, **body)


FAULTS = {
    "http-500": Fault(rule(status=500), "unavailable", r"HTTP 500\b", tries=1 + RETRIES),
    "http-502-html": Fault(rule(status=502, body=NGINX_502, headers={"Content-Type": "text/html"}),
                           "unavailable", r"HTTP 502\b", tries=1 + RETRIES),
    "http-503": Fault(rule(status=503), "unavailable", r"HTTP 503\b.*Injected failure",
                      tries=1 + RETRIES),
    "refused": Fault(None, "unavailable", r"[Cc]ouldn't connect|[Cc]onnection refused"),
    # curl sends a request again, once, on a fresh connection when a
    # reused one ends without a byte: 2 or 3 requests for our 2 tries.
    "drop": Fault(rule(mode="drop"), "unavailable",
                  r"[Ee]mpty reply from server|[Cc]onnection reset|[Rr]ecv failure",
                  tries=(1 + RETRIES, 2 * (1 + RETRIES))),
    "hang": Fault(rule(mode="hang"), "timeout", r"[Tt]imed? ?out"),
    "trickle": Fault(rule(mode="trickle", interval_ms=1000), "timeout", r"[Tt]imed? ?out"),
    "truncated-json": Fault(rule(mode="truncated"), "bad_response",
                            r"invalid JSON: unexpected end of data"),
    "invalid-json": Fault(rule(mode="garbage"), "bad_response", r"invalid JSON at byte 0"),
    "shape-missing-key": Fault(rule(mode="shape", shape="missing-key"), "bad_response",
                               ARRAY_EXPECTED),
    "shape-null": Fault(rule(mode="shape", shape="null"), "bad_response", ARRAY_EXPECTED),
    "shape-wrong-type": Fault(rule(mode="shape", shape="wrong-type"), "bad_response",
                              ARRAY_EXPECTED),
    "shape-not-object": Fault(rule(mode="shape", shape="not-object"), "bad_response",
                              ARRAY_EXPECTED),
    "shape-bad-items": Fault(rule(mode="shape", shape="bad-items"), "bad_response",
                             r"flavors: item 0 is not a JSON object"),
    "shape-null-document": Fault(rule(mode="shape", shape="null-document"), "bad_response",
                                 r"empty or null JSON document"),
    # A longer timeout: on a busy machine 64 MiB could take 3 s to arrive,
    # and the limit, not the deadline, is what this case is about.
    "body-over-64MiB": Fault(rule(mode="huge", size_mb=65), "bad_response",
                             r"response body larger than %d bytes" % MAX_BODY_BYTES,
                             timeout_s=10),
    # The service refuses the token, and then the fresh one too.
    "401-on-the-route": Fault(rule(status=401), "auth", r"HTTP 401\b", err=errno.EACCES,
                              tries=2, tokens=1),
    # Keystone as well: the token is refused, and so are the credentials.
    "401-everywhere": Fault(dict(rule(status=401), route="*"), "auth",
                            r"Keystone refused the credentials", err=errno.EACCES,
                            tries=1, tokens=1, where=r"Keystone"),
    "429-storm": Fault(rule(status=429, headers={"Retry-After": "0"}), "unavailable",
                       r"HTTP 429\b", tries=1 + RETRIES),
}


# ---- helpers -----------------------------------------------------------------

def xattr(m, rel, name):
    return call_with_deadline(os.getxattr, m.path(rel), name,
                              what="getxattr %s %s" % (rel, name))


def timed(fn, *args):
    """fn(*args) on a helper thread, with a deadline: (result or the
    OSError it raised, seconds it took)."""
    def run():
        start = time.monotonic()
        try:
            value = fn(*args)
        except OSError as exc:
            value = exc
        return value, time.monotonic() - start
    return call_with_deadline(run, what="%s%r" % (getattr(fn, "__name__", fn), args))


def in_parallel(*calls):
    """Run each (fn, *args) on its own thread, all at once; their results,
    in order. A call that does not return within the FS deadline fails the
    test (its daemon thread is left behind, as call_with_deadline does)."""
    results = [None] * len(calls)

    def run(i, fn, args):
        results[i] = timed(fn, *args)

    threads = [threading.Thread(target=run, args=(i, c[0], c[1:]), daemon=True)
               for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + helpers.FS_CALL_TIMEOUT_S
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
        if t.is_alive():
            raise helpers.DeadlineExceeded("parallel calls did not return within %.0f s"
                                           % helpers.FS_CALL_TIMEOUT_S)
    return results


def read_file(m, rel):
    with open(m.path(rel), "rb") as fh:
        return fh.read()


def error_lines(m, data_class):
    """.infrafs/errors lines about `data_class`: (kind, message) each."""
    found = []
    for line in m.lines(".infrafs/errors"):
        fields = line.split(" ", 3)
        if len(fields) == 4 and fields[1] == data_class:
            found.append((fields[2], fields[3]))
    return found


def arm(cloud, body):
    rules = cloud.control("POST", "fail", body)
    assert any(r["route"] == body["route"] for r in rules), rules


def recovered(m, good):
    """Fresh data again: not stale, same bytes as before the fault."""
    return xattr(m, FILE, STALE) == b"0" and m.read(FILE) == good


def assert_alive(*mounts):
    for m in mounts:
        assert m.proc.poll() is None, m.describe("infrafs exited with %s" % m.proc.returncode)
        assert m.mounted(), m.describe("not mounted any more")


class RestartableCloud:
    """A fake cloud of this test's own that can go down (every connection
    refused) and come back on the same port with the same password. Owns
    the processes it starts, and nothing else."""

    def __init__(self, workdir, max_microversion):
        self.workdir = workdir
        self.max_microversion = max_microversion
        self.password = "fake-" + secrets.token_hex(8)
        self.started = []
        self.first = self._start("first", [])
        self.port = int(self.first.url.rsplit(":", 1)[1])

    def _start(self, name, extra):
        workdir = os.path.join(self.workdir, name)
        os.makedirs(workdir)
        cloud = helpers.FakeCloud(workdir, extra_args=["--password", self.password, *extra],
                                  max_microversion=self.max_microversion)
        self.started.append(cloud)
        return cloud.start()

    @property
    def current(self):
        return self.started[-1]

    def down(self):
        code = self.current.stop()
        assert code == 0, "fake cloud exited with %s:\n%s" % (code, self.current.stderr_tail())

    def up(self):
        cloud = self._start("again%d" % len(self.started), ["--port", str(self.port)])
        assert cloud.url == self.first.url, (cloud.url, self.first.url)

    def stop(self):
        return [c.stop() for c in self.started]


@pytest.fixture
def restartable_cloud(tmp_path, fake_max_microversion):
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        pytest.skip("needs /dev/fuse and fusermount3")
    holder = RestartableCloud(str(tmp_path / "clouds"), fake_max_microversion)
    yield holder
    codes = holder.stop()
    assert all(code == 0 for code in codes), codes


# ---- the matrix ----------------------------------------------------------------

# Daemon bugs these cases show; strict: they fail the run once fixed.
KNOWN_BUGS = {}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
    if name in KNOWN_BUGS else name for name in FAULTS])
def test_fault(request, mount, name):
    fault = FAULTS[name]
    if fault.rule is None:
        restartable = request.getfixturevalue("restartable_cloud")
        cloud = restartable.first
    else:
        restartable, cloud = None, request.getfixturevalue("cloud")
    cached = mount(*OPTS, cloud=cloud, timeout_s=fault.timeout_s)
    fresh = mount(*OPTS, cloud=cloud, timeout_s=fault.timeout_s)
    good = cached.read(FILE)        # with TTL 0, expired at once
    assert [f["name"] for f in json.loads(good)] == \
        [f["name"] for f in cloud.api.flavors()]
    fresh.read("aggregates.json")   # authenticated, microversion negotiated

    before = cloud.counts() if restartable is None else None
    if restartable is None:
        arm(cloud, fault.rule)
    else:
        restartable.down()
    (stale, stale_s), (failed, failed_s) = in_parallel((read_file, cached, FILE),
                                                        (read_file, fresh, FILE))
    after = cloud.counts() if restartable is None else None

    # (a) the copy, marked stale
    assert stale == good, "cached mount: %r" % (stale if isinstance(stale, OSError)
                                                 else stale[:200])
    assert stale_s < fault.timeout_s + MARGIN_S, "stale read took %.2f s" % stale_s
    assert xattr(cached, FILE, STALE) == b"1"
    # (b) no copy: the error, within the deadline
    assert isinstance(failed, OSError), "fresh mount read %d bytes" % len(failed)
    assert failed.errno == fault.err, "%s, expected %s" % (errno_name(failed.errno),
                                                         errno_name(fault.err))
    assert failed_s < fault.timeout_s + MARGIN_S, "failed read took %.2f s" % failed_s
    # (c) what happened, in .infrafs/errors (once per failed fetch: one,
    # unless a read came more than 2 s after the failure and fetched again)
    for m in (cached, fresh):
        lines = error_lines(m, CLASS)
        assert lines, m.lines(".infrafs/errors")
        for kind, message in lines:
            assert kind == fault.kind and re.search(fault.message, message), \
                "expected %s /%s/: %s %s" % (fault.kind, fault.message, kind, message)
            assert re.search(fault.where, message), \
                "the message does not name the request (/%s/): %s" % (fault.where, message)
    # the number of requests each read cost
    if before is not None:
        delta = counts_delta(before, after)
        least, most = fault.tries
        assert 2 * least <= delta.get(ROUTE, 0) <= 2 * most, delta
        if fault.tokens is not None:
            assert delta.get("identity.tokens", 0) <= 2 * fault.tokens, delta

    # (d) the next good answer recovers, without a remount
    if restartable is None:
        cloud.clear_failures()
    else:
        restartable.up()
    wait_until(lambda: recovered(fresh, good), timeout=RECOVERY_S,
               what="fresh flavors on the mount that had no copy")
    wait_until(lambda: recovered(cached, good), timeout=RECOVERY_S,
               what="fresh flavors on the mount that served the stale copy")
    # (e) still running (exit code and log: the mount fixture's teardown)
    assert_alive(cached, fresh)


# ---- beyond the matrix ---------------------------------------------------------

def test_body_of_50_mb_is_under_the_limit_and_served(mount, cloud):
    # docs/configuration.md: the largest API response body is 64 MiB.
    m = mount(timeout_s=20)
    m.read("aggregates.json")
    expected = cloud.api.flavors()
    arm(cloud, rule(mode="huge", size_mb=50, count=1))
    assert json.loads(m.read(FILE)) == expected
    used = [r for r in cloud.control("GET", "fail") if r["route"] == ROUTE]
    assert [r["count"] for r in used] == [0], used    # the 50 MiB answer was the one read
    assert error_lines(m, CLASS) == []
    assert_alive(m)


def test_401_on_every_request_does_not_loop(mount, cloud):
    # The first read: one request to the service (401 on the held token),
    # one login (refused), EACCES. Later reads hold no token: one login
    # each (refused), no service request, EACCES. Never a loop.
    m = mount("retries=3", timeout_s=TIMEOUT_S)
    m.read("aggregates.json")
    arm(cloud, dict(rule(status=401), route="*"))
    start = cloud.counts()
    reads = 4
    for i in range(reads):
        before = cloud.counts()
        got, seconds = timed(read_file, m, FILE)
        assert isinstance(got, OSError) and got.errno == errno.EACCES, got
        assert seconds < TIMEOUT_S + MARGIN_S, seconds
        delta = counts_delta(before, cloud.counts())
        expected = {ROUTE: 1, "identity.tokens": 1} if i == 0 else {"identity.tokens": 1}
        assert delta == expected, "read %d: %s" % (i, delta)
    total = counts_delta(start, cloud.counts())
    assert total == {ROUTE: 1, "identity.tokens": reads}, total
    cloud.clear_failures()
    wait_until(lambda: not isinstance(timed(read_file, m, FILE)[0], OSError),
               timeout=RECOVERY_S, what="flavors readable once Keystone takes the password")
    assert_alive(m)


def test_429_storm_with_retry_after_0_is_ridden_out(mount, cloud):
    m = mount("retries=10", timeout_s=TIMEOUT_S)
    m.read("aggregates.json")
    expected = cloud.api.flavors()
    before = cloud.counts()
    arm(cloud, rule(status=429, count=6, headers={"Retry-After": "0"}))
    got, seconds = timed(m.read, FILE)
    assert not isinstance(got, OSError), errno_name(got.errno)
    assert json.loads(got) == expected
    assert seconds < TIMEOUT_S, seconds
    assert counts_delta(before, cloud.counts()) == {**cloud.flavors_fetch_counts(), ROUTE: 7}
    statuses = [r["status"] for r in cloud.requests() if r["route"] == ROUTE][-7:]
    assert statuses == [429] * 6 + [200], statuses
    api = m.stats()["api"]
    assert api["throttled"] == 6 and api["retries"] == 6, api
    assert error_lines(m, CLASS) == []


def test_endless_429_storm_ends_in_eio_within_the_deadline(mount, cloud):
    # Retry-After: 1 and 10 retries would take 10 s; the 3 s deadline ends
    # it: no wait starts that would end past it.
    m = mount("retries=10", timeout_s=TIMEOUT_S)
    m.read("aggregates.json")
    before = cloud.counts()
    arm(cloud, rule(status=429, headers={"Retry-After": "1"}))
    got, seconds = timed(read_file, m, FILE)
    assert isinstance(got, OSError) and got.errno == errno.EIO, got
    assert seconds < TIMEOUT_S + MARGIN_S, seconds
    tries = counts_delta(before, cloud.counts()).get(ROUTE, 0)
    assert 2 <= tries <= TIMEOUT_S + 1, tries
    lines = error_lines(m, CLASS)
    assert [kind for kind, _ in lines] == ["unavailable"] and "HTTP 429" in lines[0][1], lines
    cloud.clear_failures()
    wait_until(lambda: not isinstance(timed(read_file, m, FILE)[0], OSError),
               timeout=RECOVERY_S, what="flavors readable after the storm")
    assert_alive(m)
