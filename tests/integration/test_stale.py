"""Stale data on a real mount: stale-while-revalidate (the grace window
past the TTL), stale-if-error with its 2 s backoff and max_stale, kernel
timeouts of stale files, and the user.infrafs.* extended attributes.

Time passes for real here, so TTLs are 1 s (-o ttl.hosts=1) and waits are
polls with deadlines: on the fake cloud's request counters, on the
attributes, or on the monotonic clock passing a TTL."""

import ctypes
import errno
import json
import os
import re
import subprocess
import time
from datetime import datetime, timezone

import pytest

from helpers import call_with_deadline, counts_delta, errno_name, errno_of, wait_until

HOSTS_ROUTE = "compute.hypervisors.detail"
LATENCY_MS = 300

FETCHED_AT = "user.infrafs.fetched_at"
EXPIRES_AT = "user.infrafs.expires_at"
STALE = "user.infrafs.stale"
SOURCE = "user.infrafs.source"
XATTR_NAMES = sorted([FETCHED_AT, EXPIRES_AT, STALE, SOURCE])

# What g_date_time_format_iso8601 gives for a whole second in UTC.
ISO8601_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# The default TTL of hosts (design.md), which expires_at counts from.
HOSTS_DEFAULT_TTL_S = 60


# ---- helpers -----------------------------------------------------------------

def up_host(cloud):
    """The hypervisor_hostname of a host that is up and enabled (read from
    /_fake/state, which the request counters do not see)."""
    state = cloud.control("GET", "state")
    return next(h["hypervisor_hostname"] for h in state["hypervisors"]
                if h["state"] == "up" and h["status"] == "enabled")


def xattr(m, rel, name):
    return call_with_deadline(os.getxattr, m.path(rel), name, what="getxattr %s %s" % (rel, name))


def xattrs(m, rel):
    return {name: xattr(m, rel, name).decode() for name in XATTR_NAMES}


def iso_epoch(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def timed_read(m, rel):
    """(content, seconds the open and read took), timed on the reading thread."""
    def run():
        start = time.monotonic()
        with open(m.path(rel), "rb") as fh:
            data = fh.read()
        return data, time.monotonic() - start
    return call_with_deadline(run, what="read %s" % rel)


def wait_for_time(deadline, what):
    """Poll the monotonic clock until `deadline` (a TTL running out)."""
    wait_until(lambda: time.monotonic() >= deadline,
               timeout=max(deadline - time.monotonic(), 0) + 5, what=what)


def stats_row(m, data_class):
    """The row of .infrafs/stats for `data_class`, keyed by its header."""
    lines = m.lines(".infrafs/stats")
    header = lines[0].split()
    for line in lines[1:]:
        fields = line.split()
        if fields and fields[0] == data_class:
            return dict(zip(header, fields))
    raise AssertionError("no %s row in .infrafs/stats:\n%s" % (data_class, "\n".join(lines)))


def hosts_requests(cloud, before):
    return cloud.counts().get(HOSTS_ROUTE, 0) - before.get(HOSTS_ROUTE, 0)


def serve_stale_hosts(m, cloud):
    """Cache hosts.json, make the hosts fetch fail until cleared, expire
    hosts: the next read fails to fetch. Returns the cached bytes."""
    old = m.read("hosts.json")
    cloud.fail(HOSTS_ROUTE, status=503, count=-1)
    m.invalidate("hosts")
    return old


# ---- stale-while-revalidate --------------------------------------------------

def test_grace_read_after_ttl_is_immediate_with_old_content(mount, private_cloud):
    m = mount("ttl.hosts=1", "grace.hosts=30", cloud=private_cloud)
    host = up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert m.read(rel) == b"up\n"
    expired = time.monotonic() + 1.1
    private_cloud.hosts({"set": host, "state": "down"})
    private_cloud.latency(HOSTS_ROUTE, LATENCY_MS)
    wait_for_time(expired, "hosts TTL of 1 s passed")

    content, seconds = timed_read(m, rel)
    assert content == b"up\n"
    assert seconds < 0.150, "read took %.0f ms" % (seconds * 1000)


def test_grace_read_starts_exactly_one_refresh(mount, private_cloud):
    m = mount("ttl.hosts=1", "grace.hosts=30", cloud=private_cloud)
    host = up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert m.read(rel) == b"up\n"
    expired = time.monotonic() + 1.1
    private_cloud.hosts({"set": host, "state": "down"})
    private_cloud.latency(HOSTS_ROUTE, LATENCY_MS)
    wait_for_time(expired, "hosts TTL of 1 s passed")
    before = private_cloud.counts()

    assert m.read(rel) == b"up\n"           # in grace: starts the refresh
    during = [m.read(rel) for _ in range(20)]
    # Old content while the refresh runs, new content once it has landed.
    assert set(during) <= {b"up\n", b"down\n"}, during
    assert during == sorted(during, key=lambda c: c == b"down\n"), during
    wait_until(lambda: hosts_requests(private_cloud, before) >= 1, timeout=10,
               what="the background refresh reached the cloud")
    wait_until(lambda: m.read(rel) == b"down\n", timeout=10, what="refreshed state read")
    delta = counts_delta(before, private_cloud.counts())
    assert delta == {HOSTS_ROUTE: 1}, "reads during the refresh: %s" % during


def test_grace_marks_files_stale_until_refreshed(mount, cloud):
    m = mount("ttl.hosts=1", "grace.hosts=30")
    m.read("hosts.json")
    assert xattr(m, "hosts.json", STALE) == b"0"
    expired = time.monotonic() + 1.1
    cloud.latency(HOSTS_ROUTE, LATENCY_MS)
    wait_for_time(expired, "hosts TTL of 1 s passed")
    assert xattr(m, "hosts.json", STALE) == b"1"
    wait_until(lambda: xattr(m, "hosts.json", STALE) == b"0", timeout=10,
               what="hosts.json fresh again after the refresh")


def test_grace_zero_read_after_ttl_waits_for_the_fetch(mount, cloud):
    m = mount("grace.hosts=0", "ttl.hosts=1")
    host = up_host(cloud)
    rel = "hosts/%s/state" % host
    old = m.read(rel)
    expired = time.monotonic() + 1.1
    cloud.latency(HOSTS_ROUTE, LATENCY_MS)
    wait_for_time(expired, "hosts TTL of 1 s passed")
    before = cloud.counts()

    content, seconds = timed_read(m, rel)
    assert seconds >= 0.250, "read took %.0f ms: it did not wait for the fetch" % (seconds * 1000)
    assert content == old
    assert xattr(m, rel, STALE) == b"0"
    assert counts_delta(before, cloud.counts()) == {HOSTS_ROUTE: 1}


def test_grace_defaults_to_ttl_capped_at_an_hour(mount):
    m = mount("ttl.hosts=1", "ttl.flavors=7200", "grace.quotas=5", "grace.servers=0")
    expected = {"hosts": "1", "flavors": "3600", "aggregates": "3600", "quotas": "5",
                "servers": "0"}
    got = {c: stats_row(m, c)["grace_s"] for c in expected}
    assert got == expected


# ---- stale-if-error ----------------------------------------------------------

def test_failed_fetch_serves_the_cached_bytes(mount, cloud):
    m = mount()
    old = serve_stale_hosts(m, cloud)
    before = cloud.counts()
    assert m.read("hosts.json") == old
    # The copy really came from a failed fetch.
    assert hosts_requests(cloud, before) >= 1


def test_failed_fetch_marks_the_copy_stale(mount, cloud):
    m = mount()
    serve_stale_hosts(m, cloud)
    m.read("hosts.json")
    assert xattr(m, "hosts.json", STALE) == b"1"


def test_failed_fetch_is_listed_in_errors_file(mount, cloud):
    m = mount()
    serve_stale_hosts(m, cloud)
    m.read("hosts.json")
    lines = m.lines(".infrafs/errors")
    hosts_lines = [line for line in lines if line.split()[1:2] == ["hosts"]]
    assert hosts_lines, lines
    assert "503" in hosts_lines[-1], hosts_lines[-1]


def test_failed_fetch_counts_in_stats_stale_and_errors(mount, cloud):
    m = mount()
    serve_stale_hosts(m, cloud)
    m.read("hosts.json")
    row = stats_row(m, "hosts")
    assert int(row["stale"]) > 0, row
    assert int(row["errors"]) >= 1, row


def test_failed_fetch_still_lists_the_directory(mount, cloud):
    m = mount()
    listed = m.listdir("hosts")
    serve_stale_hosts(m, cloud)
    assert m.listdir("hosts") == listed
    assert xattr(m, "hosts", STALE) == b"1"


def test_stale_files_are_not_cached_by_the_kernel(mount, cloud):
    # Attribute and entry timeouts of 0: every stat reaches the daemon,
    # which counts each stale answer.
    m = mount()
    serve_stale_hosts(m, cloud)
    m.read("hosts.json")
    stale_before = int(stats_row(m, "hosts")["stale"])
    for _ in range(5):
        m.stat("hosts.json")
    assert int(stats_row(m, "hosts")["stale"]) - stale_before >= 5


def test_failing_backend_is_asked_again_only_after_2s_backoff(mount, cloud):
    # retries=0: each fetch is one request, so the gaps are the cache's.
    m = mount("retries=0")
    old = serve_stale_hosts(m, cloud)
    before = cloud.counts()

    def read_until_second_request():
        assert m.read("hosts.json") == old
        return hosts_requests(cloud, before) >= 2

    # Reads every 20 ms: without the backoff each would be a request.
    wait_until(read_until_second_request, timeout=10, what="a second hosts request")
    failed = [r for r in cloud.requests() if r["route"] == HOSTS_ROUTE and r["status"] == 503]
    assert len(failed) == 2, failed
    gap = failed[1]["t"] - failed[0]["t"]
    assert gap >= 1.95 and gap < 3.0, "second request %.3f s after the first" % gap


def test_stale_copy_is_replaced_once_the_backend_recovers(mount, private_cloud):
    m = mount(cloud=private_cloud)
    host = up_host(private_cloud)
    rel = "hosts/%s/state" % host
    assert m.read(rel) == b"up\n"
    serve_stale_hosts(m, private_cloud)
    private_cloud.hosts({"set": host, "state": "down"})
    assert m.read(rel) == b"up\n"          # the stale copy
    assert xattr(m, rel, STALE) == b"1"

    private_cloud.clear_failures()
    wait_until(lambda: xattr(m, "hosts.json", STALE) == b"0", timeout=10,
               what="hosts fetched again after the backoff")
    assert m.read(rel) == b"down\n"
    listed = {h["hypervisor_hostname"]: h["state"] for h in json.loads(m.read("hosts.json"))}
    assert listed[host] == "down"


def test_max_stale_zero_failed_fetch_is_eio(mount, cloud):
    m = mount("max_stale=0")
    serve_stale_hosts(m, cloud)
    got = errno_of(m.read, "hosts.json")
    assert got == errno.EIO, errno_name(got)


def test_copy_older_than_max_stale_is_eio(mount, cloud):
    m = mount("max_stale=1")
    m.read("hosts.json")
    too_old = time.monotonic() + 1.1
    wait_for_time(too_old, "the hosts copy older than max_stale=1")
    serve_stale_hosts(m, cloud)
    got = errno_of(m.read, "hosts.json")
    assert got == errno.EIO, errno_name(got)


# (A failure with no copy at all is EIO: test_errors.py covers it with the
# default max_stale.)


# ---- extended attributes -----------------------------------------------------

@pytest.fixture
def host(cloud):
    return up_host(cloud)


def xattr_paths(host):
    return ["hosts/%s/state" % host, "hosts/%s" % host, "hosts", "", ".infrafs/stats",
            "hosts.json"]


def test_listxattr_names_exactly_the_four_attributes(mount, host):
    m = mount()
    for rel in xattr_paths(host):
        names = call_with_deadline(os.listxattr, m.path(rel), what="listxattr %s" % rel)
        assert sorted(names) == XATTR_NAMES, (rel, names)


def test_xattr_values_are_well_formed(mount, host):
    m = mount()
    for rel in xattr_paths(host):
        values = xattrs(m, rel)
        for name in (FETCHED_AT, EXPIRES_AT):
            assert values[name] == "-" or ISO8601_UTC.match(values[name]), (rel, values)
        assert values[STALE] in ("0", "1"), (rel, values)
        assert values[SOURCE], (rel, values)


def test_xattrs_of_infrafs_own_paths(mount):
    m = mount()
    for rel in ("", ".infrafs", ".infrafs/stats", "README"):
        assert xattrs(m, rel) == {FETCHED_AT: "-", EXPIRES_AT: "-", STALE: "0",
                                  SOURCE: "infrafs"}, rel


def test_fetched_at_is_st_mtime_and_expires_at_adds_the_ttl(mount, host):
    m = mount()
    rel = "hosts/%s/state" % host
    m.read(rel)
    values = xattrs(m, rel)
    assert ISO8601_UTC.match(values[FETCHED_AT]), values
    fetched = iso_epoch(values[FETCHED_AT])
    assert fetched == int(m.stat(rel).st_mtime)
    assert iso_epoch(values[EXPIRES_AT]) - fetched in (HOSTS_DEFAULT_TTL_S,
                                                       HOSTS_DEFAULT_TTL_S + 1), values
    assert values[STALE] == "0"


def test_source_names_the_cache_entries_used(mount, host):
    m = mount()
    sources = {
        "hosts.json": {"hosts"},
        "hosts/%s/state" % host: {"hosts"},
        "hosts/%s/aggregates" % host: {"hosts", "aggregates"},
        "hosts/%s/servers.json" % host: {"hosts", "servers/%s" % host},
    }
    got = {rel: set(xattr(m, rel, SOURCE).decode().split(",")) for rel in sources}
    assert got == sources


@pytest.mark.parametrize("name", ["user.infrafs.nope", "user.infrafs.", "user.other",
                                  "trusted.other"])
def test_unknown_xattr_is_enodata(mount, host, name):
    m = mount()
    for rel in ("hosts/%s/state" % host, ""):
        got = errno_of(xattr, m, rel, name)
        assert got == errno.ENODATA, "%s on /%s: %s" % (name, rel, errno_name(got))



def test_security_labels_are_not_supported(mount, host):
    # `ls -l` asks for security.selinux on every entry; "not supported"
    # (not "no data") makes it stop asking for the rest of a listing.
    m = mount()
    for rel in ("hosts/%s/state" % host, "hosts", ""):
        got = errno_of(xattr, m, rel, "security.selinux")
        assert got == errno.EOPNOTSUPP, "/%s: %s" % (rel, errno_name(got))


def test_warm_ls_l_sends_no_request_per_entry(mount):
    # Entries the kernel knows are passed bare by readdirplus, so it keeps
    # their attributes and cached ACLs, and ls stops asking for security
    # labels after the first: a second `ls -l` of hosts/ costs a handful of
    # requests, not several per host.
    m = mount()
    subprocess.run(["ls", "-l", m.path("hosts")], check=True, stdout=subprocess.DEVNULL)
    before = m.stats()["kernel_requests"]
    subprocess.run(["ls", "-l", m.path("hosts")], check=True, stdout=subprocess.DEVNULL)
    after = m.stats()["kernel_requests"]
    assert len(m.listdir("hosts")) >= 40
    assert after["getxattr"] - before["getxattr"] <= 2
    assert after["lookup"] - before["lookup"] <= 4  # stats.json's own


def test_foreign_xattr_name_does_not_walk_the_tree(mount, host):
    m = mount()
    rel = "hosts/%s/state" % host
    m.read(rel)        # the kernel now holds the path; lookups stay away

    def hosts_hits():
        return int(stats_row(m, "hosts")["hits"])

    base = hosts_hits()
    for name, answer in (("user.other", errno.ENODATA), ("security.selinux", errno.EOPNOTSUPP)):
        assert errno_of(xattr, m, rel, name) == answer
    foreign = hosts_hits() - base
    xattr(m, rel, STALE)
    ours = hosts_hits() - base - foreign
    assert (foreign, ours) == (0, 1)


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    libc.getxattr.restype = ctypes.c_ssize_t
    libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    libc.listxattr.restype = ctypes.c_ssize_t
    return libc


def test_getxattr_size_probe_and_short_buffer(mount, host):
    m = mount()
    libc = _libc()
    path = m.path("hosts/%s/state" % host).encode()
    value = xattr(m, "hosts/%s/state" % host, SOURCE)

    def probe(size):
        buf = ctypes.create_string_buffer(max(size, 1))
        n = libc.getxattr(path, SOURCE.encode(), buf if size else None, size)
        return n, ctypes.get_errno() if n < 0 else 0, buf.raw[:max(n, 0)]

    assert call_with_deadline(probe, 0)[:2] == (len(value), 0)
    assert call_with_deadline(probe, len(value) - 1)[:2] == (-1, errno.ERANGE)
    assert call_with_deadline(probe, len(value)) == (len(value), 0, value)


def test_listxattr_size_probe_and_short_buffer(mount, host):
    m = mount()
    libc = _libc()
    path = m.path("hosts/%s/state" % host).encode()
    total = sum(len(name) + 1 for name in XATTR_NAMES)

    def probe(size):
        buf = ctypes.create_string_buffer(max(size, 1))
        n = libc.listxattr(path, buf if size else None, size)
        return n, ctypes.get_errno() if n < 0 else 0, buf.raw[:max(n, 0)]

    assert call_with_deadline(probe, 0)[:2] == (total, 0)
    assert call_with_deadline(probe, total - 1)[:2] == (-1, errno.ERANGE)
    n, err, raw = call_with_deadline(probe, total)
    assert (n, err) == (total, 0)
    assert sorted(raw.decode().split("\0")[:-1]) == XATTR_NAMES


def test_ls_l_of_hosts_works(mount, cloud):
    names = sorted(h["hypervisor_hostname"] for h in cloud.control("GET", "state")["hypervisors"])
    m = mount()
    result = m.sh("ls -l hosts")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = result.stdout.splitlines()[1:]         # after "total N"
    assert sorted(row.split()[-1] for row in rows) == names
    assert all(row.startswith("dr-xr-xr-x") for row in rows), rows[:3]


def test_getfattr_dumps_the_four_attributes(mount):
    m = mount()
    result = m.sh("getfattr --absolute-names -d -m - hosts.json")
    assert result.returncode == 0, result.stderr
    dumped = dict(re.findall(r'^(user\.infrafs\.\w+)="(.*)"$', result.stdout, re.M))
    assert sorted(dumped) == XATTR_NAMES, result.stdout
    assert dumped["user.infrafs.source"] == "hosts"
    assert dumped["user.infrafs.stale"] == "0"
