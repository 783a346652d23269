"""The Redis second-level (L2) cache, -o redis=redis://...: mounts of the
same cloud share fetches through one redis-server of the test's own (the
`redis` fixture), a Redis lock keeps a fleet to one backend request per
cold entry, an invalidation written on one mount reaches every mount of
the same scope, Redis going away or answering garbage never breaks a
read, scopes keep clouds and projects apart, no credential is ever stored,
and bad options fail the mount.

Backend requests are counted with the fake cloud's counters, leaving out
the Keystone token and version-document requests (see backend_delta).
TTLs are long (LONG_TTLS) wherever data must not expire by itself; every
wait is a poll with a deadline."""

import errno
import json
import os
import re
import socket
import threading
import time
import types

import pytest

import helpers
import redis_server
from helpers import counts_delta, wait_until

HOSTS_ROUTE = "compute.hypervisors.detail"
AGGREGATES_ROUTE = "compute.aggregates"
PROJECTS_ROUTE = "identity.projects"
# Requests that are not inventory: logging in and reading version documents.
NOT_INVENTORY = {"identity.tokens", "identity.version", "identity.versions",
                 "compute.version", "compute.versions", "placement.versions"}
LONG_TTLS = tuple("ttl.%s=3600" % c for c in
                  ("hosts", "aggregates", "flavors", "projects", "quotas", "servers",
                   "placement"))
CLASSES = ("aggregates", "hosts", "flavors", "projects", "quotas", "servers", "placement",
           "netbox")
KEY_RE = re.compile(r"^infrafs:1:([0-9a-f]{16}):(data|lock|epoch):(%s)(?:@[0-9a-f]{8})?(:.*)?$"
                    % "|".join(CLASSES), re.S)
ENTRY_MAGIC = b"infrafs-l2 1\n"
PROPAGATION_LIMIT_S = 5.0
RECONNECT_S = 10.0          # backoff up to 5 s, then one try: "up to a few seconds"
L2_COUNTERS = ("hits", "misses", "errors", "lock_waits", "lock_timeouts", "rejected",
               "stores", "invalidations_sent", "invalidations_received", "reconnects")


@pytest.fixture
def mount(redis, mount):
    """The conftest `mount`, set up after (so torn down before) `redis`:
    mounts unmount while their redis-server still runs."""
    return mount


# ---- helpers -----------------------------------------------------------------

def redis_opt(url):
    return "redis=" + url


def backend_delta(before, after):
    """Inventory requests made between two cloud.counts()."""
    return {k: v for k, v in counts_delta(before, after).items() if k not in NOT_INVENTORY}


def l2(m):
    return m.stats()["l2"]


def l2_sum(mounts, counter):
    return sum(l2(m)[counter] for m in mounts)


def metric(m, name):
    """The value of an unlabelled metric in .infrafs/metrics (None if absent)."""
    for line in m.lines(".infrafs/metrics"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def allow_redis_log_lines(m):
    """For a test that breaks Redis on purpose: warning/error lines of m's
    log that mention redis are expected, others still fail the teardown."""
    plain = helpers.Mount.bad_log_lines
    m.bad_log_lines = types.MethodType(
        lambda self: [line for line in plain(self) if "redis" not in line.lower()], m)
    return m


def parse_entry(value):
    """(header fields, payload) of an L2 entry value; AssertionError if it
    is not in the documented shape."""
    assert value.startswith(ENTRY_MAGIC), value[:80]
    head, sep, payload = value.partition(b"\n\n")
    assert sep, "no blank line after the header: %r" % value[:200]
    fields = {}
    for line in head.decode().splitlines()[1:]:
        name, _, rest = line.partition(" ")
        fields[name] = rest
    return fields, payload


def data_keys(r, cls=None):
    return [k for k in r.keys("infrafs:1:*:data:*")
            if cls is None or KEY_RE.match(k).group(3) == cls]


def class_key(r, cls):
    """The one L2 key of a whole-class entry (`...:data:<class>`)."""
    keys = [k for k in data_keys(r, cls) if k.endswith(":data:" + cls)]
    assert len(keys) == 1, (cls, r.keys("*"))
    return keys[0]


def scope_of(m):
    """The scope m's log names when it mounts."""
    found = re.findall(r"sharing fetched data through \S+ \(scope ([0-9a-f]{16})\)", m.log())
    assert len(found) == 1, m.describe("no scope in the log")
    return found[0]


def scopes(r, kind="data"):
    return {KEY_RE.match(k).group(1) for k in r.keys("infrafs:1:*:%s:*" % kind)}


def read_concurrently(jobs, timeout=60):
    """Run each (fn, arg) at once on its own thread (a barrier starts them
    together); returns (results, errors) in job order."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def run(i, fn, arg):
        try:
            barrier.wait(timeout)
            results[i] = fn(arg)
        except Exception as exc:   # reported on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn, arg), daemon=True)
               for i, (fn, arg) in enumerate(jobs)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "readers still running after %d s" % timeout
    return results, errors


def remote_expiries(m):
    """How many invalidations from other mounts m has applied (its log
    says so once the entries are expired and the kernel told)."""
    return m.log().count("invalidate from another mount: ")


def wait_remote_expiries(m, n, timeout=PROPAGATION_LIMIT_S):
    wait_until(lambda: remote_expiries(m) >= n, timeout,
               what="%d invalidation(s) from another mount applied" % n)


def first_up_host(cloud):
    return next(h["hypervisor_hostname"] for h in cloud.api.hypervisors()
                if h["state"] == "up")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback")


# ---- the fixture itself ----------------------------------------------------------

def test_the_redis_fixture_serves_kills_and_restarts(redis):
    assert redis.alive() and redis.url == "redis://127.0.0.1:%d/0" % redis.port
    assert redis.command("PING") == "PONG"
    assert redis.command("SET", "k", b"v\r\n\x00") == "OK"
    assert redis.command("GET", "k") == b"v\r\n\x00"
    assert redis.command("INCR", "n") == 1
    assert redis.command("GET", "nope") is None
    assert redis.command("MGET", "k", "nope") == [b"v\r\n\x00", None]
    with pytest.raises(redis_server.RespError):
        redis.command("NOSUCHCOMMAND")
    assert redis.keys("*") == ["k", "n"]
    pid = redis.pid
    redis.kill()
    assert not redis.alive()
    with pytest.raises(OSError):
        redis.command("PING")
    redis.restart()
    assert redis.alive() and redis.pid != pid
    assert redis.keys("*") == []          # no persistence
    secret = redis.spawn(password="S3cret")
    assert secret.port != redis.port
    assert secret.command("PING") == "PONG"
    with redis_server.RespClient(port=secret.port) as anonymous:
        assert isinstance(anonymous.command("GET", "x", raise_errors=False),
                          redis_server.RespError)


# ---- sharing fetches -------------------------------------------------------------


def test_an_epoch_lost_to_eviction_makes_the_entries_of_its_class_stale(redis, mount, cloud):
    # Eviction (or a restart with a partial dump) may drop the small epoch
    # key and keep entries: they must not become valid again. The next
    # lookup gives the class a new epoch, its fetch is stored under it,
    # and a third mount takes that one.
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    before = cloud.counts()
    data = a.read("hosts.json")
    epoch_key = "infrafs:1:%s:epoch:hosts" % scope_of(a)
    old_epoch = redis.get(epoch_key)
    assert old_epoch is not None
    redis.command("DEL", epoch_key)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    assert b.read("hosts.json") == data
    assert l2(b)["hits"] == 0, l2(b)
    assert redis.get(epoch_key) not in (None, old_epoch)
    c = mount(redis_opt(redis.url), *LONG_TTLS)
    assert c.read("hosts.json") == data
    assert l2(c)["hits"] == 1, l2(c)
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 2}


def test_second_mount_reads_what_the_first_fetched_from_l2(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    assert l2(a)["enabled"] is True
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    before = cloud.counts()
    data_a = a.read("hosts.json")
    data_b = b.read("hosts.json")
    assert data_b == data_a
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    sa, sb = l2(a), l2(b)
    assert set(sa) == {"enabled", "url", "connected", "subscribed", *L2_COUNTERS}, sa
    assert sa["misses"] >= 1 and sa["stores"] >= 1, sa
    assert sb["hits"] >= 1, sb
    assert sb["stores"] == 0, sb
    assert sa["url"] == redis.url and sa["errors"] == 0 and sb["errors"] == 0
    assert metric(b, "infrafs_l2_hits_total") >= 1
    assert metric(b, "infrafs_l2_connected") == 1
    assert "shared cache %s: connected, " % redis.url in b.text(".infrafs/stats")
    for name in ("infrafs_l2_misses_total", "infrafs_l2_errors_total",
                 "infrafs_l2_lock_waits_total", "infrafs_l2_rejected_total"):
        assert metric(b, name) is not None, name
    # The entry, as documented.
    keys = redis.keys("*")
    assert keys and all(KEY_RE.match(k) for k in keys), keys
    key = class_key(redis, "hosts")
    fields, payload = parse_entry(redis.get(key))
    assert {"key", "epoch", "fetched", "length", "checksum"} <= set(fields), fields
    assert fields["key"] == key
    assert int(fields["length"]) == len(payload)
    assert int(fields["fetched"]) / 1e6 == pytest.approx(time.time(), abs=60)
    json.loads(payload)


def test_five_mounts_make_one_backend_request_for_a_cold_file(redis, mount, cloud):
    mounts = [mount(redis_opt(redis.url), *LONG_TTLS) for _ in range(5)]
    wait_until(lambda: all(l2(m)["connected"] for m in mounts), 10,
               what="all mounts connected to redis")
    before = cloud.counts()
    contents = [m.read("aggregates.json") for m in mounts]
    assert len(set(contents)) == 1
    assert backend_delta(before, cloud.counts()) == {AGGREGATES_ROUTE: 1}
    assert all(l2(m)["hits"] >= 1 for m in mounts[1:])


def test_five_mounts_times_40_readers_at_once_make_one_request(redis, mount, cloud):
    mounts = [mount(redis_opt(redis.url), *LONG_TTLS) for _ in range(5)]
    wait_until(lambda: all(l2(m)["connected"] for m in mounts), 10,
               what="all mounts connected to redis")
    cloud.latency(HOSTS_ROUTE, 300)       # keep the one fetch in flight
    before = cloud.counts()
    jobs = [(m.read, "hosts.json") for m in mounts for _ in range(40)]
    t0 = time.monotonic()
    results, errors = read_concurrently(jobs)
    elapsed = time.monotonic() - t0
    cloud.latency(HOSTS_ROUTE, 0)
    assert not errors, errors[:3]
    assert len(set(results)) == 1 and results[0]
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2_sum(mounts, "lock_waits") >= 1
    assert l2_sum(mounts, "lock_timeouts") == 0
    print("\n200 readers on 5 mounts: %.2f s, 1 backend request" % elapsed)
    # Locks are short: none is left behind.
    wait_until(lambda: not redis.keys("infrafs:1:*:lock:*"), 10, what="locks released")


def test_keyed_entries_are_shared_too(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    host = a.listdir("hosts")[0]
    b.listdir("hosts")
    rels = ["quotas/ml-research/compute", "quotas/admin/compute.json",
            "hosts/%s/servers.json" % host, "hosts/%s/inventory.json" % host,
            "hosts/%s/gpu_count" % host, "hosts/%s/flavor" % host,
            "aggregates/GPU-L40/hosts", "flavors/n3-H100x8/extra_specs/pci_passthrough:alias"]
    got = [a.read(rel) for rel in rels]
    before = cloud.counts()
    assert [b.read(rel) for rel in rels] == got
    assert backend_delta(before, cloud.counts()) == {}
    keys = data_keys(redis)
    for prefix in ("quotas:", "servers:%s" % host, "placement:"):
        assert [k for k in keys if (":data:" + prefix) in k], (prefix, keys)


def netbox_opts(cloud):
    """(option, env) of a mount with the fake cloud's NetBox."""
    netbox = cloud.control("GET", "state")["netbox"]
    return "netbox_url=%s" % netbox["url"], {"INFRAFS_NETBOX_TOKEN": netbox["token"]}


def test_netbox_entries_are_shared_under_their_netbox(redis, mount, cloud):
    opt, env = netbox_opts(cloud)
    a = mount(redis_opt(redis.url), *LONG_TTLS, opt, env=env)
    b = mount(redis_opt(redis.url), *LONG_TTLS, opt, env=env)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    host = a.listdir("hosts")[0]
    b.listdir("hosts")
    device = a.read("hosts/%s/netbox.json" % host)
    before = cloud.counts()
    assert b.read("hosts/%s/netbox.json" % host) == device
    assert backend_delta(before, cloud.counts()) == {}
    assert re.search(r":data:netbox@[0-9a-f]{8}(:|$)", " ".join(data_keys(redis))), \
        data_keys(redis)


def test_connections_to_redis_are_reused(redis, mount):
    m = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    hosts = m.listdir("hosts")
    before = int(redis.info("stats")["total_connections_received"])
    for host in hosts[:20]:
        m.read("hosts/%s/servers.json" % host)
    after = int(redis.info("stats")["total_connections_received"])
    assert after - before - 1 <= 1, "%d connections for 20 loads" % (after - before - 1)
    assert l2(m)["stores"] >= 20


def test_an_entry_from_redis_keeps_the_time_it_was_fetched(redis, mount, cloud):
    # st_mtime and the expiry are the fetching mount's (the entry is stamped
    # with the start of its fetch), not the time another mount read Redis.
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    a.read("aggregates.json")
    fetched_a = a.stat("aggregates.json").st_mtime
    # B reads once the clock has moved on by more than the fetch took.
    wait_until(lambda: time.time() > fetched_a + 1.2, 5, what="a second later")
    b.read("aggregates.json")
    fetched_b = b.stat("aggregates.json").st_mtime
    assert 0 <= fetched_a - fetched_b < 1.0, (fetched_a, fetched_b)
    expires = [helpers.call_with_deadline(os.getxattr, m.path("aggregates.json"),
                                          "user.infrafs.expires_at") for m in (a, b)]
    assert expires[0] == expires[1], expires


def test_a_large_collection_goes_through_redis_intact(redis, mount, tmp_path,
                                                      fake_max_microversion):
    (tmp_path / "big").mkdir()
    big = helpers.FakeCloud(str(tmp_path / "big"), hosts=4000,
                            max_microversion=fake_max_microversion).start()
    mounts = []
    try:
        a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=big)
        mounts.append(a)
        b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=big)
        mounts.append(b)
        wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
                   what="both mounts connected to redis")
        before = big.counts()
        data = a.read("hosts.json")
        assert len(data) > 1024 * 1024 and len(json.loads(data)) == 4000
        assert b.read("hosts.json") == data
        requests = backend_delta(before, big.counts())
        assert set(requests) == {HOSTS_ROUTE}, requests      # paginated, once
        assert l2(b)["hits"] >= 1
        _, payload = parse_entry(redis.get(class_key(redis, "hosts")))
        assert len(payload) > 1024 * 1024
    finally:
        for m in mounts:
            m.stop()      # before their cloud goes away (the fixture checks them)
        assert big.stop() == 0


def test_a_live_read_fetches_and_shares_what_it_fetched(redis, mount, private_cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    host = first_up_host(private_cloud)
    assert a.read("hosts/%s/state" % host) == b"up\n"      # now in Redis
    private_cloud.hosts({"set": host, "state": "down"})
    before = private_cloud.counts()
    assert a.read("live/hosts/%s/state" % host) == b"down\n"
    assert backend_delta(before, private_cloud.counts()) == {HOSTS_ROUTE: 1}, \
        "a live read never comes from Redis"
    before = private_cloud.counts()
    assert b.read("hosts/%s/state" % host) == b"down\n"     # what the live read stored
    assert backend_delta(before, private_cloud.counts()) == {}


def test_mounts_on_two_databases_do_not_share(redis, mount, cloud):
    a = mount(redis_opt(redis.url_for(db=3)), *LONG_TTLS)
    b = mount(redis_opt(redis.url_for(db=0)), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    before = cloud.counts()
    assert a.read("flavors.json") == b.read("flavors.json")
    assert backend_delta(before, cloud.counts()) == \
        {k: 2 * v for k, v in cloud.flavors_fetch_counts().items()}
    with redis.client() as c:
        assert c.command("SELECT", 3) == "OK"
        assert c.command("EXISTS", class_key(redis, "flavors")) == 1
    assert l2(a)["url"].endswith("/3")


def test_entries_and_locks_expire_in_redis(redis, mount, cloud):
    m = mount(redis_opt(redis.url), "ttl.hosts=30", "grace.hosts=30")
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    m.read("hosts.json")
    key = class_key(redis, "hosts")
    pttl = redis.command("PTTL", key)
    assert 50_000 < pttl <= 60_000, pttl            # TTL + grace
    assert not redis.keys("infrafs:1:*:lock:*")


def test_an_entry_older_than_nine_tenths_of_the_ttl_is_not_taken(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), "ttl.hosts=1")
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    a.read("hosts.json")
    fetched = a.stat("hosts.json").st_mtime
    wait_until(lambda: time.time() > fetched + 1.0, 5, what="the entry is 1 s old")
    before = cloud.counts()
    b.read("hosts.json")
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2(b)["hits"] == 0


def test_a_class_with_ttl_0_skips_redis(redis, mount, cloud):
    a = mount(redis_opt(redis.url), "ttl.flavors=0", "grace.flavors=0")
    b = mount(redis_opt(redis.url), "ttl.flavors=0", "grace.flavors=0")
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    assert a.read("flavors.json") == b.read("flavors.json")
    # (With TTL 0 every lookup, getattr and read asks the API.)
    for m in (a, b):
        s = l2(m)
        assert s["hits"] == s["misses"] == s["stores"] == 0, s
    assert not redis.keys("infrafs:1:*:flavors*")


def test_a_lock_nobody_releases_delays_a_read_by_its_lifetime_at_most(redis, mount, cloud):
    # A holder that died mid-fetch leaves its lock until it expires; with
    # -o timeout=1 the lock lives (and a mount waits) 1 + 2 s at most.
    m = mount(redis_opt(redis.url), *LONG_TTLS, timeout_s=1)
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    lock = "infrafs:1:%s:lock:hosts" % scope_of(m)
    assert redis.command("SET", lock, "a-dead-mount-1", "PX", 60000) == "OK"
    before = cloud.counts()
    t0 = time.monotonic()
    assert json.loads(m.read("hosts.json"))
    elapsed = time.monotonic() - t0
    assert 2.5 < elapsed < 6.0, elapsed
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    s = l2(m)
    assert s["lock_waits"] == 1 and s["lock_timeouts"] == 1, s
    assert redis.get(lock) == b"a-dead-mount-1", "another's lock is left alone"


def test_garbage_in_redis_never_breaks_a_read(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"], 10, what="connected to redis")
    scope = scope_of(a)
    expected = {rel: a.read(rel) for rel in ("hosts.json", "aggregates.json", "flavors.json",
                                             "projects.json")}
    redis.command("SET", "infrafs:1:%s:epoch:hosts" % scope, "not-a-number")
    redis.command("DEL", "infrafs:1:%s:epoch:aggregates" % scope)
    redis.command("HSET", "infrafs:1:%s:epoch:aggregates" % scope, "a", "b")
    redis.command("DEL", "infrafs:1:%s:data:flavors" % scope)
    redis.command("RPUSH", "infrafs:1:%s:data:flavors" % scope, "x")
    redis.command("SET", "infrafs:1:%s:data:projects" % scope, b"infrafs-l2 1\n" * 5000)
    b = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    for rel, data in expected.items():
        assert b.read(rel) == data, rel
    assert b.proc.poll() is None
    assert l2(b)["hits"] == 0


def test_warmers_of_a_fleet_fetch_each_class_once(redis, mount, cloud):
    classes = "aggregates,hosts,flavors,projects,quotas"
    mounts = [mount(redis_opt(redis.url), *LONG_TTLS, "warm=" + classes, "warm_rate=50")
              for _ in range(3)]

    def warm_done(m):
        return m.lines(".infrafs/warm")[0] == "state done"

    wait_until(lambda: all(warm_done(m) for m in mounts), 30, what="the warmers to finish")
    requests = cloud.counts()              # since the test began (the fixture resets them)
    projects = len(mounts[0].listdir("quotas"))
    for route, expected in (("compute.aggregates", 1), (HOSTS_ROUTE, 1),
                            ("compute.flavors.detail", 1), (PROJECTS_ROUTE, 1),
                            ("compute.quota_sets.detail", projects)):
        assert requests.get(route, 0) == expected, (route, requests)
    assert sum(l2(m)["hits"] for m in mounts) >= 2 * (4 + projects)


# ---- fleet invalidation -----------------------------------------------------------

def propagate(writer, reader, control, pattern, rel, expected, limit=PROPAGATION_LIMIT_S):
    """Write pattern to writer's .infrafs/<control>; poll reader's rel
    until it reads `expected`; the seconds in between."""
    t0 = time.monotonic()
    assert writer.write_control(control, pattern + "\n") == len(pattern) + 1
    wait_until(lambda: reader.read(rel) == expected, limit, interval=0.005,
               what="%s on the other mount after %s %r" % (rel, control, pattern))
    return time.monotonic() - t0


@pytest.mark.parametrize("control", ["invalidate", "refresh"])
def test_an_invalidation_on_one_mount_reaches_the_other(redis, mount, private_cloud, cloud,
                                                        control):
    a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    # Another cloud on the same Redis: another scope, never expired by them.
    other = mount(redis_opt(redis.url), *LONG_TTLS, cloud=cloud)
    wait_until(lambda: all(l2(m)["connected"] for m in (a, b, other)), 10,
               what="mounts connected to redis")
    host = first_up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert a.read(rel) == b"up\n" and b.read(rel) == b"up\n"
    other.read("hosts.json")
    other_host = first_up_host(cloud)      # an API read: before the baseline
    other.read("hosts/%s/state" % other_host)
    scope = scope_of(a)
    assert scope == scope_of(b) != scope_of(other)
    epoch_key = "infrafs:1:%s:epoch:hosts" % scope
    epoch_before = redis.get(epoch_key)
    other_before = cloud.counts()

    private_cloud.hosts({"set": host, "state": "down"})
    assert b.read(rel) == b"up\n", "served from cache until invalidated"
    before = private_cloud.counts()
    seconds = propagate(a, b, control, "hosts", rel, b"down\n")
    print("\n%s propagation A -> B: %.3f s" % (control, seconds))
    assert seconds < PROPAGATION_LIMIT_S
    assert a.read(rel) == b"down\n"
    assert b.stat(rel).st_size == len(b"down\n")
    requests = backend_delta(before, private_cloud.counts())
    assert set(requests) == {HOSTS_ROUTE} and requests[HOSTS_ROUTE] <= 2, requests
    print("%s: %d backend request(s) for both mounts" % (control, requests[HOSTS_ROUTE]))
    assert redis.get(epoch_key) not in (None, epoch_before), "the epoch of hosts changed"
    assert l2(a)["invalidations_sent"] >= 1
    assert l2(b)["invalidations_received"] >= 1
    # The other cloud's mount got nothing and still serves from its cache.
    assert l2(other)["invalidations_received"] == 0
    other.read("hosts.json")
    other.read("hosts/%s/state" % other_host)
    assert backend_delta(other_before, cloud.counts()) == {}


def test_an_invalidation_of_one_class_leaves_the_others_warm(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    for m in (a, b):
        m.read("hosts.json")
        m.read("flavors.json")
    applied = remote_expiries(b)
    a.invalidate("flavors")
    wait_remote_expiries(b, applied + 1)
    before = cloud.counts()
    b.read("hosts.json")
    flavors = b.read("flavors.json")
    assert json.loads(flavors)
    # One refetch of flavors for B (A never read again); hosts stayed warm.
    assert backend_delta(before, cloud.counts()) == cloud.flavors_fetch_counts()


def test_a_host_removed_and_refreshed_on_one_mount_disappears_on_the_other(
        redis, mount, private_cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    gone = sorted(b.listdir("hosts"))[-1]
    b.read("hosts/%s/state" % gone)                   # B's kernel knows the name
    a.read("hosts.json")
    private_cloud.hosts({"remove": gone})
    assert gone in b.listdir("hosts")                  # still cached
    applied = remote_expiries(b)
    a.write_control("refresh", "hosts\n")
    assert gone not in a.listdir("hosts")
    wait_remote_expiries(b, applied + 1)
    assert gone not in b.listdir("hosts")
    assert helpers.errno_of(b.stat, "hosts/%s/state" % gone) == errno.ENOENT
    assert gone not in b.text("hosts.json")


def test_a_keyed_invalidation_reaches_the_other_mount(redis, mount, private_cloud):
    api = private_cloud.api
    project = api.project("ml-research")
    old = api.quota_detail(project["id"])
    a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    rel = "quotas/ml-research/compute.json"
    assert json.loads(b.read(rel))["cores"]["limit"] == old["cores"]["limit"]
    assert json.loads(a.read(rel)) == json.loads(b.read(rel))
    new_limit = old["cores"]["limit"] * 10 + 7
    api.quota_update(project["id"], cores=new_limit)
    t0 = time.monotonic()
    a.invalidate("quotas/ml-research")
    wait_until(lambda: json.loads(b.read(rel))["cores"]["limit"] == new_limit,
               PROPAGATION_LIMIT_S, interval=0.005, what="B shows the new quota")
    print("\nquota invalidation A -> B: %.3f s" % (time.monotonic() - t0))
    assert json.loads(a.read(rel))["cores"]["limit"] == new_limit


def state_in_entry(value, host):
    _, payload = parse_entry(value)
    return next(h["state"] for h in json.loads(payload) if h["hypervisor_hostname"] == host)


def test_a_fetch_begun_before_an_invalidation_is_not_served_from_redis(redis, mount,
                                                                       private_cloud):
    # B's fetch has its answer (the host up) but is still receiving it when
    # the host goes down and A invalidates hosts: what B brings back is
    # stored under the old epoch, and C must not take it.
    a, b, c = (mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
               for _ in range(3))
    wait_until(lambda: all(l2(m)["connected"] for m in (a, b, c)), 10,
               what="mounts connected to redis")
    host = first_up_host(private_cloud)
    private_cloud.fail(HOSTS_ROUTE, mode="trickle", count=1, interval_ms=1000)
    base = private_cloud.counts().get(HOSTS_ROUTE, 0)
    reader = threading.Thread(target=b.read, args=("hosts.json",), daemon=True)
    reader.start()
    try:
        wait_until(lambda: private_cloud.counts().get(HOSTS_ROUTE, 0) > base, 5,
                   what="B's fetch reached the API")
        private_cloud.latency(HOSTS_ROUTE, 1500)     # any later fetch is slow
        private_cloud.hosts({"set": host, "state": "down"})
        a.invalidate("hosts")
        private_cloud.clear_failures()               # B's answer arrives now
        key = wait_until(lambda: data_keys(redis, "hosts"), 5, what="B stored its answer")[0]
        assert state_in_entry(redis.get(key), host) == "up", "the old answer is in Redis"
        assert c.read("hosts/%s/state" % host) == b"down\n"
    finally:
        private_cloud.clear_failures()
        private_cloud.latency(HOSTS_ROUTE, 0)
        reader.join(20)
    assert l2(c)["hits"] + l2(c)["misses"] >= 1


def channel_of(m):
    return "infrafs:1:%s:invalidate" % scope_of(m)


def l2_lookups(m):
    s = l2(m)
    return s["hits"] + s["misses"]


def test_strange_messages_on_the_channel_are_ignored(redis, mount, cloud):
    m = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    m.read("hosts.json")
    m.read("flavors.json")
    channel = channel_of(m)
    assert redis.command("PUBSUB", "NUMSUB", channel)[1] == 1
    lookups = l2_lookups(m)
    for message in (b"", b"hello", b"\x00\xff" * 100, b"infrafs-invalidate 2 x\nhosts\n",
                    b"infrafs-invalidate 1 someone\n../..\n",
                    b"infrafs-invalidate 1 someone\nhosts/\x01\n",
                    b"infrafs-invalidate 1 someone\nbad[\n",
                    b"infrafs-invalidate 1\nhosts\n",
                    b"infrafs-invalidate 1 someone\n" + b"x" * 100000 + b"\n"):
        assert redis.command("PUBLISH", channel, message) == 1
    # A well-formed message of another mount expires what it names (and
    # only that): a sync point for the messages before it, too.
    assert remote_expiries(m) == 0
    assert redis.command("PUBLISH", channel, b"infrafs-invalidate 1 someone\nflavors\n") == 1
    wait_remote_expiries(m, 1)
    before = cloud.counts()
    m.read("flavors.json")
    m.read("hosts.json")
    m.read("hosts/%s/state" % m.listdir("hosts")[0])
    # flavors came back from Redis (the message bumped no epoch); nothing
    # else was expired by the garbage.
    assert backend_delta(before, cloud.counts()) == {}
    assert l2_lookups(m) == lookups + 1
    assert remote_expiries(m) == 1, "no garbage message expired anything"
    assert m.proc.poll() is None


def test_listeners_resubscribe_after_redis_drops_them(redis, mount, private_cloud):
    a = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud))
    b = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud))
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    channel = channel_of(a)
    assert redis.command("PUBSUB", "NUMSUB", channel)[1] == 2
    host = first_up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert a.read(rel) == b.read(rel) == b"up\n"
    assert redis.command("CLIENT", "KILL", "TYPE", "pubsub") == 2
    wait_until(lambda: redis.command("PUBSUB", "NUMSUB", channel)[1] == 2, RECONNECT_S,
               what="both listeners subscribed again")
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], RECONNECT_S,
               what="both mounts connected again")
    # Each dropped its memory cache when it subscribed again.
    wait_remote_expiries(a, 1)
    wait_remote_expiries(b, 1)
    b.read(rel)                                   # B's memory cache, again
    private_cloud.hosts({"set": host, "state": "down"})
    assert b.read(rel) == b"up\n"
    seconds = propagate(a, b, "invalidate", "hosts", rel, b"down\n")
    print("\ninvalidate propagation after resubscribing: %.3f s" % seconds)


# ---- Redis going away ----------------------------------------------------------------

def test_reads_survive_redis_killed_and_l2_comes_back_after_restart(redis, mount, cloud):
    a = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    b = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    warm = a.read("hosts.json")
    assert b.read("hosts.json") == warm

    redis.kill()
    for rel in ("aggregates.json", "flavors.json", "quotas/admin/compute"):
        t0 = time.monotonic()
        assert a.read(rel), rel                   # cold: from the backend
        assert time.monotonic() - t0 < 5.0, "%s took %.1f s" % (rel, time.monotonic() - t0)
    assert a.read("hosts.json") == warm           # warm: from L1
    assert b.read("hosts.json") == warm
    wait_until(lambda: not l2(a)["connected"], 10, what="A sees redis down")
    assert l2(a)["errors"] > 0
    assert metric(a, "infrafs_l2_connected") == 0
    wait_until(lambda: "redis" in a.text(".infrafs/errors").lower(), 10,
               what=".infrafs/errors mentions redis")

    redis.restart()
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], RECONNECT_S,
               what="both mounts reconnected")
    assert l2(a)["reconnects"] >= 1
    hits = l2(b)["hits"]
    before = cloud.counts()
    got = a.read("projects.json")
    assert b.read("projects.json") == got
    assert backend_delta(before, cloud.counts()) == {PROJECTS_ROUTE: 1}
    assert l2(b)["hits"] > hits
    # Having missed what was said meanwhile, each dropped its memory cache:
    # warm files are loaded again, through the (new, empty) shared cache.
    wait_remote_expiries(a, 1)
    wait_remote_expiries(b, 1)
    hits = l2(b)["hits"]
    before = cloud.counts()
    assert a.read("hosts.json") == warm
    assert b.read("hosts.json") == warm
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2(b)["hits"] > hits


def test_redis_unreachable_at_mount_then_started(redis, mount, cloud, tmp_path):
    port = redis_server.free_port()
    url = "redis://127.0.0.1:%d/0" % port
    a = allow_redis_log_lines(mount(redis_opt(url), *LONG_TTLS))
    assert a.read("hosts.json")
    s = l2(a)
    assert s["enabled"] is True and s["connected"] is False, s
    late = redis_server.RedisServer(tmp_path / "late-redis", port=port)
    try:
        late.start()
        wait_until(lambda: l2(a)["connected"], RECONNECT_S, what="A connects to the late redis")
        a.read("aggregates.json")
        wait_until(lambda: late.keys("infrafs:1:*:data:aggregates"), 5,
                   what="aggregates stored in the late redis")
    finally:
        a.stop()          # before its redis goes away
        late.stop()


def test_connections_redis_closes_while_idle_are_replaced_without_an_outage(redis, mount,
                                                                           cloud):
    # redis.conf `timeout N` closes idle clients (not subscribers): the next
    # command finds its pooled connection closed. That is no outage: it
    # must reconnect and carry on with the shared cache.
    server = redis.spawn(extra_args=["--timeout", "1"])
    a = mount(redis_opt(server.url), *LONG_TTLS)
    b = mount(redis_opt(server.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    a.read("hosts.json")
    b.read("hosts.json")

    def idle_connections_closed():
        return not [c for c in server.clients()
                    if c["flags"] == "N" and c["cmd"] != "client|list"]

    wait_until(idle_connections_closed, 10, what="redis closed the idle connections")
    before = cloud.counts()
    assert a.read("aggregates.json") == b.read("aggregates.json")
    assert backend_delta(before, cloud.counts()) == {AGGREGATES_ROUTE: 1}
    for m in (a, b):
        assert l2(m)["errors"] == 0 and l2(m)["connected"], l2(m)
        assert "carrying on without" not in m.log()


def test_invalidate_and_refresh_work_with_redis_down(redis, mount, private_cloud):
    m = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud))
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    host = first_up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert m.read(rel) == b"up\n"
    redis.kill()
    private_cloud.hosts({"set": host, "state": "down"})
    t0 = time.monotonic()
    m.invalidate("hosts")
    assert m.read(rel) == b"down\n"
    private_cloud.hosts({"set": host, "state": "up"})
    assert m.write_control("refresh", "hosts\n") == len("hosts\n")
    assert m.read(rel) == b"up\n"
    assert time.monotonic() - t0 < 3.0


def test_a_stalled_redis_delays_reads_by_a_timeout_at_most(redis, mount, cloud):
    a = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    b = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    a.read("hosts.json")
    redis.pause()
    try:
        jobs = [(m.read, rel) for m in (a, b)
                for rel in ("aggregates.json", "flavors.json", "projects.json")
                for _ in range(10)]
        t0 = time.monotonic()
        results, errors = read_concurrently(jobs)
        elapsed = time.monotonic() - t0
        assert not errors, errors[:3]
        assert elapsed < 3.0, "reads took %.1f s with Redis stalled" % elapsed
        print("\n60 cold reads with redis stalled: %.2f s" % elapsed)
        wait_until(lambda: not l2(a)["connected"], 5, what="A sees redis gone")
        assert l2(a)["errors"] > 0
        t0 = time.monotonic()
        a.read("quotas/admin/compute")
        assert time.monotonic() - t0 < 1.5
    finally:
        redis.resume()
    # Redis answers again: the mounts say so, without needing a read.
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], RECONNECT_S,
               what="both mounts connected again")


def test_the_shared_cache_resumes_after_a_stall(redis, mount, cloud):
    a = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    b = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    redis.pause()
    try:
        assert a.read("aggregates.json")
        assert b.read("aggregates.json")
    finally:
        redis.resume()
    # Reads of new files bring the shared cache back into use.
    hosts = a.listdir("hosts")

    def shared_again():
        h = hosts.pop()
        before = cloud.counts()
        a.read("hosts/%s/servers.json" % h)
        hits = l2(b)["hits"]
        b.read("hosts/%s/servers.json" % h)
        return l2(b)["hits"] > hits and backend_delta(before, cloud.counts()) == \
            {"compute.servers.detail": 1}

    wait_until(shared_again, RECONNECT_S, interval=0.2, what="B hits what A fetched")


def test_unmount_is_prompt_with_redis_stalled(redis, mount):
    m = allow_redis_log_lines(mount(redis_opt(redis.url), *LONG_TTLS))
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    m.read("hosts.json")
    redis.pause()
    try:
        t0 = time.monotonic()
        code = m.stop()
        elapsed = time.monotonic() - t0
    finally:
        redis.resume()
    assert code == 0, m.describe("exit code %s" % code)
    assert elapsed < 3.0, "unmount took %.1f s" % elapsed


def test_a_command_redis_refuses_is_skipped_without_an_outage(redis, mount, cloud):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"], 10, what="connected to redis")
    a.read("hosts.json")
    assert redis.command("CONFIG", "SET", "maxmemory", "1") == "OK"   # every write: OOM
    try:
        before = cloud.counts()
        assert json.loads(a.read("aggregates.json"))
        assert backend_delta(before, cloud.counts()) == {AGGREGATES_ROUTE: 1}
        s = l2(a)
        assert s["errors"] > 0 and s["connected"], s
    finally:
        redis.command("CONFIG", "SET", "maxmemory", "0")
    assert "carrying on without" not in a.log()


# ---- scopes ---------------------------------------------------------------------------

def test_clouds_and_projects_never_share_entries(redis, mount, cloud, private_cloud):
    added = "CA1-l40-node99"
    private_cloud.hosts({"add": added})
    a = mount(redis_opt(redis.url), *LONG_TTLS, cloud=cloud)
    b = mount(redis_opt(redis.url), *LONG_TTLS, cloud=private_cloud)
    c = mount(redis_opt(redis.url), *LONG_TTLS, cloud=cloud,
              env={"OS_PROJECT_NAME": "ml-research"})
    wait_until(lambda: all(l2(m)["connected"] for m in (a, b, c)), 10,
               what="mounts connected to redis")
    public_before, private_before = cloud.counts(), private_cloud.counts()
    hosts_a = json.loads(a.read("hosts.json"))
    hosts_b = json.loads(b.read("hosts.json"))
    hosts_c = json.loads(c.read("hosts.json"))
    names = lambda hosts: {h["hypervisor_hostname"] for h in hosts}  # noqa: E731
    assert added in names(hosts_b) and added not in names(hosts_a)
    assert names(hosts_c) == names(hosts_a)
    assert added in b.listdir("hosts") and added not in a.listdir("hosts")
    # Each mount fetched on its own: no L2 hit across scopes.
    assert backend_delta(public_before, cloud.counts()) == {HOSTS_ROUTE: 2}
    assert backend_delta(private_before, private_cloud.counts()) == {HOSTS_ROUTE: 1}
    for m in (a, b, c):
        assert l2(m)["hits"] == 0, l2(m)
    assert len(scopes(redis)) == 3, redis.keys("*")
    assert len(data_keys(redis, "hosts")) == 3


# ---- entries that must not be served -------------------------------------------------------

def corrupt(value):
    """One digit of the payload changed: still valid JSON, same length."""
    _, payload = parse_entry(value)
    start = len(value) - len(payload)
    digit = next(i for i in range(start + len(payload) // 2, len(value))
                 if value[i:i + 1].isdigit())
    new = b"1" if value[digit:digit + 1] != b"1" else b"2"
    return value[:digit] + new + value[digit + 1:]


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "foreign"])
def test_a_damaged_entry_is_rejected_and_refetched(redis, mount, cloud, damage):
    a = mount(redis_opt(redis.url), *LONG_TTLS)
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    expected = a.read("hosts.json")
    a.read("aggregates.json")
    key = class_key(redis, "hosts")
    value = redis.get(key)
    if damage == "corrupt":
        bad = corrupt(value)
    elif damage == "truncated":
        bad = value[:len(value) // 2]
    else:
        bad = redis.get(class_key(redis, "aggregates"))
    assert bad != value
    assert redis.command("SET", key, bad, "KEEPTTL") == "OK"

    rejected = l2(b)["rejected"]
    before = cloud.counts()
    assert b.read("hosts.json") == expected
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2(b)["rejected"] > rejected
    assert metric(b, "infrafs_l2_rejected_total") >= 1
    # The refetch replaced the bad entry with a good one.
    fields, payload = parse_entry(redis.get(key))
    assert int(fields["length"]) == len(payload)


# ---- secrets ---------------------------------------------------------------------------------

def test_no_credential_is_ever_stored_in_redis(redis, mount, private_cloud):
    password = "Rp-" + os.urandom(6).hex()
    server = redis.spawn(password=password)
    netbox_opt, netbox_env = netbox_opts(private_cloud)
    m = mount(redis_opt(server.url_for(password=password)), *LONG_TTLS, "rate_limit=0",
              netbox_opt, cloud=private_cloud, env=netbox_env)
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    # Listen to every invalidation message too.
    listener = server.client()
    listener.command("PSUBSCRIBE", "infrafs:*")
    host = m.listdir("hosts")[0]
    for rel in ("hosts.json", "aggregates.json", "flavors.json", "projects.json",
                "quotas/admin/compute", "hosts/%s/servers.json" % host,
                "hosts/%s/inventory.json" % host, "hosts/%s/gpu_count" % host,
                "hosts/%s/netbox.json" % host):
        m.read(rel)
    private_cloud.expire_tokens()          # a second token
    m.write_control("refresh", "hosts\n")
    m.invalidate("*")
    m.read("hosts.json")
    listener.sock.settimeout(5)
    message = listener.read_reply()
    listener.close()
    assert message[0] == b"pmessage", message
    tokens = private_cloud.control("GET", "tokens")["issued"]
    assert len(tokens) >= 2
    secrets = [private_cloud.password, password, *tokens,
               netbox_env["INFRAFS_NETBOX_TOKEN"]]
    stored = server.dump_all()
    assert len(stored) >= 5, sorted(stored)
    blobs = [k.encode() for k in stored] + list(stored.values()) + [repr(message).encode()]
    for secret in secrets:
        for blob in blobs:
            assert secret.encode() not in blob, "a secret is stored in redis"
    for text in (m.log(), m.text(".infrafs/stats.json"), m.text(".infrafs/errors"),
                 m.text(".infrafs/metrics")):
        for secret in secrets:
            assert secret not in text


# ---- authentication ----------------------------------------------------------------------------

def assert_stores(m, server):
    wait_until(lambda: l2(m)["connected"], 10, what="connected to redis")
    m.read("hosts.json")
    wait_until(lambda: server.keys("infrafs:1:*:data:hosts"), 5, what="hosts stored")
    assert l2(m)["stores"] >= 1


def assert_hidden(m, secret):
    s = l2(m)
    assert "***" in s["url"] and secret not in s["url"], s["url"]
    for text in (m.log(), m.text(".infrafs/stats.json"), m.text(".infrafs/errors"),
                 m.text(".infrafs/metrics")):
        assert secret not in text


@pytest.mark.parametrize("user", ["", "default"])
def test_password_in_the_url(redis, mount, user):
    server = redis.spawn(password="S3cret")
    m = mount(redis_opt(server.url_for(user=user, password="S3cret")))
    assert_stores(m, server)
    assert_hidden(m, "S3cret")


def test_password_from_the_environment(redis, mount):
    server = redis.spawn(password="S3cret")
    m = mount(redis_opt(server.url), env={"INFRAFS_REDIS_PASSWORD": "S3cret"})
    assert_stores(m, server)
    for text in (m.log(), m.text(".infrafs/stats.json"), m.text(".infrafs/errors")):
        assert "S3cret" not in text


def test_a_wrong_password_leaves_the_mount_working_without_l2(redis, mount, cloud):
    server = redis.spawn(password="S3cret")
    wrong = "Wr0ng-" + os.urandom(4).hex()
    m = allow_redis_log_lines(mount(redis_opt(server.url_for(password=wrong))))
    before = cloud.counts()
    assert json.loads(m.read("hosts.json"))
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    wait_until(lambda: l2(m)["errors"] > 0, 10, what="an L2 error counted")
    s = l2(m)
    assert s["connected"] is False and s["hits"] == 0 and s["stores"] == 0, s
    assert server.keys("*") == []
    errors = m.text(".infrafs/errors").lower()
    assert "redis" in errors and "auth" in errors, errors
    assert_hidden(m, wrong)


def test_no_password_for_a_redis_that_wants_one_says_so(redis, mount, cloud):
    server = redis.spawn(password="S3cret")
    m = allow_redis_log_lines(mount(redis_opt(server.url)))
    assert json.loads(m.read("hosts.json"))
    wait_until(lambda: l2(m)["errors"] > 0, 10, what="an L2 error counted")
    assert l2(m)["connected"] is False
    errors = m.text(".infrafs/errors")
    # Redis answers NOAUTH: the administrator must learn that a password is
    # missing, not only that something failed.
    assert "noauth" in errors.lower() or "authentication" in errors.lower(), errors


def test_an_acl_user(redis, mount):
    redis.command("ACL", "SETUSER", "infra", "on", ">pw", "~*", "&*", "+@all")
    m = mount(redis_opt(redis.url_for(user="infra", password="pw")))
    assert_stores(m, redis)
    clients = [c for c in redis.clients() if c.get("cmd") != "client|list"]
    assert clients and {c["user"] for c in clients} == {"infra"}, clients
    assert l2(m)["url"] == "redis://infra:***@127.0.0.1:%d/0" % redis.port


def test_an_acl_user_without_channel_rights_still_shares_data(redis, mount, cloud):
    # Redis 7 gives a new ACL user no pub/sub channels (acl-pubsub-default
    # resetchannels): SUBSCRIBE and PUBLISH are refused while every other
    # command works. docs/configuration.md: "A command Redis refuses while
    # answering (a permission the ACL user lacks, ...) is counted in errors
    # ... and skipped, without an outage" -- so entries are still shared,
    # and the refusal says why.
    redis.command("ACL", "SETUSER", "infra", "on", ">pw", "~*", "+@all")
    url = redis.url_for(user="infra", password="pw")
    a = allow_redis_log_lines(mount(redis_opt(url), *LONG_TTLS))
    b = allow_redis_log_lines(mount(redis_opt(url), *LONG_TTLS))
    wait_until(lambda: l2(a)["errors"] > 0 and l2(b)["errors"] > 0, 10,
               what="the refused SUBSCRIBE counted")
    before = cloud.counts()
    assert a.read("hosts.json") == b.read("hosts.json")
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2(b)["hits"] >= 1
    errors = a.text(".infrafs/errors")
    assert "noperm" in errors.lower() or "permission" in errors.lower(), errors


def test_an_acl_user_with_the_documented_rights(redis, mount, cloud):
    # docs/configuration.md: "A user allowed that much and no more (Redis 7)".
    redis.command("ACL", "SETUSER", "infrafs", "on", ">pw", "resetkeys", "~infrafs:*",
                  "resetchannels", "&infrafs:*", "-@all", "+@read", "+@write", "+@pubsub",
                  "+@scripting", "+select", "-@dangerous")
    url = redis.url_for(user="infrafs", db=2)
    a = mount(redis_opt(url), *LONG_TTLS, env={"INFRAFS_REDIS_PASSWORD": "pw"})
    b = mount(redis_opt(url), *LONG_TTLS, env={"INFRAFS_REDIS_PASSWORD": "pw"})
    wait_until(lambda: l2(a)["connected"] and l2(b)["connected"], 10,
               what="both mounts connected to redis")
    before = cloud.counts()
    assert a.read("hosts.json") == b.read("hosts.json")
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    a.invalidate("hosts")
    wait_until(lambda: l2(b)["invalidations_received"] >= 1, PROPAGATION_LIMIT_S,
               what="B received A's invalidation")
    for m in (a, b):
        assert l2(m)["errors"] == 0, l2(m)
        assert l2(m)["url"] == "redis://infrafs:***@127.0.0.1:%d/2" % redis.port


def test_a_password_with_url_special_characters(redis, mount):
    password = "p@ss:w/rd%,?#x"
    server = redis.spawn(password=password)
    url = server.url_for(password=password)
    assert "%2C" in url and "," not in url
    m = mount(redis_opt(url))
    assert_stores(m, server)
    assert_hidden(m, password)


@needs_ipv6
def test_an_ipv6_address(redis, mount):
    server = redis.spawn(extra_args=["--bind", "127.0.0.1", "::1"])
    m = mount(redis_opt("redis://[::1]:%d/0" % server.port))
    assert_stores(m, server)


@pytest.mark.parametrize("form", [
    "redis://localhost:{port}", "redis://127.0.0.1:{port}",
    pytest.param("redis://[::ffff:127.0.0.1]:{port}/0", marks=needs_ipv6)])
def test_other_forms_of_the_url(redis, mount, form):
    m = mount(redis_opt(form.format(port=redis.port)))
    assert_stores(m, redis)


def test_a_database_redis_does_not_have(redis, mount, cloud):
    m = allow_redis_log_lines(mount(redis_opt(redis.url_for(db=99))))
    assert json.loads(m.read("hosts.json"))
    wait_until(lambda: l2(m)["errors"] > 0, 10, what="an L2 error counted")
    assert l2(m)["connected"] is False
    assert "select" in m.text(".infrafs/errors").lower()


# ---- options ------------------------------------------------------------------------------------

def mount_must_fail(cloud, tmp_path, opts=(), args=(), env=None):
    """Run `infrafs -f` with opts; it must exit non-zero without mounting.
    Returns its output (stdout and stderr)."""
    mnt = tmp_path / ("never-mounted-%d" % len(list(tmp_path.glob("never-mounted-*"))))
    mnt.mkdir()
    no_config = tmp_path / "no-config"
    no_config.mkdir(exist_ok=True)
    out_path = str(mnt) + ".out"
    m = helpers.Mount(cloud, str(mnt), opts, out_path,
                      extra_env={"XDG_CONFIG_HOME": str(no_config), **(env or {})},
                      extra_args=list(args))
    try:
        m.start()
    except AssertionError:
        pass            # exited before mounting, as it should
    else:
        m.stop()
        pytest.fail("infrafs mounted with %s %s; it should have failed" % (opts, args))
    assert m.proc.returncode not in (0, None), m.describe("exit code %s" % m.proc.returncode)
    assert helpers.mount_fstype(str(mnt)) is None
    return m.log()


@pytest.mark.parametrize("url", [
    "http://x",
    "redis://host:notaport",
    "redis://127.0.0.1:70000",
    "redis://127.0.0.1:6379/notadb",
    "http://user:Pa55-word@x",
])
def test_a_malformed_redis_url_fails_the_mount(cloud, tmp_path, url):
    output = mount_must_fail(cloud, tmp_path, opts=[redis_opt(url)])
    assert "redis" in output.lower(), output
    assert "Pa55-word" not in output


def test_rediss_fails_the_mount_saying_tls_is_not_supported(cloud, tmp_path):
    output = mount_must_fail(cloud, tmp_path, opts=[redis_opt("rediss://127.0.0.1:6379")])
    assert "redis" in output.lower() and "tls" in output.lower(), output


def test_redis_url_from_the_config_file(redis, mount, cloud, tmp_path):
    conf = tmp_path / "infrafs.conf"
    conf.write_text("[redis]\nurl = %s\n" % redis.url)
    a = mount(*LONG_TTLS, args=["--config", str(conf)])
    b = mount(redis_opt(redis.url), *LONG_TTLS)
    assert l2(a)["enabled"] is True and l2(a)["url"] == redis.url
    assert_stores(a, redis)
    hits = l2(b)["hits"]
    assert b.read("hosts.json") == a.read("hosts.json")
    assert l2(b)["hits"] > hits


def test_o_redis_overrides_the_config_file(redis, mount, tmp_path):
    conf = tmp_path / "infrafs.conf"
    conf.write_text("[redis]\nurl = redis://127.0.0.1:%d/0\n" % redis_server.free_port())
    m = mount(redis_opt(redis.url), args=["--config", str(conf)])
    assert l2(m)["url"] == redis.url
    assert_stores(m, redis)


def test_a_bad_redis_url_in_the_config_file_fails_the_mount(cloud, tmp_path):
    conf = tmp_path / "infrafs.conf"
    conf.write_text("[redis]\nurl = rediss://127.0.0.1:6379\n")
    output = mount_must_fail(cloud, tmp_path, args=["--config", str(conf)])
    assert "redis" in output.lower() and "tls" in output.lower(), output


def test_without_redis_l2_is_disabled(redis, mount, cloud):
    m = mount(*LONG_TTLS, env={"INFRAFS_REDIS_PASSWORD": "S3cret"})
    before = cloud.counts()
    m.read("hosts.json")
    assert backend_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}
    assert l2(m) == {"enabled": False}      # docs/control-files.md
    assert not [line for line in m.lines(".infrafs/metrics") if "infrafs_l2_" in line]
    assert "shared cache" not in m.text(".infrafs/stats")
    assert "sharing fetched data" not in m.log() and "redis://" not in m.log()
    assert redis.keys("*") == []
