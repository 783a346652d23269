"""Placement subset: one root resource provider per hypervisor (uuid = compute
node uuid, name = hypervisor_hostname) with VCPU/MEMORY_MB/DISK_GB and, on
GPU hosts, a GPU class (VGPU or CUSTOM_GPU_<TYPE>) on the root provider.

Usages and allocations are derived from the servers; aggregates from nova's
host aggregates (as nova mirrors them).  There is no paging, as in placement.
"""

import re
import uuid

from .base import ApiError, Reply, Service
from .fleet import GPU_TYPES

MAX_VERSION = (1, 39)
MIN_VERSION = (1, 0)
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
          500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
          504: "Gateway Timeout"}
STANDARD_CLASSES = ["VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF",
                    "NUMA_SOCKET", "NUMA_CORE", "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS",
                    "VGPU", "VGPU_DISPLAY_HEAD", "NET_BW_EGR_KILOBIT_PER_SEC",
                    "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU", "MEM_ENCRYPTION_CONTEXT",
                    "FPGA", "PGPU"]
BASE_TRAITS = ["COMPUTE_NODE", "HW_CPU_X86_AVX2", "HW_CPU_X86_AVX512F",
               "COMPUTE_VOLUME_MULTI_ATTACH", "COMPUTE_IMAGE_TYPE_QCOW2"]
VERSION_RE = re.compile(r"^([1-9]\d*|0)\.([1-9]\d*|0)$")


class Placement(Service):
    prefix = "/placement"
    name = "placement"

    def __init__(self, cloud):
        super().__init__(cloud)
        a = self.add
        a("GET", "", "placement.versions", self.versions, auth=False)
        a("GET", "/", "placement.versions", self.versions, auth=False)
        R = "/resource_providers"
        a("GET", R, "placement.resource_providers", self.providers)
        a("GET", R + "/{uuid}", "placement.resource_provider", self.provider)
        a("GET", R + "/{uuid}/inventories", "placement.inventories", self.inventories)
        a("GET", R + "/{uuid}/inventories/{rc}", "placement.inventory", self.inventory)
        a("GET", R + "/{uuid}/usages", "placement.usages", self.usages)
        a("GET", R + "/{uuid}/aggregates", "placement.aggregates", self.aggregates)
        a("GET", R + "/{uuid}/traits", "placement.traits", self.traits)
        a("GET", R + "/{uuid}/allocations", "placement.allocations", self.allocations)
        a("GET", "/usages", "placement.project_usages", self.project_usages)
        a("GET", "/allocations/{consumer}", "placement.consumer_allocations",
          self.consumer_allocations)
        a("GET", "/resource_classes", "placement.resource_classes", self.resource_classes)
        a("GET", "/traits", "placement.trait_list", self.trait_list)

    # ----------------------------------------------------------- plumbing
    def error_body(self, status, message, req=None):
        err = {"status": status, "title": TITLES.get(status, "Error"), "detail": message,
               "request_id": "req-" + str(uuid.uuid4())}
        mv = req.context.get("pmv") if req is not None else None
        if mv is None or mv >= (1, 23):
            err["code"] = "placement.undefined_code"
        if status == 406:
            err["max_version"] = "%d.%d" % MAX_VERSION
            err["min_version"] = "%d.%d" % MIN_VERSION
        return {"errors": [err]}

    def before(self, req):
        if req.context["route"] == "placement.versions":
            return
        value = None
        hdr = req.header("OpenStack-API-Version")
        if hdr:
            for part in hdr.split(","):
                bits = part.strip().split()
                if len(bits) == 2 and bits[0].lower() == "placement":
                    value = bits[1]
        if value is None:
            req.context["pmv"] = MIN_VERSION
            return
        if value.strip().lower() == "latest":
            req.context["pmv"] = MAX_VERSION
            return
        m = VERSION_RE.match(value.strip())
        if not m:
            raise ApiError(400, "invalid version string: %s" % value)
        v = (int(m.group(1)), int(m.group(2)))
        if not MIN_VERSION <= v <= MAX_VERSION:
            raise ApiError(406, "Unacceptable version header: %s" % value)
        req.context["pmv"] = v

    def after(self, req, reply):
        mv = req.context.get("pmv")
        if mv:
            reply.headers["OpenStack-API-Version"] = "placement %d.%d" % mv
            reply.headers["Vary"] = "openstack-api-version"

    @staticmethod
    def ge(req, major, minor):
        return req.context.get("pmv", MIN_VERSION) >= (major, minor)

    def need(self, req, major, minor):
        """Routes newer than the request's microversion do not exist (404)."""
        if not self.ge(req, major, minor):
            raise ApiError(404, "The resource could not be found.")

    def check_query(self, req, allowed):
        bad = sorted(set(req.query) - set(allowed))
        if bad:
            raise ApiError(400, "Invalid query string parameters: Additional properties are "
                                "not allowed (%s was unexpected)" %
                           ", ".join(repr(b) for b in bad))

    @property
    def fleet(self):
        return self.cloud.fleet

    def _rp(self, req):
        x = self.fleet.host_by_uuid(req.params["uuid"])
        if x is None:
            raise ApiError(404, "The resource could not be found.\n\n No resource provider "
                                "with uuid %s found" % req.params["uuid"])
        return x

    # ------------------------------------------------------------- model
    def inventory_of(self, x):
        inv = {
            "VCPU": {"total": x.vcpus, "reserved": 0, "min_unit": 1, "max_unit": x.vcpus,
                     "step_size": 1, "allocation_ratio": 2.0 if x.gpu_type == "L40" else 1.0},
            "MEMORY_MB": {"total": x.memory_mb, "reserved": 512, "min_unit": 1,
                          "max_unit": x.memory_mb, "step_size": 1, "allocation_ratio": 1.0},
            "DISK_GB": {"total": x.local_gb, "reserved": 0, "min_unit": 1,
                        "max_unit": x.local_gb, "step_size": 1, "allocation_ratio": 1.0},
        }
        rc = x.spec.get("rc")
        if rc:
            inv[rc] = {"total": x.gpus, "reserved": 0, "min_unit": 1, "max_unit": x.gpus,
                       "step_size": 1, "allocation_ratio": 1.0}
        return inv

    def traits_of(self, x):
        traits = list(BASE_TRAITS)
        if x.spec.get("trait"):
            traits.append(x.spec["trait"])
        if x.disabled:
            traits.append("COMPUTE_STATUS_DISABLED")
        return sorted(traits)

    def aggregates_of(self, x):
        return [a.uuid for a in self.fleet.aggregates.values() if x.service_host in a.hosts]

    def _rp_view(self, req, x):
        base = "/placement/resource_providers/" + x.uuid
        links = [{"rel": "self", "href": base},
                 {"rel": "inventories", "href": base + "/inventories"},
                 {"rel": "usages", "href": base + "/usages"}]
        if self.ge(req, 1, 1):
            links.append({"rel": "aggregates", "href": base + "/aggregates"})
        if self.ge(req, 1, 6):
            links.append({"rel": "traits", "href": base + "/traits"})
        if self.ge(req, 1, 11):
            links.append({"rel": "allocations", "href": base + "/allocations"})
        view = {"uuid": x.uuid, "name": x.hypervisor_hostname, "generation": x.generation,
                "links": links}
        if self.ge(req, 1, 14):
            view["parent_provider_uuid"] = None
            view["root_provider_uuid"] = x.uuid
        return view

    # ------------------------------------------------------------ routes
    def versions(self, req):
        return Reply(200, {"versions": [{"id": "v1.0", "max_version": "%d.%d" % MAX_VERSION,
                                         "min_version": "%d.%d" % MIN_VERSION,
                                         "status": "CURRENT",
                                         "links": [{"rel": "self", "href": ""}]}]})

    def providers(self, req):
        allowed = {"name", "uuid"}
        if self.ge(req, 1, 3):
            allowed.add("member_of")
        if self.ge(req, 1, 4):
            allowed.add("resources")
        if self.ge(req, 1, 14):
            allowed.add("in_tree")
        if self.ge(req, 1, 18):
            allowed.add("required")
        self.check_query(req, allowed)
        f = self.fleet
        nodes = f.hosts
        if req.arg("name") is not None:
            x = f.by_node.get(req.arg("name"))
            nodes = [x] if x else []
        for param in ("uuid", "in_tree"):
            if req.arg(param) is not None:
                try:
                    value = str(uuid.UUID(req.arg(param)))
                except ValueError:
                    raise ApiError(400, "Invalid query string parameters: %r is not a "
                                        "'uuid'" % req.arg(param)) from None
                nodes = [x for x in nodes if x.uuid == value]
        for value in req.query.get("member_of", []):
            negate = value.startswith("!")
            value = value.lstrip("!")
            wanted = set((value[3:] if value.startswith("in:") else value).split(","))
            nodes = [x for x in nodes if bool(wanted & set(self.aggregates_of(x))) != negate]
        if req.arg("required") is not None:
            for t in req.arg("required").split(","):
                t = t.strip()
                if t.startswith("!"):
                    nodes = [x for x in nodes if t[1:] not in self.traits_of(x)]
                elif t:
                    nodes = [x for x in nodes if t in self.traits_of(x)]
        if req.arg("resources") is not None:
            wanted = {}
            for part in req.arg("resources").split(","):
                try:
                    rc, amount = part.split(":")
                    wanted[rc.strip()] = int(amount)
                except ValueError:
                    raise ApiError(400, "Badly formed resources parameter. Expected resources "
                                        "query string parameter in form: ?resources=VCPU:2,"
                                        "MEMORY_MB:1024. Got: %s." % part) from None
            nodes = [x for x in nodes if self._has_capacity(x, wanted)]
        return Reply(200, {"resource_providers": [self._rp_view(req, x) for x in nodes]})

    def _has_capacity(self, x, wanted):
        inv = self.inventory_of(x)
        used, _ = self.fleet.node_usage(x)
        for rc, amount in wanted.items():
            rec = inv.get(rc)
            if rec is None or amount > rec["max_unit"]:
                return False
            cap = (rec["total"] - rec["reserved"]) * rec["allocation_ratio"]
            if cap - used.get(rc, 0) < amount:
                return False
        return True

    def provider(self, req):
        return Reply(200, self._rp_view(req, self._rp(req)))

    def inventories(self, req):
        x = self._rp(req)
        return Reply(200, {"inventories": self.inventory_of(x),
                           "resource_provider_generation": x.generation})

    def inventory(self, req):
        x = self._rp(req)
        rec = self.inventory_of(x).get(req.params["rc"])
        if rec is None:
            raise ApiError(404, "No inventory of class %s found for resource provider %s"
                           % (req.params["rc"], x.uuid))
        rec = dict(rec, resource_provider_generation=x.generation)
        return Reply(200, rec)

    def usages(self, req):
        x = self._rp(req)
        used, _ = self.fleet.node_usage(x)
        return Reply(200, {"usages": used, "resource_provider_generation": x.generation})

    def aggregates(self, req):
        self.need(req, 1, 1)
        x = self._rp(req)
        body = {"aggregates": self.aggregates_of(x)}
        if self.ge(req, 1, 19):
            body["resource_provider_generation"] = x.generation
        return Reply(200, body)

    def traits(self, req):
        self.need(req, 1, 6)
        x = self._rp(req)
        return Reply(200, {"traits": self.traits_of(x),
                           "resource_provider_generation": x.generation})

    def allocations(self, req):
        x = self._rp(req)
        f = self.fleet
        allocs = {s.id: {"resources": f.server_allocation(s)}
                  for s in f.servers_on_node(x.hypervisor_hostname)}
        return Reply(200, {"allocations": allocs, "resource_provider_generation": x.generation})

    def project_usages(self, req):
        self.need(req, 1, 9)
        allowed = {"project_id", "user_id"}
        if self.ge(req, 1, 38):
            allowed.add("consumer_type")
        self.check_query(req, allowed)
        pid = req.arg("project_id")
        if not pid:
            raise ApiError(400, "Invalid query string parameters: 'project_id' is a required "
                                "property")
        f = self.fleet
        total = {}
        count = 0
        for s in f.servers.values():
            if s.project_id != pid or (req.arg("user_id") and s.user_id != req.arg("user_id")):
                continue
            count += 1
            for k, v in f.server_allocation(s).items():
                total[k] = total.get(k, 0) + v
        if self.ge(req, 1, 38):
            ctype = req.arg("consumer_type", "all")
            if count and ctype in ("all", "INSTANCE"):
                grouped = dict(total, consumer_count=count)
                return Reply(200, {"usages": {"INSTANCE": grouped}})
            return Reply(200, {"usages": {}})
        return Reply(200, {"usages": total})

    def consumer_allocations(self, req):
        f = self.fleet
        s = f.servers.get(req.params["consumer"])
        if s is None:
            return Reply(200, {"allocations": {}})
        x = f.by_node.get(s.node)
        body = {"allocations": {x.uuid: {"generation": x.generation,
                                         "resources": f.server_allocation(s)}} if x else {}}
        if self.ge(req, 1, 12):
            body["project_id"] = s.project_id
            body["user_id"] = s.user_id
        if self.ge(req, 1, 28):
            body["consumer_generation"] = 1
        if self.ge(req, 1, 38):
            body["consumer_type"] = "INSTANCE"
        return Reply(200, body)

    def resource_classes(self, req):
        self.need(req, 1, 2)
        names = list(STANDARD_CLASSES)
        names += sorted({t["rc"] for t in GPU_TYPES.values() if t["rc"].startswith("CUSTOM_")})
        return Reply(200, {"resource_classes": [
            {"name": n, "links": [{"rel": "self", "href": "/placement/resource_classes/" + n}]}
            for n in names]})

    def trait_list(self, req):
        self.need(req, 1, 6)
        names = set(BASE_TRAITS) | {"COMPUTE_STATUS_DISABLED"}
        names |= {t["trait"] for t in GPU_TYPES.values() if t["trait"]}
        return Reply(200, {"traits": sorted(names)})
