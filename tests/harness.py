"""What the tools run outside pytest (make bench, soak, valgrind) share: the
fake cloud as a subprocess, waiting with a deadline, mount detection and
the C timing loop. The pytest suite has its own, richer helpers
(tests/integration/helpers.py)."""

import json
import os
import subprocess
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def is_mounted(path):
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == path and line.split()[2] == "fuse.infrafs"
                   for line in mounts)


class Cloud:
    def __init__(self, hosts, work):
        self.openrc = os.path.join(work, "openrc")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "tests.fakecloud", "--port", "0", "--hosts", str(hosts),
             "--openrc", self.openrc], cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"the fake cloud did not start: {line!r}")
        self.url = line.split("listening on", 1)[1].strip()
        self.env = {}
        with open(self.openrc) as rc:
            for raw in rc:
                if raw.startswith("export "):
                    key, _, value = raw[len("export "):].strip().partition("=")
                    self.env[key] = value.strip("'\"")

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers, response.read()

    def control(self, method, path, body=None):
        """A call to the fake's control API, /_fake/<path>; its JSON answer."""
        return json.loads(self.call(method, "/_fake/" + path, body)[1])

    def counts(self):
        return json.loads(self.call("GET", "/_fake/counts")[1])

    def token(self):
        env = self.env
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": env["OS_USERNAME"], "domain": {"name": env["OS_USER_DOMAIN_NAME"]},
            "password": env["OS_PASSWORD"]}}}, "scope": {"project": {
                "name": env["OS_PROJECT_NAME"],
                "domain": {"name": env["OS_PROJECT_DOMAIN_NAME"]}}}}}
        headers, _ = self.call("POST", "/identity/v3/auth/tokens", body)
        return headers["X-Subject-Token"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def readloop(binary, mode, path, count):
    out = subprocess.run([binary, mode, path, str(count)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)
