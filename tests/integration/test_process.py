"""The daemon as a process (issue 5, "Hardening"): stopping signals unmount
cleanly, kill -9 leaves a dead mount that fusermount3 clears (or that
-o auto_unmount clears by itself), bad mount points fail before anything
else happens, and the daemon's open file descriptors stay flat over
thousands of operations.

Lazy unmount with an open file is test_lifecycle.py's
test_lazy_unmount_with_an_open_file_exits_zero_after_close."""

import errno
import os
import signal
import stat
import subprocess
import threading

import pytest

import helpers
from helpers import counts_delta, errno_of, wait_until


def mounted_at(path):
    """How many mounts /proc/mounts lists at `path` (stacked ones count)."""
    target = os.path.realpath(path)
    count = 0
    with open("/proc/mounts") as fh:
        for line in fh:
            point = line.split()[1].replace("\\040", " ").replace("\\011", "\t") \
                .replace("\\012", "\n").replace("\\134", "\\")
            if point == target:
                count += 1
    return count


def daemon_env(cloud, tmp_path):
    """The environment the `mount` fixture gives the daemon."""
    no_config = tmp_path / "no-config"
    no_config.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(cloud.env, XDG_CONFIG_HOME=str(no_config), G_DEBUG="fatal-warnings")
    return env


def unmount_all(path):
    """Unmount everything at `path`: fusermount3 -u, lazily if busy, and
    umount -l for what fusermount3 refuses. Returns what it ran."""
    ran = []
    for _ in range(4):
        if not mounted_at(path):
            break
        for argv in (["fusermount3", "-u", path], ["fusermount3", "-uz", path],
                     ["umount", "-l", path]):
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=helpers.STOP_TIMEOUT_S)
            ran.append((argv, result.returncode, result.stderr.strip()))
            if result.returncode == 0:
                break
    return ran


def stop_process(proc):
    """Wait for a process this test started; kill only its PID if it does
    not exit. Returns its exit code."""
    try:
        return proc.wait(helpers.STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(helpers.STOP_TIMEOUT_S)


# ---- stopping signals ----------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_a_stopping_signal_unmounts_and_exits_zero(mount, sig):
    m = mount()
    assert m.read("hosts.json")
    m.proc.send_signal(sig)
    code = stop_process(m.proc)
    assert code == 0, m.describe("exit code %s after %s" % (code, sig.name))
    assert mounted_at(m.mountpoint) == 0, open("/proc/mounts").read()
    assert os.listdir(m.mountpoint) == []
    assert "unmounted %s" % m.mountpoint in m.log()
    assert m.bad_log_lines() == []


def test_sigterm_while_a_read_waits_for_a_hung_request(mount, cloud):
    """A fetch under way is not cut short: the reader gets EIO when the
    request's time runs out (-o timeout), and then the daemon unmounts and
    exits 0."""
    m = mount("retries=0", "max_stale=0", timeout_s=3)
    cloud.fail("compute.hypervisors.detail", mode="hang", count=-1)
    result = {}

    def read():
        result["errno"] = errno_of(m.read, "hosts.json")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_until(lambda: cloud.counts().get("compute.hypervisors.detail"), timeout=10,
               what="the hypervisor request to reach the fake cloud")
    m.proc.send_signal(signal.SIGTERM)
    code = stop_process(m.proc)
    reader.join(helpers.FS_CALL_TIMEOUT_S)
    assert code == 0, m.describe("exit code %s" % code)
    assert result == {"errno": errno.EIO}, result
    assert mounted_at(m.mountpoint) == 0
    assert "unmounted %s" % m.mountpoint in m.log()


# ---- kill -9 ---------------------------------------------------------------------

def test_kill_9_leaves_a_dead_mount_that_fusermount3_clears(cloud, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    m = helpers.Mount(cloud, str(mountpoint), ["timeout=10"], str(tmp_path / "infrafs.log"),
                      extra_env={"XDG_CONFIG_HOME": str(tmp_path)})
    m.start()
    try:
        assert m.read("README").startswith(b"infrafs")
        m.proc.kill()
        assert stop_process(m.proc) == -signal.SIGKILL
        # Still listed, but nobody answers.
        assert m.mounted()
        # (The kernel may still answer a stat of the root from its cache.)
        assert errno_of(os.listdir, m.mountpoint) == errno.ENOTCONN
        assert errno_of(m.read, ".infrafs/stats") == errno.ENOTCONN
        assert errno_of(m.read, "hosts.json") == errno.ENOTCONN
        cleared = subprocess.run(["fusermount3", "-u", m.mountpoint], capture_output=True,
                                 text=True, timeout=helpers.STOP_TIMEOUT_S)
        assert cleared.returncode == 0, cleared.stderr
        assert mounted_at(m.mountpoint) == 0
        st = os.stat(m.mountpoint)
        assert stat.S_ISDIR(st.st_mode) and os.listdir(m.mountpoint) == []
        assert st.st_dev == os.stat(str(tmp_path)).st_dev, "a plain directory again"
    finally:
        unmount_all(m.mountpoint)
        m.stop()
    assert "unmounted" not in m.log()   # it had no chance to


def test_kill_9_with_auto_unmount_unmounts_by_itself(cloud, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    m = helpers.Mount(cloud, str(mountpoint), ["timeout=10", "auto_unmount"],
                      str(tmp_path / "infrafs.log"),
                      extra_env={"XDG_CONFIG_HOME": str(tmp_path)})
    m.start()
    try:
        assert m.read("README").startswith(b"infrafs")
        m.proc.kill()
        assert stop_process(m.proc) == -signal.SIGKILL
        wait_until(lambda: mounted_at(m.mountpoint) == 0, timeout=10,
                   what="fusermount3 --auto-unmount to unmount")
        assert os.listdir(m.mountpoint) == []
    finally:
        unmount_all(m.mountpoint)
        m.stop()


# ---- bad mount points ------------------------------------------------------------

def run_daemon(cloud, tmp_path, mountpoint):
    """infrafs -f MOUNTPOINT, expected to fail; returns (exit code, its
    output). If it mounts after all, unmounts the mount it made, stops it
    (by PID) and fails the test."""
    output_path = tmp_path / "daemon.out"
    before = mounted_at(mountpoint)
    with open(output_path, "wb") as output:
        proc = subprocess.Popen([helpers.INFRAFS_BIN, "-f", "-o", "timeout=10", mountpoint],
                                env=daemon_env(cloud, tmp_path), stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or mounted_at(mountpoint) > before,
                   timeout=helpers.START_TIMEOUT_S, what="infrafs to exit or mount")
    finally:
        made_a_mount = mounted_at(mountpoint) > before
        if made_a_mount:
            # fusermount3 -u takes off the topmost mount: the one it made.
            subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True,
                           timeout=helpers.STOP_TIMEOUT_S)
        code = stop_process(proc)
    text = output_path.read_text(errors="replace")
    if made_a_mount:
        pytest.fail("infrafs mounted on %s (exit %s after unmounting it); output:\n%s"
                    % (mountpoint, code, text))
    return code, text


def test_a_missing_mount_point_fails_before_contacting_keystone(cloud, tmp_path):
    missing = str(tmp_path / "no" / "such-dir")
    code, output = run_daemon(cloud, tmp_path, missing)
    assert code == 1, output
    assert missing in output and "No such file or directory" in output, output
    assert mounted_at(missing) == 0
    assert "mounted on" not in output
    # Checked before anything else: no token was asked for.
    assert "identity.tokens" not in cloud.counts()


def test_a_regular_file_as_mount_point_is_refused(cloud, tmp_path):
    # libfuse would mount there (with a non-directory root) and every
    # access would then fail with EIO.
    path = tmp_path / "a-file"
    path.write_text("data\n")
    code, output = run_daemon(cloud, tmp_path, str(path))
    assert code == 1, output
    assert str(path) in output and "not a directory" in output, output
    assert mounted_at(str(path)) == 0
    assert path.read_text() == "data\n"
    assert "identity.tokens" not in cloud.counts()


def test_mounting_on_an_infrafs_mount_point_is_refused(mount, cloud, tmp_path):
    # As root, mount(2) would stack a second mount on the first, hiding it
    # while its daemon runs on.
    first = mount()
    expected = first.read("README")
    before = cloud.counts()
    code, output = run_daemon(cloud, tmp_path, first.mountpoint)
    assert code == 1, output
    assert first.mountpoint in output and "already mounted" in output, output
    assert mounted_at(first.mountpoint) == 1
    assert first.read("README") == expected
    assert counts_delta(before, cloud.counts()) == {}, "it went on to Keystone"


def test_a_non_empty_directory_is_mounted_over_and_comes_back(mount):
    """libfuse 3 mounts over a non-empty directory (its -o nonempty is
    gone): the mount hides the files while mounted, and they are there
    again, untouched, after unmounting."""
    m = mount()
    assert m.stop() == 0
    hidden = os.path.join(m.mountpoint, "hidden.txt")
    with open(hidden, "w") as fh:
        fh.write("underneath\n")
    m.start()                       # the fixture unmounts and checks it
    assert "hidden.txt" not in m.listdir()
    assert "README" in m.listdir()
    assert errno_of(os.stat, hidden) == errno.ENOENT
    assert m.stop() == 0
    assert mounted_at(m.mountpoint) == 0
    with open(hidden) as fh:
        assert fh.read() == "underneath\n"


# ---- file descriptors --------------------------------------------------------------

def open_fds(pid):
    """The targets of /proc/PID/fd, sorted."""
    fd_dir = "/proc/%d/fd" % pid
    targets = []
    for name in os.listdir(fd_dir):
        try:
            targets.append(os.readlink(os.path.join(fd_dir, name)))
        except OSError:   # closed meanwhile
            pass
    return sorted(targets)


def test_open_descriptors_stay_flat_over_thousands_of_operations(mount, cloud):
    m = mount("rate_limit=0", "retries=0")
    hosts = m.listdir("hosts")

    def round_of_operations(i, faults):
        host = hosts[i % len(hosts)]
        m.invalidate("hosts")
        m.read("hosts/%s/state" % host)                 # a fetch
        m.read(".infrafs/stats")                         # rendered anew
        m.read("live/hosts/%s/state" % host)             # a fetch of its own
        m.read("hosts/%s/servers.json" % host)           # another entry
        m.listdir("quotas")
        if faults and i % 10 == 0:                       # failing fetches
            for fault in ({"mode": "drop"}, {"status": 503}):
                cloud.fail("compute.hypervisors.detail", count=1, **fault)
                m.invalidate("hosts")
                m.read("hosts.json")                     # the stale copy
                cloud.clear_failures()

    def rounds(start, count, faults=True):
        for i in range(start, start + count):
            round_of_operations(i, faults)

    def parallel_reads(k):
        # Reads only: concurrent control writes are test_hostile_writes.py's.
        for i in range(150):
            host = hosts[(k * 7 + i) % len(hosts)]
            m.read("live/hosts/%s/state" % host)
            m.read(".infrafs/stats.json")
            m.listdir("hosts/%s" % host)

    def parallel(n):
        workers = [threading.Thread(target=parallel_reads, args=(k,), daemon=True)
                   for k in range(n)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not any(worker.is_alive() for worker in workers)

    # Warm up: the HTTP connections and the threads exist afterwards.
    rounds(0, 20)
    parallel(4)
    before = open_fds(m.proc.pid)
    rounds(20, 400)
    parallel(4)          # more worker threads, more connections
    rounds(420, 100)     # back to one reader: idle connections may close
    after = open_fds(m.proc.pid)
    requests = sum(cloud.counts().values())
    assert requests > 1500, requests
    assert len(after) <= len(before) + 4, (before, after)
    assert m.proc.poll() is None
