"""Parity with the real client: Debian's `openstack` CLI (python3-openstackclient
6.0, pointed at the fake cloud with `-f json`) and infrafs's files agree field
by field for `aggregate list/show`, `hypervisor list/show`, `compute service
list`, `flavor list/show`, `quota show` and `quota list --detail`.

This checks two things at once: infrafs shows what the cloud serves, and the
fake cloud serves objects the real client parses into the same values (a
shape the client did not expect shows up as a missing or renamed field).

The CLI is run with `--os-compute-api-version` set to the microversion
infrafs asks for, so that both sides see the same object shapes (hypervisor
ids are UUIDs from 2.53, flavor `swap` is 0 rather than "" from 2.75, quota
sets lose `fixed_ips`, `injected_file*` etc. by 2.57).

Every CLI call costs about a second of start-up, so the fixture `osc` starts
all of them at once, in the background, when the module's first test needs
it; each test then waits only for the results it reads.

The CLI renames fields; the mapping from its names to the API's (which
infrafs shows verbatim) is written out below, table by table, and each test
also asserts that the CLI printed exactly the columns the table maps, so a
field cannot silently drop out of the comparison.
"""

import json
import os
import re
import subprocess

import pytest

OPENSTACK = "/usr/bin/openstack"
CLI_TIMEOUT_S = 120.0

# ---- the CLI's names -> the API's names (as infrafs shows them) ------------

# `aggregate list --long` columns -> aggregate object keys. "Properties" is
# the metadata without its `availability_zone` key, which openstackclient
# pops (aggregate.py: "Remove availability_zone from metadata").
AGGREGATE_LIST_COLUMNS = {
    "ID": "id",
    "Name": "name",
    "Availability Zone": "availability_zone",
    "Properties": "metadata",
    "Hosts": "hosts",
}

# `aggregate show` (openstacksdk resource attributes) -> aggregate object keys.
AGGREGATE_SHOW_FIELDS = {
    "id": "id",
    "uuid": "uuid",
    "name": "name",
    "availability_zone": "availability_zone",
    "hosts": "hosts",
    "properties": "metadata",        # minus availability_zone, as above
    "created_at": "created_at",
    "updated_at": "updated_at",
    "deleted_at": "deleted_at",
    "is_deleted": "deleted",
}

# `hypervisor list` columns -> hypervisor object keys.
HYPERVISOR_LIST_COLUMNS = {
    "ID": "id",
    "Hypervisor Hostname": "hypervisor_hostname",
    "Hypervisor Type": "hypervisor_type",
    "Host IP": "host_ip",
    "State": "state",
}

# `hypervisor show` keys -> hypervisor object keys ("a.b" is a nested key).
# openstackclient flattens `service`, adds `aggregates` (the names of the
# aggregates whose hosts hold service.host) and splits `uptime` into four
# fields with its own regular expression (UPTIME_RE).
HYPERVISOR_SHOW_FIELDS = {
    "id": "id",
    "hypervisor_hostname": "hypervisor_hostname",
    "hypervisor_type": "hypervisor_type",
    "hypervisor_version": "hypervisor_version",
    "host_ip": "host_ip",
    "state": "state",
    "status": "status",
    "service_id": "service.id",
    "service_host": "service.host",
}
HYPERVISOR_SHOW_DERIVED = {"aggregates", "host_time", "uptime", "users", "load_average"}
UPTIME_RE = re.compile(r"\s*(.+)\sup\s+(.+),\s+(.+)\susers?,\s+load average:\s(.+)")

# `compute service list --long` columns -> hypervisor object keys (for the
# nova-compute services; a hypervisor's service is its compute service).
# "Zone" is derived: the availability zone of the aggregates holding the
# host, else nova's default zone "nova".
SERVICE_LIST_COLUMNS = {
    "ID": "service.id",
    "Host": "service.host",
    "Status": "status",
    "State": "state",
    "Disabled Reason": "service.disabled_reason",
}
SERVICE_LIST_UNCOMPARED = {"Binary", "Zone", "Updated At", "Forced Down"}
NOVA_DEFAULT_AZ = "nova"

# `flavor list --all --long` columns -> flavor object keys.
FLAVOR_LIST_COLUMNS = {
    "ID": "id",
    "Name": "name",
    "RAM": "ram",
    "Disk": "disk",
    "Ephemeral": "OS-FLV-EXT-DATA:ephemeral",
    "VCPUs": "vcpus",
    "Is Public": "os-flavor-access:is_public",
    "Swap": "swap",
    "RXTX Factor": "rxtx_factor",
    "Properties": "extra_specs",
}

# `flavor show` keys -> flavor object keys. `access_project_ids` comes from
# os-flavor-access, which infrafs does not show: it is checked against
# projects.json instead.
FLAVOR_SHOW_FIELDS = {
    "id": "id",
    "name": "name",
    "ram": "ram",
    "disk": "disk",
    "swap": "swap",
    "vcpus": "vcpus",
    "rxtx_factor": "rxtx_factor",
    "description": "description",
    "OS-FLV-EXT-DATA:ephemeral": "OS-FLV-EXT-DATA:ephemeral",
    "OS-FLV-DISABLED:disabled": "OS-FLV-DISABLED:disabled",
    "os-flavor-access:is_public": "os-flavor-access:is_public",
    "properties": "extra_specs",
}

# `quota show` keys -> quota set keys (openstackclient's COMPUTE_QUOTAS, for
# the keys a 2.57+ quota set still has). "project" is the quota set's `id`.
QUOTA_SHOW_FIELDS = {
    "cores": "cores",
    "instances": "instances",
    "ram": "ram",
    "key-pairs": "key_pairs",
    "properties": "metadata_items",
    "server-groups": "server_groups",
    "server-group-members": "server_group_members",
}
QUOTA_SHOW_PROJECT_FIELDS = {"project": "id", "project_name": "name"}

# `quota list --compute --detail --project P` columns -> detail keys. The
# resource names are nova's own, unrenamed.
QUOTA_DETAIL_COLUMNS = {"In Use": "in_use", "Reserved": "reserved", "Limit": "limit"}


def dig(obj, dotted):
    for part in dotted.split("."):
        obj = obj[part]
    return obj


def metadata_as_cli_shows_it(metadata):
    return {k: v for k, v in metadata.items() if k != "availability_zone"}


def fs_name(name):
    """The file name infrafs gives a backend name (README, "Names"): `%`, `/`
    and control characters become %XX, a leading `.` becomes %2E, an empty
    name %00EMPTY. The names compared here are short, so no length cut."""
    if name == "":
        return "%00EMPTY"
    out = "".join("%%%02X" % ord(c) if c in "%/" or ord(c) < 0x20 or ord(c) == 0x7f else c
                  for c in name)
    return "%2E" + out[1:] if out.startswith(".") else out


# ---- the CLI ---------------------------------------------------------------

class OpenStackCli:
    """`openstack ... -f json` against a fake cloud, many commands at once.

    Each command runs with the cloud's openrc variables only (no OS_* of the
    caller), a HOME, XDG dirs and current directory of its own (so no
    clouds.yaml of the user is found), and the compute microversion infrafs
    uses. Owns the processes it starts and nothing else."""

    def __init__(self, cloud, workdir):
        self.workdir = str(workdir)
        self.microversion = cloud.compute_microversion
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("OS_") and not k.startswith("XDG_")}
        env.update(cloud.env)
        env.update({"HOME": self.workdir,
                    "XDG_CONFIG_HOME": os.path.join(self.workdir, ".config"),
                    "XDG_CONFIG_DIRS": os.path.join(self.workdir, "xdg"),
                    "XDG_CACHE_HOME": os.path.join(self.workdir, ".cache"),
                    "PYTHONWARNINGS": "ignore"})
        self.env = env
        self.procs = {}
        self.results = {}

    def argv(self, args):
        return [OPENSTACK, "--os-compute-api-version", self.microversion,
                *args, "-f", "json"]

    def start(self, *args):
        if args not in self.procs:
            self.procs[args] = subprocess.Popen(
                self.argv(args), env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __call__(self, *args):
        """The parsed JSON output of `openstack ARGS -f json` (started now if
        it was not started before)."""
        if args in self.results:
            return self.results[args]
        self.start(*args)
        proc = self.procs[args]
        try:
            out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError("`%s` did not finish within %.0f s"
                                 % (" ".join(self.argv(args)), CLI_TIMEOUT_S)) from None
        assert proc.returncode == 0, "`%s` exited with %s:\n%s" % (
            " ".join(self.argv(args)), proc.returncode, err[-3000:])
        self.results[args] = json.loads(out)
        return self.results[args]

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


class Picks:
    """The objects the `show` commands look at, chosen from the data so that
    they cover the interesting cases."""

    def __init__(self, api):
        aggregates = api.aggregates()
        self.aggregates = [
            # one with an availability zone, and one without AZ and metadata
            next(a["name"] for a in aggregates if a["availability_zone"]),
            next(a["name"] for a in aggregates
                 if not a["availability_zone"] and not a["metadata"]),
        ]
        hypervisors = api.hypervisors()
        fqdn = [h for h in hypervisors if h["hypervisor_hostname"] != h["service"]["host"]]
        self.hypervisors = [
            # FQDN and disabled (so also in the maintenance aggregate), and FQDN,
            # up and enabled. Not a down host: openstackclient 6.0's
            # `hypervisor show` fails on the null uptime of a down host from 2.88
            # ("expected string or bytes-like object"), a bug of the client.
            next(h["hypervisor_hostname"] for h in fqdn
                 if h["status"] == "disabled" and h["state"] == "up"),
            next(h["hypervisor_hostname"] for h in fqdn
                 if h["status"] == "enabled" and h["state"] == "up"),
        ]
        flavors = api.flavors()
        self.flavors = [
            next(f["name"] for f in flavors if not f["os-flavor-access:is_public"]),
            max((f for f in flavors if f["os-flavor-access:is_public"]),
                key=lambda f: (len(f["extra_specs"]), f["name"]))["name"],
        ]
        self.projects = sorted(p["name"] for p in api.projects())
        # the project with the most servers, so in_use is not all zeros
        self.detail_project = "ml-research" if "ml-research" in self.projects \
            else self.projects[0]


@pytest.fixture(scope="module")
def picks(_shared_cloud):
    return Picks(_shared_cloud.api)


@pytest.fixture(scope="module")
def osc(_shared_cloud, picks, tmp_path_factory):
    """The CLI, with every command of this module already started."""
    cli = OpenStackCli(_shared_cloud, tmp_path_factory.mktemp("osc"))
    try:
        cli.start("aggregate", "list", "--long")
        cli.start("hypervisor", "list")
        cli.start("flavor", "list", "--all", "--long")
        cli.start("compute", "service", "list", "--long")
        for name in picks.aggregates:
            cli.start("aggregate", "show", name)
        for name in picks.hypervisors:
            cli.start("hypervisor", "show", name)
        for name in picks.flavors:
            cli.start("flavor", "show", name)
        for name in picks.projects:
            cli.start("quota", "show", name)
        cli.start("quota", "list", "--compute", "--detail", "--project", picks.detail_project)
        yield cli
    finally:
        cli.stop()


# ---- reading the mount, by JSON content rather than by file name ----------

def load_json(m, rel):
    return json.loads(m.read(rel))


def dirs_by_json(m, top, json_file, key):
    """{object[key]: directory} for every directory under `top`, from its own
    JSON file, so that escaped file names do not matter."""
    found = {}
    for entry in m.listdir(top):
        value = load_json(m, "%s/%s/%s" % (top, entry, json_file))[key]
        assert value not in found, "%s %r shown twice: %s and %s" % (
            top, value, found[value], entry)
        found[value] = "%s/%s" % (top, entry)
    return found


def one_value(m, rel):
    """A one-value file: the value and a newline, or empty for no value."""
    text = m.text(rel)
    if text == "":
        return ""
    assert text.endswith("\n") and "\n" not in text[:-1], (rel, text)
    return text[:-1]


def by(rows, key):
    out = {}
    for row in rows:
        assert row[key] not in out, "%r twice" % row[key]
        out[row[key]] = row
    return out


# ---- aggregates ------------------------------------------------------------

def test_aggregate_list_matches_aggregates_json(mount, osc):
    cli = osc("aggregate", "list", "--long")
    m = mount()
    fs = load_json(m, "aggregates.json")

    assert cli and set(cli[0]) == set(AGGREGATE_LIST_COLUMNS)
    assert [row["Name"] for row in cli] == [a["name"] for a in fs], "same aggregates, same order"
    fs_by_name = by(fs, "name")
    for row in cli:
        agg = fs_by_name[row["Name"]]
        assert row["ID"] == agg["id"], row["Name"]
        assert row["Availability Zone"] == agg["availability_zone"], row["Name"]
        assert row["Hosts"] == agg["hosts"], row["Name"]
        assert row["Properties"] == metadata_as_cli_shows_it(agg["metadata"]), row["Name"]
        # The key openstackclient hides is the AZ itself, when there is one.
        assert agg["metadata"].get("availability_zone") == agg["availability_zone"], row["Name"]


def test_aggregate_list_matches_aggregate_directories(mount, osc):
    cli = osc("aggregate", "list", "--long")
    m = mount()
    dirs = dirs_by_json(m, "aggregates", "aggregate.json", "name")
    assert sorted(dirs) == sorted(row["Name"] for row in cli)
    for row in cli:
        d = dirs[row["Name"]]
        agg = load_json(m, d + "/aggregate.json")
        assert agg["id"] == row["ID"], d
        assert m.lines(d + "/hosts") == row["Hosts"], d
        assert one_value(m, d + "/availability_zone") == (row["Availability Zone"] or ""), d
        assert one_value(m, d + "/gpu_type") == row["Properties"].get("gpu_type", ""), d
        # metadata/ holds every key, the AZ included; the CLI shows the AZ
        # in its own column.
        expected = dict(row["Properties"])
        if row["Availability Zone"]:
            expected["availability_zone"] = row["Availability Zone"]
        assert m.listdir(d + "/metadata") == sorted(fs_name(k) for k in expected), d
        for key, value in expected.items():
            assert one_value(m, "%s/metadata/%s" % (d, fs_name(key))) == value, (d, key)


def test_aggregate_show_matches_aggregate_json(mount, osc, picks):
    m = mount()
    dirs = dirs_by_json(m, "aggregates", "aggregate.json", "name")
    for name in picks.aggregates:
        cli = osc("aggregate", "show", name)
        agg = load_json(m, dirs[name] + "/aggregate.json")
        assert set(cli) == set(AGGREGATE_SHOW_FIELDS), name
        for cli_key, api_key in AGGREGATE_SHOW_FIELDS.items():
            want = agg[api_key]
            if cli_key == "properties":
                want = metadata_as_cli_shows_it(want)
            assert cli[cli_key] == want, "%s: CLI %s=%r, infrafs %s=%r" % (
                name, cli_key, cli[cli_key], api_key, agg[api_key])


# ---- hypervisors -----------------------------------------------------------

def test_hypervisor_list_matches_hosts_json(mount, osc):
    cli = osc("hypervisor", "list")
    m = mount()
    fs = load_json(m, "hosts.json")

    assert cli and set(cli[0]) == set(HYPERVISOR_LIST_COLUMNS)
    assert len(cli) == len(fs)
    for row, hyp in zip(cli, fs):  # the same order: the API's
        for column, key in HYPERVISOR_LIST_COLUMNS.items():
            assert row[column] == hyp[key], "%s: CLI %s=%r, infrafs %s=%r" % (
                row["Hypervisor Hostname"], column, row[column], key, hyp[key])


def test_hypervisor_list_matches_host_directories(mount, osc):
    cli = osc("hypervisor", "list")
    m = mount()
    dirs = dirs_by_json(m, "hosts", "hypervisor.json", "hypervisor_hostname")
    assert sorted(dirs) == sorted(row["Hypervisor Hostname"] for row in cli), \
        "`ls hosts` shows each hypervisor once"
    for row in cli:
        d = dirs[row["Hypervisor Hostname"]]
        hyp = load_json(m, d + "/hypervisor.json")
        for column, key in HYPERVISOR_LIST_COLUMNS.items():
            assert row[column] == hyp[key], (d, column)
        assert one_value(m, d + "/state") == row["State"], d


def test_hypervisor_show_matches_host_directory(mount, osc, picks):
    m = mount()
    dirs = dirs_by_json(m, "hosts", "hypervisor.json", "hypervisor_hostname")
    for name in picks.hypervisors:
        cli = osc("hypervisor", "show", name)
        d = dirs[name]
        hyp = load_json(m, d + "/hypervisor.json")
        assert set(cli) == set(HYPERVISOR_SHOW_FIELDS) | HYPERVISOR_SHOW_DERIVED, name
        for cli_key, api_key in HYPERVISOR_SHOW_FIELDS.items():
            assert cli[cli_key] == dig(hyp, api_key), "%s: CLI %s=%r, infrafs %s=%r" % (
                name, cli_key, cli[cli_key], api_key, dig(hyp, api_key))
        # The one-value files.
        assert one_value(m, d + "/state") == cli["state"]
        assert one_value(m, d + "/status") == cli["status"]
        assert one_value(m, d + "/service_host") == cli["service_host"]
        # The CLI works out membership from `aggregate list` by service host;
        # infrafs's aggregates file must name the same aggregates.
        assert sorted(m.lines(d + "/aggregates")) == sorted(cli["aggregates"]), name
        assert len(cli["aggregates"]) >= 1, name
        # uptime, split the client's way.
        match = UPTIME_RE.match(hyp["uptime"])
        assert match, hyp["uptime"]
        assert (cli["host_time"], cli["uptime"], cli["users"], cli["load_average"]) == \
            match.groups(), name
        # The service host is an alias of the same hypervisor.
        alias = "hosts/" + fs_name(cli["service_host"])
        assert load_json(m, alias + "/hypervisor.json") == hyp, alias


def test_compute_service_list_matches_hosts(mount, osc):
    cli = osc("compute", "service", "list", "--long")
    m = mount()
    hosts = load_json(m, "hosts.json")
    aggregates = load_json(m, "aggregates.json")

    assert cli and set(cli[0]) == set(SERVICE_LIST_COLUMNS) | SERVICE_LIST_UNCOMPARED
    computes = [row for row in cli if row["Binary"] == "nova-compute"]
    by_service_host = {}
    for hyp in hosts:
        by_service_host.setdefault(hyp["service"]["host"], []).append(hyp)
    assert sorted(row["Host"] for row in computes) == sorted(by_service_host), \
        "one nova-compute service per service host in hosts.json"
    others = [row["Host"] for row in cli if row["Binary"] != "nova-compute"]
    assert not set(others) & set(by_service_host), "controller hosts are no hypervisors"

    for row in computes:
        (hyp,) = by_service_host[row["Host"]]
        for column, key in SERVICE_LIST_COLUMNS.items():
            assert row[column] == dig(hyp, key), "%s: CLI %s=%r, infrafs %s=%r" % (
                row["Host"], column, row[column], key, dig(hyp, key))
        zones = {a["availability_zone"] for a in aggregates
                 if row["Host"] in a["hosts"] and a["availability_zone"]}
        assert len(zones) <= 1, (row["Host"], zones)
        assert row["Zone"] == (zones.pop() if zones else NOVA_DEFAULT_AZ), row["Host"]


# ---- flavors ---------------------------------------------------------------

def test_flavor_list_matches_flavors_json(mount, osc):
    cli = osc("flavor", "list", "--all", "--long")
    m = mount()
    fs = load_json(m, "flavors.json")

    assert cli and set(cli[0]) == set(FLAVOR_LIST_COLUMNS)
    assert [row["ID"] for row in cli] == [f["id"] for f in fs], "same flavors, same order"
    for row, flavor in zip(cli, fs):
        for column, key in FLAVOR_LIST_COLUMNS.items():
            assert row[column] == flavor[key], "%s: CLI %s=%r, infrafs %s=%r" % (
                row["Name"], column, row[column], key, flavor[key])
    assert any(not row["Is Public"] for row in cli), "the private flavor is listed too"


def test_flavor_list_matches_flavor_directories(mount, osc):
    cli = osc("flavor", "list", "--all", "--long")
    m = mount()
    dirs = dirs_by_json(m, "flavors", "flavor.json", "id")
    assert sorted(dirs) == sorted(row["ID"] for row in cli)
    for row in cli:
        d = dirs[row["ID"]]
        flavor = load_json(m, d + "/flavor.json")
        for column, key in FLAVOR_LIST_COLUMNS.items():
            assert row[column] == flavor[key], (d, column)
        specs = row["Properties"]
        assert m.listdir(d + "/extra_specs") == sorted(fs_name(k) for k in specs), d
        for key, value in specs.items():
            assert one_value(m, "%s/extra_specs/%s" % (d, fs_name(key))) == value, (d, key)


def test_flavor_show_matches_flavor_json(mount, osc, picks):
    m = mount()
    dirs = dirs_by_json(m, "flavors", "flavor.json", "name")
    projects = load_json(m, "projects.json")
    for name in picks.flavors:
        cli = osc("flavor", "show", name)
        flavor = load_json(m, dirs[name] + "/flavor.json")
        assert set(cli) == set(FLAVOR_SHOW_FIELDS) | {"access_project_ids"}, name
        for cli_key, api_key in FLAVOR_SHOW_FIELDS.items():
            assert cli[cli_key] == flavor[api_key], "%s: CLI %s=%r, infrafs %s=%r" % (
                name, cli_key, cli[cli_key], api_key, flavor[api_key])
        if flavor["os-flavor-access:is_public"]:
            assert cli["access_project_ids"] is None, name
        else:
            # A private flavor's access list names projects infrafs knows.
            known = {p["id"] for p in projects}
            assert cli["access_project_ids"], name
            assert set(cli["access_project_ids"]) <= known, (name, cli["access_project_ids"])


# ---- quotas ----------------------------------------------------------------

def quota_dirs(m):
    """{project name: (quota dir, project)} by compute.json's project id."""
    projects = by(load_json(m, "projects.json"), "id")
    out = {}
    for entry in m.listdir("quotas"):
        project = projects[load_json(m, "quotas/%s/compute.json" % entry)["id"]]
        out[project["name"]] = ("quotas/" + entry, project)
    return out


def compute_lines(m, d):
    """quotas/<p>/compute: `resource limit in_use reserved` per line."""
    out = {}
    for line in m.lines(d + "/compute"):
        resource, limit, in_use, reserved = line.split()
        out[resource] = {"limit": int(limit), "in_use": int(in_use), "reserved": int(reserved)}
    return out


def test_quota_show_matches_quota_files(mount, osc, picks):
    m = mount()
    dirs = quota_dirs(m)
    assert sorted(dirs) == picks.projects
    for name in picks.projects:
        cli = osc("quota", "show", name)
        d, project = dirs[name]
        quota = load_json(m, d + "/compute.json")
        lines = compute_lines(m, d)

        assert set(cli) == set(QUOTA_SHOW_FIELDS) | set(QUOTA_SHOW_PROJECT_FIELDS), name
        assert cli["project"] == quota["id"] == project["id"], name
        assert cli["project_name"] == project["name"] == name
        # The same resources on both sides, no more, no less.
        assert sorted(QUOTA_SHOW_FIELDS.values()) == sorted(k for k in quota if k != "id")
        assert sorted(lines) == sorted(QUOTA_SHOW_FIELDS.values()), name
        for cli_key, resource in QUOTA_SHOW_FIELDS.items():
            assert cli[cli_key] == quota[resource]["limit"] == lines[resource]["limit"], \
                "%s: CLI %s=%r, compute.json %s=%r, compute %r" % (
                    name, cli_key, cli[cli_key], resource, quota[resource], lines[resource])


def test_quota_list_detail_matches_quota_files(mount, osc, picks):
    name = picks.detail_project
    cli = osc("quota", "list", "--compute", "--detail", "--project", name)
    m = mount()
    d, _ = quota_dirs(m)[name]
    quota = load_json(m, d + "/compute.json")
    lines = compute_lines(m, d)

    assert cli and set(cli[0]) == {"Resource"} | set(QUOTA_DETAIL_COLUMNS)
    assert sorted(row["Resource"] for row in cli) == sorted(k for k in quota if k != "id")
    for row in cli:
        resource = row["Resource"]
        for column, key in QUOTA_DETAIL_COLUMNS.items():
            assert row[column] == quota[resource][key] == lines[resource][key], \
                "%s %s: CLI %s=%r, compute.json %r, compute %r" % (
                    name, resource, column, row[column], quota[resource], lines[resource])
    assert any(row["In Use"] for row in cli), "usage is counted, not all zeros"
