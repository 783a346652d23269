"""The tree agrees with what the cloud serves: names, files, JSON, sizes,
the tools administrators point at it (ls, cat, grep -r, jq), derived
gpu_type and the service-host alias."""

import errno
import fnmatch
import json
import os
import types

import pytest

from helpers import errno_name, errno_of

TOP_LEVEL = ["README", "aggregates", "aggregates.json", "flavors", "flavors.json", "hosts", "live",
             "hosts.json", "projects.json", "quotas"]
AGGREGATE_VIEWS = ["aggregate.json", "availability_zone", "gpu_type", "hosts", "metadata"]
HOST_VIEWS = ["aggregates", "flavor", "gpu_count", "gpu_type", "hypervisor.json", "inventory.json",
              "servers.json", "service_host",
              "state", "status"]

# design.md's default hostname rules, first match wins (case-insensitive).
GPU_RULES = [("*h200sxm*", "H200-SXM5"), ("*h200-sxm*", "H200-SXM5"),
             ("*h100sxm*", "H100-SXM5"), ("*h100*", "H100"), ("*a100*", "A100"),
             ("*l40*", "L40")]


def gpu_type_by_rule(name):
    for glob, gpu_type in GPU_RULES:
        if fnmatch.fnmatchcase(name.lower(), glob):
            return gpu_type
    return None


@pytest.fixture
def api(cloud):
    """What the shared fake cloud serves, read through the real API."""
    return types.SimpleNamespace(aggregates=cloud.api.aggregates(),
                                 hypervisors=cloud.api.hypervisors(),
                                 flavors=cloud.api.flavors(),
                                 projects=cloud.api.projects())


def fqdn_hosts(hypervisors):
    return [h for h in hypervisors if h["hypervisor_hostname"] != h["service"]["host"]]


# ---- names -----------------------------------------------------------------

def test_ls_root_lists_the_collections_and_hidden_control_dir(mount):
    m = mount()
    assert m.listdir() == sorted(TOP_LEVEL + [".infrafs"])
    assert m.listdir(".infrafs") == ["errors", "invalidate", "metrics", "refresh", "stats",
                                     "stats.json", "ttl", "version", "warm"]


def test_ls_aggregates_lists_api_aggregate_names(mount, api):
    m = mount()
    assert m.listdir("aggregates") == sorted(a["name"] for a in api.aggregates)


def test_ls_hosts_lists_each_hypervisor_hostname_once(mount, api):
    m = mount()
    names = [h["hypervisor_hostname"] for h in api.hypervisors]
    assert fqdn_hosts(api.hypervisors), "the fake fleet should have FQDN hypervisors"
    assert m.listdir("hosts") == sorted(names)


def test_ls_flavors_lists_api_flavor_names_including_private(mount, api):
    m = mount()
    assert any(not f["os-flavor-access:is_public"] for f in api.flavors)
    assert m.listdir("flavors") == sorted(f["name"] for f in api.flavors)


def test_ls_quotas_lists_project_names(mount, api):
    m = mount()
    assert m.listdir("quotas") == sorted(p["name"] for p in api.projects)


def test_item_directories_list_their_views(mount, api):
    m = mount()
    aggregate = api.aggregates[0]["name"]
    host = api.hypervisors[0]["hypervisor_hostname"]
    assert m.listdir("aggregates/" + aggregate) == AGGREGATE_VIEWS
    assert m.listdir("hosts/" + host) == HOST_VIEWS
    assert m.listdir("flavors/m1.small") == ["extra_specs", "flavor.json"]
    assert m.listdir("quotas/admin") == ["compute", "compute.json"]


# ---- whole collections as JSON ---------------------------------------------

@pytest.mark.parametrize("name, attribute", [
    ("aggregates.json", "aggregates"),
    ("hosts.json", "hypervisors"),
    ("flavors.json", "flavors"),
    ("projects.json", "projects"),
])
def test_collection_json_is_the_api_objects(mount, api, name, attribute):
    m = mount()
    assert json.loads(m.read(name)) == getattr(api, attribute)


def test_jq_lists_aggregate_names(mount, api):
    m = mount()
    result = m.sh("jq -r '.[].name' aggregates.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [a["name"] for a in api.aggregates]


def test_jq_selects_down_and_disabled_hosts(mount, api):
    m = mount()
    result = m.sh("jq -r '.[] | select(.state == \"down\" or .status == \"disabled\")"
                  " | .hypervisor_hostname' hosts.json")
    assert result.returncode == 0, result.stderr
    expected = [h["hypervisor_hostname"] for h in api.hypervisors
                if h["state"] == "down" or h["status"] == "disabled"]
    assert expected, "the fake fleet should have down or disabled hosts"
    assert result.stdout.splitlines() == expected


def test_json_files_are_pretty_printed_for_grep(mount):
    m = mount()
    text = m.text("aggregates.json")
    assert text.endswith("\n")
    assert len(text.splitlines()) > 20, "one JSON member per line, not one long line"


# ---- aggregates ------------------------------------------------------------

def test_aggregate_hosts_file_lists_api_hosts(mount, api):
    m = mount()
    for aggregate in api.aggregates:
        assert m.lines("aggregates/%s/hosts" % aggregate["name"]) == aggregate["hosts"], \
            aggregate["name"]


def test_aggregate_metadata_files_hold_api_values(mount, api):
    m = mount()
    for aggregate in api.aggregates:
        d = "aggregates/%s/metadata" % aggregate["name"]
        assert m.listdir(d) == sorted(aggregate["metadata"])
        for key, value in aggregate["metadata"].items():
            assert m.text("%s/%s" % (d, key)) == value + "\n", (d, key)


def test_aggregate_json_and_availability_zone_match_api(mount, api):
    m = mount()
    for aggregate in api.aggregates:
        d = "aggregates/" + aggregate["name"]
        assert json.loads(m.read(d + "/aggregate.json")) == aggregate
        az = aggregate["availability_zone"]
        assert m.text(d + "/availability_zone") == ("" if az is None else az + "\n")


def test_grep_r_finds_gpu_type_files_under_aggregates(mount, api):
    m = mount()
    result = m.sh("grep -r -l -x RTX6000 aggregates | sort")
    assert result.returncode == 0, result.stderr
    expected = sorted(
        "aggregates/%s/%s" % (a["name"], f) for a in api.aggregates
        if a["metadata"].get("gpu_type") == "RTX6000" for f in ("gpu_type", "metadata/gpu_type"))
    assert expected
    assert result.stdout.splitlines() == expected


# ---- hosts -----------------------------------------------------------------

def test_host_files_match_hypervisor_objects(mount, api):
    m = mount()
    for hyp in api.hypervisors:
        d = "hosts/" + hyp["hypervisor_hostname"]
        assert json.loads(m.read(d + "/hypervisor.json")) == hyp
        assert m.text(d + "/state") == hyp["state"] + "\n"
        assert m.text(d + "/status") == hyp["status"] + "\n"
        assert m.text(d + "/service_host") == hyp["service"]["host"] + "\n"


def test_host_aggregates_file_lists_the_aggregates_holding_its_service_host(mount, api):
    m = mount()
    for hyp in api.hypervisors:
        expected = sorted(a["name"] for a in api.aggregates
                          if hyp["service"]["host"] in a["hosts"])
        got = m.lines("hosts/%s/aggregates" % hyp["hypervisor_hostname"])
        assert sorted(got) == expected, hyp["hypervisor_hostname"]


def test_service_host_name_also_resolves_to_the_host(mount, api):
    m = mount()
    hyp = fqdn_hosts(api.hypervisors)[0]
    by_service = m.read("hosts/%s/hypervisor.json" % hyp["service"]["host"])
    assert json.loads(by_service)["hypervisor_hostname"] == hyp["hypervisor_hostname"]


def test_shell_loop_over_aggregate_hosts_reads_every_gpu_type(mount, api):
    # The design's promise: aggregates list service hosts, hosts/ is named by
    # hypervisor_hostname, and this loop still works for every aggregate.
    m = mount()
    members = {h for a in api.aggregates for h in a["hosts"]}
    assert members & {h["service"]["host"] for h in fqdn_hosts(api.hypervisors)}, \
        "some aggregate member should differ from its hypervisor_hostname"
    script = r'''
set -euo pipefail
for a in aggregates/*; do
    for h in $(cat "$a/hosts"); do
        t=$(cat "hosts/$h/gpu_type")
        echo "${a#aggregates/} $h $t"
    done
done
'''
    result = m.sh(script)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [line.split(" ") for line in result.stdout.splitlines()]
    assert len(lines) == sum(len(a["hosts"]) for a in api.aggregates)
    assert all(len(words) == 3 and words[2] for words in lines), result.stdout


def test_host_servers_json_lists_the_servers_on_that_node(mount, cloud, api):
    nodes = [h["hypervisor_hostname"] for h in api.hypervisors[:6]]
    expected = {node: cloud.api.servers_on(node) for node in nodes}
    assert any(expected.values()), "some of these hosts should run servers"
    m = mount()
    for node in nodes:
        assert json.loads(m.read("hosts/%s/servers.json" % node)) == expected[node], node


# ---- gpu_type --------------------------------------------------------------

def test_gpu_type_follows_hostname_rules(mount, api):
    m = mount()
    seen = set()
    for hyp in api.hypervisors:
        expected = gpu_type_by_rule(hyp["hypervisor_hostname"])
        if expected is None:
            continue
        seen.add(expected)
        got = m.text("hosts/%s/gpu_type" % hyp["hypervisor_hostname"])
        assert got == expected + "\n", hyp["hypervisor_hostname"]
    assert seen == {"H100-SXM5", "A100", "L40", "H200-SXM5"}


def test_gpu_type_of_unmatched_hosts_comes_from_aggregate_metadata(mount, api):
    m = mount()
    unmatched = [h for h in api.hypervisors if gpu_type_by_rule(h["hypervisor_hostname"]) is None]
    assert any("esc8" in h["hypervisor_hostname"] for h in unmatched)
    for hyp in unmatched:
        types = [a["metadata"]["gpu_type"] for a in api.aggregates
                 if hyp["service"]["host"] in a["hosts"] and a["metadata"].get("gpu_type")]
        assert types == ["RTX6000"], hyp
        assert m.text("hosts/%s/gpu_type" % hyp["hypervisor_hostname"]) == "RTX6000\n"


def test_gpu_type_from_hostname_costs_no_aggregate_fetch(mount, cloud, api):
    m = mount()
    host = next(h["hypervisor_hostname"] for h in api.hypervisors
                if gpu_type_by_rule(h["hypervisor_hostname"]) == "H100-SXM5")
    m.read("hosts.json")
    before = cloud.counts()
    assert m.text("hosts/%s/gpu_type" % host) == "H100-SXM5\n"
    assert cloud.counts().get("compute.aggregates", 0) == before.get("compute.aggregates", 0)


def test_aggregate_gpu_type_is_its_metadata_value(mount, api):
    m = mount()
    for aggregate in api.aggregates:
        value = aggregate["metadata"].get("gpu_type")
        got = m.text("aggregates/%s/gpu_type" % aggregate["name"])
        assert got == ("" if value is None else value + "\n"), aggregate["name"]


# ---- flavors and quotas ----------------------------------------------------

def test_flavor_files_hold_api_objects_and_extra_specs(mount, api):
    m = mount()
    for flavor in api.flavors:
        d = "flavors/" + flavor["name"]
        assert json.loads(m.read(d + "/flavor.json")) == flavor
        assert m.listdir(d + "/extra_specs") == sorted(flavor["extra_specs"])
        for key, value in flavor["extra_specs"].items():
            assert m.text("%s/extra_specs/%s" % (d, key)) == value + "\n", (d, key)


def test_quota_files_match_api_quota_detail(mount, cloud, api):
    m = mount()
    for project in api.projects:
        detail = cloud.api.quota_detail(project["id"])
        expected = sorted("%s %s %s %s" % (k, v["limit"], v["in_use"], v["reserved"])
                          for k, v in detail.items() if k != "id")
        d = "quotas/" + project["name"]
        assert m.lines(d + "/compute") == expected
        assert json.loads(m.read(d + "/compute.json")) == detail


# ---- sizes -----------------------------------------------------------------

def test_st_size_equals_bytes_read_for_every_file(mount, api):
    m = mount()
    hosts = [h["hypervisor_hostname"] for h in api.hypervisors[:3]]
    hosts.append(fqdn_hosts(api.hypervisors)[0]["hypervisor_hostname"])
    tops = ["aggregates", "flavors", "quotas", ".infrafs"] + ["hosts/" + h for h in hosts]
    checked = 0
    for name in os.listdir(m.path()):
        if os.path.isfile(m.path(name)):
            assert m.stat(name).st_size == len(m.read(name)), name
            checked += 1
    for top in tops:
        for dirpath, _, files in os.walk(m.path(top)):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), m.path())
                st = m.stat(rel)
                data = m.read(rel)
                assert st.st_size == len(data), rel
                checked += 1
    assert checked > 100


def test_files_are_read_only_and_one_value_files_end_with_newline(mount, api):
    m = mount()
    host = api.hypervisors[0]["hypervisor_hostname"]
    rel = "hosts/%s/state" % host
    before = m.text(rel)
    st = m.stat(rel)
    assert st.st_mode & 0o222 == 0
    refused = (errno.EACCES, errno.EROFS, errno.EPERM)
    # Truncation, as `echo x > file` asks for, is refused at open.
    assert errno_of(os.truncate, m.path(rel), 0) in refused
    assert errno_of(os.open, m.path(rel), os.O_WRONLY | os.O_TRUNC) in refused
    # The kernel opens files without asking infrafs, so root's open for
    # writing succeeds; the write itself is refused, and changes nothing.
    fd = os.open(m.path(rel), os.O_WRONLY)
    try:
        assert errno_of(os.write, fd, b"x\n") in refused
    finally:
        os.close(fd)
    assert m.text(rel) == before
    assert os.stat(m.path(rel)).st_size == len(before.encode())
    assert before.endswith("\n")


# ---- missing names -----------------------------------------------------------

@pytest.mark.parametrize("rel", [
    "hosts/no-such-host",
    "hosts/no-such-host/state",
    "aggregates/no-such-aggregate",
    "aggregates/GPU-A100/metadata/no-such-key",
    "aggregates/GPU-A100/no-such-view",
    "flavors/no-such-flavor/flavor.json",
    "flavors/m1.small/extra_specs/no-such-spec",
    "quotas/no-such-project/compute",
    "no-such-top-level",
    ".infrafs/no-such-control-file",
])
def test_missing_name_is_enoent(mount, rel):
    m = mount()
    got = errno_of(m.stat, rel)
    assert got == errno.ENOENT, "stat %s: %s" % (rel, errno_name(got))
    got = errno_of(m.read, rel)
    assert got == errno.ENOENT, "open %s: %s" % (rel, errno_name(got))


@pytest.mark.parametrize("rel", [
    "aggregates/GPU-A100/hosts/x",
    "aggregates/GPU-A100/metadata/gpu_type/x",
    "hosts.json/x",
])
def test_path_below_a_file_is_enotdir(mount, rel):
    # The kernel answers this itself (a file has no entries): ENOTDIR, as on
    # any file system, never a lookup that could escape.
    m = mount()
    got = errno_of(m.stat, rel)
    assert got == errno.ENOTDIR, "stat %s: %s" % (rel, errno_name(got))


def test_reading_a_directory_is_eisdir(mount):
    m = mount()
    assert errno_of(m.read, "aggregates") == errno.EISDIR
