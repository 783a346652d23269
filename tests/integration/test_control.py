"""The control files beyond invalidate: metrics (Prometheus text), stats.json,
refresh (synchronous refetch) and ttl (TTLs at run time)."""

import errno
import json
import os
import threading

from prometheus_client.parser import text_string_to_metric_families

from helpers import counts_delta, errno_name, errno_of, wait_until

# Files of each class, and the request (one page each here) a fetch costs.
CLASS_ROUTES = {
    "hosts": ("hosts.json", "compute.hypervisors.detail"),
    "aggregates": ("aggregates.json", "compute.aggregates"),
    "flavors": ("flavors.json", "compute.flavors.detail"),
}


def metric_samples(m):
    """{(name, frozenset(labels)): value} from .infrafs/metrics."""
    samples = {}
    for family in text_string_to_metric_families(m.text(".infrafs/metrics")):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def fetches(samples, data_class, outcome="ok"):
    return samples[("infrafs_backend_fetches_total",
                    frozenset({"class": data_class, "outcome": outcome}.items()))]


def test_metrics_parse_and_agree_with_the_backend_counts(mount, cloud):
    m = mount()
    before = cloud.counts()
    for name, (path, _) in CLASS_ROUTES.items():
        m.read(path)
        m.read(path)
    delta = counts_delta(before, cloud.counts())
    samples = metric_samples(m)
    for name, (_, route) in CLASS_ROUTES.items():
        assert fetches(samples, name) == delta[route], name
        assert fetches(samples, name, "error") == 0
        count = samples[("infrafs_backend_fetch_duration_seconds_count",
                         frozenset({"class": name}.items()))]
        assert count == delta[route]
    # Labels are per class, outcome and request kind, never per key: a
    # fixed series count.
    assert all(set(dict(labels)) <= {"class", "outcome", "le", "op"} for _, labels in samples)


def test_metrics_count_errors_by_outcome(mount, cloud):
    m = mount("max_stale=0")
    cloud.fail("compute.flavors.detail", status=503, count=-1)
    try:
        assert errno_of(m.read, "flavors.json") == errno.EIO
    finally:
        cloud.clear_failures()
    samples = metric_samples(m)
    assert fetches(samples, "flavors", "error") >= 1
    assert samples[("infrafs_backend_errors_recorded_total", frozenset())] >= 1


def test_stats_json_agrees_with_the_stats_table(mount):
    m = mount()
    m.read("hosts.json")
    m.read("hosts.json")
    stats = json.loads(m.read(".infrafs/stats.json"))
    hosts = stats["classes"]["hosts"]
    assert hosts["fetches"] == 1
    assert hosts["hits"] >= 1
    assert hosts["entries"] == 1
    assert hosts["bytes"] > len(m.read("hosts.json"))
    row = next(line.split() for line in m.lines(".infrafs/stats") if line.startswith("hosts "))
    header = m.lines(".infrafs/stats")[0].split()
    table = dict(zip(header, row))
    assert int(table["fetches"]) == hosts["fetches"]
    assert int(table["entries"]) == hosts["entries"]


def test_refresh_refetches_before_the_write_returns(mount, cloud):
    m = mount()
    m.read("hosts.json")
    before = cloud.counts()
    assert m.write_control("refresh", "hosts\n") == len("hosts\n")
    # The request was made by the write itself, not by a later read.
    assert counts_delta(before, cloud.counts()) == {"compute.hypervisors.detail": 1}
    m.read("hosts.json")
    assert counts_delta(before, cloud.counts()) == {"compute.hypervisors.detail": 1}


def test_refresh_shows_a_backend_change_at_once(mount, private_cloud):
    m = mount(cloud=private_cloud)
    # A host that is up now, cached before the change.
    host = next(h for h in m.listdir("hosts") if m.text("hosts/%s/state" % h) == "up\n")
    private_cloud.hosts({"set": host, "state": "down"})
    assert m.text("hosts/%s/state" % host) == "up\n"
    m.write_control("refresh", "hosts/%s\n" % host)
    assert m.text("hosts/%s/state" % host) == "down\n"


def test_refresh_fails_with_eio_when_the_backend_fails(mount, cloud):
    m = mount()
    old = m.read("hosts.json")
    cloud.fail("compute.hypervisors.detail", status=503, count=-1)
    try:
        got = errno_of(m.write_control, "refresh", "hosts\n")
        assert got == errno.EIO, errno_name(got)
        # The last good copy is still served.
        assert m.read("hosts.json") == old
    finally:
        cloud.clear_failures()


def test_refresh_rejects_malformed_patterns(mount, cloud):
    m = mount()
    m.read("hosts.json")
    before = cloud.counts()
    assert errno_of(m.write_control, "refresh", "hosts\nbad[\n") == errno.EINVAL
    assert counts_delta(before, cloud.counts()) == {}


def test_ttl_reads_the_ttls_in_force(mount):
    m = mount("ttl.hosts=7")
    ttls = dict(line.split() for line in m.lines(".infrafs/ttl"))
    assert ttls["hosts"] == "7"
    assert ttls["aggregates"] == "3600"
    assert set(ttls) >= {"aggregates", "hosts", "flavors", "projects", "quotas", "servers"}


def test_ttl_write_changes_the_ttl_of_data_already_cached(mount, cloud):
    m = mount("grace.hosts=0")
    m.read("hosts.json")
    before = cloud.counts()
    m.read("hosts.json")
    assert counts_delta(before, cloud.counts()) == {}
    assert m.write_control("ttl", "hosts 1\n") == len("hosts 1\n")
    assert dict(line.split() for line in m.lines(".infrafs/ttl"))["hosts"] == "1"
    # The cached copy, fetched with a 60 s TTL, now expires after 1 s.
    wait_until(lambda: (m.read("hosts.json"),
                        counts_delta(before, cloud.counts()))[1]
               .get("compute.hypervisors.detail", 0) >= 1,
               timeout=10, what="a refetch after the TTL was cut to 1 s")


def test_ttl_rejects_bad_lines_and_changes_nothing(mount):
    m = mount()
    for bad in ("hostz 5\n", "hosts -1\n", "hosts\n", "hosts 5 6\n", "hosts 99999999\n",
                "hosts 5\nbad 1\n"):
        got = errno_of(m.write_control, "ttl", bad)
        assert got == errno.EINVAL, "%r: %s" % (bad, errno_name(got))
    assert dict(line.split() for line in m.lines(".infrafs/ttl"))["hosts"] == "60"


def test_control_files_are_the_mounting_users_alone(mount):
    m = mount()
    for name in ("invalidate", "refresh", "ttl"):
        assert m.stat(".infrafs/" + name).st_mode & 0o777 == 0o600, name
    for name in ("stats", "stats.json", "metrics", "errors", "version"):
        assert m.stat(".infrafs/" + name).st_mode & 0o777 == 0o444, name


def test_ttl_zero_at_run_time_makes_every_read_fresh(mount, private_cloud):
    # The grace window follows a TTL written at run time (unless set with
    # -o grace.CLASS), so TTL 0 means no read is answered from an old copy.
    m = mount(cloud=private_cloud)
    host = next(h for h in m.listdir("hosts") if m.text("hosts/%s/state" % h) == "up\n")
    m.write_control("ttl", "hosts 0\n")
    stats = json.loads(m.read(".infrafs/stats.json"))["classes"]["hosts"]
    assert (stats["ttl_s"], stats["grace_s"]) == (0, 0)
    private_cloud.hosts({"set": host, "state": "down"})
    assert m.text("hosts/%s/state" % host) == "down\n"


# ---- lines written in pieces ---------------------------------------------------
# The kernel opens files without telling infrafs, so a write comes with no
# handle: a line is put together per writer thread and file offset.

def write_pieces(m, name, pieces):
    """The pieces, one write(2) each, through one descriptor."""
    fd = os.open(m.path(".infrafs/" + name), os.O_WRONLY)
    try:
        for piece in pieces:
            assert os.write(fd, piece.encode()) == len(piece.encode())
    finally:
        os.close(fd)


def ttl_of(m, name):
    return dict(line.split() for line in m.lines(".infrafs/ttl"))[name]


def test_a_line_split_across_writes_is_applied_whole(mount, cloud):
    m = mount()
    m.read("hosts.json")
    m.read("flavors.json")
    before = cloud.counts()
    write_pieces(m, "invalidate", ["hos", "ts\nflav", "ors\n"])
    m.read("hosts.json")
    m.read("flavors.json")
    assert counts_delta(before, cloud.counts()) == {
        "compute.hypervisors.detail": 1, **cloud.flavors_fetch_counts()}


def test_a_ttl_line_split_mid_number_ends_with_the_whole_number(mount):
    m = mount()
    write_pieces(m, "ttl", ["hosts 4", "5", "\n"])
    assert ttl_of(m, "hosts") == "45"


def test_unfinished_garbage_without_newline_is_rejected_at_once(mount):
    # A fragment no continuation can make valid fails its own write.
    m = mount()
    assert errno_of(m.write_control, "invalidate", "garbage") == errno.EINVAL
    assert errno_of(m.write_control, "ttl", "hosts x") == errno.EINVAL
    assert errno_of(m.write_control, "warm", "begin") == errno.EINVAL


def test_each_writers_unfinished_line_is_its_own(mount):
    # Two threads writing pieces at once, each through its own descriptor:
    # neither's half line joins the other's.
    m = mount()
    barrier = threading.Barrier(2)
    errors = []

    def writer(pieces):
        try:
            fd = os.open(m.path(".infrafs/ttl"), os.O_WRONLY)
            try:
                for piece in pieces:
                    barrier.wait(timeout=10)
                    os.write(fd, piece.encode())
            finally:
                os.close(fd)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(pieces,))
               for pieces in (["hosts 7", "1\n"], ["flavors 8", "2\n"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert ttl_of(m, "hosts") == "71"
    assert ttl_of(m, "flavors") == "82"
