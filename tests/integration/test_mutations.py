"""Changes made through the real OpenStack API: served from cache until the
TTL or an invalidation, and the very next read after writing to
.infrafs/invalidate shows them, in content and in st_size."""

import json
import os

from helpers import counts_delta, wait_until


def cat(m, rel):
    """`cat` in a child process, as an administrator would run it."""
    result = m.sh("cat %s" % rel)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_aggregate_add_host_shows_after_invalidate(mount, private_cloud):
    api = private_cloud.api
    maintenance = api.aggregate("maintenance")
    hyp = next(h for h in api.hypervisors()
               if h["hypervisor_hostname"] != h["service"]["host"]
               and h["service"]["host"] not in maintenance["hosts"])
    node, service_host = hyp["hypervisor_hostname"], hyp["service"]["host"]
    m = mount(cloud=private_cloud)
    old_hosts = cat(m, "aggregates/maintenance/hosts")
    old_member_of = cat(m, "hosts/%s/aggregates" % node)
    assert old_hosts.splitlines() == maintenance["hosts"]
    assert "maintenance" not in old_member_of.splitlines()

    api.aggregate_add_host(maintenance["id"], service_host)
    assert cat(m, "aggregates/maintenance/hosts") == old_hosts, "served from cache"
    assert cat(m, "hosts/%s/aggregates" % node) == old_member_of, "served from cache"

    m.invalidate("aggregates/maintenance")
    new_hosts = "".join(h + "\n" for h in maintenance["hosts"] + [service_host])
    assert m.stat("aggregates/maintenance/hosts").st_size == len(new_hosts)
    assert cat(m, "aggregates/maintenance/hosts") == new_hosts
    member_of = cat(m, "hosts/%s/aggregates" % node)
    assert sorted(member_of.splitlines()) == sorted(old_member_of.splitlines() + ["maintenance"])
    assert m.stat("hosts/%s/aggregates" % node).st_size == len(member_of.encode())
    agg = json.loads(cat(m, "aggregates/maintenance/aggregate.json"))
    assert agg["hosts"] == maintenance["hosts"] + [service_host]


def test_aggregate_metadata_change_shows_after_invalidate(mount, private_cloud):
    api = private_cloud.api
    l40 = api.aggregate("GPU-L40")
    m = mount(cloud=private_cloud)
    assert cat(m, "aggregates/GPU-L40/metadata/gpu_count") == l40["metadata"]["gpu_count"] + "\n"
    assert "owner" not in m.listdir("aggregates/GPU-L40/metadata")

    api.aggregate_set_metadata(l40["id"], {"gpu_count": "6", "owner": "ml-platform"})
    assert cat(m, "aggregates/GPU-L40/metadata/gpu_count") == l40["metadata"]["gpu_count"] + "\n"

    m.invalidate("aggregates/GPU-L40")
    assert m.stat("aggregates/GPU-L40/metadata/gpu_count").st_size == len("6\n")
    assert cat(m, "aggregates/GPU-L40/metadata/gpu_count") == "6\n"
    assert cat(m, "aggregates/GPU-L40/metadata/owner") == "ml-platform\n"
    assert "owner" in m.listdir("aggregates/GPU-L40/metadata")


def test_quota_update_shows_after_invalidate(mount, private_cloud):
    api = private_cloud.api
    project = api.project("ml-research")
    old = api.quota_detail(project["id"])
    m = mount(cloud=private_cloud)
    rel = "quotas/ml-research/compute"
    old_table = cat(m, rel)
    old_line = "cores %s %s %s" % (old["cores"]["limit"], old["cores"]["in_use"],
                                   old["cores"]["reserved"])
    assert old_line in old_table.splitlines()
    old_json = json.loads(cat(m, rel + ".json"))

    new_limit = old["cores"]["limit"] * 10 + 7   # a longer number: st_size must grow
    api.quota_update(project["id"], cores=new_limit)
    assert cat(m, rel) == old_table, "served from cache"

    m.invalidate("quotas/ml-research")
    new_line = "cores %s %s %s" % (new_limit, old["cores"]["in_use"], old["cores"]["reserved"])
    new_table = old_table.replace(old_line + "\n", new_line + "\n")
    assert m.stat(rel).st_size == len(new_table)
    assert cat(m, rel) == new_table
    new_json = json.loads(cat(m, rel + ".json"))
    assert new_json["cores"]["limit"] == new_limit
    assert {k: v for k, v in new_json.items() if k != "cores"} == \
        {k: v for k, v in old_json.items() if k != "cores"}


def test_quota_invalidate_refetches_that_project_only(mount, private_cloud):
    m = mount(cloud=private_cloud)
    for project in ("admin", "ml-research"):
        m.read("quotas/%s/compute" % project)
    before = private_cloud.counts()
    m.invalidate("quotas/ml-research/compute")
    m.read("quotas/ml-research/compute")
    m.read("quotas/admin/compute")
    delta = counts_delta(before, private_cloud.counts())
    assert delta.get("compute.quota_sets.detail") == 1, delta


def test_flavor_extra_spec_change_shows_after_invalidate(mount, private_cloud):
    api = private_cloud.api
    flavor = next(f for f in api.flavors() if f["name"] == "n3-H100x8")
    assert flavor["extra_specs"]["hw:hide_hypervisor_id"] == "true"
    m = mount(cloud=private_cloud)
    d = "flavors/n3-H100x8/extra_specs"
    assert cat(m, d + "/hw:hide_hypervisor_id") == "true\n"
    assert "trait:CUSTOM_PROBE" not in m.listdir(d)

    api.flavor_set_extra_specs(flavor["id"], {"hw:hide_hypervisor_id": "false",
                                              "trait:CUSTOM_PROBE": "required"})
    assert cat(m, d + "/hw:hide_hypervisor_id") == "true\n", "served from cache"

    m.invalidate("flavors/n3-H100x8")
    assert m.stat(d + "/hw:hide_hypervisor_id").st_size == len("false\n")
    assert cat(m, d + "/hw:hide_hypervisor_id") == "false\n"
    assert cat(m, d + "/trait:CUSTOM_PROBE") == "required\n"
    specs = json.loads(cat(m, "flavors/n3-H100x8/flavor.json"))["extra_specs"]
    assert specs["hw:hide_hypervisor_id"] == "false"


def test_host_state_change_shows_after_ttl(mount, private_cloud):
    """Without any invalidation, a short TTL alone brings the change."""
    hyp = next(h for h in private_cloud.api.hypervisors() if h["state"] == "up")
    node = hyp["hypervisor_hostname"]
    m = mount("ttl.hosts=1", cloud=private_cloud)
    assert cat(m, "hosts/%s/state" % node) == "up\n"
    private_cloud.hosts({"set": node, "state": "down"})
    wait_until(lambda: cat(m, "hosts/%s/state" % node) == "down\n", timeout=10,
               interval=0.05, what="state shows down after the TTL")
    assert m.stat("hosts/%s/state" % node).st_size == len("down\n")


def read_rest(fd):
    rest = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return rest
        rest += chunk


def test_open_file_reads_one_snapshot_across_a_refresh(mount, private_cloud):
    hyp = next(h for h in private_cloud.api.hypervisors() if h["state"] == "up")
    m = mount(cloud=private_cloud)
    before = m.read("hosts.json")
    assert len(before) > 8192
    fd = os.open(m.path("hosts.json"), os.O_RDONLY)
    try:
        head = os.read(fd, 4096)
        private_cloud.hosts({"set": hyp["hypervisor_hostname"], "state": "down"})
        m.invalidate("hosts")
        rest = read_rest(fd)
    finally:
        os.close(fd)
    got = head + rest
    assert got == before, "read %d bytes, the snapshot has %d; first difference at %d" % (
        len(got), len(before), next((i for i, (a, b) in enumerate(zip(got, before)) if a != b),
                                    min(len(got), len(before))))
    assert m.read("hosts.json") != before, "a new open sees the refresh"


def test_open_file_keeps_its_snapshot_while_another_reader_sees_the_refresh(
        mount, private_cloud):
    # Scripts read the mount concurrently: one of them opening the file after
    # a refresh must not change what an earlier open reads.
    hyp = next(h for h in private_cloud.api.hypervisors() if h["state"] == "up")
    m = mount(cloud=private_cloud)
    before = m.read("hosts.json")
    assert len(before) > 8192
    fd = os.open(m.path("hosts.json"), os.O_RDONLY)
    try:
        head = os.read(fd, 4096)
        private_cloud.hosts({"set": hyp["hypervisor_hostname"], "state": "down"})
        m.invalidate("hosts")
        assert m.read("hosts.json") != before, "the other reader sees the refresh"
        rest = read_rest(fd)
    finally:
        os.close(fd)
    got = head + rest
    assert got == before, "read %d bytes, the snapshot has %d; first difference at %d" % (
        len(got), len(before), next((i for i, (a, b) in enumerate(zip(got, before)) if a != b),
                                    min(len(got), len(before))))
