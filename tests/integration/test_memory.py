"""Bounded memory: with a tiny -o cache_max_bytes the cache never holds more
than the bound, evicts least recently used data, and evicted files still
read correctly (they are fetched again)."""

import json
import os
import subprocess


def small_bound(cloud):
    """A bound that holds the hosts list (the largest entry) with room to
    spare, far below all the data (about 300 KB here): the smallest allowed,
    64K, from 2.88, where the 48 hypervisors take about 55 KiB of cache;
    160K before 2.88, where they still carry vcpus, memory_mb, cpu_info and
    the rest and take about 110 KiB."""
    return 64 * 1024 if cloud.compute_at_least("2.88") else 160 * 1024


def cache_bytes(m):
    stats = json.loads(m.read(".infrafs/stats.json"))
    return stats["bytes"], stats["max_bytes"], stats["classes"]


def test_cache_never_exceeds_cache_max_bytes_and_evicted_files_read_correctly(mount, cloud):
    max_bytes = small_bound(cloud)
    m = mount("cache_max_bytes=%dK" % (max_bytes // 1024))
    hypervisors = json.loads(m.read("hosts.json"))
    expected_state = {h["hypervisor_hostname"]: h["state"] for h in hypervisors}
    total, bound, _ = cache_bytes(m)
    assert bound == max_bytes
    assert 0 < total <= max_bytes
    for name in sorted(m.listdir("hosts")):
        json.loads(m.read("hosts/%s/servers.json" % name))
        assert m.text("hosts/%s/state" % name) == expected_state[name] + "\n"
        m.read("aggregates.json")
        total, _, _ = cache_bytes(m)
        assert total <= max_bytes, "cache holds %d bytes after %s" % (total, name)
    _, _, classes = cache_bytes(m)
    evictions = sum(c["evictions"] for c in classes.values())
    assert evictions > 0
    # What was evicted reads the same as before.
    assert json.loads(m.read("hosts.json")) == hypervisors


def test_default_bound_is_256_mib_and_holds_everything_here(mount):
    m = mount()
    m.read("hosts.json")
    m.read("flavors.json")
    total, bound, classes = cache_bytes(m)
    assert bound == 256 * 1024 * 1024
    assert sum(c["evictions"] for c in classes.values()) == 0
    assert total == sum(c["bytes"] for c in classes.values())


def test_too_small_cache_max_bytes_fails_the_mount(tmp_path, cloud):
    env = dict(os.environ, **cloud.env)
    binary = os.environ.get("INFRAFS_BIN", "/work/main/build/src/infrafs")
    result = subprocess.run([binary, "-f", "-o", "cache_max_bytes=1K", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cache_max_bytes" in result.stderr
