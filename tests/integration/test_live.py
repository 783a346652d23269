"""/live: the same tree, every read fetched from the backend (coalesced with
other live readers), refreshing the cache for everyone as a side effect."""

import errno
import json
import threading

from helpers import counts_delta, errno_of, wait_until

HOSTS_ROUTE = "compute.hypervisors.detail"


def test_live_lists_the_same_tree_without_control_files(mount):
    m = mount()
    assert m.listdir("live") == sorted(n for n in m.listdir()
                                      if n not in (".infrafs", "README", "live"))
    assert m.listdir("live/hosts") == m.listdir("hosts")
    assert errno_of(m.read, "live/.infrafs/stats") == errno.ENOENT
    assert errno_of(m.listdir, "live/live") == errno.ENOENT


def test_every_live_read_makes_one_request(mount, cloud):
    m = mount()
    m.read("hosts.json")
    m.read("live/hosts.json")       # the kernel has now looked the path up
    before = cloud.counts()
    for _ in range(3):
        assert json.loads(m.read("live/hosts.json"))
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 3}


def test_a_live_read_refreshes_the_cache_for_everyone(mount, private_cloud):
    m = mount(cloud=private_cloud)
    host = next(h for h in m.listdir("hosts") if m.text("hosts/%s/state" % h) == "up\n")
    private_cloud.hosts({"set": host, "state": "down"})
    assert m.text("hosts/%s/state" % host) == "up\n"       # cached
    assert m.text("live/hosts/%s/state" % host) == "down\n"
    before = private_cloud.counts()
    assert m.text("hosts/%s/state" % host) == "down\n"     # from the live fetch
    assert counts_delta(before, private_cloud.counts()) == {}


def test_concurrent_live_readers_share_fetches(mount, cloud):
    m = mount()
    m.read("live/hosts.json")
    cloud.latency(HOSTS_ROUTE, 300)
    before = cloud.counts()
    results, errors = [], []

    def reader():
        try:
            results.append(m.read("live/hosts.json"))
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    cloud.latency(HOSTS_ROUTE, 0)
    assert not errors and len(results) == 20
    # Each live read gets data fetched after it began: far fewer requests
    # than readers, at least one.
    requests = counts_delta(before, cloud.counts()).get(HOSTS_ROUTE, 0)
    assert requests in (1, 2, 3), requests


def test_live_read_fails_with_eio_and_no_stale_copy(mount, cloud):
    m = mount()
    cached = m.read("hosts.json")
    m.read("live/hosts.json")
    cloud.fail(HOSTS_ROUTE, status=503, count=-1)
    try:
        assert errno_of(m.read, "live/hosts.json") == errno.EIO
        assert m.read("hosts.json") == cached           # the cache still serves
    finally:
        cloud.clear_failures()


def test_a_fetch_with_changed_data_reaches_stat_at_once(mount, private_cloud):
    # stat is answered from the kernel's cache for the rest of the TTL; a
    # fetch that brings different data (here a live read) must drop it.
    m = mount(cloud=private_cloud)
    host = next(h for h in m.listdir("hosts") if m.text("hosts/%s/state" % h) == "up\n")
    assert m.stat("hosts/%s/state" % host).st_size == len("up\n")
    private_cloud.hosts({"set": host, "state": "down"})
    assert m.stat("hosts/%s/state" % host).st_size == len("up\n")     # still cached
    m.read("live/hosts.json")
    wait_until(lambda: m.stat("hosts/%s/state" % host).st_size == len("down\n"),
               timeout=5, what="stat to see the new size")


def test_listing_a_live_directory_does_not_fetch_each_file(mount, cloud):
    # A file under live/ is fetched when it is looked up; readdirplus hands
    # its names over bare, so `ls` costs the listing's fetch only.
    m = mount()
    host = m.listdir("hosts")[0]
    before = cloud.counts()
    names = m.listdir("live/hosts/%s" % host)
    assert "state" in names and len(names) >= 8
    delta = counts_delta(before, cloud.counts())
    assert sum(delta.values()) <= 2, delta
