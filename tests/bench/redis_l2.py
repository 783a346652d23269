"""make bench, the Redis second-level (L2) cache part (-o redis=URL), each
figure against a baseline measured in the same run:

  1. backend requests per cache key per expiry with 5 mounts reading the
     same files under a short TTL, with a shared redis-server against the
     same 5 mounts without it (one fetch per mount per expiry);
  2. a cold read answered by Redis (an L2 hit on a fresh mount, after
     another mount fetched the data) against a cold read fetched from the
     backend (a fresh mount without Redis), at 48 and 5,000 hosts, also
     with 50 ms of latency per backend request; and the cold read with
     Redis on but without the entry (an L2 miss: lock, fetch, store);
  3. how long an invalidation written on one mount takes to show on
     another mount of the same cloud, against a local invalidate + read on
     a mount without Redis (where the other mount never sees the change
     before its TTL runs out).

Starts its own redis-server (on a free loopback port, no persistence) and
stops it by its PID; every mount it makes it unmounts. Run it alone with
`make bench BENCH_FLAGS=--only-redis`.
"""

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from tests.harness import TOP, Cloud, is_mounted, readloop, wait_until

HOSTS_ROUTE = "compute.hypervisors.detail"
SERVERS_ROUTE = "compute.servers.detail"
LONG_TTL = 3600


# ---- a redis-server of our own: the integration tests' launcher ----------

# tests/integration is no package: its modules are found by their folder.
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import redis_server  # noqa: E402  (after the path it is found on)


class RedisServer(redis_server.RedisServer):
    """redis_server.RedisServer (free loopback port, no persistence, stopped
    by PID) with what the bench does to its data."""

    def flush(self):
        self.command("FLUSHALL")

    def drop_entries(self, *data_classes):
        """Delete the stored entries of these classes
        (infrafs:1:<scope>:data:<class>..., include/infrafs/l2_format.h) and
        keep the rest, the class epochs included: the next read of such a
        class is an ordinary miss."""
        for data_class in data_classes:
            keys = self.command("KEYS", "infrafs:*:data:%s*" % data_class)
            if not keys:
                raise SystemExit("bench: no %s entry in Redis to drop (key format changed?)"
                                 % data_class)
            self.command("DEL", *keys)


# ---- mounts -----------------------------------------------------------------

class Mount:
    """One `infrafs -f -o ... MNT` of `cloud`; stop() unmounts it."""

    def __init__(self, infrafs, cloud, mnt, opts, log_path):
        self.mnt = mnt
        self.argv = [infrafs, "-f"]
        for opt in ["timeout=10", *opts]:
            self.argv += ["-o", opt]
        self.argv.append(mnt)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env.update(cloud.env)
        self.log_path = log_path
        self.proc = None

    def start(self):
        os.makedirs(self.mnt, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is not None or is_mounted(self.mnt), 15,
                   "the mount of " + self.mnt)
        if self.proc.poll() is not None:
            with open(self.log_path, "rb") as log:
                tail = log.read().decode(errors="replace").splitlines()[-10:]
            raise SystemExit("bench: %s exited with %s before mounting:\n%s"
                             % (" ".join(self.argv), self.proc.returncode, "\n".join(tail)))
        return self

    def stop(self):
        if self.proc is None:
            return
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt], check=False,
                           stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
        self.proc = None

    def path(self, rel):
        return os.path.join(self.mnt, rel)

    def read(self, rel):
        with open(self.path(rel), "rb") as f:
            return f.read()

    def write_control(self, name, data):
        fd = os.open(self.path(".infrafs/" + name), os.O_WRONLY)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def stats(self):
        return json.loads(self.read(".infrafs/stats.json"))


class Bench:
    """What every figure needs: the binary, a work directory, the
    redis-server and an ExitStack that unmounts and stops everything."""

    def __init__(self, args, stack, work):
        self.args = args
        self.stack = stack
        self.work = work
        self.infrafs = os.environ.get("INFRAFS_BIN",
                                      os.path.join(TOP, args.build, "src", "infrafs"))
        self.readloop_bin = os.path.join(TOP, args.build, "tests", "readloop")
        self.redis = RedisServer(work).start()
        stack.callback(self.redis.stop)
        self.serial = 0
        self.clouds = {}

    def cloud(self, hosts):
        """A fake cloud of `hosts` hypervisors, started once per run."""
        if hosts not in self.clouds:
            work = tempfile.mkdtemp(prefix="cloud%d." % hosts, dir=self.work)
            cloud = Cloud(hosts, work)
            self.stack.callback(cloud.stop)
            self.clouds[hosts] = cloud
        return self.clouds[hosts]

    def mount(self, cloud, *opts, redis=False):
        """A started mount; unmounted by stop() or at the end of the run."""
        self.serial += 1
        if redis:
            opts = opts + ("redis=" + self.redis.url,)
        m = Mount(self.infrafs, cloud, os.path.join(self.work, "mnt%d" % self.serial),
                  opts, os.path.join(self.work, "infrafs%d.log" % self.serial))
        self.stack.callback(m.stop)
        return m.start()

    def cold_read_ns(self, path):
        """One open+read+close, timed by the C loop (its start excluded)."""
        return readloop(self.readloop_bin, "read", path, 1)["p50_ns"]


def backend_requests(cloud, route):
    return cloud.counts().get(route, 0)


def median(values):
    return statistics.median(values) if values else float("nan")


# ---- 1. backend requests per key per expiry ------------------------------------

def requests_per_expiry(b, cloud, redis, grace, n_mounts, ttl, periods):
    """n_mounts mounts with ttl.hosts = ttl.servers = ttl (grace: None for
    the default, else grace.hosts = grace.servers = grace), a reader thread
    on each reading hosts.json, hosts/<h>/state and hosts/<h>/servers.json
    every 20 ms; the backend requests of the hosts and servers routes over
    `periods` TTLs after every mount has read once. Expiries are counted as
    window / TTL; with Redis, requests less than a quarter of a TTL apart
    are also grouped into bursts (one burst = one expiry of the fleet), so
    a second fetch of the same expiry shows as a burst of 2."""
    if redis:
        b.redis.flush()
    opts = ["ttl.hosts=%d" % ttl, "ttl.servers=%d" % ttl]
    if grace is not None:
        opts += ["grace.hosts=%d" % grace, "grace.servers=%d" % grace]
    mounts = [b.mount(cloud, *opts, redis=redis) for _ in range(n_mounts)]
    host = sorted(os.listdir(mounts[0].path("hosts")))[0]
    files = ["hosts.json", "hosts/%s/state" % host, "hosts/%s/servers.json" % host]
    stop = threading.Event()
    loops = [0] * n_mounts
    errors = [0] * n_mounts

    def reader(i):
        while not stop.is_set():
            for rel in files:
                try:
                    mounts[i].read(rel)
                except OSError:
                    errors[i] += 1
            loops[i] += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(n_mounts)]
    for t in threads:
        t.start()
    try:
        return _count_requests(cloud, mounts, ttl, periods, loops, errors, redis, grace)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for m in mounts:
            m.stop()


def _count_requests(cloud, mounts, ttl, periods, loops, errors, redis, grace):
    wait_until(lambda: all(loops), 30, "a first read on every mount")
    # The window starts half a TTL after a fetch of the hypervisor list, so
    # that (with Redis, where the mounts expire together) it holds exactly
    # `periods` expiries and no edge of it falls on one.
    seen = backend_requests(cloud, HOSTS_ROUTE)
    wait_until(lambda: backend_requests(cloud, HOSTS_ROUTE) > seen, 3 * ttl,
               "a fetch of the hypervisor list")
    time.sleep(ttl / 2)
    l2_before = [m.stats().get("l2", {}) for m in mounts]
    before = cloud.counts()
    t_start = time.time()
    time.sleep(periods * ttl)
    after = cloud.counts()
    t_end = time.time()
    l2_after = [m.stats().get("l2", {}) for m in mounts]
    log = cloud.call("GET", "/_fake/requests")[1]

    elapsed = t_end - t_start
    result = {"redis": redis, "grace": grace, "mounts": len(mounts), "ttl_s": ttl,
              "seconds": elapsed, "expiries": elapsed / ttl, "read_errors": sum(errors),
              "routes": {}}
    for route in (HOSTS_ROUTE, SERVERS_ROUTE):
        requests = after.get(route, 0) - before.get(route, 0)
        times = sorted(r["t"] for r in json.loads(log)
                       if r["route"] == route and t_start <= r["t"] <= t_end)
        # Requests less than a quarter of a TTL apart serve one expiry.
        bursts = []
        for t in times:
            if bursts and t - bursts[-1][-1] < ttl / 4:
                bursts[-1].append(t)
            else:
                bursts.append([t])
        result["routes"][route] = {
            "requests": requests,
            "per_key_per_expiry": requests / result["expiries"],
            "bursts": len(bursts),
            "largest_burst": max((len(x) for x in bursts), default=0),
            "burst_gaps_s": [round(y[0] - x[0], 3) for x, y in zip(bursts, bursts[1:])],
        }
    if redis:
        result["l2"] = {k: sum(a.get(k, 0) - c.get(k, 0) for a, c in zip(l2_after, l2_before))
                        for k in ("hits", "misses", "lock_waits", "lock_timeouts", "stores",
                                  "errors", "rejected")}
    return result


# ---- 2. L2 hit against a backend fetch -------------------------------------------

def cold_reads(b, hosts, reps, latency_ms):
    """Medians of cold reads of hosts.json on fresh mounts: an L2 hit (Redis
    holds the entry another mount fetched), a backend fetch (no Redis),
    and an L2 miss (Redis on, its hosts and flavors entries deleted first:
    the read looks it up, takes the lock, fetches, stores, unlocks). Each
    fresh mount first reads flavors.json, so that its root is looked up
    and, where it fetches, its timed read is not its first compute request
    (that one also asks for Nova's version document). Fresh mounts, as an
    invalidation would reach every mount of the scope and bump the epoch."""
    cloud = b.cloud(hosts)
    cloud.call("POST", "/_fake/latency", {"route": HOSTS_ROUTE, "ms": latency_ms})
    ttls = ("ttl.hosts=%d" % LONG_TTL, "ttl.flavors=%d" % LONG_TTL)
    b.redis.flush()
    filler = b.mount(cloud, *ttls, redis=True)
    filler.read("hosts.json")
    filler.read("flavors.json")
    filler.stop()
    samples = {"l2_hit": [], "backend": [], "l2_miss": []}
    loads = {"l2_hit": [], "backend": [], "l2_miss": []}
    hit_requests = 0
    l2_hits = 0
    for _ in range(reps):
        for kind in ("l2_hit", "backend", "l2_miss"):
            if kind == "l2_miss":
                # flavors too: its read then is the mount's first compute
                # fetch, as on the backend mount, not the timed one.
                b.redis.drop_entries("hosts", "flavors")
            m = b.mount(cloud, *ttls, redis=kind != "backend")
            m.read("flavors.json")
            before = backend_requests(cloud, HOSTS_ROUTE)
            samples[kind].append(b.cold_read_ns(m.path("hosts.json")))
            stats = m.stats()
            # The mount's one load of the class: Redis or the API, JSON
            # parsed, model built; the rest of the read renders and serves.
            loads[kind].append(stats["classes"]["hosts"]["fetch_ms_total"])
            if kind == "l2_hit":
                hit_requests += backend_requests(cloud, HOSTS_ROUTE) - before
                l2_hits += stats["l2"]["hits"]
            m.stop()
    cloud.call("POST", "/_fake/latency", {"route": HOSTS_ROUTE, "ms": 0})
    med = {k: median(v) / 1e6 for k, v in samples.items()}
    return {"hosts": hosts, "latency_ms": latency_ms, "reps": reps,
            "l2_hit_ms": med["l2_hit"], "backend_ms": med["backend"],
            "l2_miss_ms": med["l2_miss"],
            "hit_over_backend": med["l2_hit"] / med["backend"],
            "miss_over_backend": med["l2_miss"] / med["backend"],
            "load_ms": {k: median(v) for k, v in loads.items()},
            "backend_requests_during_hits": hit_requests, "l2_hits_on_hit_mounts": l2_hits,
            "samples_ms": {k: [round(x / 1e6, 2) for x in v] for k, v in samples.items()}}


# ---- 3. invalidation propagation -----------------------------------------------

def wait_for(m, rel, expected, limit_s):
    """Read m's file in a tight loop (no sleep) until it holds `expected`;
    seconds since the call, or None after limit_s."""
    start = time.perf_counter()
    while True:
        try:
            if m.read(rel) == expected:
                return time.perf_counter() - start
        except OSError:
            pass
        if time.perf_counter() - start > limit_s:
            return None


def propagation(b, reps):
    """A and B (Redis, long TTL) read hosts/<h>/state; the host changes in
    the fake; the path is written to A's .infrafs/invalidate; B is read in
    a tight loop until it shows the change. Baselines without Redis: the
    same on A alone (invalidate, read), and B, which keeps the old value
    until its TTL."""
    cloud = b.cloud(48)
    b.redis.flush()
    opts = ("ttl.hosts=%d" % LONG_TTL,)
    host = min(json.loads(cloud.call("GET", "/_fake/state")[1])["hypervisors"],
               key=lambda h: h["hypervisor_hostname"])
    name = host["hypervisor_hostname"]
    state = host["state"]
    rel = "hosts/%s/state" % name

    def flip():
        nonlocal state
        state = "down" if state == "up" else "up"
        cloud.call("POST", "/_fake/hosts", {"set": name, "state": state})
        return (state + "\n").encode()

    def run(a, other, n, limit_s):
        shown, writes, missed = [], [], 0
        for m in (a, other):
            m.read(rel)
        for _ in range(n):
            expected = flip()
            start = time.perf_counter()
            a.write_control("invalidate", rel + "\n")
            writes.append(time.perf_counter() - start)
            seen = wait_for(other, rel, expected, limit_s)
            if seen is None:
                missed += 1
            else:
                shown.append(seen + writes[-1])
            time.sleep(0.05)
        return shown, writes, missed

    a, bm = b.mount(cloud, *opts, redis=True), b.mount(cloud, *opts, redis=True)
    shown, writes, missed = run(a, bm, reps, 5.0)
    received = bm.stats()["l2"]["invalidations_received"]
    a.stop()
    bm.stop()

    # Without Redis: on the mount written to itself, and on another one.
    a, bm = b.mount(cloud, *opts), b.mount(cloud, *opts)
    local, local_writes, _ = run(a, a, reps, 5.0)
    _, _, other_missed = run(a, bm, 1, 1.0)
    a.stop()
    bm.stop()
    if state != host["state"]:
        flip()
    return {"reps": reps, "ttl_s": LONG_TTL,
            "median_ms": median(shown) * 1000, "max_ms": max(shown, default=float("nan")) * 1000,
            "missed": missed, "write_median_ms": median(writes) * 1000,
            "invalidations_received": received,
            "local_median_ms": median(local) * 1000,
            "local_max_ms": max(local, default=float("nan")) * 1000,
            "no_redis_other_seen_within_1s": other_missed == 0,
            "samples_ms": [round(x * 1000, 2) for x in shown]}


# ---- the whole part ------------------------------------------------------------

def bench(args):
    if shutil.which(redis_server.REDIS_SERVER) is None:
        return {"skipped": "no %s (apt-get install redis-server)" % redis_server.REDIS_SERVER}
    results = {}
    with tempfile.TemporaryDirectory(prefix="infrafs-bench-redis.") as work, \
            contextlib.ExitStack() as stack:
        b = Bench(args, stack, work)
        cloud = b.cloud(48)
        expiry = []
        for grace in (None, 0):
            for redis in (False, True):
                expiry.append(requests_per_expiry(b, cloud, redis, grace, args.redis_mounts,
                                                  args.redis_ttl, args.redis_periods))
        results["requests per expiry"] = expiry
        cold = []
        for hosts in (48, args.cold_hosts):
            for latency_ms in (0, 50):
                cold.append(cold_reads(b, hosts, args.redis_reps, latency_ms))
        results["cold reads"] = cold
        results["invalidation propagation"] = propagation(b, args.redis_propagation_reps)
    return results


def report(results):
    if "skipped" in results:
        print("redis L2: skipped, " + results["skipped"])
        return
    print("redis L2, backend requests per cache key per expiry (5 mounts reading the same "
          "files; route: requests, per key per TTL period):")
    for r in results["requests per expiry"]:
        grace = "default (= TTL)" if r["grace"] is None else "%d s" % r["grace"]
        line = ("  %-9s ttl %d s, grace %-15s %.1f periods:" %
                ("redis" if r["redis"] else "no redis", r["ttl_s"], grace, r["expiries"]))
        for route, x in r["routes"].items():
            line += " %s %d, %.2f" % (route.split(".")[1], x["requests"], x["per_key_per_expiry"])
            if r["redis"]:
                line += " (%d bursts, largest %d)" % (x["bursts"], x["largest_burst"])
            line += ";"
        if r["read_errors"]:
            line += " %d read errors" % r["read_errors"]
        print(line)
        if r["redis"]:
            print("      l2 over all mounts: " + ", ".join("%s %d" % kv for kv in r["l2"].items()))
    pairs = {}
    for r in results["requests per expiry"]:
        pairs.setdefault(r["grace"], {})[r["redis"]] = r
    for grace, pair in pairs.items():
        if True not in pair or False not in pair:
            continue
        ours, base = pair[True], pair[False]
        routes = list(ours["routes"])
        for name, keys in [(route, [route]) for route in routes] + [("all keys", routes)]:
            def per(r):
                return (sum(r["routes"][k]["requests"] for k in keys)
                        / (len(keys) * r["expiries"]))
            print("  grace %-7s %-28s %.2f requests per key per expiry with redis (target "
                  "1.00) vs %.2f without (%.2fx)"
                  % ("default" if grace is None else "%d s" % grace, name + ":", per(ours),
                     per(base), per(ours) / per(base) if per(base) else float("nan")))
    print("redis L2, cold read of hosts.json on a fresh mount (median of %d):"
          % results["cold reads"][0]["reps"])
    for r in results["cold reads"]:
        print("  %5d hosts, backend latency %2d ms: L2 hit %.1f ms vs backend fetch %.1f ms "
              "(%.2fx); L2 miss + fetch %.1f ms (%.2fx); backend requests during L2 hits: %d"
              % (r["hosts"], r["latency_ms"], r["l2_hit_ms"], r["backend_ms"],
                 r["hit_over_backend"], r["l2_miss_ms"], r["miss_over_backend"],
                 r["backend_requests_during_hits"]))
        print("  %5s of which the class's load (stats.json fetch_ms_total): L2 hit %.1f ms, "
              "backend %.1f ms, L2 miss + fetch %.1f ms"
              % ("", r["load_ms"]["l2_hit"], r["load_ms"]["backend"], r["load_ms"]["l2_miss"]))
    p = results["invalidation propagation"]
    print("redis L2, invalidation written on mount A until mount B shows the change "
          "(ttl.hosts %d s, %d reps): median %.1f ms, max %.1f ms, not within 5 s: %d "
          "(the write itself: median %.1f ms)"
          % (p["ttl_s"], p["reps"], p["median_ms"], p["max_ms"], p["missed"],
             p["write_median_ms"]))
    print("  without redis: A's own invalidate + read %.1f ms median (%.2fx for B with "
          "redis); B %s, n/a until its TTL runs out (up to %d s)"
          % (p["local_median_ms"], p["median_ms"] / p["local_median_ms"],
             "saw it within 1 s (unexpected)" if p["no_redis_other_seen_within_1s"]
             else "did not see it within 1 s", p["ttl_s"]))


def add_arguments(parser):
    parser.add_argument("--redis-mounts", type=int, default=5)
    parser.add_argument("--redis-ttl", type=int, default=2,
                        help="ttl.hosts and ttl.servers of the requests-per-expiry runs")
    parser.add_argument("--redis-periods", type=int, default=4,
                        help="TTL periods counted in each requests-per-expiry run")
    parser.add_argument("--redis-reps", type=int, default=7,
                        help="repetitions of each cold read")
    parser.add_argument("--redis-propagation-reps", type=int, default=20)
