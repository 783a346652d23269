"""NetBox enrichment: with -o netbox_url and INFRAFS_NETBOX_TOKEN,
hosts/<h>/netbox.json is the NetBox device named as the host's service
host ({} when NetBox has none); the token never shows anywhere."""

import errno
import json
import shlex
import subprocess
import urllib.parse
import urllib.request

import pytest

from helpers import INFRAFS_BIN, counts_delta, errno_of

DEVICES_ROUTE = "netbox.devices"


@pytest.fixture
def netbox(cloud):
    state = cloud.control("GET", "state")["netbox"]
    return state


def netbox_get(netbox, path):
    request = urllib.request.Request(netbox["url"] + path,
                                     headers={"Authorization": "Token " + netbox["token"],
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def netbox_mount(mount, netbox, *opts, token=None, cloud=None):
    return mount("netbox_url=%s" % netbox["url"], *opts, cloud=cloud,
                 env={"INFRAFS_NETBOX_TOKEN": netbox["token"] if token is None else token})


def service_host(m, host):
    return m.text("hosts/%s/service_host" % host).strip()


def test_without_netbox_there_is_no_netbox_json(mount, cloud):
    m = mount()
    host = m.listdir("hosts")[0]
    assert "netbox.json" not in m.listdir("hosts/%s" % host)
    assert errno_of(m.read, "hosts/%s/netbox.json" % host) == errno.ENOENT
    assert not any(route.startswith("netbox.") for route in cloud.counts())


def test_netbox_json_is_the_device_named_as_the_service_host(mount, cloud, netbox):
    m = netbox_mount(mount, netbox)
    hosts = [h for h in m.listdir("hosts") if h not in netbox["without_device"]]
    for host in hosts[:4]:
        assert "netbox.json" in m.listdir("hosts/%s" % host)
        device = json.loads(m.text("hosts/%s/netbox.json" % host))
        name = service_host(m, host)
        assert device["name"] == name
        # The same object NetBox itself serves for that name.
        page = netbox_get(netbox, "/api/dcim/devices/?name=" + urllib.parse.quote(name))
        assert page["count"] == 1
        assert device == page["results"][0]


def test_a_host_netbox_does_not_know_gets_an_empty_object(mount, cloud, netbox):
    m = netbox_mount(mount, netbox)
    host = netbox["without_device"][0]
    assert json.loads(m.text("hosts/%s/netbox.json" % host)) == {}
    assert m.text(".infrafs/errors") == ""


def test_netbox_json_is_cached_one_request_per_host(mount, cloud, netbox):
    m = netbox_mount(mount, netbox)
    host = m.listdir("hosts")[0]
    before = cloud.counts()
    for _ in range(3):
        m.read("hosts/%s/netbox.json" % host)
    m.invalidate("hosts/%s" % service_host(m, host))
    m.read("hosts/%s/netbox.json" % host)
    assert counts_delta(before, cloud.counts()).get(DEVICES_ROUTE) == 2


def test_a_wrong_token_fails_the_read_and_says_why(mount, cloud, netbox):
    m = netbox_mount(mount, netbox, token="not-the-token")
    host = m.listdir("hosts")[0]
    assert errno_of(m.read, "hosts/%s/netbox.json" % host) in (errno.EACCES, errno.EIO)
    errors = m.text(".infrafs/errors")
    assert "netbox" in errors and "403" in errors
    # The rest of the host is unaffected.
    assert m.text("hosts/%s/state" % host).strip() in ("up", "down")


def test_the_netbox_token_never_shows(mount, cloud, netbox):
    m = netbox_mount(mount, netbox, "rate_limit=0")
    for host in m.listdir("hosts")[:5]:
        m.read("hosts/%s/netbox.json" % host)
    result = m.sh("grep -r -l -F -e %s . " % shlex.quote(netbox["token"]), timeout=60)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert netbox["token"] not in m.log()
    assert netbox["token"] not in " ".join(m.argv)
    with open("/proc/%d/cmdline" % m.proc.pid, "rb") as f:
        assert netbox["token"].encode() not in f.read()


def test_a_netbox_url_with_credentials_is_refused(mount, cloud, netbox, tmp_path):
    mnt = tmp_path / "never"
    mnt.mkdir()
    result = subprocess.run(
        [INFRAFS_BIN, "-o", "netbox_url=https://admin:hunter2@netbox.example.org", str(mnt)],
        capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "netbox_url" in result.stderr and "INFRAFS_NETBOX_TOKEN" in result.stderr
    assert "hunter2" not in result.stderr
