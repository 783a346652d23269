"""Backend failures: EIO for the read, one log line, an entry in
.infrafs/errors, and a mount that keeps working once the backend is back."""

import errno
import json

import pytest

from helpers import errno_name, errno_of

FAILURES = {
    "http-503": dict(status=503),
    "http-500": dict(status=500),
    "garbage-body": dict(mode="garbage"),
    "truncated-body": dict(mode="truncated"),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_backend_failure_is_eio_then_recovers_without_remount(mount, cloud, failure):
    expected = cloud.api.flavors()
    m = mount()
    m.read("aggregates.json")   # the mount has talked to Nova already
    cloud.fail("compute.*", count=-1, **failure)   # until cleared: retries cannot hide it

    got = errno_of(m.read, "flavors.json")
    assert got == errno.EIO, errno_name(got)

    cloud.clear_failures()
    assert json.loads(m.read("flavors.json")) == expected
    assert m.listdir("flavors") == sorted(f["name"] for f in expected)


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_backend_failure_logs_exactly_one_line(mount, cloud, failure):
    m = mount()
    m.read("aggregates.json")
    cloud.fail("compute.*", count=-1, **failure)
    assert errno_of(m.read, "flavors.json") == errno.EIO
    cloud.clear_failures()
    m.read("flavors.json")
    lines = [line for line in m.log().splitlines() if "flavors" in line]
    assert len(lines) == 1, "\n".join(lines)
    assert "failed" in lines[0]


def test_backend_failure_is_listed_in_errors_file(mount, cloud):
    m = mount()
    m.read("aggregates.json")
    assert m.text(".infrafs/errors") == ""
    cloud.fail("compute.*", count=-1, status=503)
    assert errno_of(m.read, "flavors.json") == errno.EIO
    cloud.clear_failures()
    lines = m.lines(".infrafs/errors")
    assert len(lines) == 1, lines
    assert "flavors" in lines[0] and "503" in lines[0], lines[0]
    assert m.stat(".infrafs/errors").st_size == len(m.read(".infrafs/errors"))


def test_failure_of_one_class_leaves_cached_classes_readable(mount, cloud):
    m = mount()
    aggregates = m.read("aggregates.json")
    cloud.fail("compute.*", count=-1, status=503)
    assert errno_of(m.read, "hosts.json") == errno.EIO
    assert m.read("aggregates.json") == aggregates
    assert m.text("aggregates/GPU-A100/gpu_type") == "A100\n"


def test_failed_directory_listing_is_eio_then_recovers(mount, cloud):
    expected = sorted(h["hypervisor_hostname"] for h in cloud.api.hypervisors())
    m = mount()
    m.read("aggregates.json")
    cloud.fail("compute.hypervisors.detail", count=-1, status=503)
    assert errno_of(m.listdir, "hosts") == errno.EIO
    cloud.clear_failures()
    assert m.listdir("hosts") == expected


def test_failure_stats_count_the_error(mount, cloud):
    m = mount()
    m.read("aggregates.json")
    cloud.fail("compute.*", count=-1, status=503)
    assert errno_of(m.read, "flavors.json") == errno.EIO
    rows = {line.split()[0]: line.split() for line in m.lines(".infrafs/stats")}
    flavors = dict(zip(rows["class"], rows["flavors"]))
    assert flavors["errors"] == "1"


def test_dropped_connection_is_eio_then_recovers(mount, cloud):
    m = mount()
    m.read("aggregates.json")
    cloud.fail("compute.*", count=-1, mode="drop")
    got = errno_of(m.read, "hosts.json")
    assert got == errno.EIO, errno_name(got)
    cloud.clear_failures()
    assert len(json.loads(m.read("hosts.json"))) == 48


def test_hanging_backend_times_out_with_eio(mount, cloud):
    m = mount(timeout_s=1)
    m.read("aggregates.json")
    cloud.fail("compute.*", count=-1, mode="hang")
    got = errno_of(m.read, "hosts.json")
    assert got == errno.EIO, errno_name(got)
    cloud.clear_failures()
    assert len(json.loads(m.read("hosts.json"))) == 48
