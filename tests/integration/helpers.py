"""Helpers for the infrafs integration tests: the fake cloud process, a tiny
OpenStack client (stdlib urllib), the infrafs mount under test, and waiting
for conditions with a deadline.

Owns processes it starts (by PID) and nothing else. Knows the fake cloud
only through its CLI, its /_fake/ control API and the real OpenStack API.
"""

import errno
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRAFS_BIN = os.environ.get("INFRAFS_BIN", os.path.join(REPO, "build", "src", "infrafs"))
FAKECLOUD_PYTHON = "/usr/bin/python3"

# The highest Nova microversion infrafs asks for (BACKEND_COMPUTE_MAX_* in
# backend.h). It uses the highest the cloud offers up to this one; our own API
# reads use the same (FakeCloud.compute_microversion), so both see the same
# object shapes.
COMPUTE_MICROVERSION = "2.90"

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 15.0
FS_CALL_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 0.02

# Log lines of a level that must never appear in a clean run.
BAD_LOG_LINE = re.compile(r"infrafs\[(warning|critical|error)\]")
# infrafs's info line when it has picked Nova's microversion (backend.c).
NEGOTIATION_LOG_LINE = re.compile(r"infrafs\[info\]: Nova at \S+ offers microversion (\S+); "
                                  r"using (\d+\.\d+)$", re.M)


class DeadlineExceeded(AssertionError):
    pass


def wait_until(pred, timeout=10.0, interval=POLL_INTERVAL_S, what=None):
    """Call pred() until it returns something truthy and return that; fail
    after `timeout` seconds. This polls a condition; it is not a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DeadlineExceeded("condition not met within %.1f s: %s"
                                   % (timeout, what or getattr(pred, "__name__", pred)))
        time.sleep(interval)


def call_with_deadline(fn, *args, timeout=FS_CALL_TIMEOUT_S, what=None):
    """Run fn(*args) on a helper thread so that a hung FUSE request fails the
    test instead of hanging the suite. Exceptions propagate unchanged."""
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # re-raised on the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DeadlineExceeded("%s did not return within %.1f s"
                               % (what or getattr(fn, "__name__", fn), timeout))
    if "error" in result:
        raise result["error"]
    return result.get("value")


def parse_openrc(path):
    """The OS_* variables of an openrc made of `export NAME=VALUE` lines."""
    env = {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line)
            if words and words[0] == "export":
                words = words[1:]
            for word in words:
                name, sep, value = word.partition("=")
                if sep and name.startswith("OS_"):
                    env[name] = value
    return env


def microversion_tuple(text):
    """"2.61" -> (2, 61), for comparing microversions."""
    major, _, minor = str(text).partition(".")
    return int(major), int(minor)


def negotiated_microversion(offered):
    """What infrafs uses against a Nova that offers up to `offered`."""
    return min(offered, COMPUTE_MICROVERSION, key=microversion_tuple)


def counts_delta(before, after):
    """Route name -> increase, only routes that increased."""
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


# --------------------------------------------------------------------------
# A tiny OpenStack client, for reading what the fake cloud serves and for
# changing it through the real API.

class ApiError(Exception):
    def __init__(self, method, url, status, body):
        super().__init__("%s %s: HTTP %s: %s" % (method, url, status, body[:300]))
        self.status = status


def http_json(method, url, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """One request; returns (status, headers, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status, response_headers = response.status, response.headers
    except urllib.error.HTTPError as exc:
        raise ApiError(method, url, exc.code, exc.read().decode(errors="replace")) from None
    return status, response_headers, (json.loads(raw) if raw.strip() else None)


class OpenStackClient:
    """Password-authenticated Keystone v3 token plus JSON calls to Nova and
    Keystone. Every call is a real request and shows in the fake's counters,
    so tests make them before taking a counter baseline."""

    def __init__(self, env, compute_microversion=COMPUTE_MICROVERSION):
        self.env = dict(env)
        self.compute_microversion = compute_microversion
        self._token = None
        self._endpoints = {}

    def authenticate(self):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.env["OS_USERNAME"],
                "domain": {"name": self.env.get("OS_USER_DOMAIN_NAME", "Default")},
                "password": self.env["OS_PASSWORD"]}}},
            "scope": {"project": {
                "name": self.env["OS_PROJECT_NAME"],
                "domain": {"name": self.env.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
        url = self.env["OS_AUTH_URL"].rstrip("/") + "/auth/tokens"
        _, headers, token = http_json("POST", url, body)
        self._token = headers["X-Subject-Token"]
        interface = self.env.get("OS_INTERFACE", "public")
        for service in token["token"].get("catalog", []):
            for endpoint in service["endpoints"]:
                if endpoint["interface"] == interface:
                    self._endpoints[service["type"]] = endpoint["url"].rstrip("/")
        return self._token

    def token(self):
        return self._token or self.authenticate()

    def call(self, service, method, path, body=None):
        self.token()
        url = self._endpoints[service] + path
        headers = {"X-Auth-Token": self._token}
        if service == "compute":
            headers["OpenStack-API-Version"] = "compute " + self.compute_microversion
        try:
            return http_json(method, url, body, headers)[2]
        except ApiError as exc:
            if exc.status != 401:
                raise
        self.authenticate()  # the token expired: once more with a new one
        headers["X-Auth-Token"] = self._token
        return http_json(method, url, body, headers)[2]

    def _nova_list(self, path, key):
        items, marker = [], None
        while True:
            page_path = path
            if marker:
                page_path += ("&" if "?" in path else "?") + "marker=" + \
                    urllib.parse.quote(marker)
            page = self.call("compute", "GET", page_path)
            items.extend(page[key])
            nexts = [link["href"] for link in page.get(key + "_links", [])
                     if link.get("rel") == "next"]
            if not nexts or not page[key]:
                return items
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(nexts[0]).query)
            marker = query["marker"][0]

    def compute_at_least(self, version):
        return microversion_tuple(self.compute_microversion) >= microversion_tuple(version)

    # Reads, in the shapes infrafs shows.
    def aggregates(self):
        return self.call("compute", "GET", "/os-aggregates")["aggregates"]

    def aggregate(self, name):
        return next(a for a in self.aggregates() if a["name"] == name)

    def hypervisors(self):
        return self._nova_list("/os-hypervisors/detail", "hypervisors")

    def flavors(self):
        """Each with "extra_specs", as infrafs shows them: inline from 2.61,
        before that one request per flavor, as infrafs makes them."""
        flavors = self._nova_list("/flavors/detail?is_public=None", "flavors")
        if not self.compute_at_least("2.61"):
            for flavor in flavors:
                flavor["extra_specs"] = self.call(
                    "compute", "GET", "/flavors/%s/os-extra_specs"
                    % urllib.parse.quote(flavor["id"], safe=""))["extra_specs"]
        return flavors

    def servers_on(self, node):
        return self._nova_list("/servers/detail?all_tenants=1&node=%s"
                               % urllib.parse.quote(node, safe=""), "servers")

    def projects(self):
        return self.call("identity", "GET", "/projects")["projects"]

    def project(self, name):
        return next(p for p in self.projects() if p["name"] == name)

    def quota_detail(self, project_id):
        return self.call("compute", "GET", "/os-quota-sets/%s/detail" % project_id)["quota_set"]

    # Changes, through the real API.
    def aggregate_add_host(self, aggregate_id, host):
        return self.call("compute", "POST", "/os-aggregates/%s/action" % aggregate_id,
                         {"add_host": {"host": host}})["aggregate"]

    def aggregate_set_metadata(self, aggregate_id, metadata):
        return self.call("compute", "POST", "/os-aggregates/%s/action" % aggregate_id,
                         {"set_metadata": {"metadata": metadata}})["aggregate"]

    def quota_update(self, project_id, **limits):
        return self.call("compute", "PUT", "/os-quota-sets/%s" % project_id,
                         {"quota_set": limits})["quota_set"]

    def flavor_set_extra_specs(self, flavor_id, specs):
        return self.call("compute", "POST", "/flavors/%s/os-extra_specs" % flavor_id,
                         {"extra_specs": specs})["extra_specs"]


# --------------------------------------------------------------------------
# The fake cloud process.

class FakeCloud:
    """`python3 -m tests.fakecloud` as a subprocess, with its control API.

    max_microversion: the highest compute microversion it offers (its
    --max-microversion), None for the fake's own default. Once started,
    `max_microversion` is what it offers and `compute_microversion` what
    infrafs and `api` use with it."""

    def __init__(self, workdir, hosts=48, extra_args=(), max_microversion=None):
        self.workdir = workdir
        self.openrc = os.path.join(workdir, "openrc")
        self.stderr_path = os.path.join(workdir, "fakecloud.stderr")
        self.argv = [FAKECLOUD_PYTHON, "-m", "tests.fakecloud", "--port", "0",
                     "--hosts", str(hosts), "--openrc", self.openrc, *extra_args]
        if max_microversion is not None:
            self.argv += ["--max-microversion", str(max_microversion)]
        self.proc = None
        self.url = None
        self.env = None
        self.api = None
        self.max_microversion = None
        self.compute_microversion = None

    def start(self):
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        line = call_with_deadline(self.proc.stdout.readline, timeout=START_TIMEOUT_S,
                                  what="fake cloud's first stdout line")
        match = re.match(rb"fakecloud listening on (http://127\.0\.0\.1:(\d+))\s*$", line)
        if not match:
            self.stop()
            raise AssertionError("fake cloud did not start: first line %r; stderr:\n%s"
                                 % (line, self.stderr_tail()))
        self.url = match.group(1).decode()
        self.env = parse_openrc(self.openrc)
        assert self.env.get("OS_AUTH_URL", "").startswith(self.url), self.env
        # From the control API: not counted, unlike Nova's version document.
        self.max_microversion = self.control("GET", "state")["max_microversion"]
        self.compute_microversion = negotiated_microversion(self.max_microversion)
        self.api = OpenStackClient(self.env, self.compute_microversion)
        return self

    def compute_at_least(self, version):
        """Whether infrafs uses compute `version` or later with this cloud."""
        return microversion_tuple(self.compute_microversion) >= microversion_tuple(version)

    def flavors_fetch_counts(self):
        """Route -> requests that one fetch of the flavors class costs
        infrafs: the list, plus before 2.61 (no inline extra_specs) one
        os-extra_specs request per flavor. Reads /_fake/state, which is not
        counted."""
        counts = {"compute.flavors.detail": 1}
        if not self.compute_at_least("2.61"):
            counts["compute.flavor.extra_specs"] = len(self.control("GET", "state")["flavors"])
        return counts

    @property
    def command_line(self):
        """How to start this cloud by hand (a new port; rewrites the openrc)."""
        return "(cd %s && %s &)" % (shlex.quote(REPO), " ".join(shlex.quote(a) for a in self.argv))

    @property
    def password(self):
        return self.env["OS_PASSWORD"]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, lines=30):
        try:
            with open(self.stderr_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """Terminate by PID and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        self.proc.stdout.close()
        self._stderr.close()
        return self.proc.returncode

    # /_fake/ control API
    def control(self, method, path, body=None):
        return http_json(method, self.url + "/_fake/" + path, body)[2]

    def counts(self):
        return self.control("GET", "counts")

    def requests(self):
        return self.control("GET", "requests")

    def reset(self):
        self.control("POST", "reset")

    def fail(self, route, status=503, count=1, mode=None, **extra):
        body = {"route": route, "count": count, **extra}
        if mode is None:
            body["status"] = status
        else:
            body["mode"] = mode
        return self.control("POST", "fail", body)

    def clear_failures(self, route="*"):
        return self.control("POST", "fail", {"route": route, "mode": "clear"})

    def latency(self, route, ms):
        return self.control("POST", "latency", {"route": route, "ms": ms})

    def expire_tokens(self):
        return self.control("POST", "token/expire")

    def hosts(self, body):
        return self.control("POST", "hosts", body)


# --------------------------------------------------------------------------
# The infrafs mount.

def mount_fstype(mountpoint):
    """fstype of the mount at `mountpoint` in /proc/self/mountinfo, or None."""
    target = os.path.realpath(mountpoint)
    fstype = None
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            sep = fields.index("-")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if point == target:
                fstype = fields[sep + 1]  # the last one is on top
    return fstype


class Mount:
    """One `infrafs -f` process and its mount point."""

    def __init__(self, cloud, mountpoint, opts, log_path, extra_env=None, extra_args=None):
        self.cloud = cloud
        self.mountpoint = mountpoint
        self.opts = list(opts)
        self.log_path = log_path
        self.argv = [INFRAFS_BIN, "-f", *(extra_args or [])]
        for opt in self.opts:
            self.argv += ["-o", opt]
        self.argv.append(mountpoint)
        self.extra_env = {"G_DEBUG": "fatal-warnings", **(extra_env or {})}
        self.proc = None
        self.exit_code = None

    @property
    def command_line(self):
        """A command that reproduces this mount by hand (no secrets in it)."""
        env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in self.extra_env.items())
        return "(set -a; . %s; set +a; %s %s)" % (
            shlex.quote(self.cloud.openrc), env, " ".join(shlex.quote(a) for a in self.argv))

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.cloud.env)
        env.update(self.extra_env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

        def mounted_or_dead():
            return self.proc.poll() is not None or \
                mount_fstype(self.mountpoint) == "fuse.infrafs"

        try:
            wait_until(mounted_or_dead, START_TIMEOUT_S, what="infrafs mounted")
        except DeadlineExceeded:
            self.stop()
            raise AssertionError(self.describe("infrafs did not mount within %.0f s"
                                               % START_TIMEOUT_S)) from None
        if self.proc.poll() is not None:
            self.stop()
            raise AssertionError(self.describe("infrafs exited with %s before mounting"
                                               % self.proc.returncode))
        return self

    def mounted(self):
        return mount_fstype(self.mountpoint) == "fuse.infrafs"

    def stop(self):
        """Unmount (lazily if need be), wait for the daemon, kill only its
        PID if it does not go. Returns the exit code (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None or self.mounted():
            result = subprocess.run(["fusermount3", "-u", self.mountpoint],
                                    capture_output=True, timeout=STOP_TIMEOUT_S)
            if result.returncode != 0 and self.mounted():
                subprocess.run(["fusermount3", "-uz", self.mountpoint],
                               capture_output=True, timeout=STOP_TIMEOUT_S)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
            if self.mounted():
                subprocess.run(["fusermount3", "-uz", self.mountpoint],
                               capture_output=True, timeout=STOP_TIMEOUT_S)
        if not self._log.closed:
            self._log.close()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def bad_log_lines(self):
        return [line for line in self.log().splitlines() if BAD_LOG_LINE.search(line)]

    def compute_microversion(self):
        """(offered, used) from the log line of Nova's microversion
        negotiation, or None before the first compute fetch."""
        found = NEGOTIATION_LOG_LINE.findall(self.log())
        assert len(found) <= 1, "negotiated more than once: %r" % found
        return found[0] if found else None

    def describe(self, headline, tail_lines=40):
        tail = "\n".join(self.log().splitlines()[-tail_lines:])
        return ("%s\n  fake cloud: %s\n  command: %s\n  log (%s), last %d lines:\n%s"
                % (headline, self.cloud.command_line, self.command_line, self.log_path,
                   tail_lines, tail))

    # File system access, relative to the mount, each call with a deadline.
    def path(self, rel=""):
        return os.path.join(self.mountpoint, rel)

    def read(self, rel):
        def read_file():
            with open(self.path(rel), "rb") as fh:
                return fh.read()
        return call_with_deadline(read_file, what="read %s" % rel)

    def text(self, rel):
        return self.read(rel).decode()

    def stats(self):
        """.infrafs/stats.json, parsed (reading it costs a few kernel requests)."""
        return json.loads(self.read(".infrafs/stats.json"))

    def lines(self, rel):
        return self.text(rel).splitlines()

    def stat(self, rel):
        return call_with_deadline(os.stat, self.path(rel), what="stat %s" % rel)

    def listdir(self, rel=""):
        return sorted(call_with_deadline(os.listdir, self.path(rel), what="ls %s" % rel))

    def write_control(self, name, data):
        """One write(2) of `data` to .infrafs/<name>; returns bytes written.
        Errors of the write (or of close, which applies a last line without
        newline) raise OSError."""
        if isinstance(data, str):
            data = data.encode()

        def write():
            fd = os.open(self.path(".infrafs/" + name), os.O_WRONLY)
            try:
                return os.write(fd, data)
            finally:
                os.close(fd)
        return call_with_deadline(write, what="write .infrafs/%s" % name)

    def invalidate(self, *patterns):
        data = "".join(p + "\n" for p in patterns)
        written = self.write_control("invalidate", data)
        assert written == len(data.encode())

    def sh(self, script, timeout=FS_CALL_TIMEOUT_S):
        """Run a bash script in the mount point; returns CompletedProcess."""
        return subprocess.run(["bash", "-c", script], cwd=self.mountpoint,
                              capture_output=True, text=True, timeout=timeout)


def errno_of(fn, *args):
    """The errno of the OSError fn(*args) raises, or None if it succeeds."""
    try:
        fn(*args)
    except OSError as exc:
        return exc.errno
    return None


def errno_name(value):
    return errno.errorcode.get(value, str(value)) if value is not None else "no error"


def stop_mounts_and_check(request, mounts):
    """Fixture teardown for mounts a test started: unmount each (also when
    the test failed), then require exit code 0, nothing left mounted and a
    log without warning/critical/error lines; print the logs of a failed
    test."""
    problems = []
    for m in reversed(mounts):
        if m.proc is None:
            continue
        code = m.stop()
        if m.mounted():
            problems.append(m.describe("mount point still mounted after teardown"))
        if code != 0:
            problems.append(m.describe("infrafs exited with %s, not 0" % code))
        bad = m.bad_log_lines()
        if bad:
            problems.append(m.describe("log has %d warning/critical/error line(s):\n    %s"
                                       % (len(bad), "\n    ".join(bad))))
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed and not problems:
        for m in mounts:
            print(m.describe("test failed; mount %s" % m.mountpoint))
    assert not problems, "\n\n".join(problems)
