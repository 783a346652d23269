"""Fixtures: the fake cloud (shared, reset before each test, or private for
tests that change its data) and `mount`, a factory of infrafs mounts that
always unmounts, stops the PID it started, and requires exit code 0 and a
clean log.

INFRAFS_FAKE_MAX_MICROVERSION=X.Y makes every fake cloud of the session
offer compute microversions up to X.Y (its --max-microversion); unset or
empty, the fake's own default."""

import os
import re
import shutil

import pytest

import helpers
import redis_server


FAKE_MAX_MICROVERSION_VAR = "INFRAFS_FAKE_MAX_MICROVERSION"


def _fake_max_microversion():
    """INFRAFS_FAKE_MAX_MICROVERSION, or None for the fake's default."""
    value = os.environ.get(FAKE_MAX_MICROVERSION_VAR, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"2\.\d+", value) or helpers.microversion_tuple(value) < (2, 1):
        raise pytest.UsageError("%s=%r: expected a compute microversion 2.1 or later, "
                                "such as 2.60" % (FAKE_MAX_MICROVERSION_VAR, value))
    return value


def pytest_configure(config):
    _fake_max_microversion()  # a bad value stops the run before any test


def pytest_report_header(config):
    value = _fake_max_microversion()
    return "fake cloud max compute microversion: %s" % (
        "%s (%s)" % (value, FAKE_MAX_MICROVERSION_VAR) if value else "the fake's default")


@pytest.fixture(scope="session")
def fake_max_microversion():
    """The --max-microversion every fake cloud of this session gets (None:
    the fake's default). Fixtures that start a fake cloud pass it on."""
    return _fake_max_microversion()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see in their teardown whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _require_fuse():
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        pytest.skip("needs /dev/fuse and fusermount3")


@pytest.fixture(scope="session")
def _shared_cloud(tmp_path_factory, fake_max_microversion):
    _require_fuse()
    # Under pytest's base temp, kept for the last few runs: the command
    # lines printed on failure refer to its openrc.
    workdir = tmp_path_factory.mktemp("cloud")
    cloud = helpers.FakeCloud(str(workdir), max_microversion=fake_max_microversion).start()
    yield cloud
    code = cloud.stop()
    assert code == 0, "fake cloud exited with %s:\n%s" % (code, cloud.stderr_tail())


@pytest.fixture
def cloud(_shared_cloud):
    """The shared fake cloud with counters, latency and failures reset.
    Tests using it must not change its data (use private_cloud for that)."""
    assert _shared_cloud.alive(), "fake cloud died:\n" + _shared_cloud.stderr_tail()
    _shared_cloud.reset()
    yield _shared_cloud
    _shared_cloud.reset()


@pytest.fixture
def private_cloud(tmp_path, fake_max_microversion):
    """A fake cloud of this test's own, free to be changed."""
    _require_fuse()
    workdir = tmp_path / "cloud"
    workdir.mkdir()
    cloud = helpers.FakeCloud(str(workdir), max_microversion=fake_max_microversion).start()
    yield cloud
    code = cloud.stop()
    assert code == 0, "fake cloud exited with %s:\n%s" % (code, cloud.stderr_tail())


@pytest.fixture
def mount(request, tmp_path):
    """mount(*opts, cloud=None, env=None, args=None) -> helpers.Mount, mounted.

    Uses the `cloud` fixture unless another cloud is given. `env` adds
    variables to the daemon's environment (XDG_CONFIG_HOME is an empty
    directory of the test's unless given, so no infrafs.conf of the user's
    is read); `args` are more command-line arguments, before the mount
    point. Teardown
    unmounts, waits for the daemon, and asserts exit code 0 and no warning,
    critical or error lines in its log; on any failure it prints a command
    line that reproduces the mount and the log's tail."""
    if not os.access(helpers.INFRAFS_BIN, os.X_OK):
        pytest.fail("no infrafs binary at %s: build it with `ninja -C build` or set "
                    "INFRAFS_BIN" % helpers.INFRAFS_BIN, pytrace=False)
    mounts = []

    def make(*opts, cloud=None, timeout_s=10, env=None, args=None):
        if cloud is None:
            cloud = request.getfixturevalue("cloud")
        n = len(mounts)
        mountpoint = tmp_path / ("mnt%d" % n)
        mountpoint.mkdir()
        no_config = tmp_path / "no-config"
        no_config.mkdir(exist_ok=True)
        all_opts = ["timeout=%d" % timeout_s, *opts] if timeout_s else list(opts)
        m = helpers.Mount(cloud, str(mountpoint), all_opts,
                          str(tmp_path / ("infrafs%d.log" % n)),
                          extra_env={"XDG_CONFIG_HOME": str(no_config), **(env or {})},
                          extra_args=args)
        mounts.append(m)
        return m.start()

    yield make

    helpers.stop_mounts_and_check(request, mounts)


@pytest.fixture
def redis(tmp_path):
    """A redis-server of this test's own (redis_server.RedisServer), started
    on a free loopback port with no persistence and answering PING: .url,
    .port, .command(*args), .keys(pattern), .kill(), .restart(), .alive().
    redis.spawn(password=None, extra_args=()) starts another one (e.g.
    password-protected). Teardown stops exactly the PIDs it started."""
    if not os.access(redis_server.REDIS_SERVER, os.X_OK):
        pytest.skip("needs redis-server (%s)" % redis_server.REDIS_SERVER)
    servers = []

    def spawn(password=None, extra_args=()):
        server = redis_server.RedisServer(tmp_path / ("redis%d" % len(servers)),
                                          password=password, extra_args=extra_args)
        servers.append(server)
        return server.start()

    try:
        first = spawn()
        first.spawn = spawn
        yield first
    finally:
        for server in reversed(servers):
            server.stop()
