"""Deterministic generated GPU fleet: the in-memory "database" of the fake.

Everything is derived from host names and the host count through stable
hashes (blake2b, uuid5), never from `random`, so the same --hosts N gives
the same data on every run and every Python version.  Generation is linear
and cheap (10000 hosts in well under a second).

The services (compute, placement, identity, netbox) only read and mutate this
model; they hold `Fleet.lock` while doing so (the HTTP layer takes it for them).
"""

import datetime
import hashlib
import re
import threading
import uuid

NAMESPACE = uuid.UUID("4b8f3a52-1f0e-5c3a-9d2e-6a1c0f7e9b10")
DOMAIN_ID = "default"
DOMAIN_NAME = "Default"
USER_NAME = "admin"
FQDN_SUFFIX = ".ca1.example.net"
EPOCH = datetime.datetime(2025, 1, 6, 8, 0, 0)
SERVICE_HEARTBEAT = "2026-01-15T10:00:00.000000"
DOWN_HEARTBEAT = "2026-01-09T03:14:15.000000"
CONTROLLER = "CA1-ctl01"


def h(*parts):
    """Stable 64-bit hash of the parts (independent of PYTHONHASHSEED)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def duuid(*parts):
    """uuid5 under NAMESPACE, formatted by hand (uuid.UUID is slow in bulk)."""
    name = "/".join(str(p) for p in parts).encode()
    b = bytearray(hashlib.sha1(NAMESPACE.bytes + name).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    x = b.hex()
    return "%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])


def iso_z_naive_epoch(days_before):
    """A fixed 'YYYY-MM-DDTHH:MM:SSZ' some days before EPOCH (glance style)."""
    return (EPOCH - datetime.timedelta(days=60 + days_before)).strftime("%Y-%m-%dT%H:%M:%SZ")


def hex32(*parts):
    return hashlib.md5("/".join(str(p) for p in parts).encode()).hexdigest()


# GPU types.  `rc` is the placement resource class of the GPUs on the root
# provider; `trait` is a placement trait naming the model (none for the esc8
# boxes: only the aggregate knows what is in them).
GPU_TYPES = {
    "H100-SXM5": dict(prefix="CA1-h100sxm-node", aggregate="GPU-H100-SXM5", gpus=8,
                      rc="CUSTOM_GPU_H100_SXM5", trait="CUSTOM_GPU_H100_SXM5",
                      vcpus=224, memory_mb=2063360, local_gb=7000, az="ca1-a",
                      cpu_model="SapphireRapids", qemu=8002000, octet=11, weight=40),
    "A100": dict(prefix="CA1-a100-node", aggregate="GPU-A100", gpus=8,
                 rc="VGPU", trait="CUSTOM_NVIDIA_A100",
                 vcpus=128, memory_mb=1031168, local_gb=3500, az="ca1-b",
                 cpu_model="EPYC-Milan", qemu=6002000, octet=12, weight=25),
    "H200-SXM5": dict(prefix="CA1-h200sxm-node", aggregate="GPU-H200-SXM5", gpus=8,
                      rc="CUSTOM_GPU_H200_SXM5", trait="CUSTOM_GPU_H200_SXM5",
                      vcpus=224, memory_mb=2063360, local_gb=7000, az="ca1-a",
                      cpu_model="SapphireRapids", qemu=8002000, octet=13, weight=20),
    "L40": dict(prefix="CA1-l40-node", aggregate="GPU-L40", gpus=4,
                rc="VGPU", trait="CUSTOM_NVIDIA_L40",
                vcpus=64, memory_mb=515584, local_gb=1800, az=None,
                cpu_model="Icelake-Server", qemu=7002000, octet=14, weight=15),
    "RTX6000": dict(prefix="CA1-esc8-", aggregate="GPU-RTX6000-ESC8", gpus=8,
                    rc="VGPU", trait=None,
                    vcpus=96, memory_mb=773120, local_gb=3500, az=None,
                    cpu_model="Cascadelake-Server", qemu=6002000, octet=15, weight=0),
}
TYPE_ORDER = ["H100-SXM5", "A100", "H200-SXM5", "L40", "RTX6000"]
INFER = object()  # add_host(): derive the GPU type from the host name

# Flavors: (name, id, vcpus, ram MB, disk GB, ephemeral GB, gpu type, gpus, extra specs)
_FLAVORS = [
    ("m1.small", "2", 1, 2048, 20, 0, None, 0, {}),
    ("m1.large", "4", 4, 8192, 80, 0, None, 0, {}),
    ("n3-H100x1", None, 24, 192000, 200, 250, "H100-SXM5", 1, {}),
    ("n3-H100x2", None, 48, 384000, 200, 500, "H100-SXM5", 2, {}),
    ("n3-H100x4", None, 96, 768000, 200, 1000, "H100-SXM5", 4, {}),
    ("n3-H100x8", None, 192, 1536000, 200, 2000, "H100-SXM5", 8, {}),
    ("n3-A100x1", None, 14, 112640, 100, 0, "A100", 1, {}),
    ("n3-A100x4", None, 56, 450560, 100, 0, "A100", 4, {}),
    ("n3-A100x8", None, 112, 901120, 100, 0, "A100", 8, {}),
    ("n3-H200x4", None, 96, 768000, 200, 1000, "H200-SXM5", 4, {}),
    ("n3-H200x8", None, 192, 1536000, 200, 2000, "H200-SXM5", 8, {}),
    ("n3-L40x1", None, 14, 114688, 100, 0, "L40", 1, {}),
    ("n3-L40x2", None, 28, 229376, 100, 0, "L40", 2, {}),
    ("n3-RTX6000x2", None, 22, 184320, 100, 0, "RTX6000", 2, {}),
    ("n3-RTX6000x8", None, 88, 737280, 100, 0, "RTX6000", 8, {}),
    # private flavor, only ml-research has access
    ("p1-H100x8-bench", None, 192, 1536000, 200, 2000, "H100-SXM5", 8,
     {"hw:cpu_policy": "dedicated"}),
]
PRIVATE_FLAVOR = "p1-H100x8-bench"


def gpu_extra_specs(gpu_type, count):
    """Extra specs the way operators write them for each GPU type."""
    if gpu_type in ("H100-SXM5", "H200-SXM5"):
        alias = "h100" if gpu_type == "H100-SXM5" else "h200"
        return {"pci_passthrough:alias": "%s:%d" % (alias, count),
                "hw:hide_hypervisor_id": "true"}
    if gpu_type in ("A100", "L40"):
        return {"resources:VGPU": str(count),
                "trait:%s" % GPU_TYPES[gpu_type]["trait"]: "required"}
    if gpu_type == "RTX6000":
        return {"resources:VGPU": str(count),
                "aggregate_instance_extra_specs:gpu_type": "RTX6000",
                "hw:hide_hypervisor_id": "true"}
    return {}


def gpus_in_specs(specs):
    """GPU count requested by a flavor's extra specs (alias + resources)."""
    total = 0
    for key, value in specs.items():
        try:
            if key == "pci_passthrough:alias":
                for part in str(value).split(","):
                    if ":" in part:
                        total += int(part.rsplit(":", 1)[1])
            elif key.startswith("resources") and ":" in key:
                rc = key.split(":", 1)[1]
                if rc in ("VGPU", "PGPU") or rc.startswith("CUSTOM_GPU"):
                    total += int(value)
        except ValueError:
            pass
    return total


IMAGE_NAMES = ("ubuntu-24.04", "rocky-9", "ubuntu-22.04")
IMAGES = [duuid("image", n) for n in IMAGE_NAMES]

PROJECTS = [
    ("admin", "Bootstrap project for initializing the cloud."),
    ("ml-research", "Model training"),
    ("inference-prod", "Production inference"),
]

DEFAULT_QUOTAS = {
    "instances": 10, "cores": 20, "ram": 51200, "key_pairs": 100,
    "metadata_items": 128, "server_groups": 10, "server_group_members": 10,
    "injected_files": 5, "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255, "floating_ips": 10, "fixed_ips": -1,
    "security_groups": 10, "security_group_rules": 20,
}

# NetBox (DCIM) catalog.  One device per service host, named like it, except
# the last generated hypervisor (compute node id N): NetBox does not know it.
NB_MANUFACTURERS = {1: ("Supermicro", "supermicro"), 2: ("NVIDIA", "nvidia"),
                    3: ("Dell", "dell"), 4: ("ASUS", "asus")}
# gpu type -> (device type id, manufacturer id, model, slug, serial prefix)
NB_DEVICE_TYPES = {
    "H100-SXM5": (1, 1, "SYS-821GE-TNHR", "sys-821ge-tnhr", "S8"),
    "A100": (2, 2, "DGX A100", "dgx-a100", "1563"),
    "H200-SXM5": (3, 3, "PowerEdge XE9680", "poweredge-xe9680", "D9"),
    "L40": (4, 1, "SYS-421GE-TNRT", "sys-421ge-tnrt", "S4"),
    "RTX6000": (5, 4, "ESC8000 G4", "esc8000-g4", "M8"),
    None: (6, 3, "PowerEdge R650", "poweredge-r650", "D6"),
}
# site id -> (name, slug, location id, location name, location slug, rack prefix)
NB_SITES = {1: ("CA1", "ca1", 1, "Hall A", "hall-a", "A"),
            2: ("CA1-Annex", "ca1-annex", 2, "Cage X", "cage-x", "X")}
NB_SITE_OF = {"L40": 2, "RTX6000": 2}      # every other type (and CPU-only) is in site 1
NB_ROLES = {1: ("GPU Hypervisor", "gpu-hypervisor"), 2: ("Hypervisor", "hypervisor")}
NB_PLATFORM = (1, "Ubuntu 24.04", "ubuntu-24-04")
# tag slug -> (id, name, color)
NB_TAGS = {"rma": (1, "RMA", "f44336"), "burn-in": (2, "burn-in", "ff9800")}
NB_STATUSES = {"offline": "Offline", "active": "Active", "planned": "Planned",
               "staged": "Staged", "failed": "Failed", "inventory": "Inventory",
               "decommissioning": "Decommissioning"}
NB_PER_RACK = 4


def naturalize(name):
    """NetBox's natural ordering key: digit runs padded to 8 digits."""
    return re.sub(r"\d+", lambda m: m.group().zfill(8), name)


class Host:
    """A compute node, its nova-compute service and its placement root provider."""

    __slots__ = ("id", "uuid", "hypervisor_hostname", "service_host", "gpu_type",
                 "state", "disabled", "disabled_reason", "forced_down", "service_id",
                 "service_uuid", "host_ip", "vcpus", "memory_mb", "local_gb",
                 "hypervisor_version", "cpu_model", "uptime", "generation", "az_hint")

    @property
    def spec(self):
        return GPU_TYPES.get(self.gpu_type) or {}

    @property
    def gpus(self):
        return self.spec.get("gpus", 0)


class Aggregate:
    __slots__ = ("id", "uuid", "name", "availability_zone", "hosts", "metadata",
                 "created_at", "updated_at")


class Flavor:
    __slots__ = ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap",
                 "rxtx_factor", "is_public", "disabled", "description", "extra_specs",
                 "access", "created")


class Server:
    __slots__ = ("id", "name", "project_id", "user_id", "node", "host", "flavor_id",
                 "flavor", "status", "created", "updated", "launched_at", "image_id",
                 "az", "instance_name", "key_name", "ip", "mac", "seq", "gpus")


class Device:
    """A NetBox DCIM device (one per service host); NetBox's view is netbox.py's."""

    __slots__ = ("id", "name", "gpu_type", "site", "rack", "position", "status", "tags",
                 "comments", "serial", "asset_tag", "ip4", "created", "last_updated")


def _nice_ceil(n):
    """Round up to two significant digits (quota limits look hand-set)."""
    if n <= 0:
        return 0
    digits = len(str(int(n)))
    step = 10 ** max(0, digits - 2)
    return -(-int(n) // step) * step


def _type_counts(n):
    """How many hosts of each GPU type for n hosts (all five when n >= 5)."""
    counts = dict.fromkeys(TYPE_ORDER, 0)
    if n < 5:
        for t in TYPE_ORDER[:n]:
            counts[t] = 1
        return counts
    counts["RTX6000"] = 2 if n >= 6 else 1
    rest = n - counts["RTX6000"]
    main = TYPE_ORDER[:4]
    for t in main:
        counts[t] = 1
    extra = rest - 4
    weights = [GPU_TYPES[t]["weight"] for t in main]
    total_w = sum(weights)
    shares = [extra * w / total_w for w in weights]
    floors = [int(s) for s in shares]
    left = extra - sum(floors)
    order = sorted(range(4), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    for t, f in zip(main, floors):
        counts[t] += f
    return counts


def host_name(gpu_type, number):
    spec = GPU_TYPES[gpu_type]
    if gpu_type == "RTX6000":
        return "%s%d" % (spec["prefix"], number)
    return "%s%02d" % (spec["prefix"], number)


def gpu_type_from_name(name):
    for t in TYPE_ORDER:
        if name.startswith(GPU_TYPES[t]["prefix"]):
            return t
    return None


def normalize_gpu_type(value):
    if value in (None, "", "none", "None", "cpu"):
        return None
    for t in TYPE_ORDER:
        if str(value).lower() in (t.lower(), GPU_TYPES[t]["aggregate"].lower()):
            return t
    raise ValueError("unknown gpu_type %r (one of %s)" % (value, ", ".join(TYPE_ORDER)))


class Fleet:
    """All mutable state of the fake cloud; guard every access with `lock`."""

    def __init__(self, hosts=48):
        self.lock = threading.RLock()
        self.n_hosts = hosts
        self.hosts = []          # ordered by compute node id
        self.by_node = {}        # hypervisor_hostname -> Host
        self.aggregates = {}     # id -> Aggregate (insertion ordered)
        self.flavors = {}        # flavor id -> Flavor
        self.projects = []       # list of dicts
        self.servers = {}        # uuid -> Server
        self.quotas = {}         # project id -> {resource: limit}
        self.other_services = []  # conductor/scheduler records
        self.user = {"id": hex32("fakecloud-user", USER_NAME), "name": USER_NAME}
        self.devices = {}        # NetBox: service host -> Device
        self.racks = {}          # NetBox: rack name -> id
        self.rack_fill = {}      # NetBox: site id -> devices ever placed there
        self.next_device_id = 1
        self._server_order = None
        self._device_order = None
        self._index = None
        self._build(hosts)

    # ------------------------------------------------------------------ build
    def _build(self, n):
        for name, desc in PROJECTS:
            self.projects.append({"id": hex32("fakecloud-project", name), "name": name,
                                  "description": desc})
        self.project_by_name = {p["name"]: p for p in self.projects}
        self._build_services()
        self._build_flavors()
        self._build_hosts(n)
        self._build_aggregates()
        self._build_servers()
        self._build_quotas()
        self._build_devices()

    def _build_services(self):
        for i, binary in enumerate(("nova-conductor", "nova-scheduler"), start=1):
            self.other_services.append({
                "id": i, "uuid": duuid("service", CONTROLLER, binary), "binary": binary,
                "host": CONTROLLER, "zone": "internal", "disabled": False,
                "disabled_reason": None, "forced_down": False, "state": "up"})
        self.next_service_id = len(self.other_services) + 1

    def _build_flavors(self):
        for name, fid, vcpus, ram, disk, eph, gtype, gpus, specs in _FLAVORS:
            f = Flavor()
            f.id = fid or duuid("flavor", name)
            f.name = name
            f.vcpus, f.ram, f.disk, f.ephemeral, f.swap = vcpus, ram, disk, eph, 0
            f.rxtx_factor = 1.0
            f.is_public = name != PRIVATE_FLAVOR
            f.disabled = False
            f.description = ("%d x %s" % (gpus, gtype)) if gtype else None
            f.extra_specs = dict(specs)
            if gtype:
                f.extra_specs.update(gpu_extra_specs(gtype, gpus))
            f.access = [] if f.is_public else [self.project_by_name["ml-research"]["id"]]
            f.created = len(self.flavors)
            self.flavors[f.id] = f

    def _new_host(self, node_id, hypervisor_hostname, service_host, gpu_type):
        spec = GPU_TYPES.get(gpu_type) or {}
        x = Host()
        x.id = node_id
        x.uuid = duuid("compute-node", hypervisor_hostname)
        x.hypervisor_hostname = hypervisor_hostname
        x.service_host = service_host
        x.gpu_type = gpu_type
        x.state = "up"
        x.disabled = False
        x.disabled_reason = None
        x.forced_down = False
        x.service_id = self.next_service_id
        self.next_service_id += 1
        x.service_uuid = duuid("service", service_host, "nova-compute")
        hv = h(hypervisor_hostname, "ip")
        x.host_ip = "10.%d.%d.%d" % (spec.get("octet", 16), (hv >> 8) % 250 + 1, hv % 250 + 2)
        x.vcpus = spec.get("vcpus", 32)
        x.memory_mb = spec.get("memory_mb", 257024)
        x.local_gb = spec.get("local_gb", 900)
        x.hypervisor_version = spec.get("qemu", 8002000)
        x.cpu_model = spec.get("cpu_model", "Skylake-Server")
        days = h(hypervisor_hostname, "uptime") % 400 + 1
        x.uptime = (" %02d:%02d:%02d up %d days, %2d:%02d,  0 users,  load average: 0.%02d, 0.%02d, 0.%02d"
                    % (hv % 24, hv % 60, (hv >> 6) % 60, days, (hv >> 12) % 24, (hv >> 18) % 60,
                       hv % 97, (hv >> 3) % 97, (hv >> 5) % 97))
        x.generation = 1
        x.az_hint = spec.get("az")
        return x

    def _build_hosts(self, n):
        names = []
        for t, count in _type_counts(n).items():
            for i in range(1, count + 1):
                names.append((h(host_name(t, i), "order"), host_name(t, i), t))
        names.sort()
        for idx, (_, short, t) in enumerate(names):
            node = short + FQDN_SUFFIX if h(short, "fqdn") % 4 == 0 else short
            x = self._new_host(idx + 1, node, short, t)
            if idx % 23 == 11:
                x.state = "down"
                x.uptime = None
            if idx % 29 == 17:
                x.disabled = True
                x.disabled_reason = "RMA: GPU %d Xid 79 (ticket OPS-%d)" % (
                    h(short, "gpu") % 8, 1000 + h(short, "ticket") % 9000)
            self.hosts.append(x)
            self.by_node[node] = x
        self.next_node_id = len(self.hosts) + 1
        self._index = None

    def _build_aggregates(self):
        by_type = {t: [] for t in TYPE_ORDER}
        for x in self.hosts:
            by_type[x.gpu_type].append(x.service_host)
        for i, t in enumerate(TYPE_ORDER, start=1):
            spec = GPU_TYPES[t]
            meta = {"gpu_type": t, "gpu_count": str(spec["gpus"])}
            self._add_aggregate(i, spec["aggregate"], spec["az"], sorted(by_type[t]), meta)
        maint = [x.service_host for x in self.hosts if x.disabled][:2] or \
            [x.service_host for x in self.hosts[:1]]
        self._add_aggregate(len(TYPE_ORDER) + 1, "maintenance", None, maint, {})
        self.next_aggregate_id = len(self.aggregates) + 1

    def _add_aggregate(self, agg_id, name, az, hosts, metadata):
        a = Aggregate()
        a.id = agg_id
        a.uuid = duuid("aggregate", name)
        a.name = name
        a.availability_zone = az
        a.hosts = list(hosts)
        a.metadata = dict(metadata)
        if az:
            a.metadata["availability_zone"] = az
        t = EPOCH - datetime.timedelta(days=30 - agg_id, seconds=h(name, "t") % 86400)
        a.created_at = t.replace(microsecond=h(name, "us") % 1000000)
        a.updated_at = None
        self.aggregates[a.id] = a
        return a

    def _build_servers(self):
        flavors_by_type = {}
        for f in self.flavors.values():
            gt = self._flavor_gpu_type(f)
            if gt and f.is_public:
                flavors_by_type.setdefault(gt, []).append(f)
        gpus_of = {f.id: gpus_in_specs(f.extra_specs) for f in self.flavors.values()}
        for fl in flavors_by_type.values():
            fl.sort(key=lambda f: gpus_of[f.id])
        small = self.flavors["2"]
        seq = 0
        projects = self.projects
        for x in self.hosts:
            load = h(x.service_host, "load") % 8
            if load < 2:
                continue
            free = x.gpus
            options = flavors_by_type.get(x.gpu_type, [])
            chosen = []
            for i in range(1 + load % 3):
                fits = [f for f in options if gpus_of[f.id] <= free]
                if not fits:
                    break
                f = fits[h(x.service_host, "flavor", i) % len(fits)]
                free -= gpus_of[f.id]
                chosen.append(f)
            if load == 7:
                chosen.append(small)
            for i, f in enumerate(chosen):
                seq += 1
                key = h(x.service_host, "server", i)
                r = key % 10
                project = projects[0] if r == 0 else projects[1] if r < 6 else projects[2]
                if f is small:
                    name = "jump-%s" % x.service_host.lower()
                elif project["name"] == "ml-research":
                    name = "train-%s-%04d" % (x.gpu_type.split("-")[0].lower(), seq)
                elif project["name"] == "inference-prod":
                    name = "infer-%s-%04d" % (("llama", "mistral", "qwen", "whisper")[key % 4], seq)
                else:
                    name = "burnin-%s" % x.service_host.lower()
                self._add_server(duuid("server", x.service_host, i), name, project["id"], x, f,
                                 "SHUTOFF" if key % 7 == 0 else "ACTIVE", key, seq)
        self._server_order = None

    def _add_server(self, sid, name, project_id, x, f, status, key, seq):
        s = Server()
        s.id = sid
        s.name = name
        s.project_id = project_id
        s.user_id = self.user["id"]
        s.node = x.hypervisor_hostname
        s.host = x.service_host
        s.flavor_id = f.id
        s.flavor = {"original_name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk,
                    "ephemeral": f.ephemeral, "swap": f.swap,
                    "extra_specs": dict(f.extra_specs)}
        s.status = status
        s.created = EPOCH + datetime.timedelta(seconds=key % (330 * 86400))
        s.updated = s.created + datetime.timedelta(seconds=40 + key % 5000)
        s.launched_at = s.created + datetime.timedelta(seconds=25, microseconds=key % 1000000)
        s.image_id = IMAGES[key % len(IMAGES)]
        s.az = x.az_hint or "nova"
        s.instance_name = "instance-%08x" % seq
        s.key_name = None if key % 3 == 0 else "ops-key"
        s.ip = "10.%d.%d.%d" % (100 + key % 50, (key >> 8) % 254 + 1, (key >> 16) % 254 + 1)
        s.mac = "fa:16:3e:%02x:%02x:%02x" % ((key >> 24) & 255, (key >> 32) & 255, (key >> 40) & 255)
        s.seq = seq
        s.gpus = gpus_in_specs(s.flavor["extra_specs"])
        self.servers[s.id] = s
        return s

    def _build_quotas(self):
        usage = self.project_usage()
        for p in self.projects:
            q = dict(DEFAULT_QUOTAS)
            u = usage.get(p["id"], {})
            for key in ("instances", "cores", "ram"):
                q[key] = max(q[key], _nice_ceil(u.get(key, 0) * 1.5))
            self.quotas[p["id"]] = q
        self.quotas[self.project_by_name["inference-prod"]["id"]]["ram"] = -1

    def _build_devices(self):
        """NetBox devices, ids in natural name order; the last node has none."""
        hosts = {}
        for x in self.hosts[:-1]:
            hosts.setdefault(x.service_host, x)
        for short in sorted(hosts, key=naturalize):
            x = hosts[short]
            d = self._new_device(x)
            if x.state == "down":
                d.status = "offline"
            if x.disabled:
                d.status = "failed"
                d.tags = ["rma"]
                d.comments = x.disabled_reason or ""
            if x is self.hosts[0]:
                d.tags = d.tags + ["burn-in"]
            t = EPOCH - datetime.timedelta(days=200 - d.id % 90, seconds=h(short, "nb") % 86400,
                                           microseconds=h(short, "nb-us") % 1000000)
            d.created = t
            d.last_updated = t + datetime.timedelta(seconds=h(short, "nb-upd") % (90 * 86400))

    def _new_device(self, x):
        d = Device()
        d.id = self.next_device_id
        self.next_device_id += 1
        d.name = x.service_host
        d.gpu_type = x.gpu_type
        d.site = NB_SITE_OF.get(x.gpu_type, 1)
        n = self.rack_fill.get(d.site, 0)
        self.rack_fill[d.site] = n + 1
        rack = "%s%02d" % (NB_SITES[d.site][5], n // NB_PER_RACK + 1)
        d.rack = (self.racks.setdefault(rack, len(self.racks) + 1), rack)
        d.position = 1 + 10 * (n % NB_PER_RACK)
        d.status = "active"
        d.tags = []
        d.comments = ""
        d.serial = "%s%08X" % (NB_DEVICE_TYPES[x.gpu_type][4], h(x.service_host, "serial") >> 32)
        d.asset_tag = "CA1-%06d" % d.id
        d.ip4 = x.host_ip + "/24"
        d.created = d.last_updated = None
        self.devices[d.name] = d
        self._device_order = None
        return d

    def devices_sorted(self):
        """NetBox's default device order: natural name, then id."""
        if self._device_order is None:
            self._device_order = sorted(self.devices.values(),
                                        key=lambda d: (naturalize(d.name), d.id))
        return self._device_order

    def set_device(self, x, present):
        """Give the host's service host a NetBox device, or take it away."""
        d = self.devices.get(x.service_host)
        if present and d is None:
            d = self._new_device(x)
            d.created = d.last_updated = datetime.datetime.now(datetime.timezone.utc).replace(
                tzinfo=None)
        elif not present and d is not None:
            del self.devices[x.service_host]
            self._device_order = None
        return d

    # ---------------------------------------------------------------- queries
    def _flavor_gpu_type(self, f):
        spec = f.extra_specs
        alias = spec.get("pci_passthrough:alias", "")
        if alias.startswith("h100"):
            return "H100-SXM5"
        if alias.startswith("h200"):
            return "H200-SXM5"
        if spec.get("aggregate_instance_extra_specs:gpu_type") == "RTX6000":
            return "RTX6000"
        for t in ("A100", "L40"):
            if spec.get("trait:" + GPU_TYPES[t]["trait"]) == "required":
                return t
        return None

    def index(self):
        """Lookup tables rebuilt lazily after host changes."""
        if self._index is None:
            self._index = {
                "pos_by_id": {x.id: i for i, x in enumerate(self.hosts)},
                "pos_by_uuid": {x.uuid: i for i, x in enumerate(self.hosts)},
                "by_service": {},
            }
            for x in self.hosts:
                self._index["by_service"].setdefault(x.service_host, []).append(x)
            by_node = self._index["servers_by_node"] = {}
            for s in self.servers_sorted():
                by_node.setdefault(s.node, []).append(s)
        return self._index

    def host_by_uuid(self, value):
        pos = self.index()["pos_by_uuid"].get(value)
        return None if pos is None else self.hosts[pos]

    def host_by_id(self, value):
        pos = self.index()["pos_by_id"].get(value)
        return None if pos is None else self.hosts[pos]

    def hosts_of_service(self, service_host):
        return self.index()["by_service"].get(service_host, [])

    def host_az(self, x):
        for a in self.aggregates.values():
            if a.availability_zone and x.service_host in a.hosts:
                return a.availability_zone
        return None

    def servers_sorted(self):
        """Servers in nova's default order: created_at desc (then id)."""
        if self._server_order is None:
            self._server_order = sorted(self.servers.values(),
                                        key=lambda s: (s.created, s.id), reverse=True)
        return self._server_order

    def servers_on_node(self, node):
        return self.index()["servers_by_node"].get(node, [])

    def project_usage(self):
        """{project_id: {instances, cores, ram}} counted from servers."""
        usage = {}
        for s in self.servers.values():
            u = usage.setdefault(s.project_id, {"instances": 0, "cores": 0, "ram": 0})
            u["instances"] += 1
            u["cores"] += s.flavor["vcpus"]
            u["ram"] += s.flavor["ram"]
        return usage

    def server_allocation(self, s):
        """Placement allocation of a server on its root provider."""
        x = self.by_node.get(s.node)
        res = {"VCPU": s.flavor["vcpus"], "MEMORY_MB": s.flavor["ram"],
               "DISK_GB": s.flavor["disk"] + s.flavor["ephemeral"]}
        gpus = s.gpus
        if gpus and x is not None and x.spec.get("rc"):
            res[x.spec["rc"]] = gpus
        return res

    def node_usage(self, x):
        used = {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
        if x.spec.get("rc"):
            used[x.spec["rc"]] = 0
        servers = self.servers_on_node(x.hypervisor_hostname)
        for s in servers:
            for k, v in self.server_allocation(s).items():
                used[k] = used.get(k, 0) + v
        return used, len(servers)

    def project(self, ref):
        for p in self.projects:
            if ref in (p["id"], p["name"]):
                return p
        return None

    # -------------------------------------------------------------- mutations
    def changed_hosts(self):
        self._index = None
        self._server_order = None

    def add_host(self, hypervisor_hostname, service_host=None, gpu_type=INFER, aggregate=True,
                 netbox=True):
        """Add a compute node; gpu_type INFER derives it from the name, None = CPU-only.
        With `netbox` its service host gets a NetBox device (unless it has one)."""
        if hypervisor_hostname in self.by_node:
            raise ValueError("hypervisor %s already exists" % hypervisor_hostname)
        if service_host is not None and (not isinstance(service_host, str) or not service_host):
            raise ValueError("service_host must be a non-empty string")
        service_host = service_host or hypervisor_hostname.split(".")[0]
        if gpu_type is INFER:
            gpu_type = gpu_type_from_name(service_host)
        x = self._new_host(self.next_node_id, hypervisor_hostname, service_host, gpu_type)
        self.next_node_id += 1
        self.hosts.append(x)
        self.by_node[hypervisor_hostname] = x
        if aggregate and gpu_type:
            for a in self.aggregates.values():
                if a.name == GPU_TYPES[gpu_type]["aggregate"] and service_host not in a.hosts:
                    a.hosts.append(service_host)
        if netbox:
            self.set_device(x, True)
        self.changed_hosts()
        return x

    def remove_host(self, hypervisor_hostname):
        x = self.by_node.pop(hypervisor_hostname, None)
        if x is None:
            raise KeyError(hypervisor_hostname)
        self.hosts.remove(x)
        for sid in [s.id for s in self.servers.values() if s.node == hypervisor_hostname]:
            del self.servers[sid]
        self.changed_hosts()
        if not self.hosts_of_service(x.service_host):
            for a in self.aggregates.values():
                if x.service_host in a.hosts:
                    a.hosts.remove(x.service_host)
            self.set_device(x, False)
        return x
