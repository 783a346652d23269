"""clouds.yaml on real mounts: --os-cloud and OS_CLOUD pick the cloud,
secure.yaml holds the secret, a cloud entry beats the OS_* variables, and a
wrong password, an unknown cloud or broken YAML fails the mount at once
with a message that names the file.

These mounts do not use the openrc of the fake cloud, so they are started
here (fixture `clouds_mount`) with an environment of their own: no OS_*
variable of the caller, a HOME and XDG directories of the test's own, and
the test's temporary directory as the current directory. Otherwise they
follow the `mount` fixture: a deadline for mounting, always unmounted, only
our PID stopped, exit code 0 and a clean log required."""

import hashlib
import json
import os
import shlex
import subprocess

import pytest

import helpers

# The fake cloud's one application credential (tests/fakecloud/README.md);
# its secret is the password.
APP_CRED_ID = hashlib.md5(b"fakecloud-appcred/infrafs").hexdigest()
FAIL_TIMEOUT_S = 20.0


def to_yaml(mapping, indent=0):
    """Block-style YAML of nested dicts; JSON strings are YAML scalars."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append("%s%s:" % (" " * indent, key))
            lines.append(to_yaml(value, indent + 2))
        else:
            lines.append("%s%s: %s" % (" " * indent, key, json.dumps(value)))
    return "\n".join(lines)


def write(path, text):
    path.write_text(text + "\n")
    return path


def password_auth(cloud, **extra):
    """The fake cloud's admin login, without the password."""
    return {"auth_url": cloud.env["OS_AUTH_URL"], "username": "admin",
            "project_name": "admin", "user_domain_name": "Default",
            "project_domain_name": "Default", **extra}


def clouds_file(cloud, tmp_path, name="clouds.yaml"):
    """Two clouds: `fake` (its password in secure.yaml) and `wrong` (a wrong
    password of its own)."""
    return write(tmp_path / name, to_yaml({"clouds": {
        "wrong": {"auth": password_auth(cloud, password="not-the-password")},
        "fake": {"region_name": "RegionOne", "interface": "public",
                 "auth": password_auth(cloud)},
    }}))


def secure_file(cloud, tmp_path, name="secure.yaml"):
    return write(tmp_path / name, to_yaml({"clouds": {"fake": {"auth": {
        "password": cloud.password}}}}))


def clean_env(tmp_path, **extra):
    """Nothing of the caller's OpenStack: no OS_* variables, a HOME without
    ~/.config/openstack, no site directory; plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OS_") and not k.startswith("XDG_CONFIG")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_DIRS=str(tmp_path / "no-site"),
               G_DEBUG="fatal-warnings")
    env.update(extra)
    return env


class CloudsMount(helpers.Mount):
    """helpers.Mount run with `env` and in `cwd` instead of with the fake
    cloud's openrc, with `flags` before the -o options."""

    def __init__(self, cloud, mountpoint, log_path, flags, env, cwd):
        super().__init__(cloud, mountpoint, ["timeout=10"], log_path)
        self.argv[2:2] = list(flags)
        self.env = env
        self.cwd = cwd

    @property
    def command_line(self):
        keep = {k: v for k, v in self.env.items()
                if k in ("PATH", "HOME", "G_DEBUG") or k.startswith(("OS_", "XDG_"))}
        return "(cd %s && env -i %s %s)" % (
            shlex.quote(self.cwd), " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in keep.items()),
            " ".join(shlex.quote(a) for a in self.argv))

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)

        def mounted_or_dead():
            return self.proc.poll() is not None or self.mounted()

        try:
            helpers.wait_until(mounted_or_dead, helpers.START_TIMEOUT_S, what="infrafs mounted")
        except helpers.DeadlineExceeded:
            self.stop()
            raise AssertionError(self.describe("infrafs did not mount within %.0f s"
                                               % helpers.START_TIMEOUT_S)) from None
        if self.proc.poll() is not None:
            self.stop()
            raise AssertionError(self.describe("infrafs exited with %s before mounting"
                                               % self.proc.returncode))
        return self


@pytest.fixture
def clouds_mount(request, tmp_path, cloud):
    """clouds_mount(*flags, env=...) -> CloudsMount, mounted and ready, on
    the shared fake cloud; the same teardown checks as `mount`."""
    if not os.access(helpers.INFRAFS_BIN, os.X_OK):
        pytest.fail("no infrafs binary at %s: build it with `ninja -C build` or set "
                    "INFRAFS_BIN" % helpers.INFRAFS_BIN, pytrace=False)
    mounts = []

    def make(*flags, env):
        n = len(mounts)
        mountpoint = tmp_path / ("mnt%d" % n)
        mountpoint.mkdir()
        m = CloudsMount(cloud, str(mountpoint), str(tmp_path / ("infrafs%d.log" % n)),
                        flags, env, str(tmp_path))
        mounts.append(m)
        return m.start()

    yield make

    helpers.stop_mounts_and_check(request, mounts)


def run_failing(tmp_path, *flags, env):
    """infrafs -f that must not mount: (exit code, stderr). A hang fails the
    test after FAIL_TIMEOUT_S (subprocess.run kills only its own child)."""
    mountpoint = tmp_path / "mnt-fail"
    mountpoint.mkdir()
    argv = [helpers.INFRAFS_BIN, "-f", *flags, str(mountpoint)]
    try:
        result = subprocess.run(argv, env=env, cwd=str(tmp_path), stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=FAIL_TIMEOUT_S)
    finally:
        if helpers.mount_fstype(str(mountpoint)) is not None:
            subprocess.run(["fusermount3", "-uz", str(mountpoint)], capture_output=True,
                           timeout=helpers.STOP_TIMEOUT_S)
            pytest.fail("infrafs mounted although it should not have: %s" % argv)
    return result.returncode, result.stderr


# ------------------------------------------------------------------ mounts

def test_os_cloud_flag_mounts_with_the_password_from_secure_yaml(cloud, clouds_mount, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    clouds, secure = clouds_file(cloud, conf), secure_file(cloud, conf)
    env = clean_env(tmp_path, OS_CLIENT_CONFIG_FILE=str(clouds),
                    OS_CLIENT_SECURE_FILE=str(secure))
    m = clouds_mount("--os-cloud", "fake", env=env)
    assert "CA1-esc8-1" in m.listdir("hosts")
    assert 'cloud "fake" (--os-cloud fake) from %s and %s' % (clouds, secure) in m.log()
    assert cloud.password not in m.log()


def test_os_cloud_variable_picks_the_cloud_in_the_current_directory(cloud, clouds_mount,
                                                                     tmp_path):
    clouds_file(cloud, tmp_path)
    secure_file(cloud, tmp_path)
    m = clouds_mount(env=clean_env(tmp_path, OS_CLOUD="fake"))
    assert "CA1-esc8-1" in m.listdir("hosts")
    assert 'cloud "fake" (OS_CLOUD=fake) from %s' % (tmp_path / "clouds.yaml") in m.log()


def test_os_cloud_flag_beats_os_cloud_variable(cloud, clouds_mount, tmp_path):
    clouds_file(cloud, tmp_path)
    secure_file(cloud, tmp_path)
    # OS_CLOUD names the cloud with the wrong password: mounting proves the flag won.
    m = clouds_mount("--os-cloud=fake", env=clean_env(tmp_path, OS_CLOUD="wrong"))
    assert m.read("README").startswith(b"infrafs")


def test_cloud_entry_beats_os_variables(cloud, clouds_mount, tmp_path):
    clouds_file(cloud, tmp_path)
    secure_file(cloud, tmp_path)
    env = clean_env(tmp_path, **cloud.env)
    env.update(OS_PASSWORD="not-the-password", OS_CLOUD="fake")
    m = clouds_mount(env=env)
    assert m.read("README").startswith(b"infrafs")
    assert "ignoring OS_AUTH_URL, OS_USERNAME, OS_PASSWORD" in m.log()


def test_application_credential_cloud_mounts(cloud, clouds_mount, tmp_path):
    clouds = write(tmp_path / "clouds.yaml", to_yaml({"clouds": {"appcred": {
        "auth_type": "v3applicationcredential",
        "auth": {"auth_url": cloud.env["OS_AUTH_URL"],
                 "application_credential_id": APP_CRED_ID}}}}))
    secure = write(tmp_path / "secure.yaml", to_yaml({"clouds": {"appcred": {"auth": {
        "application_credential_secret": cloud.password}}}}))
    m = clouds_mount("--os-cloud", "appcred", env=clean_env(tmp_path))
    assert "CA1-esc8-1" in m.listdir("hosts")
    log = m.log()
    assert 'cloud "appcred" (--os-cloud appcred) from %s and %s' % (clouds, secure) in log
    assert "as application credential" in log


# ---------------------------------------------------------------- failures

def test_wrong_password_in_clouds_yaml_fails_the_mount(cloud, tmp_path):
    clouds_file(cloud, tmp_path)
    code, stderr = run_failing(tmp_path, "--os-cloud", "wrong", env=clean_env(tmp_path))
    assert code == 1, stderr
    assert "refused" in stderr and "401" in stderr, stderr
    assert "not-the-password" not in stderr
    assert cloud.counts().get("identity.tokens", 0) == 1


def test_unknown_cloud_fails_listing_the_clouds(cloud, tmp_path):
    clouds = clouds_file(cloud, tmp_path)
    code, stderr = run_failing(tmp_path, "--os-cloud", "staging", env=clean_env(tmp_path))
    assert code == 1, stderr
    assert 'no cloud "staging" in %s' % clouds in stderr, stderr
    assert "(clouds there: wrong, fake)" in stderr, stderr
    assert cloud.counts().get("identity.tokens", 0) == 0, "failed before contacting Keystone"


def test_broken_yaml_fails_naming_the_file_and_line(cloud, tmp_path):
    clouds = write(tmp_path / "clouds.yaml",
                   "clouds:\n"
                   "  fake:\n"
                   "    auth: {auth_url: %s\n"
                   "    region_name: RegionOne" % cloud.env["OS_AUTH_URL"])
    code, stderr = run_failing(tmp_path, env=clean_env(tmp_path, OS_CLOUD="fake"))
    assert code == 1, stderr
    assert "%s:4:" % clouds in stderr, stderr
    assert "not valid YAML" in stderr, stderr
    assert cloud.counts().get("identity.tokens", 0) == 0, "failed before contacting Keystone"
