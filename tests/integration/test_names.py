"""Names come from the backend and are shown verbatim except for the
escapes of design.md; hostile names never escape their directory, and
every listed name can be stat'ed and opened."""

import json
import os

import pytest

# backend name -> the file name design.md promises
HOSTILE_HOSTS = {
    "evil/../../etc": "evil%2F..%2F..%2Fetc",
    "..": "%2E.",
    ".": "%2E",
    ".hidden-node": "%2Ehidden-node",
    "50%-node": "50%25-node",
    "tab\there": "tab%09here",
    "nl\nnode": "nl%0Anode",
    "esc\x1b[31mred": "esc%1B[31mred",
    "ünïcode-node": "ünïcode-node",
}
LONG_NAME = "n" * 300


@pytest.fixture
def hostile_cloud(private_cloud):
    """A private cloud whose hypervisors include hostile names."""
    for i, name in enumerate(list(HOSTILE_HOSTS) + [LONG_NAME]):
        private_cloud.hosts({"add": name, "service_host": "hostile-svc-%d" % i,
                             "aggregate": False})
    return private_cloud


def test_hostile_host_names_are_escaped(mount, hostile_cloud):
    m = mount(cloud=hostile_cloud)
    listed = set(m.listdir("hosts"))
    missing = {name: encoded for name, encoded in HOSTILE_HOSTS.items() if encoded not in listed}
    assert not missing, "expected these file names: %r" % missing


def test_listed_names_never_contain_slash_or_dot_entries(mount, hostile_cloud):
    m = mount(cloud=hostile_cloud)
    for name in m.listdir("hosts"):
        assert "/" not in name and name not in (".", "..") and not name.startswith("."), name
        assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in name), repr(name)
        assert len(name.encode()) <= 255, name


def test_every_listed_host_can_be_stat_and_opened(mount, hostile_cloud):
    hypervisors = hostile_cloud.api.hypervisors()
    m = mount(cloud=hostile_cloud)
    names = m.listdir("hosts")
    assert len(names) == len(hypervisors), "each host listed once"
    seen = []
    for name in names:
        assert os.path.isdir(m.path("hosts/" + name)), name
        for view in m.listdir("hosts/" + name):
            rel = "hosts/%s/%s" % (name, view)
            assert m.stat(rel).st_size == len(m.read(rel)), rel
        seen.append(json.loads(m.read("hosts/%s/hypervisor.json" % name))["hypervisor_hostname"])
    assert sorted(seen) == sorted(h["hypervisor_hostname"] for h in hypervisors)


def test_hostile_names_stay_inside_their_directory(mount, hostile_cloud):
    m = mount(cloud=hostile_cloud)
    escaped = "hosts/" + HOSTILE_HOSTS["evil/../../etc"]
    data = json.loads(m.read(escaped + "/hypervisor.json"))
    assert data["hypervisor_hostname"] == "evil/../../etc"
    # ".." in a path is the kernel's parent directory, never a backend name.
    assert sorted(os.listdir(m.path("hosts/.."))) == sorted(os.listdir(m.path()))
    assert json.loads(m.read("hosts/%2E./hypervisor.json"))["hypervisor_hostname"] == ".."


def test_long_name_is_cut_to_fit_and_still_resolves(mount, hostile_cloud):
    m = mount(cloud=hostile_cloud)
    long_names = [n for n in m.listdir("hosts") if n.startswith("nnnn")]
    assert len(long_names) == 1
    assert len(long_names[0].encode()) <= 255
    data = json.loads(m.read("hosts/%s/hypervisor.json" % long_names[0]))
    assert data["hypervisor_hostname"] == LONG_NAME


def test_hostile_aggregate_and_metadata_names_are_escaped(mount, private_cloud):
    api = private_cloud.api
    aggregate = api.call("compute", "POST", "/os-aggregates",
                         {"aggregate": {"name": "../../etc"}})["aggregate"]
    api.aggregate_set_metadata(aggregate["id"], {"a/b": "slash", "..": "dots",
                                                 "100%": "percent", ".env": "hidden"})
    m = mount(cloud=private_cloud)
    assert "%2E.%2F..%2Fetc" in m.listdir("aggregates")
    d = "aggregates/%2E.%2F..%2Fetc/metadata"
    assert m.listdir(d) == sorted(["a%2Fb", "%2E.", "100%25", "%2Eenv"])
    assert m.text(d + "/a%2Fb") == "slash\n"
    assert m.text(d + "/%2E.") == "dots\n"
    assert m.text(d + "/100%25") == "percent\n"
    assert m.text(d + "/%2Eenv") == "hidden\n"


def test_hostile_flavor_name_is_escaped(mount, private_cloud):
    private_cloud.api.call("compute", "POST", "/flavors", {"flavor": {
        "name": "../x/flavor", "ram": 512, "vcpus": 1, "disk": 1}})
    m = mount(cloud=private_cloud)
    assert "%2E.%2Fx%2Fflavor" in m.listdir("flavors")
    data = json.loads(m.read("flavors/%2E.%2Fx%2Fflavor/flavor.json"))
    assert data["name"] == "../x/flavor"


def test_aggregate_hosts_file_escapes_members_one_per_line(mount, private_cloud):
    private_cloud.hosts({"add": "odd-node.example.net", "service_host": "odd\nsvc/1",
                         "aggregate": False})
    api = private_cloud.api
    maintenance = api.aggregate("maintenance")
    api.aggregate_add_host(maintenance["id"], "odd\nsvc/1")
    m = mount(cloud=private_cloud)
    lines = m.lines("aggregates/maintenance/hosts")
    assert lines == maintenance["hosts"] + ["odd%0Asvc%2F1"]
    data = json.loads(m.read("hosts/odd%0Asvc%2F1/hypervisor.json"))
    assert data["hypervisor_hostname"] == "odd-node.example.net"
    assert m.lines("hosts/odd-node.example.net/aggregates") == ["maintenance"]


def test_a_4k_name_and_a_name_that_differs_only_after_255_bytes(mount, private_cloud):
    # Two 4 KiB names sharing their first 4000 bytes: each gets its own
    # file name within 255 bytes, and each resolves to its own object.
    first, second = "a" * 4000 + "-one", "a" * 4000 + "-two"
    for i, name in enumerate((first, second)):
        private_cloud.hosts({"add": name, "service_host": "long-svc-%d" % i,
                             "aggregate": False})
    m = mount(cloud=private_cloud)
    long_names = [n for n in m.listdir("hosts") if n.startswith("aaaa")]
    assert len(long_names) == 2 and len(set(long_names)) == 2
    got = set()
    for name in long_names:
        assert len(name.encode()) <= 255
        os.stat(m.path("hosts/" + name))
        got.add(json.loads(m.read("hosts/%s/hypervisor.json" % name))["hypervisor_hostname"])
    assert got == {first, second}
