"""Placement on the mount: hosts/<h>/inventory.json (the host's provider tree
with inventories, usages and totals) and hosts/<h>/gpu_count (GPU classes in
Placement, else the aggregates' metadata)."""

import errno
import json

import pytest

from helpers import OpenStackClient, counts_delta, errno_of, http_json

GPU_CLASSES = ("VGPU", "PGPU")


def is_gpu_class(rc):
    return rc in GPU_CLASSES or rc.startswith("CUSTOM_GPU")


def placement_get(client, path):
    # Placement answers as 1.0 without a version header; in_tree needs 1.14.
    client.token()
    url = client._endpoints["placement"] + path
    return http_json("GET", url, None, {"X-Auth-Token": client._token,
                                        "OpenStack-API-Version": "placement 1.39"})[2]


def expected_totals(client, hostname):
    root = placement_get(client, "/resource_providers?name=%s" % hostname)
    providers = placement_get(client, "/resource_providers?in_tree=%s"
                              % root["resource_providers"][0]["uuid"])["resource_providers"]
    totals = {}
    for provider in providers:
        inventories = placement_get(client, "/resource_providers/%s/inventories"
                                    % provider["uuid"])["inventories"]
        usages = placement_get(client, "/resource_providers/%s/usages"
                               % provider["uuid"])["usages"]
        for rc, inv in inventories.items():
            capacity = int((inv["total"] - inv["reserved"]) * inv["allocation_ratio"])
            used = usages.get(rc, 0)
            t = totals.setdefault(rc, {"capacity": 0, "used": 0, "free": 0})
            t["capacity"] += capacity
            t["used"] += used
            t["free"] += capacity - used
    return totals


@pytest.fixture
def client(cloud):
    return OpenStackClient(cloud.env)


def test_inventory_json_totals_agree_with_placement(mount, client):
    m = mount()
    for host in sorted(m.listdir("hosts"))[:4]:
        inventory = json.loads(m.read("hosts/%s/inventory.json" % host))
        assert inventory["totals"] == expected_totals(client, host), host
        assert inventory["resource_providers"][0]["name"] == host


def test_gpu_count_is_the_gpu_capacity_in_placement(mount, client):
    m = mount()
    for host in sorted(m.listdir("hosts"))[:6]:
        gpus = sum(t["capacity"] for rc, t in expected_totals(client, host).items()
                   if is_gpu_class(rc))
        assert m.text("hosts/%s/gpu_count" % host) == "%d\n" % gpus, host


def test_gpu_count_falls_back_to_aggregate_metadata_when_placement_refuses(mount, cloud):
    m = mount()
    host = next(h for h in m.listdir("hosts") if m.lines("hosts/%s/aggregates" % h))
    aggregate = m.lines("hosts/%s/aggregates" % host)[0]
    expected = m.text("aggregates/%s/metadata/gpu_count" % aggregate)
    cloud.fail("placement.*", status=403, count=-1)
    try:
        assert m.text("hosts/%s/gpu_count" % host) == expected
        assert errno_of(m.read, "hosts/%s/inventory.json" % host) == errno.EACCES
    finally:
        cloud.clear_failures()


def test_invalidating_one_hosts_inventory_refetches_only_that_host(mount, cloud):
    m = mount()
    a, b = sorted(m.listdir("hosts"))[:2]
    m.read("hosts/%s/inventory.json" % a)
    m.read("hosts/%s/inventory.json" % b)
    m.write_control("invalidate", "hosts/%s/inventory.json\n" % a)
    # (A path below hosts/ also expires the hypervisor list: only Placement
    # requests are counted here.)
    placement = lambda delta: {k: v for k, v in delta.items() if k.startswith("placement.")}
    before = cloud.counts()
    m.read("hosts/%s/inventory.json" % b)
    assert placement(counts_delta(before, cloud.counts())) == {}
    m.read("hosts/%s/inventory.json" % a)
    assert placement(counts_delta(before, cloud.counts())).get("placement.inventories", 0) >= 1


def test_flavor_is_n3_gpu_model_x_gpu_count(mount):
    m = mount()
    flavors = set(m.listdir("flavors"))
    matched = 0
    for host in m.listdir("hosts"):
        gpu_type = m.text("hosts/%s/gpu_type" % host).strip()
        gpu_count = m.text("hosts/%s/gpu_count" % host).strip()
        expected = "n3-%sx%s\n" % (gpu_type.split("-")[0], gpu_count) if gpu_type and gpu_count else ""
        assert m.text("hosts/%s/flavor" % host) == expected, host
        matched += expected.strip() in flavors
    # The fake cloud's own flavors follow the same convention for most GPU types.
    assert matched > 0
