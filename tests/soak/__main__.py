"""make soak: readers, invalidations and backend chaos together, for minutes.

Starts the fake cloud and a mount with short TTLs, then for SOAK_SECONDS
runs at once:
  - reader threads reading random files: hosts/<h>/state and status,
    hosts.json, aggregates.json, aggregates/<a>/hosts, flavors.json;
  - an invalidator writing random patterns to .infrafs/invalidate and
    .infrafs/refresh;
  - a chaos thread flipping hosts up and down (through the fake's control
    API, as Nova would see it), and arming failures (503s, garbage,
    truncated bodies, hangs, dropped connections) and latency for a while.
Every byte read is checked against what the fake cloud ever served: a
host's state file must hold a state that host has had; hosts.json must
parse, and each hypervisor in it must be in a state it has had. The daemon's
RSS and open descriptors are sampled after a warm-up and at the end: they
must stay flat. Prints the figures; exits non-zero on any wrong byte, a
dead daemon, or growth beyond the allowance.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from tests.harness import TOP, Cloud, is_mounted, wait_until

FAULT_ROUTES = ["compute.hypervisors.detail", "compute.aggregates", "compute.flavors.detail"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Soak:
    def __init__(self, cloud, mnt, readers, seed):
        self.cloud = cloud
        self.mnt = mnt
        self.deadline = 0.0
        self.readers = readers
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.states = {}          # hypervisor hostname -> states it has had
        self.service = {}         # service host -> hypervisor hostname
        self.reads = 0
        self.checked = 0
        self.errors = 0           # EIO and the like: allowed under chaos
        self.wrong = []           # bytes no version had: never allowed
        self.faults = 0
        self.flips = 0
        self.invalidations = 0
        state = cloud.control("GET", "state")
        for hyp in state["hypervisors"]:
            self.states[hyp["hypervisor_hostname"]] = {hyp["state"]}
            self.service[hyp["service_host"]] = hyp["hypervisor_hostname"]
        self.aggregates = [a["name"] for a in state["aggregates"]]

    def running(self):
        return time.monotonic() < self.deadline

    def path(self, rel):
        return os.path.join(self.mnt, rel)

    def note_wrong(self, what):
        with self.lock:
            if len(self.wrong) < 20:
                self.wrong.append(what)
            else:
                self.wrong.append("...")

    def check_state(self, host, data):
        text = data.decode(errors="replace")
        with self.lock:
            known = set(self.states.get(host, ()))
        if text.rstrip("\n") not in known or not text.endswith("\n"):
            self.note_wrong("hosts/%s/state: %r, known %s" % (host, text, sorted(known)))

    def check_hosts_json(self, data):
        try:
            hypervisors = json.loads(data)
        except ValueError as exc:
            self.note_wrong("hosts.json does not parse: %s (%d bytes)" % (exc, len(data)))
            return
        with self.lock:
            known = {h: set(s) for h, s in self.states.items()}
        for hyp in hypervisors:
            name = hyp.get("hypervisor_hostname")
            if name in known and hyp.get("state") not in known[name]:
                self.note_wrong("hosts.json: %s is %s, known %s" % (
                    name, hyp.get("state"), sorted(known[name])))

    def reader(self, rng):
        hosts = sorted(self.states)
        while self.running():
            choice = rng.random()
            try:
                if choice < 0.55:
                    host = rng.choice(hosts)
                    with open(self.path("hosts/%s/state" % host), "rb") as f:
                        data = f.read()
                    self.check_state(host, data)
                elif choice < 0.65:
                    host = rng.choice(hosts)
                    with open(self.path("hosts/%s/status" % host), "rb") as f:
                        data = f.read()
                    if data not in (b"enabled\n", b"disabled\n"):
                        self.note_wrong("hosts/%s/status: %r" % (host, data))
                elif choice < 0.8:
                    with open(self.path("hosts.json"), "rb") as f:
                        data = f.read()
                    self.check_hosts_json(data)
                elif choice < 0.9:
                    with open(self.path("aggregates/%s/hosts" % rng.choice(self.aggregates)),
                              "rb") as f:
                        data = f.read()
                    for line in data.decode().splitlines():
                        if line not in self.service:
                            self.note_wrong("aggregate host %r unknown" % line)
                else:
                    name = rng.choice(["aggregates.json", "flavors.json"])
                    with open(self.path(name), "rb") as f:
                        json.loads(f.read())
                with self.lock:
                    self.reads += 1
                    self.checked += 1
            except OSError:
                with self.lock:
                    self.reads += 1
                    self.errors += 1
            except ValueError as exc:
                self.note_wrong("bad JSON: %s" % exc)

    def invalidator(self, rng):
        patterns = ["hosts", "*", "aggregates", "flavors", "hosts/*h100*", "*l40*"]
        while self.running():
            target = "refresh" if rng.random() < 0.2 else "invalidate"
            try:
                with open(self.path(".infrafs/" + target), "w") as f:
                    f.write(rng.choice(patterns) + "\n")
            except OSError:
                pass  # refresh fails with EIO while the backend does
            with self.lock:
                self.invalidations += 1
            time.sleep(rng.uniform(0.05, 0.3))

    def chaos(self, rng):
        hosts = sorted(self.states)
        while self.running():
            roll = rng.random()
            if roll < 0.6:
                host = rng.choice(hosts)
                state = rng.choice(["up", "down"])
                # Recorded before the change: a reader may see it at once.
                with self.lock:
                    self.states[host].add(state)
                self.cloud.control("POST", "hosts", {"set": host, "state": state})
                self.flips += 1
            elif roll < 0.85:
                route = rng.choice(FAULT_ROUTES)
                mode = rng.choice(["status", "garbage", "truncated", "drop", "hang"])
                rule = {"route": route, "count": rng.randint(1, 4)}
                if mode == "status":
                    rule["status"] = rng.choice([500, 502, 503, 429])
                else:
                    rule["mode"] = mode
                    if mode == "hang":
                        rule["count"] = 1
                self.cloud.control("POST", "fail", rule)
                self.faults += 1
            else:
                self.cloud.control("POST", "latency",
                                   {"route": rng.choice(FAULT_ROUTES),
                                    "ms": rng.choice([0, 0, 50, 300])})
            time.sleep(rng.uniform(0.1, 0.5))
        # Let hung requests go: the run is over.
        self.cloud.control("POST", "reset")

    def run(self, seconds):
        """One round of everything at once; counters add up over rounds,
        and what every host has been is remembered across them."""
        self.deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=self.reader, args=(random.Random(self.random.random()),))
                   for _ in range(self.readers)]
        threads.append(threading.Thread(target=self.invalidator,
                                        args=(random.Random(self.random.random()),)))
        threads.append(threading.Thread(target=self.chaos,
                                        args=(random.Random(self.random.random()),)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("SOAK_SECONDS", "180")))
    parser.add_argument("--hosts", type=int, default=48)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    infrafs = os.environ.get("INFRAFS_BIN", os.path.join(TOP, args.build, "src", "infrafs"))
    failed = False
    with tempfile.TemporaryDirectory(prefix="infrafs-soak.") as work:
        cloud = Cloud(args.hosts, work)
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        log_path = os.path.join(work, "infrafs.log")
        log = open(log_path, "w")
        env = dict(os.environ, **cloud.env)
        daemon = subprocess.Popen([infrafs, "-f", "-o", "ttl.hosts=2,ttl.aggregates=3,"
                                   "ttl.flavors=3,timeout=3,retries=1", mnt],
                                  env=env, stderr=log)
        try:
            wait_until(lambda: is_mounted(mnt), 15, "the mount")
            # Warm up: every file once, so that the baseline holds the caches.
            soak = Soak(cloud, mnt, args.readers, args.seed)
            soak.run(10)
            rss_start, fds_start = rss_kib(daemon.pid), fd_count(daemon.pid)
            started = time.monotonic()
            samples = []
            sampling = threading.Event()

            def sample():
                while not sampling.wait(args.seconds / 8):
                    samples.append((time.monotonic() - started, rss_kib(daemon.pid),
                                    fd_count(daemon.pid)))

            sampler = threading.Thread(target=sample)
            sampler.start()
            soak.run(args.seconds)
            sampling.set()
            sampler.join()
            elapsed = time.monotonic() - started
            alive = daemon.poll() is None and is_mounted(mnt)
            rss_end = rss_kib(daemon.pid) if alive else 0
            fds_end = fd_count(daemon.pid) if alive else 0
        finally:
            subprocess.run(["fusermount3", "-u", mnt], check=False)
            try:
                code = daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = daemon.wait()
            cloud.stop()
            log.close()
        print("soak: %.0f s after a 10 s warm-up, %d readers, seed %d"
              % (elapsed, args.readers, args.seed))
        print("reads, warm-up included: %d (%d checked against what the fake served, %d failed with an error "
              "under chaos)" % (soak.reads, soak.checked, soak.errors))
        print("chaos: %d host state flips, %d fault rules, %d invalidations/refreshes"
              % (soak.flips, soak.faults, soak.invalidations))
        print("daemon RSS: %d KiB after warm-up, %d KiB at the end (%+.1f%%)"
              % (rss_start, rss_end, 100.0 * (rss_end - rss_start) / max(rss_start, 1)))
        print("daemon open descriptors: %d after warm-up, %d at the end" % (fds_start, fds_end))
        print("RSS KiB / descriptors along the run: " + ", ".join(
            "%.0fs %d/%d" % s for s in samples))
        print("daemon exit status: %s" % code)
        if soak.wrong:
            failed = True
            print("WRONG BYTES:\n  " + "\n  ".join(soak.wrong))
        if not alive or code != 0:
            failed = True
            print("the daemon died or exited badly; log tail:")
            with open(log_path) as f:
                print("".join(f.readlines()[-30:]))
        # Flat: RSS may settle (allocator arenas) but not keep growing.
        if rss_end > rss_start * 1.5 + 8192 or fds_end > fds_start + 8:
            failed = True
            print("RSS or descriptors grew beyond the allowance")
        if soak.checked < 1000:
            failed = True
            print("too few reads were checked")
    print("soak: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
