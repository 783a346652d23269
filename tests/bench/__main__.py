"""make bench: infrafs speed against baselines measured in the same run.

Starts the fake cloud and a mount, then measures, with the C timing loop
build/tests/readloop:
  - warm open+read+close of a small file, against the same bytes on tmpfs;
  - warm stat, against tmpfs;
  - warm read of a whole collection (hosts.json), against tmpfs;
  - with bigger clouds (5,000 and 10,000 hypervisors, pages of 1,000): a
    cold read of hosts.json against the fake cloud's own time to serve the
    same page chain directly, and (10,000) a warm `ls -l hosts` against
    tmpfs;
and checks that the warm loops cost the backend, and the daemon, no
request at all. Then, with a redis-server of its own (redis_l2.py; left
out with --skip-redis, alone with --only-redis): backend requests per key
per expiry of 5 mounts sharing Redis against 5 without, a cold read
answered by Redis against one fetched from the backend, and how soon an
invalidation written on one mount shows on another.
Ratios, not absolute numbers, are the result: the machine changes, the
baseline in the same run moves with it.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from tests.bench import redis_l2
from tests.harness import TOP, Cloud, is_mounted, readloop, wait_until


def fetch_all_pages(cloud, token):
    """The backend's own serial page chain for the hypervisor list."""
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.90"}
    path = "/compute/v2.1/os-hypervisors/detail"
    pages = 0
    while path:
        _, body = cloud.call("GET", path, headers=headers)
        page = json.loads(body)
        pages += 1
        nxt = [link["href"] for link in page.get("hypervisors_links", [])
               if link.get("rel") == "next"]
        path = None
        if nxt and page["hypervisors"]:
            marker = urllib.parse.parse_qs(urllib.parse.urlparse(nxt[0]).query)["marker"][0]
            path = "/compute/v2.1/os-hypervisors/detail?marker=" + marker
    return pages


def coalescing(cloud, mnt, path, readers):
    """N cold readers of one file at once, with 300 ms of backend latency:
    how many requests reach the backend."""
    import threading
    cloud.call("POST", "/_fake/latency", {"route": "compute.hypervisors.detail", "ms": 300})
    with open(os.path.join(mnt, ".infrafs", "invalidate"), "w") as f:
        f.write("hosts\n")
    before = cloud.counts().get("compute.hypervisors.detail", 0)
    fetches_before = hosts_fetches(mnt)
    barrier = threading.Barrier(readers)
    sizes = []

    def reader():
        barrier.wait()
        with open(path, "rb") as f:
            sizes.append(len(f.read()))

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cloud.call("POST", "/_fake/latency", {"route": "compute.hypervisors.detail", "ms": 0})
    requests = cloud.counts().get("compute.hypervisors.detail", 0) - before
    return {"readers": readers, "requests": requests,
            "fetches": hosts_fetches(mnt) - fetches_before,
            "identical_sizes": len(set(sizes)) == 1}


def hosts_fetches(mnt):
    """Fetches of the hosts class so far (one fetch = one page chain)."""
    with open(os.path.join(mnt, ".infrafs", "stats.json")) as f:
        return json.load(f)["classes"]["hosts"]["fetches"]


def ls_long(mnt, shm):
    """Warm `ls -l hosts` against the same directories on tmpfs."""
    hosts = os.path.join(mnt, "hosts")
    twin = os.path.join(shm, "hosts")
    for name in os.listdir(hosts):
        os.makedirs(os.path.join(twin, name))

    def timed(root):
        best = None
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(["ls", "-l", root], check=True, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        return best

    timed(hosts)  # warm: every host looked up once
    ours, base = timed(hosts), timed(twin)
    return {"entries": len(os.listdir(hosts)), "infrafs_s": ours, "tmpfs_s": base,
            "ratio": ours / base}


def kernel_requests(mnt):
    """The daemon's count of kernel requests by kind (reading it costs a few)."""
    with open(os.path.join(mnt, ".infrafs", "stats.json")) as f:
        return json.load(f)["kernel_requests"]


@contextlib.contextmanager
def mounted(args, hosts):
    """A fake cloud of `hosts` hypervisors and a mount of it: (cloud, mnt, shm)."""
    infrafs = os.environ.get("INFRAFS_BIN", os.path.join(TOP, args.build, "src", "infrafs"))
    with tempfile.TemporaryDirectory(prefix="infrafs-bench.") as work, \
            tempfile.TemporaryDirectory(prefix="infrafs-bench-tmpfs.", dir="/dev/shm") as shm:
        cloud = Cloud(hosts, work)
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        log = open(os.path.join(work, "infrafs.log"), "w")
        env = dict(os.environ, **cloud.env)
        daemon = subprocess.Popen([infrafs, "-f", mnt], env=env, stderr=log)
        try:
            wait_until(lambda: is_mounted(mnt), 15, "the mount")
            yield cloud, mnt, shm
        finally:
            subprocess.run(["fusermount3", "-u", mnt], check=False)
            daemon.wait(timeout=30)
            cloud.stop()
            log.close()


def fleet(args, hosts, with_ls):
    """A big cloud: a cold hosts.json against the backend's own serial page
    chain, and (with_ls) a warm `ls -l hosts` against the same directories
    on tmpfs."""
    results = {}
    with mounted(args, hosts) as (cloud, mnt, shm):
        large = os.path.join(mnt, "hosts.json")
        token = cloud.token()
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            pages = fetch_all_pages(cloud, token)
            samples.append(time.perf_counter() - start)
        direct_s = sorted(samples)[len(samples) // 2]
        cold = []
        for _ in range(3):
            with open(os.path.join(mnt, ".infrafs", "invalidate"), "w") as f:
                f.write("hosts\n")
            start = time.perf_counter()
            with open(large, "rb") as f:
                f.read()
            cold.append(time.perf_counter() - start)
        cold_s = sorted(cold)[len(cold) // 2]
        results["cold hosts.json (%d hosts)" % hosts] = {
            "infrafs_s": cold_s, "backend_direct_s": direct_s, "ratio": cold_s / direct_s,
            "hosts": hosts, "pages": pages}
        if with_ls:
            results["ls -l hosts"] = ls_long(mnt, shm)
    return results


def bench(args):
    results = {}
    if not args.only_redis:
        results.update(bench_base(args))
    if not args.skip_redis:
        results["redis l2"] = redis_l2.bench(args)
    return results


def bench_base(args):
    readloop_bin = os.path.join(TOP, args.build, "tests", "readloop")
    results = {}
    with mounted(args, args.hosts) as (cloud, mnt, shm):
        host = sorted(os.listdir(os.path.join(mnt, "hosts")))[0]
        small = os.path.join(mnt, "hosts", host, "state")
        large = os.path.join(mnt, "hosts.json")
        # The twins sit at the same depth as the originals: every path
        # component costs a lookup in the kernel, on tmpfs as on infrafs.
        tmpfs_small = os.path.join(shm, "hosts", host, "state")
        tmpfs_large = os.path.join(shm, "hosts.json")
        os.makedirs(os.path.dirname(tmpfs_small))
        for src, dst in ((small, tmpfs_small), (large, tmpfs_large)):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())

        before = cloud.counts()
        requests_before = kernel_requests(mnt)
        warm_calls = 0
        for name, mode, path, baseline, count in (
                ("warm open+read+close, small file", "read", small, tmpfs_small, args.count),
                ("warm stat", "stat", small, tmpfs_small, args.count),
                ("warm open+read+close, hosts.json", "read", large, tmpfs_large,
                 args.count // 10)):
            ours = readloop(readloop_bin, mode, path, count)
            warm_calls += count
            base = readloop(readloop_bin, mode, baseline, count)
            results[name] = {
                "infrafs": ours, "tmpfs": base,
                "ratio_p50": ours["p50_ns"] / base["p50_ns"],
                "ratio_rate": base["per_second"] / ours["per_second"],
            }
        after = cloud.counts()
        requests_after = kernel_requests(mnt)
        results["daemon requests during warm loops"] = {
            "calls": warm_calls,
            "requests": {kind: requests_after[kind] - requests_before[kind]
                         for kind in requests_after
                         if requests_after[kind] != requests_before[kind]}}
        results["backend requests during warm loops"] = sum(after.values()) - sum(
            before.values())

        results["coalescing"] = coalescing(cloud, mnt, large, readers=args.readers)
        with open(os.path.join(mnt, ".infrafs", "stats.json")) as f:
            stats = json.load(f)
        results["cache bytes per host"] = stats["classes"]["hosts"]["bytes"] / args.hosts
    results.update(fleet(args, args.cold_hosts, with_ls=False))
    results.update(fleet(args, args.fleet_hosts, with_ls=True))
    return results


def report(results):
    if "coalescing" in results:
        report_base(results)
    if "redis l2" in results:
        redis_l2.report(results["redis l2"])


def report_base(results):
    print(f"{'benchmark':<36} {'infrafs p50':>12} {'tmpfs p50':>10} {'ratio':>7} "
          f"{'infrafs/s':>10} {'tmpfs/s':>10}")
    for name, r in results.items():
        if isinstance(r, dict) and "tmpfs" in r:
            print(f"{name:<36} {r['infrafs']['p50_ns'] / 1000:>10.1f}us "
                  f"{r['tmpfs']['p50_ns'] / 1000:>8.1f}us {r['ratio_p50']:>6.2f}x "
                  f"{r['infrafs']['per_second']:>10.0f} {r['tmpfs']['per_second']:>10.0f}")
    for name, cold in results.items():
        if name.startswith("cold hosts.json"):
            print(f"cold hosts.json ({cold['hosts']} hosts, {cold['pages']} pages): "
                  f"{cold['infrafs_s'] * 1000:.1f} ms through infrafs vs "
                  f"{cold['backend_direct_s'] * 1000:.1f} ms for the backend's own serial "
                  f"page chain ({cold['ratio']:.2f}x)")
    print(f"backend requests during the warm loops: "
          f"{results['backend requests during warm loops']}")
    warm = results["daemon requests during warm loops"]
    print(f"daemon requests during the {warm['calls']} warm calls: "
          f"{warm['requests'] or 'none'} (including the two reads of stats.json "
          f"that measure them)")
    co = results["coalescing"]
    print(f"coalescing: {co['readers']} concurrent cold readers of hosts.json (300 ms backend "
          f"latency) -> {co['fetches']} fetch(es), {co['requests']} page request(s); "
          f"identical bytes: {co['identical_sizes']}")
    print(f"cache bytes per cached host: {results['cache bytes per host']:.0f}")
    ls = results["ls -l hosts"]
    print(f"warm ls -l hosts ({ls['entries']} entries): {ls['infrafs_s'] * 1000:.1f} ms vs "
          f"{ls['tmpfs_s'] * 1000:.1f} ms on tmpfs ({ls['ratio']:.2f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--hosts", type=int, default=48)
    parser.add_argument("--cold-hosts", type=int, default=5000,
                        help="hypervisors of the cloud for the cold hosts.json read")
    parser.add_argument("--fleet-hosts", type=int, default=10000,
                        help="hypervisors of the big cloud (cold read, ls -l)")
    parser.add_argument("--build", default="build")
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--skip-redis", action="store_true",
                        help="leave out the Redis L2 figures (tests/bench/redis_l2.py)")
    parser.add_argument("--only-redis", action="store_true",
                        help="only the Redis L2 figures")
    redis_l2.add_arguments(parser)
    args = parser.parse_args()
    results = bench(args)
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
