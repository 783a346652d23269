"""Mounting and unmounting: credentials are checked at mount, unmount
leaves nothing behind, and secrets never reach the log or the tree."""

import os
import shlex
import subprocess
import time

import pytest

import helpers


def test_unmount_leaves_no_mount_and_daemon_exits_zero(mount):
    m = mount()
    assert m.read("README").startswith(b"infrafs")
    code = m.stop()
    assert code == 0, m.describe("exit code %s" % code)
    assert helpers.mount_fstype(m.mountpoint) is None
    assert os.listdir(m.mountpoint) == []
    assert "unmounted" in m.log()


def test_lazy_unmount_with_an_open_file_exits_zero_after_close(mount):
    m = mount()
    expected = m.read("hosts.json")
    fh = open(m.path("hosts.json"), "rb")
    try:
        head = fh.read(10)
        busy = subprocess.run(["fusermount3", "-u", m.mountpoint], capture_output=True)
        assert busy.returncode != 0, "an open file keeps the mount busy"
        lazy = subprocess.run(["fusermount3", "-uz", m.mountpoint], capture_output=True)
        assert lazy.returncode == 0, lazy.stderr
        assert helpers.mount_fstype(m.mountpoint) is None
        assert head + fh.read() == expected, "the open file still reads its snapshot"
    finally:
        fh.close()
    code = m.stop()
    assert code == 0, m.describe("exit code %s" % code)


def test_wrong_password_fails_the_mount(cloud, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(cloud.env, OS_PASSWORD="not-the-password")
    result = subprocess.run([helpers.INFRAFS_BIN, "-f", str(mountpoint)], env=env,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert helpers.mount_fstype(str(mountpoint)) is None
    assert "not-the-password" not in result.stderr + result.stdout
    assert result.stderr.strip(), "says why"


def test_version_file_names_the_build(mount):
    m = mount()
    version = subprocess.run([helpers.INFRAFS_BIN, "--version"], capture_output=True,
                             text=True, timeout=10)
    assert version.returncode == 0
    assert m.lines(".infrafs/version")[0] == version.stdout.splitlines()[0]


def test_readme_lists_the_ttl_of_every_class(mount):
    m = mount("ttl.hosts=7", "ttl.quotas=99")
    readme = m.text("README")
    ttls = dict(line.split() for line in readme.splitlines()
                if len(line.split()) == 2 and line.split()[1].isdigit())
    assert ttls["hosts"] == "7"
    assert ttls["quotas"] == "99"
    assert ttls["aggregates"] == "3600"


def test_password_and_tokens_never_in_log_or_any_file(mount, private_cloud):
    password = private_cloud.password
    # No rate limit: grep reads everything, live/ included, where every
    # path walk fetches.
    m = mount("rate_limit=0", cloud=private_cloud)
    m.read("hosts.json")
    private_cloud.expire_tokens()          # forces a second authentication
    m.invalidate("*")
    m.read("hosts.json")
    private_cloud.fail("compute.flavors.detail", count=-1, status=401)
    assert helpers.errno_of(m.read, "flavors.json") is not None
    private_cloud.clear_failures()
    assert m.text(".infrafs/errors") != ""
    tokens = private_cloud.control("GET", "tokens")["issued"]
    assert len(tokens) >= 2
    secrets = [password, *tokens]
    patterns = " ".join("-e %s" % shlex.quote(s) for s in secrets)
    result = m.sh("grep -r -l -F %s ." % patterns, timeout=60)
    assert result.returncode == 1, (result.stdout, result.stderr)   # 1: read all, no match
    assert result.stdout == "" and result.stderr == ""
    log = m.log()
    errors = m.text(".infrafs/errors")
    with open("/proc/%d/cmdline" % m.proc.pid, "rb") as f:
        cmdline = f.read().decode(errors="replace")
    for secret in secrets:
        assert secret not in log
        assert secret not in errors
        assert secret not in cmdline
        assert secret not in " ".join(m.argv)


@pytest.fixture
def short_token_cloud(tmp_path, fake_max_microversion):
    """A fake cloud whose tokens live 4 s."""
    workdir = tmp_path / "short-tokens"
    workdir.mkdir()
    cloud = helpers.FakeCloud(str(workdir), extra_args=("--token-ttl", "4"),
                              max_microversion=fake_max_microversion).start()
    yield cloud
    assert cloud.stop() == 0


def test_a_short_lived_token_is_reused_and_replaced_before_it_expires(short_token_cloud, mount):
    # infrafs reuses one token for many requests, and replaces it shortly
    # before it expires, so no request meets a 401.
    cloud = short_token_cloud
    m = mount("ttl.aggregates=0", "grace.aggregates=0", cloud=cloud)
    deadline = time.monotonic() + 7.0
    while time.monotonic() < deadline:
        m.read("aggregates.json")
        time.sleep(0.05)  # a reader's pace, not synchronisation
    log = cloud.requests()
    fetches = [r for r in log if r["route"] == "compute.aggregates"]
    logins = [r for r in log if r["route"] == "identity.tokens"]
    assert len(fetches) >= 40
    assert 2 <= len(logins) <= 5, len(logins)
    assert not [r for r in log if r["status"] == 401]
