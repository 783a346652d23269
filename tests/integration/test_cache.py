"""Cache semantics seen from the backend: lazy first fetch, no requests
inside the TTL, one refetch after it, and .infrafs/invalidate (globs,
exact request counts, and malformed writes that change nothing)."""

import errno
import os
import threading
import time

import pytest

from helpers import counts_delta, errno_name, errno_of, wait_until

HOSTS_ROUTE = "compute.hypervisors.detail"

# One file per data class, and the request that class costs (flavors: more
# before 2.61, see class_fetch_counts).
CLASS_FILES = {
    "aggregates.json": "compute.aggregates",
    "hosts.json": HOSTS_ROUTE,
    "flavors.json": "compute.flavors.detail",
    "projects.json": "identity.projects",
    "quotas/admin/compute": "compute.quota_sets.detail",
}


def class_fetch_counts(cloud):
    """Route -> requests of one fetch of every class in CLASS_FILES."""
    counts = {route: 1 for route in CLASS_FILES.values()}
    counts.update(cloud.flavors_fetch_counts())
    return counts


def read_all(m, rels):
    for rel in rels:
        m.read(rel)


@pytest.fixture
def hosts(cloud):
    return [h["hypervisor_hostname"] for h in cloud.api.hypervisors()]


def test_mount_fetches_no_inventory(mount, cloud):
    before = cloud.counts()
    m = mount()
    assert m.mounted()
    delta = counts_delta(before, cloud.counts())
    assert delta.get("identity.tokens") == 1, delta
    assert all(route.startswith("identity.") for route in delta), delta
    assert "identity.projects" not in delta, delta


def test_first_read_of_a_class_fetches_it_once(mount, cloud):
    m = mount()
    before = cloud.counts()
    m.read("hosts.json")
    m.listdir("hosts")
    delta = counts_delta(before, cloud.counts())
    # Nova's version document is read once, to pick a microversion.
    delta.pop("compute.version", None)
    assert delta == {HOSTS_ROUTE: 1}


def test_nova_microversion_is_the_highest_offered_up_to_2_90(mount, cloud):
    # The tests' own API reads (cloud.api) use cloud.compute_microversion so
    # that they see the shapes infrafs shows; this holds infrafs to it.
    m = mount()
    m.read("hosts.json")
    assert m.compute_microversion() == (cloud.max_microversion, cloud.compute_microversion)


def test_reads_within_ttl_make_no_backend_requests(mount, cloud, hosts):
    m = mount()
    esc8 = next(h for h in hosts if "esc8" in h)
    files = list(CLASS_FILES) + [
        "aggregates/GPU-A100/hosts",
        "aggregates/GPU-A100/metadata/gpu_type",
        "hosts/%s/gpu_type" % esc8,         # derived from aggregate metadata
        "hosts/%s/aggregates" % hosts[0],
        "hosts/%s/state" % hosts[1],
        "flavors/n3-H100x8/extra_specs/pci_passthrough:alias",
        "quotas/ml-research/compute.json",
    ]
    read_all(m, files)
    m.listdir("hosts")
    before = cloud.counts()
    for _ in range(50):
        read_all(m, files)
        m.listdir("aggregates")
    assert counts_delta(before, cloud.counts()) == {}


def test_expired_ttl_refetches_once(mount, cloud, hosts):
    m = mount("ttl.hosts=1")
    base = cloud.counts().get(HOSTS_ROUTE, 0)
    m.read("hosts.json")
    assert cloud.counts().get(HOSTS_ROUTE, 0) == base + 1
    base += 1

    def read_refetched():
        m.read("hosts.json")
        m.read("hosts/%s/state" % hosts[0])
        return cloud.counts().get(HOSTS_ROUTE, 0) > base

    wait_until(read_refetched, timeout=10, interval=0.05, what="hosts refetched after TTL")
    after = cloud.counts()
    assert after[HOSTS_ROUTE] == base + 1
    m.read("hosts.json")
    m.read("hosts/%s/status" % hosts[0])
    assert counts_delta(after, cloud.counts()) == {}


def test_expired_ttl_of_one_class_leaves_others_cached(mount, cloud):
    m = mount("ttl.hosts=1")
    m.read("hosts.json")
    m.read("aggregates.json")
    before = cloud.counts()
    base = before[HOSTS_ROUTE]

    def read_refetched():
        m.read("hosts.json")
        m.read("aggregates.json")
        return cloud.counts().get(HOSTS_ROUTE, 0) > base

    wait_until(read_refetched, timeout=10, interval=0.05, what="hosts refetched after TTL")
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}


# ---- invalidate --------------------------------------------------------------

def test_invalidate_hosts_glob_refetches_hosts_once(mount, cloud, hosts):
    m = mount()
    read_all(m, ["hosts.json", "aggregates.json", "hosts/%s/state" % hosts[0]])
    before = cloud.counts()
    m.invalidate("hosts/*")
    read_all(m, ["hosts.json", "aggregates.json", "hosts/%s/state" % hosts[0],
                 "hosts/%s/status" % hosts[1]])
    m.listdir("hosts")
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}


def test_invalidate_named_hosts_glob_refetches_hosts_once(mount, cloud, hosts):
    m = mount()
    h100 = [h for h in hosts if "h100" in h]
    read_all(m, ["hosts.json", "flavors.json", "hosts/%s/state" % h100[0]])
    before = cloud.counts()
    m.invalidate("hosts/*h100*")
    read_all(m, ["hosts.json", "flavors.json", "hosts/%s/state" % h100[0],
                 "hosts/%s/state" % h100[1]])
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}


def test_invalidate_star_refetches_each_class_once(mount, cloud, hosts):
    m = mount()
    read_all(m, CLASS_FILES)
    before = cloud.counts()
    m.invalidate("*")
    read_all(m, CLASS_FILES)
    read_all(m, ["aggregates/GPU-L40/hosts", "hosts/%s/state" % hosts[0],
                 "flavors/m1.small/flavor.json", "quotas/admin/compute.json"])
    assert counts_delta(before, cloud.counts()) == class_fetch_counts(cloud)


def test_invalidate_one_aggregate_path_refetches_aggregates_only(mount, cloud):
    m = mount()
    read_all(m, CLASS_FILES)
    before = cloud.counts()
    m.invalidate("aggregates/GPU-A100")
    read_all(m, CLASS_FILES)
    read_all(m, ["aggregates/GPU-A100/hosts", "aggregates/GPU-L40/hosts"])
    assert counts_delta(before, cloud.counts()) == {"compute.aggregates": 1}


def test_invalidate_written_without_final_newline_applies_at_the_write(mount, cloud):
    # `printf flavors > invalidate`: a last line that is a whole command
    # counts when it is written, before the file is closed.
    m = mount()
    m.read("flavors.json")
    before = cloud.counts()
    fd = os.open(m.path(".infrafs/invalidate"), os.O_WRONLY)
    try:
        assert os.write(fd, b"flavors") == len("flavors")
        m.read("flavors.json")
        assert counts_delta(before, cloud.counts()) == cloud.flavors_fetch_counts()
    finally:
        os.close(fd)



def test_warm_reads_and_stats_send_the_daemon_no_request(mount, hosts):
    # The fast path: the kernel opens files without asking (no open, no
    # flush, no release) and keeps their pages and attributes, so a warm
    # open+read+close or stat never reaches infrafs at all.
    m = mount()
    rels = ["hosts/%s/state" % hosts[0], "hosts.json", "aggregates/GPU-A100/hosts"]
    read_all(m, rels)
    for rel in rels:
        # The first stat after a file's first read asks once: the kernel
        # marks the access time unknown whenever it had to read pages.
        m.stat(rel)
    first = m.stats()["kernel_requests"]
    second = m.stats()["kernel_requests"]
    for _ in range(20):
        for rel in rels:
            m.read(rel)
            m.stat(rel)
    third = m.stats()["kernel_requests"]
    # Reading stats.json costs a few requests itself (a lookup, and a
    # getattr at each EOF of a file with no attribute timeout), give or
    # take one; the 120 warm calls add none.
    for kind in ("lookup", "getattr", "open", "read"):
        assert third[kind] - second[kind] <= second[kind] - first[kind] + 2, kind
    assert third["open"] <= 1  # only the kernel's first open asks


@pytest.mark.parametrize("bad", ["bad[\n", "host/*\n", "..\n", "hosts/../..\n",
                                 "hosts/\x01\n"],
                         ids=["unclosed-bracket", "unknown-top", "dotdot",
                              "dotdot-inside", "control-char"])
def test_invalidate_rejects_malformed_pattern_with_einval(mount, bad):
    m = mount()
    got = errno_of(m.write_control, "invalidate", bad)
    assert got == errno.EINVAL, "%r: %s" % (bad, errno_name(got))


def test_invalidate_blank_write_is_accepted_and_expires_nothing(mount, cloud):
    # Shells write each line of printf 'hosts\n\nflavors\n' on its own, so
    # a blank line alone must not fail; it selects nothing.
    m = mount()
    m.read("hosts.json")
    before = cloud.counts()
    assert m.write_control("invalidate", "\n") == 1
    assert m.write_control("invalidate", "  \n\n") == 4
    m.read("hosts.json")
    assert counts_delta(before, cloud.counts()) == {}


def test_invalidate_accepts_a_good_pattern_after_a_rejected_one(mount, cloud):
    m = mount()
    m.read("hosts.json")
    assert errno_of(m.write_control, "invalidate", "bad[\n") == errno.EINVAL
    before = cloud.counts()
    assert m.write_control("invalidate", "hosts\n") == len("hosts\n")
    m.read("hosts.json")
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}


def test_invalidate_with_one_bad_line_among_good_ones_changes_nothing(mount, cloud, hosts):
    m = mount()
    read_all(m, ["hosts.json", "aggregates.json", "flavors.json"])
    before = cloud.counts()
    got = errno_of(m.write_control, "invalidate", "hosts\nbad[\naggregates\n*\n")
    assert got == errno.EINVAL, errno_name(got)
    # Paths the kernel has never looked up go to the daemon, so an expired
    # entry would show as a fetch.
    read_all(m, ["hosts/%s/status" % hosts[2], "aggregates/GPU-H200-SXM5/hosts",
                 "flavors/m1.large/flavor.json", "hosts.json", "aggregates.json"])
    assert counts_delta(before, cloud.counts()) == {}


def test_stats_count_hits_and_fetches(mount):
    m = mount()
    m.read("aggregates.json")
    # Reading one file again costs the daemon nothing (the kernel has its
    # pages), so go through paths the kernel has not seen yet: each is a
    # lookup that the cached aggregates answer.
    for name in m.listdir("aggregates")[:4]:
        m.read("aggregates/%s/hosts" % name)
    rows = {line.split()[0]: line.split() for line in m.lines(".infrafs/stats")}
    header = rows.pop("class")
    aggregates = dict(zip(header, rows["aggregates"]))
    assert aggregates["fetches"] == "1"
    assert int(aggregates["hits"]) >= 4
    assert aggregates["errors"] == "0"


def test_concurrent_readers_share_one_fetch(mount, cloud, hosts):
    m = mount()
    cloud.latency(HOSTS_ROUTE, 300)   # keep the first fetch in flight
    before = cloud.counts()
    rels = ["hosts.json"] + ["hosts/%s/state" % h for h in hosts[:7]]
    results, errors = {}, []

    def reader(rel):
        try:
            results[rel] = m.read(rel)
        except Exception as exc:   # reported below, on the test's thread
            errors.append((rel, exc))

    threads = [threading.Thread(target=reader, args=(rel,)) for rel in rels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == len(rels)
    delta = counts_delta(before, cloud.counts())
    delta.pop("compute.version", None)
    assert delta == {HOSTS_ROUTE: 1}


def test_200_cold_readers_of_one_file_make_one_request_and_read_the_same_bytes(mount, cloud):
    m = mount()
    cloud.latency(HOSTS_ROUTE, 300)
    before = cloud.counts()
    barrier = threading.Barrier(200)
    results, errors = [], []

    def reader():
        barrier.wait()
        try:
            results.append(m.read("hosts.json"))
        except Exception as exc:   # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    cloud.latency(HOSTS_ROUTE, 0)
    assert not errors, errors[:3]
    assert len(results) == 200
    assert len(set(results)) == 1
    delta = counts_delta(before, cloud.counts())
    delta.pop("compute.version", None)
    assert delta == {HOSTS_ROUTE: 1}


def test_st_mtime_is_when_the_data_was_fetched(mount, cloud):
    m = mount()
    t0 = time.time()
    m.read("flavors.json")
    t1 = time.time()
    first = m.stat("flavors.json").st_mtime
    assert int(t0) <= first <= t1 + 0.001
    m.invalidate("flavors")
    t2 = time.time()
    m.read("flavors.json")
    second = m.stat("flavors.json").st_mtime
    assert second >= t2 - 0.001 and second > first


def test_invalidate_file_is_writable_by_the_mounting_user_only(mount):
    m = mount()
    st = m.stat(".infrafs/invalidate")
    assert st.st_mode & 0o777 == 0o600
    assert st.st_uid == os.getuid()
    assert m.stat(".infrafs/stats").st_mode & 0o222 == 0


def test_missing_names_cost_no_requests(mount, cloud):
    m = mount()
    m.read("hosts.json")
    m.read("aggregates.json")
    before = cloud.counts()
    for rel in ("hosts/no-such-host", "hosts/no-such-host/state", "aggregates/no-such",
                "hosts/CA1-a100-node99"):
        assert errno_of(m.stat, rel) == errno.ENOENT, rel
    assert counts_delta(before, cloud.counts()) == {}


def test_a_removed_host_disappears_after_a_refresh(mount, private_cloud):
    m = mount(cloud=private_cloud)
    gone = sorted(m.listdir("hosts"))[-1]
    m.read("hosts/%s/state" % gone)         # the kernel knows the name
    private_cloud.hosts({"remove": gone})
    assert gone in m.listdir("hosts")        # still cached
    m.write_control("refresh", "hosts\n")
    assert gone not in m.listdir("hosts")
    assert errno_of(m.stat, "hosts/%s/state" % gone) == errno.ENOENT
    assert gone not in m.text("hosts.json")
