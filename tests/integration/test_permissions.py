"""Who may do what on a mount (issue 5, "Hardening"). infrafs always mounts
with default_permissions, so the kernel checks modes: everything belongs to
the mounting user (root here), data files are 0444, directories 0555, and
the control files invalidate, refresh, ttl and warm are 0600. Without
-o allow_other nobody else may touch the mount at all; with it, others
read data and statistics but can neither read nor write those four.

A system user of the test's own (infrafs-test-<random>, made with useradd,
removed with userdel) tries things through setpriv, which becomes that
user and then runs a small Python script: the process started is the one
that does the work, so it can be stopped by its PID."""

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import pytest

import helpers
from helpers import counts_delta, wait_until

# Runs as the other user: each step is [op, path, arg]; prints a JSON list
# with, per step, ["ok", value] or [errno name, null].
AS_USER_SCRIPT = r"""
import errno, hashlib, json, os, sys
out = []
for op, path, arg in json.loads(sys.argv[1]):
    try:
        if op == "list":
            value = sorted(os.listdir(path))
        elif op == "stat":
            st = os.stat(path)
            value = [oct(st.st_mode), st.st_uid]
        elif op == "read":
            with open(path, "rb") as fh:
                value = hashlib.sha256(fh.read()).hexdigest()
        elif op == "write":
            fd = os.open(path, os.O_WRONLY | (os.O_TRUNC if arg.get("trunc") else 0))
            try:
                value = os.write(fd, arg["data"].encode())
            finally:
                os.close(fd)
        elif op == "rdwr":
            os.close(os.open(path, os.O_RDWR))
            value = None
        elif op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
            value = None
        elif op == "mkdir":
            os.mkdir(path)
            value = None
        else:
            raise ValueError(op)
        out.append(["ok", value])
    except OSError as exc:
        out.append([errno.errorcode.get(exc.errno, str(exc.errno)), None])
print(json.dumps(out))
"""

CONTROL_FILES = ("invalidate", "refresh", "ttl", "warm")
VALID_LINES = {"invalidate": "hosts\n", "refresh": "hosts\n", "ttl": "hosts 5\n", "warm": "start"}


def _require_tools():
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip("needs %s" % tool)
    if os.geteuid() != 0:
        pytest.skip("needs root, to add a user")


@pytest.fixture(scope="module")
def other_user():
    """A system user of this module's own: (name, uid, gid)."""
    _require_tools()
    name = "infrafs-test-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", name], check=True,
                   capture_output=True, timeout=30)
    try:
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0
        yield name, entry.pw_uid, entry.pw_gid
    finally:
        removed = subprocess.run(["userdel", name], capture_output=True, text=True, timeout=30)
    assert removed.returncode == 0, removed.stderr


def as_user(user, steps):
    """Run the steps as `user`; returns [(outcome, value)], outcome "ok" or
    an errno name."""
    name, uid, gid = user
    result = subprocess.run(
        ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
         "/usr/bin/python3", "-I", "-c", AS_USER_SCRIPT, json.dumps(steps)],
        capture_output=True, text=True, timeout=helpers.FS_CALL_TIMEOUT_S + 10)
    assert result.returncode == 0, (result.returncode, result.stderr)
    return [tuple(step) for step in json.loads(result.stdout)]


@pytest.fixture
def open_mount(request, tmp_path):
    """Like `mount`, but the mount point is in a directory every user may
    enter (pytest's own temporary directories are root's alone, so a
    refusal there would say nothing about infrafs). Same teardown checks:
    unmounted, exit 0, clean log."""
    if not os.access(helpers.INFRAFS_BIN, os.X_OK):
        pytest.fail("no infrafs binary at %s" % helpers.INFRAFS_BIN, pytrace=False)
    base = tempfile.mkdtemp(prefix="infrafs-perm-")
    os.chmod(base, 0o755)
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    mounts = []

    def make(*opts, cloud=None):
        cloud = cloud or request.getfixturevalue("cloud")
        mountpoint = os.path.join(base, "mnt%d" % len(mounts))
        os.mkdir(mountpoint)
        os.chmod(mountpoint, 0o755)
        m = helpers.Mount(cloud, mountpoint, ["timeout=10", *opts],
                          str(tmp_path / ("infrafs%d.log" % len(mounts))),
                          extra_env={"XDG_CONFIG_HOME": str(no_config)})
        mounts.append(m)
        return m.start()

    try:
        yield make
        helpers.stop_mounts_and_check(request, mounts)
    finally:
        for m in mounts:
            if m.proc is not None and m.proc.poll() is None:
                m.stop()
        if not any(m.mounted() for m in mounts):
            shutil.rmtree(base)


def ttls(m):
    return dict(line.split() for line in m.lines(".infrafs/ttl"))


def denied_steps(m):
    """Everything the other user may not do when the mount is closed to
    others, and writes to the control files when it is open."""
    steps = [["write", m.path(".infrafs/" + name), {"data": VALID_LINES[name]}]
             for name in CONTROL_FILES]
    steps += [["write", m.path(".infrafs/" + name), {"data": VALID_LINES[name], "trunc": True}]
              for name in CONTROL_FILES]
    steps += [["rdwr", m.path(".infrafs/" + name), None] for name in CONTROL_FILES]
    steps += [["read", m.path(".infrafs/" + name), None] for name in CONTROL_FILES]
    return steps


def test_without_allow_other_another_user_is_refused_everything(open_mount, cloud, other_user):
    m = open_mount()
    m.read("hosts.json")
    ttl_before = m.text(".infrafs/ttl")
    before = cloud.counts()
    parent = os.path.dirname(m.mountpoint)
    steps = [["list", parent, None],                       # the way there is open
             ["list", m.mountpoint, None],
             ["stat", m.mountpoint, None],
             ["read", m.path("README"), None],
             ["read", m.path("hosts.json"), None],
             ["list", m.path("hosts"), None],
             ["read", m.path(".infrafs/stats"), None],
             ["stat", m.path(".infrafs/ttl"), None],
             ["read", m.path("live/hosts.json"), None]] + denied_steps(m)
    got = as_user(other_user, steps)
    assert got[0][0] == "ok" and os.path.basename(m.mountpoint) in got[0][1]
    refused = [(step[0], step[1], outcome) for step, (outcome, _) in zip(steps[1:], got[1:])
               if outcome != "EACCES"]
    assert not refused, "not refused with EACCES: %r" % refused
    # Nothing reached the daemon's data or the cloud: TTLs, warmer and
    # cache are as they were, and hosts.json is still cached.
    assert m.text(".infrafs/ttl") == ttl_before
    assert m.lines(".infrafs/warm") == ["state off"]
    m.read("hosts.json")
    assert counts_delta(before, cloud.counts()) == {}
    # The mounting user is not affected.
    assert m.write_control("ttl", "hosts 9\n") == len("hosts 9\n")
    assert ttls(m)["hosts"] == "9"


def test_with_allow_other_another_user_reads_data_and_statistics(open_mount, cloud, other_user):
    m = open_mount("allow_other")
    digests = {rel: hashlib.sha256(m.read(rel)).hexdigest()
               for rel in ("README", "hosts.json", "flavors.json")}
    hosts = m.listdir("hosts")
    steps = [["list", m.mountpoint, None],
             ["list", m.path("hosts"), None],
             ["read", m.path(".infrafs/stats"), None],
             ["read", m.path(".infrafs/stats.json"), None],
             ["read", m.path(".infrafs/metrics"), None],
             ["read", m.path(".infrafs/version"), None],
             ["read", m.path("live/hosts/%s/state" % hosts[0]), None],
             ["stat", m.path(".infrafs/ttl"), None],
             ["stat", m.path(".infrafs/stats"), None]]
    steps += [["read", m.path(rel), None] for rel in digests]
    got = as_user(other_user, steps)
    assert all(outcome == "ok" for outcome, _ in got), list(zip([s[:2] for s in steps], got))
    assert got[0][1] == m.listdir()
    assert got[1][1] == hosts
    assert got[7][1] == [oct(0o100600), 0]      # ttl: root's, 0600
    assert got[8][1] == [oct(0o100444), 0]      # stats: root's, 0444
    assert [value for _, value in got[9:]] == list(digests.values())


def test_with_allow_other_another_user_cannot_use_the_control_files(open_mount, cloud,
                                                                     other_user):
    m = open_mount("allow_other")
    m.read("hosts.json")
    m.read("flavors.json")
    ttl_before = m.text(".infrafs/ttl")
    kernel_before = m.stats()["kernel_requests"]
    before = cloud.counts()
    steps = denied_steps(m) + [
        ["create", m.path("new-file"), None],
        ["create", m.path(".infrafs/new-file"), None],
        ["mkdir", m.path("new-dir"), None],
        ["write", m.path(".infrafs/stats"), {"data": "x\n"}],
    ]
    got = as_user(other_user, steps)
    refused = [(step[0], step[1], outcome) for step, (outcome, _) in zip(steps, got)
               if outcome != "EACCES"]
    assert not refused, "not refused with EACCES: %r" % refused
    # The kernel refused them: no write reached infrafs, and nothing changed.
    kernel_after = m.stats()["kernel_requests"]
    assert kernel_after["write"] == kernel_before["write"]
    assert m.text(".infrafs/ttl") == ttl_before
    assert m.lines(".infrafs/warm") == ["state off"]
    m.read("hosts.json")
    m.read("flavors.json")
    assert counts_delta(before, cloud.counts()) == {}, "an invalidate or refresh got through"
    # The mounting user still may: each of the four works for root.
    assert m.write_control("ttl", "hosts 5\n") == len("hosts 5\n")
    assert ttls(m)["hosts"] == "5"
    m.invalidate("flavors")
    m.read("flavors.json")
    assert counts_delta(before, cloud.counts()) == cloud.flavors_fetch_counts()
    assert m.write_control("refresh", "hosts\n") == len("hosts\n")
    assert counts_delta(before, cloud.counts()).get("compute.hypervisors.detail") == 1
    assert m.write_control("warm", "start") == len("start")
    wait_until(lambda: m.lines(".infrafs/warm") == ["state done"], timeout=10,
               what="the warmer, with nothing to warm, to be done")


def test_with_allow_root_another_user_is_still_refused(open_mount, cloud, other_user):
    m = open_mount("allow_root")
    steps = [["list", m.mountpoint, None], ["read", m.path("README"), None],
             ["write", m.path(".infrafs/ttl"), {"data": "hosts 5\n"}]]
    got = as_user(other_user, steps)
    assert [outcome for outcome, _ in got] == ["EACCES"] * len(steps)
    assert ttls(m)["hosts"] == "60"
