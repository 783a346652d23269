"""The warmer: -o warm=... fetches the configured classes after mounting, in
the background, never faster than -o warm_rate; .infrafs/warm shows its
progress and takes start and stop."""

import errno
import time

from helpers import counts_delta, errno_of, wait_until

# Requests that are the warmer's fetches (not auth or version discovery).
CLASS_ROUTES = ("compute.aggregates", "compute.hypervisors.detail", "compute.flavors.detail",
                "identity.projects", "compute.quota_sets.detail", "compute.servers.detail")


def warm_state(m):
    lines = m.lines(".infrafs/warm")
    progress = {}
    for line in lines[1:]:
        name, done_total, errors, _ = line.split()
        done, total = done_total.split("/")
        progress[name] = (int(done), int(total), int(errors))
    return lines[0].split()[1], progress


def test_without_warm_the_mount_fetches_nothing(mount, cloud):
    before = cloud.counts()
    m = mount()
    assert m.lines(".infrafs/warm") == ["state off"]
    delta = counts_delta(before, cloud.counts())
    assert not any(route in delta for route in CLASS_ROUTES)


def test_warm_makes_every_configured_class_warm(mount, cloud):
    m = mount("warm=aggregates,hosts,flavors,projects,quotas", "warm_rate=50")
    wait_until(lambda: warm_state(m)[0] == "done", timeout=20, what="the warmer to finish")
    state, progress = warm_state(m)
    assert set(progress) == {"aggregates", "hosts", "flavors", "projects", "quotas"}
    assert all(done == total and errors == 0 for done, total, errors in progress.values())
    assert progress["quotas"][1] == len(m.listdir("quotas"))
    # Everything warmed reads without a request.
    before = cloud.counts()
    for path in ("aggregates.json", "hosts.json", "flavors.json", "projects.json"):
        m.read(path)
    for project in m.listdir("quotas"):
        m.read("quotas/%s/compute" % project)
    assert counts_delta(before, cloud.counts()) == {}


def test_warm_never_exceeds_its_rate(mount, cloud):
    rate = 10
    cloud.reset()
    m = mount("warm=all", "warm_rate=%d" % rate)
    wait_until(lambda: warm_state(m)[0] == "done", timeout=30, what="the warmer to finish")
    times = sorted(r["t"] for r in cloud.requests() if r["route"] in CLASS_ROUTES)
    assert len(times) > rate * 2          # enough to see the pace: 48 hosts' servers
    # No one-second window holds more fetches than the rate allows (+1 for
    # a fetch exactly on the window's edge).
    most = max(sum(1 for t in times[i:] if t < start + 1.0)
               for i, start in enumerate(times))
    assert most <= rate + 1, most


def test_warm_stop_and_start(mount):
    m = mount("warm=servers", "warm_rate=5")
    wait_until(lambda: warm_state(m)[0] == "running", timeout=10, what="the warmer to run")
    m.write_control("warm", "stop\n")
    wait_until(lambda: warm_state(m)[0] == "stopped", timeout=10, what="the warmer to stop")
    done_at_stop = warm_state(m)[1]["servers"][0]
    assert done_at_stop < 48
    m.write_control("warm", "start\n")
    wait_until(lambda: warm_state(m)[0] == "running", timeout=10, what="a new run")


def test_warm_rejects_other_words(mount):
    m = mount("warm=aggregates")
    assert errno_of(m.write_control, "warm", "go\n") == errno.EINVAL



def test_a_path_read_over_and_over_is_refreshed_before_it_expires(mount, cloud):
    # The kernel serves a hot file by itself, so infrafs cannot see it is
    # hot; its entry and attributes time out when refreshing ahead begins
    # (the last tenth of the TTL), the next read's lookup starts the
    # refresh, and no read ever gets an expired copy.
    m = mount("ttl.hosts=2")
    host = m.listdir("hosts")[0]
    rel = "hosts/%s/state" % host
    m.read(rel)
    before = m.stats()["classes"]["hosts"]
    deadline = time.monotonic() + 5.0
    reads = 0
    while time.monotonic() < deadline:
        m.read(rel)
        reads += 1
        time.sleep(0.02)  # a reader's pace, not synchronisation
    after = m.stats()["classes"]["hosts"]
    assert reads > 100
    assert after["refreshes"] - before["refreshes"] >= 2
    assert after["stale_served"] == before["stale_served"]
