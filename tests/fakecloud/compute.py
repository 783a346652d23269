"""Nova v2.1 subset: aggregates, hypervisors, services, flavors (+extra specs,
access), quota sets, limits, servers and availability zones.

Responses follow the microversion rules of the reference document (ids,
fields and paging change at 2.28, 2.33, 2.36, 2.41, 2.47, 2.53, 2.57, 2.61,
2.75, 2.88, 2.102).  Versions are compared as (major, minor) tuples.
"""

import datetime
import hashlib
import json
import re
import urllib.parse
import uuid

from .base import ApiError, Reply, Service, iso_naive, iso_z, parse_bool, utcnow
from .fleet import DEFAULT_QUOTAS, DOWN_HEARTBEAT, SERVICE_HEARTBEAT, Aggregate, Flavor, h

MIN_VERSION = (2, 1)
FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType", 429: "overLimit", 501: "notImplemented",
               503: "serviceUnavailable"}
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
QUOTA_REMOVED_236 = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
QUOTA_REMOVED_257 = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
SERVER_QUERY = {
    "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id",
    "ramdisk_id", "hostname", "key_name", "power_state", "vm_state", "task_state", "host",
    "node", "flavor", "reservation_id", "launched_at", "terminated_at", "availability_zone",
    "name", "display_name", "description", "display_description", "locked_by", "uuid",
    "root_device_name", "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config",
    "progress", "sort_key", "sort_dir", "all_tenants", "soft_deleted", "deleted", "status",
    "changes-since", "ip", "ip6", "created_at", "block_device_mapping", "services", "metadata",
    "pci_devices", "security_groups", "info_cache", "tags", "tags-any", "not-tags",
    "not-tags-any", "changes-before", "locked", "limit", "marker", "page_size", "offset"}


def parse_version(text):
    m = VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(text)
    return int(m.group(1)), int(m.group(2))


def vstr(v):
    return "%d.%d" % v


def is_uuid(value):
    return bool(UUID_RE.match(value or ""))


def fault(status, message):
    return {FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}


def _int(value, what, minimum=None):
    """Nova-style integer validation for bodies (ints or digit strings)."""
    if isinstance(value, bool):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. %r is not of "
                            "type 'integer', 'string'" % (what, value, value))
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. %r is not of "
                            "type 'integer', 'string'" % (what, value, value)) from None
    if minimum is not None and n < minimum:
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. %s is less than "
                            "the minimum of %s" % (what, value, value, minimum))
    return n


class Compute(Service):
    prefix = "/compute"
    name = "compute"

    def __init__(self, cloud):
        super().__init__(cloud)
        self.max_version = parse_version(cloud.max_microversion)
        a = self.add
        a("GET", "", "compute.versions", self.versions, auth=False)
        a("GET", "/", "compute.versions", self.versions, auth=False)
        for p in ("/v2.1", "/v2.1/"):
            a("GET", p, "compute.version", self.version, auth=False)
        V = "/v2.1"
        # aggregates
        a("GET", V + "/os-aggregates", "compute.aggregates", self.aggregates)
        a("POST", V + "/os-aggregates", "compute.aggregates.post", self.aggregate_create)
        a("GET", V + "/os-aggregates/{id}", "compute.aggregate", self.aggregate_show)
        a("PUT", V + "/os-aggregates/{id}", "compute.aggregate.put", self.aggregate_update)
        a("DELETE", V + "/os-aggregates/{id}", "compute.aggregate.delete", self.aggregate_delete)
        a("POST", V + "/os-aggregates/{id}/action", "compute.aggregate.action",
          self.aggregate_action)
        # hypervisors (fixed paths before {id})
        a("GET", V + "/os-hypervisors", "compute.hypervisors", self.hypervisors)
        a("GET", V + "/os-hypervisors/detail", "compute.hypervisors.detail",
          self.hypervisors_detail)
        a("GET", V + "/os-hypervisors/statistics", "compute.hypervisors.statistics",
          self.hypervisor_statistics)
        a("GET", V + "/os-hypervisors/{id}", "compute.hypervisor", self.hypervisor_show)
        a("GET", V + "/os-hypervisors/{id}/uptime", "compute.hypervisor.uptime",
          self.hypervisor_uptime)
        a("GET", V + "/os-hypervisors/{id}/search", "compute.hypervisors.search",
          self.hypervisor_search)
        a("GET", V + "/os-hypervisors/{id}/servers", "compute.hypervisors.servers",
          self.hypervisor_servers)
        # services
        a("GET", V + "/os-services", "compute.services", self.services)
        a("PUT", V + "/os-services/{id}", "compute.service.put", self.service_update)
        # flavors
        a("GET", V + "/flavors", "compute.flavors", self.flavors)
        a("POST", V + "/flavors", "compute.flavors.post", self.flavor_create)
        a("GET", V + "/flavors/detail", "compute.flavors.detail", self.flavors_detail)
        a("GET", V + "/flavors/{id}", "compute.flavor", self.flavor_show)
        a("PUT", V + "/flavors/{id}", "compute.flavor.put", self.flavor_update)
        a("DELETE", V + "/flavors/{id}", "compute.flavor.delete", self.flavor_delete)
        a("POST", V + "/flavors/{id}/action", "compute.flavor.action", self.flavor_action)
        a("GET", V + "/flavors/{id}/os-flavor-access", "compute.flavor.access",
          self.flavor_access)
        a("GET", V + "/flavors/{id}/os-extra_specs", "compute.flavor.extra_specs",
          self.extra_specs)
        a("POST", V + "/flavors/{id}/os-extra_specs", "compute.flavor.extra_specs.post",
          self.extra_specs_create)
        a("GET", V + "/flavors/{id}/os-extra_specs/{key}", "compute.flavor.extra_spec",
          self.extra_spec_show)
        a("PUT", V + "/flavors/{id}/os-extra_specs/{key}", "compute.flavor.extra_spec.put",
          self.extra_spec_update)
        a("DELETE", V + "/flavors/{id}/os-extra_specs/{key}",
          "compute.flavor.extra_spec.delete", self.extra_spec_delete)
        # quotas and limits
        a("GET", V + "/os-quota-sets/{project_id}", "compute.quota_sets", self.quota_show)
        a("PUT", V + "/os-quota-sets/{project_id}", "compute.quota_sets.put", self.quota_update)
        a("DELETE", V + "/os-quota-sets/{project_id}", "compute.quota_sets.delete",
          self.quota_delete)
        a("GET", V + "/os-quota-sets/{project_id}/detail", "compute.quota_sets.detail",
          self.quota_detail)
        a("GET", V + "/os-quota-sets/{project_id}/defaults", "compute.quota_sets.defaults",
          self.quota_defaults)
        a("GET", V + "/limits", "compute.limits", self.limits)
        # servers
        a("GET", V + "/servers", "compute.servers", self.servers)
        a("GET", V + "/servers/detail", "compute.servers.detail", self.servers_detail)
        a("GET", V + "/servers/{id}", "compute.server", self.server_show)
        # availability zones
        a("GET", V + "/os-availability-zone", "compute.availability_zones", self.zones)
        a("GET", V + "/os-availability-zone/detail", "compute.availability_zones.detail",
          self.zones_detail)

    # ----------------------------------------------------------- plumbing
    def error_body(self, status, message, req=None):
        return fault(status, message)

    def before(self, req):
        """Negotiate the microversion of API routes (not the version docs)."""
        req.context["request_id"] = "req-" + str(uuid.uuid4())
        if req.context["route"] in ("compute.versions", "compute.version"):
            return
        value = None
        hdr = req.header("OpenStack-API-Version")
        if hdr:
            for part in hdr.split(","):
                bits = part.strip().split()
                if len(bits) == 2 and bits[0].lower() == "compute":
                    value = bits[1]
        if value is None:
            value = req.header("X-OpenStack-Nova-API-Version")
        if value is None:
            req.context["mv"] = MIN_VERSION
            return
        if value.strip().lower() == "latest":
            req.context["mv"] = self.max_version
            return
        try:
            v = parse_version(value)
        except ValueError:
            raise ApiError(400, "API Version String %s is of invalid format. Must be of "
                                "format MajorNum.MinorNum." % value) from None
        if not MIN_VERSION <= v <= self.max_version:
            raise ApiError(406, "Version %s is not supported by the API. Minimum is %s and "
                                "maximum is %s." % (value, vstr(MIN_VERSION),
                                                    vstr(self.max_version)))
        req.context["mv"] = v

    def after(self, req, reply):
        rid = req.context.get("request_id")
        if rid:
            reply.headers.setdefault("X-Compute-Request-Id", rid)
            reply.headers.setdefault("X-OpenStack-Request-Id", rid)
        mv = req.context.get("mv")
        if mv:
            reply.headers["OpenStack-API-Version"] = "compute " + vstr(mv)
            reply.headers["X-OpenStack-Nova-API-Version"] = vstr(mv)
            reply.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"

    @staticmethod
    def ge(req, major, minor):
        return req.context.get("mv", MIN_VERSION) >= (major, minor)

    def check_query(self, req, allowed, strict_from=None, multi=()):
        """Nova query hygiene: unknown or repeated parameters give 400."""
        strict = self.ge(req, 2, 102) or (strict_from is not None and self.ge(req, *strict_from))
        if not strict:
            return
        for key, values in req.query.items():
            if key not in allowed:
                raise ApiError(400, "Invalid input for query parameters %s. Value: %s. "
                                    "Additional properties are not allowed (%r was "
                                    "unexpected)" % (key, values[0], key))
            if len(values) > 1 and key not in multi:
                raise ApiError(400, "Invalid input for query parameters %s. Value: %s. "
                                    "%s is not of type 'string'" % (key, values, values))

    @property
    def fleet(self):
        return self.cloud.fleet

    def api_url(self, req, path):
        return "%s/compute/v2.1/%s" % (req.base_url, path)

    def links(self, req, path):
        return [{"rel": "self", "href": self.api_url(req, path)},
                {"rel": "bookmark", "href": "%s/compute/%s" % (req.base_url, path)}]

    def paginate(self, req, items, key, collection):
        """Apply limit/marker like nova; return (page, links list)."""
        limit = self.cloud.page_max
        raw = req.arg("limit")
        if raw is not None:
            try:
                n = int(raw)
            except ValueError:
                raise ApiError(400, "limit param must be an integer") from None
            if n < 0:
                raise ApiError(400, "limit param must be positive")
            limit = min(n, limit)
        start = 0
        marker = req.arg("marker")
        if marker is not None:
            for i, item in enumerate(items):
                if str(key(item)) == marker:
                    start = i + 1
                    break
            else:
                raise ApiError(400, "marker [%s] not found" % marker)
        page = items[start:start + limit]
        links = []
        if limit and len(page) == limit:
            params = [(k, v) for k, v in req.query_pairs if k != "marker"]
            params.append(("marker", str(key(page[-1]))))
            links.append({"rel": "next", "href": self.api_url(req, collection) + "?" +
                          urllib.parse.urlencode(params)})
        return page, links

    # ---------------------------------------------------------- versions
    def _version_doc(self, req):
        return {"id": "v2.1", "status": "CURRENT", "version": vstr(self.max_version),
                "min_version": vstr(MIN_VERSION), "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": req.base_url + "/compute/v2.1/"}]}

    def versions(self, req):
        return Reply(200, {"versions": [self._version_doc(req)]})

    def version(self, req):
        doc = self._version_doc(req)
        doc["links"].append({"rel": "describedby", "type": "text/html",
                             "href": "http://docs.openstack.org/"})
        doc["media-types"] = [{"base": "application/json",
                               "type": "application/vnd.openstack.compute+json;version=2.1"}]
        return Reply(200, {"version": doc})

    # -------------------------------------------------------- aggregates
    def _agg_view(self, req, ag):
        view = {"availability_zone": ag.availability_zone,
                "created_at": iso_naive(ag.created_at), "deleted": False, "deleted_at": None,
                "hosts": list(ag.hosts), "id": ag.id, "metadata": dict(ag.metadata),
                "name": ag.name,
                "updated_at": iso_naive(ag.updated_at) if ag.updated_at else None}
        if self.ge(req, 2, 41):
            view["uuid"] = ag.uuid
        return view

    def _agg(self, req):
        raw = req.params["id"]
        try:
            agg_id = int(raw)
        except ValueError:
            raise ApiError(400, "Invalid input received: id must be an integer") from None
        ag = self.fleet.aggregates.get(agg_id)
        if ag is None:
            raise ApiError(404, "Aggregate %s could not be found." % raw)
        return ag

    def aggregates(self, req):
        self.check_query(req, set())
        return Reply(200, {"aggregates": [self._agg_view(req, a)
                                          for a in self.fleet.aggregates.values()]})

    def aggregate_show(self, req):
        self.check_query(req, set())
        return Reply(200, {"aggregate": self._agg_view(req, self._agg(req))})

    @staticmethod
    def _check_name(value, what):
        if not isinstance(value, str) or not value.strip() or len(value) > 255:
            raise ApiError(400, "Invalid input for field/attribute %s. Value: %s." % (what, value))
        return value

    def _check_az(self, value):
        if value is None:
            return None
        self._check_name(value, "availability_zone")
        if ":" in value:
            raise ApiError(400, "Invalid input for field/attribute availability_zone. Value: "
                                "%s. The availability zone name cannot contain ':'" % value)
        return value

    def aggregate_create(self, req):
        body = req.json().get("aggregate")
        if not isinstance(body, dict) or "name" not in body:
            raise ApiError(400, "Invalid input for field/attribute aggregate. 'name' is a "
                                "required property")
        name = self._check_name(body["name"], "name")
        az = self._check_az(body.get("availability_zone"))
        f = self.fleet
        if any(a.name == name for a in f.aggregates.values()):
            raise ApiError(409, "Aggregate %s already exists." % name)
        ag = Aggregate()
        ag.id = f.next_aggregate_id
        f.next_aggregate_id += 1
        ag.uuid = str(uuid.uuid4())
        ag.name = name
        ag.availability_zone = az
        ag.hosts = []
        ag.metadata = {"availability_zone": az} if az else {}
        ag.created_at = utcnow()
        ag.updated_at = None
        f.aggregates[ag.id] = ag
        return Reply(200, {"aggregate": self._agg_view(req, ag)})

    def aggregate_update(self, req):
        ag = self._agg(req)
        body = req.json().get("aggregate")
        if not isinstance(body, dict) or not body or set(body) - {"name", "availability_zone"}:
            raise ApiError(400, "Invalid input for field/attribute aggregate.")
        if "name" in body:
            name = self._check_name(body["name"], "name")
            if any(a.name == name and a is not ag for a in self.fleet.aggregates.values()):
                raise ApiError(409, "Aggregate %s already exists." % name)
            ag.name = name
        if "availability_zone" in body:
            self._set_az(ag, self._check_az(body["availability_zone"]))
        ag.updated_at = utcnow()
        return Reply(200, {"aggregate": self._agg_view(req, ag)})

    def _set_az(self, ag, az):
        ag.availability_zone = az
        if az:
            ag.metadata["availability_zone"] = az
        else:
            ag.metadata.pop("availability_zone", None)

    def aggregate_delete(self, req):
        ag = self._agg(req)
        if ag.hosts:
            raise ApiError(400, "Invalid aggregate action delete for aggregate %s. Reason: "
                                "Host aggregate is not empty." % ag.id)
        del self.fleet.aggregates[ag.id]
        return Reply(200)

    def aggregate_action(self, req):
        ag = self._agg(req)
        body = req.json()
        if len(body) != 1 or next(iter(body)) not in ("add_host", "remove_host",
                                                      "set_metadata"):
            raise ApiError(400, "Invalid input for field/attribute aggregate action. Exactly "
                                "one of add_host, remove_host, set_metadata is required.")
        action, args = next(iter(body.items()))
        if not isinstance(args, dict):
            raise ApiError(400, "Invalid input for field/attribute %s." % action)
        f = self.fleet
        if action in ("add_host", "remove_host"):
            host = args.get("host")
            if not isinstance(host, str) or not host:
                raise ApiError(400, "Invalid input for field/attribute host. Value: %s." % host)
            if action == "add_host":
                if not f.hosts_of_service(host):
                    raise ApiError(404, "Compute host %s could not be found." % host)
                if host in ag.hosts:
                    raise ApiError(409, "Aggregate %s already has host %s." % (ag.id, host))
                if ag.availability_zone:
                    other = {a.availability_zone for a in f.aggregates.values()
                             if a.availability_zone and host in a.hosts}
                    if other - {ag.availability_zone}:
                        raise ApiError(400, "Cannot add host to aggregate %s. Reason: One or "
                                            "more hosts already in availability zone(s) %s."
                                            % (ag.id, sorted(other)))
                ag.hosts.append(host)
            else:
                if host not in ag.hosts:
                    raise ApiError(404, "Aggregate %s has no host %s." % (ag.id, host))
                ag.hosts.remove(host)
        else:
            meta = args.get("metadata")
            if not isinstance(meta, dict):
                raise ApiError(400, "Invalid input for field/attribute metadata.")
            for k, v in meta.items():
                if not k or len(k) > 255 or (v is not None and not isinstance(v, str)):
                    raise ApiError(400, "Invalid input for field/attribute metadata. Value: "
                                        "%s." % json.dumps(meta))
            for k, v in meta.items():
                if k == "availability_zone":
                    self._set_az(ag, self._check_az(v))
                elif v is None:
                    ag.metadata.pop(k, None)
                else:
                    ag.metadata[k] = v
        ag.updated_at = utcnow()
        return Reply(200, {"aggregate": self._agg_view(req, ag)})

    # ------------------------------------------------------- hypervisors
    @staticmethod
    def _cpu_info(x):
        vendor = "AMD" if x.cpu_model.startswith("EPYC") else "Intel"
        return {"arch": "x86_64", "model": x.cpu_model, "vendor": vendor,
                "topology": {"cells": 2, "sockets": 2, "cores": x.vcpus // 4, "threads": 2},
                "features": ["pge", "avx2", "avx512f", "pdpe1gb", "vmx" if vendor == "Intel"
                             else "svm"],
                "maxphysaddr": {"mode": "passthrough", "bits": 46 if vendor == "Intel" else 48}}

    def _hyp_view(self, req, x, detail, servers=None, with_servers=False):
        uuid_ids = self.ge(req, 2, 53)
        view = {"id": x.uuid if uuid_ids else x.id,
                "hypervisor_hostname": x.hypervisor_hostname,
                "state": "down" if x.state == "down" or x.forced_down else "up",
                "status": "disabled" if x.disabled else "enabled"}
        if detail:
            view["hypervisor_type"] = "QEMU"
            view["hypervisor_version"] = x.hypervisor_version
            view["host_ip"] = x.host_ip
            view["service"] = {"id": x.service_uuid if uuid_ids else x.service_id,
                               "host": x.service_host, "disabled_reason": x.disabled_reason}
            if not self.ge(req, 2, 88):
                used, count = self.fleet.node_usage(x)
                mem_used = used["MEMORY_MB"] + 512
                disk_used = used["DISK_GB"]
                view.update({
                    "vcpus": x.vcpus, "memory_mb": x.memory_mb, "local_gb": x.local_gb,
                    "vcpus_used": used["VCPU"], "memory_mb_used": mem_used,
                    "local_gb_used": disk_used, "free_ram_mb": x.memory_mb - mem_used,
                    "free_disk_gb": x.local_gb - disk_used, "current_workload": 0,
                    "running_vms": count,
                    "disk_available_least": x.local_gb - disk_used - h(x.uuid, "dal") % 40})
                cpu = self._cpu_info(x)
                view["cpu_info"] = cpu if self.ge(req, 2, 28) else json.dumps(cpu)
            else:
                view["uptime"] = x.uptime if x.state == "up" else None
        if servers:
            view["servers"] = [{"name": s.name, "uuid": s.id} for s in servers]
        elif with_servers and self.ge(req, 2, 75):
            view["servers"] = []
        return view

    @staticmethod
    def _like(pattern):
        """SQL LIKE '%pattern%' (with _ and % wildcards) as a regex."""
        rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        return re.compile(rx, re.IGNORECASE)

    def _match_nodes(self, pattern):
        rx = self._like(pattern)
        nodes = [x for x in self.fleet.hosts if rx.search(x.hypervisor_hostname)]
        if not nodes:
            raise ApiError(404, "No hypervisor matching '%s' could be found." % pattern)
        return nodes

    def _hypervisor_list(self, req, detail):
        allowed = {"limit", "marker", "hypervisor_hostname_pattern", "with_servers"}
        self.check_query(req, allowed, strict_from=(2, 53))
        f = self.fleet
        pattern, with_servers = None, False
        if self.ge(req, 2, 53):
            pattern = req.arg("hypervisor_hostname_pattern")
            try:
                with_servers = parse_bool(req.arg("with_servers", "false"), strict=True)
            except ValueError:
                raise ApiError(400, "Invalid input for query parameters with_servers. Value: "
                                    "%s." % req.arg("with_servers")) from None
        links = []
        if pattern is not None:
            if "limit" in req.query or "marker" in req.query:
                raise ApiError(400, "Paging over hypervisors with the "
                                    "hypervisor_hostname_pattern query parameter is not "
                                    "supported.")
            nodes = self._match_nodes(pattern)
        elif self.ge(req, 2, 33):
            key = (lambda x: x.uuid) if self.ge(req, 2, 53) else (lambda x: x.id)
            coll = "os-hypervisors/detail" if detail else "os-hypervisors"
            nodes, links = self.paginate(req, f.hosts, key, coll)
        else:
            nodes = f.hosts
        out = []
        for x in nodes:
            servers = f.servers_on_node(x.hypervisor_hostname) if with_servers else None
            out.append(self._hyp_view(req, x, detail, servers, with_servers))
        body = {"hypervisors": out}
        if links:
            body["hypervisors_links"] = links
        return Reply(200, body)

    def hypervisors(self, req):
        return self._hypervisor_list(req, False)

    def hypervisors_detail(self, req):
        return self._hypervisor_list(req, True)

    def _hyp(self, req):
        raw = req.params["id"]
        if self.ge(req, 2, 53):
            if not is_uuid(raw):
                raise ApiError(400, "Invalid uuid %s" % raw)
            x = self.fleet.host_by_uuid(raw.lower())
        else:
            try:
                x = self.fleet.host_by_id(int(raw))
            except ValueError:
                x = None
        if x is None:
            raise ApiError(404, "Hypervisor with ID '%s' could not be found." % raw)
        return x

    def hypervisor_show(self, req):
        self.check_query(req, {"with_servers"}, strict_from=(2, 53))
        x = self._hyp(req)
        with_servers = False
        if self.ge(req, 2, 53):
            try:
                with_servers = parse_bool(req.arg("with_servers", "false"), strict=True)
            except ValueError:
                raise ApiError(400, "Invalid input for query parameters with_servers.") from None
        servers = self.fleet.servers_on_node(x.hypervisor_hostname) if with_servers else None
        return Reply(200, {"hypervisor": self._hyp_view(req, x, True, servers, with_servers)})

    def hypervisor_uptime(self, req):
        if self.ge(req, 2, 88):
            raise ApiError(404, "The resource could not be found.")
        x = self._hyp(req)
        if x.state == "down" or x.uptime is None:
            raise ApiError(400, "Compute service of %s is unavailable at this time."
                           % x.service_host)
        view = self._hyp_view(req, x, False)
        view["uptime"] = x.uptime
        return Reply(200, {"hypervisor": view})

    def hypervisor_search(self, req):
        if self.ge(req, 2, 53):
            raise ApiError(404, "The resource could not be found.")
        nodes = self._match_nodes(req.params["id"])
        return Reply(200, {"hypervisors": [self._hyp_view(req, x, False) for x in nodes]})

    def hypervisor_servers(self, req):
        if self.ge(req, 2, 53):
            raise ApiError(404, "The resource could not be found.")
        nodes = self._match_nodes(req.params["id"])
        out = [self._hyp_view(req, x, False, self.fleet.servers_on_node(x.hypervisor_hostname))
               for x in nodes]
        return Reply(200, {"hypervisors": out})

    def hypervisor_statistics(self, req):
        if self.ge(req, 2, 88):
            raise ApiError(404, "The resource could not be found.")
        stats = dict.fromkeys(("count", "vcpus", "memory_mb", "local_gb", "vcpus_used",
                               "memory_mb_used", "local_gb_used", "free_ram_mb",
                               "free_disk_gb", "current_workload", "running_vms",
                               "disk_available_least"), 0)
        for x in self.fleet.hosts:
            v = self._hyp_view(req, x, True)
            stats["count"] += 1
            for k in stats:
                if k != "count":
                    stats[k] += v[k]
        return Reply(200, {"hypervisor_statistics": stats})

    # ----------------------------------------------------------- services
    def _service_records(self):
        """Uniform service dicts: controller services plus one per compute host."""
        f = self.fleet
        az = {}
        for a in f.aggregates.values():
            if a.availability_zone:
                for host in a.hosts:
                    az.setdefault(host, a.availability_zone)
        out = list(f.other_services)
        seen = set()
        for x in f.hosts:
            if x.service_host in seen:
                continue
            seen.add(x.service_host)
            out.append({"id": x.service_id, "uuid": x.service_uuid, "binary": "nova-compute",
                        "host": x.service_host, "zone": az.get(x.service_host, "nova"),
                        "disabled": x.disabled, "disabled_reason": x.disabled_reason,
                        "forced_down": x.forced_down, "state": x.state, "node": x})
        return out

    def _service_view(self, req, s):
        down = s["state"] == "down" or s["forced_down"]
        view = {"binary": s["binary"], "host": s["host"],
                "id": s["uuid"] if self.ge(req, 2, 53) else s["id"], "zone": s["zone"],
                "status": "disabled" if s["disabled"] else "enabled",
                "state": "down" if down else "up",
                "updated_at": DOWN_HEARTBEAT if s["state"] == "down" else SERVICE_HEARTBEAT,
                "disabled_reason": s["disabled_reason"]}
        if self.ge(req, 2, 11):
            view["forced_down"] = s["forced_down"]
        return view

    def services(self, req):
        self.check_query(req, {"host", "binary"}, strict_from=(2, 75))
        out = []
        for s in self._service_records():
            if req.arg("host") and s["host"] != req.arg("host"):
                continue
            if req.arg("binary") and s["binary"] != req.arg("binary"):
                continue
            out.append(self._service_view(req, s))
        return Reply(200, {"services": out})

    def _apply_service(self, s, disabled=None, reason=None, forced_down=None):
        """Write a service change to the record and to every node it owns."""
        targets = [s] if "node" not in s else []
        nodes = self.fleet.hosts_of_service(s["host"]) if "node" in s else []
        for x in nodes:
            if disabled is not None:
                x.disabled = disabled
                x.disabled_reason = reason if disabled else None
            if forced_down is not None:
                x.forced_down = forced_down
        for t in targets:
            if disabled is not None:
                t["disabled"] = disabled
                t["disabled_reason"] = reason if disabled else None
            if forced_down is not None:
                t["forced_down"] = forced_down
        if nodes:
            s.update(disabled=nodes[0].disabled, disabled_reason=nodes[0].disabled_reason,
                     forced_down=nodes[0].forced_down)

    def service_update(self, req):
        body = req.json()
        records = self._service_records()
        if self.ge(req, 2, 53):
            sid = req.params["id"]
            if not is_uuid(sid):
                raise ApiError(400, "Invalid uuid %s" % sid)
            s = next((r for r in records if r["uuid"] == sid), None)
            if s is None:
                raise ApiError(404, "Service %s not found." % sid)
            extra = set(body) - {"status", "disabled_reason", "forced_down"}
            if extra or not body:
                raise ApiError(400, "Invalid input for field/attribute service update.")
            status = body.get("status")
            if status is not None and status not in ("enabled", "disabled"):
                raise ApiError(400, "Invalid input for field/attribute status. Value: %s."
                               % status)
            if "disabled_reason" in body and status != "disabled":
                raise ApiError(400, "Specifying 'disabled_reason' with status 'enabled' is "
                                    "invalid.")
            if "forced_down" in body and not isinstance(body["forced_down"], bool):
                raise ApiError(400, "Invalid input for field/attribute forced_down.")
            self._apply_service(s, disabled=None if status is None else status == "disabled",
                                reason=body.get("disabled_reason"),
                                forced_down=body.get("forced_down"))
            return Reply(200, {"service": self._service_view(req, s)})
        action = req.params["id"]
        if action not in ("enable", "disable", "disable-log-reason", "force-down"):
            raise ApiError(404, "Unknown action")
        host, binary = body.get("host"), body.get("binary")
        s = next((r for r in records if r["host"] == host and r["binary"] == binary), None)
        if s is None:
            raise ApiError(404, "Service %s on host %s not found." % (binary, host))
        if action == "force-down":
            if not self.ge(req, 2, 11) or not isinstance(body.get("forced_down"), bool):
                raise ApiError(400, "Invalid input for field/attribute forced_down.")
            self._apply_service(s, forced_down=body["forced_down"])
            return Reply(200, {"service": {"host": host, "binary": binary,
                                           "forced_down": body["forced_down"]}})
        reason = body.get("disabled_reason") if action == "disable-log-reason" else None
        if action == "disable-log-reason" and not reason:
            raise ApiError(400, "Missing disabled reason field")
        self._apply_service(s, disabled=action != "enable", reason=reason)
        out = {"host": host, "binary": binary,
               "status": "enabled" if action == "enable" else "disabled"}
        if reason:
            out["disabled_reason"] = reason
        return Reply(200, {"service": out})

    # ------------------------------------------------------------ flavors
    def _flavor(self, req):
        fl = self.fleet.flavors.get(req.params["id"])
        if fl is None:
            raise ApiError(404, "Flavor %s could not be found." % req.params["id"])
        return fl

    def _flavor_brief(self, req, fl):
        view = {"id": fl.id, "name": fl.name, "links": self.links(req, "flavors/" + fl.id)}
        if self.ge(req, 2, 55):
            view["description"] = fl.description
        return view

    def _flavor_view(self, req, fl):
        view = {"id": fl.id, "name": fl.name, "ram": fl.ram, "disk": fl.disk,
                "swap": fl.swap or "", "OS-FLV-EXT-DATA:ephemeral": fl.ephemeral,
                "OS-FLV-DISABLED:disabled": fl.disabled, "vcpus": fl.vcpus,
                "os-flavor-access:is_public": fl.is_public,
                "rxtx_factor": fl.rxtx_factor or "",
                "links": self.links(req, "flavors/" + fl.id)}
        if self.ge(req, 2, 55):
            view["description"] = fl.description
        if self.ge(req, 2, 61):
            view["extra_specs"] = dict(fl.extra_specs)
        if self.ge(req, 2, 75):
            view["swap"] = fl.swap or 0
        if self.ge(req, 2, 102):
            del view["OS-FLV-DISABLED:disabled"]
            del view["rxtx_factor"]
        return view

    def _flavor_list(self, req, detail):
        allowed = {"is_public", "minRam", "minDisk", "limit", "marker", "sort_key", "sort_dir"}
        if self.ge(req, 2, 102):
            allowed.add("name")
        self.check_query(req, allowed, strict_from=(2, 75))
        is_public = req.arg("is_public")
        if is_public is None:
            want = True
        elif is_public.strip().lower() == "none":
            want = None
        else:
            try:
                want = parse_bool(is_public, strict=True)
            except ValueError:
                raise ApiError(400, "Invalid is_public filter [%s]" % is_public) from None
        token_project = req.context["token"]["project"]["id"]
        items = []
        for fl in self.fleet.flavors.values():
            if want is True and not fl.is_public and token_project not in fl.access:
                continue
            if want is False and fl.is_public:
                continue
            items.append(fl)
        for param, attr in (("minRam", "ram"), ("minDisk", "disk")):
            if req.arg(param) is not None:
                try:
                    floor = int(req.arg(param))
                except ValueError:
                    raise ApiError(400, "Invalid %s filter [%s]" % (param, req.arg(param))) \
                        from None
                items = [fl for fl in items if getattr(fl, attr) >= floor]
        if req.arg("name") is not None and self.ge(req, 2, 102):
            items = [fl for fl in items if req.arg("name") in fl.name]
        sort_keys = {"flavorid": "id", "id": "id", "name": "name", "memory_mb": "ram",
                     "vcpus": "vcpus", "root_gb": "disk", "ephemeral_gb": "ephemeral",
                     "swap": "swap", "rxtx_factor": "rxtx_factor", "created_at": "created",
                     "flavorid_int": "id", "disabled": "disabled", "is_public": "is_public",
                     "description": "description"}
        sort_key = req.arg("sort_key", "flavorid")
        sort_dir = req.arg("sort_dir", "asc")
        if sort_key not in sort_keys or sort_dir not in ("asc", "desc"):
            raise ApiError(400, "Invalid sort key or direction: %s %s" % (sort_key, sort_dir))
        attr = sort_keys[sort_key]
        items.sort(key=lambda fl: (getattr(fl, attr) is None, getattr(fl, attr) or 0, fl.id)
                   if attr != "id" else fl.id, reverse=sort_dir == "desc")
        coll = "flavors/detail" if detail else "flavors"
        page, links = self.paginate(req, items, lambda fl: fl.id, coll)
        view = self._flavor_view if detail else self._flavor_brief
        body = {"flavors": [view(req, fl) for fl in page]}
        if links:
            body["flavors_links"] = links
        return Reply(200, body)

    def flavors(self, req):
        return self._flavor_list(req, False)

    def flavors_detail(self, req):
        return self._flavor_list(req, True)

    def flavor_show(self, req):
        self.check_query(req, set())
        return Reply(200, {"flavor": self._flavor_view(req, self._flavor(req))})

    def flavor_create(self, req):
        body = req.json().get("flavor")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input for field/attribute flavor. 'flavor' is a "
                                "required property")
        for key in ("name", "ram", "vcpus", "disk"):
            if key not in body:
                raise ApiError(400, "Invalid input for field/attribute flavor. %r is a "
                                    "required property" % key)
        f = self.fleet
        fl = Flavor()
        fl.name = self._check_name(body["name"], "name").strip()
        fid = body.get("id")
        if fid is not None and (not isinstance(fid, str) or not fid.strip() or len(fid) > 255):
            raise ApiError(400, "Invalid input for field/attribute id. Value: %s." % fid)
        fl.id = fid.strip() if fid else str(uuid.uuid4())
        fl.ram = _int(body["ram"], "ram", 1)
        fl.vcpus = _int(body["vcpus"], "vcpus", 1)
        fl.disk = _int(body["disk"], "disk", 0)
        fl.ephemeral = _int(body.get("OS-FLV-EXT-DATA:ephemeral", 0), "OS-FLV-EXT-DATA:ephemeral",
                            0)
        fl.swap = _int(body.get("swap", 0) or 0, "swap", 0)
        try:
            fl.rxtx_factor = float(body.get("rxtx_factor", 1.0))
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid input for field/attribute rxtx_factor.") from None
        public = body.get("os-flavor-access:is_public", True)
        if not isinstance(public, bool):
            try:
                public = parse_bool(public, strict=True)
            except ValueError:
                raise ApiError(400, "Invalid input for field/attribute "
                                    "os-flavor-access:is_public.") from None
        fl.is_public = public
        fl.disabled = False
        fl.description = body.get("description") if self.ge(req, 2, 55) else None
        fl.extra_specs = {}
        fl.access = []
        fl.created = max((x.created for x in f.flavors.values()), default=0) + 1
        if any(x.name == fl.name for x in f.flavors.values()):
            raise ApiError(409, "Flavor with name %s already exists." % fl.name)
        if fl.id in f.flavors:
            raise ApiError(409, "Flavor with ID %s already exists." % fl.id)
        f.flavors[fl.id] = fl
        return Reply(200, {"flavor": self._flavor_view(req, fl)})

    def flavor_update(self, req):
        if not self.ge(req, 2, 55):
            raise ApiError(405, "The method specified is not allowed for this resource.")
        fl = self._flavor(req)
        body = req.json().get("flavor")
        if not isinstance(body, dict) or set(body) != {"description"}:
            raise ApiError(400, "Invalid input for field/attribute flavor. 'description' is a "
                                "required property")
        fl.description = body["description"]
        return Reply(200, {"flavor": self._flavor_view(req, fl)})

    def flavor_delete(self, req):
        fl = self._flavor(req)
        del self.fleet.flavors[fl.id]
        return Reply(202)

    def flavor_access(self, req):
        fl = self._flavor(req)
        if fl.is_public:
            raise ApiError(404, "Access list not available for public flavors.")
        return Reply(200, {"flavor_access": [{"flavor_id": fl.id, "tenant_id": p}
                                             for p in fl.access]})

    def flavor_action(self, req):
        fl = self._flavor(req)
        body = req.json()
        if len(body) != 1 or next(iter(body)) not in ("addTenantAccess", "removeTenantAccess"):
            raise ApiError(400, "Invalid input for field/attribute flavor action.")
        action, args = next(iter(body.items()))
        tenant = args.get("tenant") if isinstance(args, dict) else None
        if not isinstance(tenant, str) or not tenant:
            raise ApiError(400, "Invalid input for field/attribute tenant.")
        if fl.is_public:
            raise ApiError(409, "Can not add access to a public flavor.")
        if action == "addTenantAccess":
            if self.fleet.project(tenant) is None:
                raise ApiError(400, "Project ID %s is not a valid project." % tenant)
            if tenant in fl.access:
                raise ApiError(409, "Flavor access already exists for flavor %s and project "
                                    "%s combination." % (fl.id, tenant))
            fl.access.append(tenant)
        else:
            if tenant not in fl.access:
                raise ApiError(404, "Flavor access not found for %s / %s combination."
                               % (fl.id, tenant))
            fl.access.remove(tenant)
        return self.flavor_access(req)

    @staticmethod
    def _spec_value(key, value):
        if not isinstance(key, str) or not key or len(key) > 255:
            raise ApiError(400, "Invalid input for field/attribute extra_specs. Value: %s." % key)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (int, float, str)):
            value = str(value)
            if len(value) > 255:
                raise ApiError(400, "Invalid input for field/attribute %s." % key)
            return value
        raise ApiError(400, "Invalid input for field/attribute %s. Value: %s. %r is not of "
                            "type 'string', 'number', 'boolean'" % (key, value, value))

    def extra_specs(self, req):
        return Reply(200, {"extra_specs": dict(self._flavor(req).extra_specs)})

    def extra_specs_create(self, req):
        fl = self._flavor(req)
        specs = req.json().get("extra_specs")
        if not isinstance(specs, dict):
            raise ApiError(400, "Invalid input for field/attribute extra_specs. 'extra_specs' "
                                "is a required property")
        clean = {k: self._spec_value(k, v) for k, v in specs.items()}
        fl.extra_specs.update(clean)
        return Reply(200, {"extra_specs": clean})

    def extra_spec_show(self, req):
        fl = self._flavor(req)
        key = req.params["key"]
        if key not in fl.extra_specs:
            raise ApiError(404, "Flavor %s has no extra specs with key %s." % (fl.id, key))
        return Reply(200, {key: fl.extra_specs[key]})

    def extra_spec_update(self, req):
        fl = self._flavor(req)
        key = req.params["key"]
        body = req.json()
        if len(body) != 1:
            raise ApiError(400, "Request body contains too many items")
        if key not in body:
            raise ApiError(400, "Request body and URI mismatch")
        fl.extra_specs[key] = self._spec_value(key, body[key])
        return Reply(200, {key: fl.extra_specs[key]})

    def extra_spec_delete(self, req):
        fl = self._flavor(req)
        key = req.params["key"]
        if fl.extra_specs.pop(key, None) is None:
            raise ApiError(404, "Flavor %s has no extra specs with key %s." % (fl.id, key))
        return Reply(200)

    # ------------------------------------------------------------- quotas
    def _quota_keys(self, req):
        keys = list(DEFAULT_QUOTAS)
        if self.ge(req, 2, 36):
            keys = [k for k in keys if k not in QUOTA_REMOVED_236]
        if self.ge(req, 2, 57):
            keys = [k for k in keys if k not in QUOTA_REMOVED_257]
        return keys

    def _quota_project(self, req):
        pid = req.params["project_id"]
        p = self.fleet.project(pid)
        if p is None or p["id"] != pid:
            raise ApiError(400, "Project ID %s is not a valid project." % pid)
        return p

    def quota_show(self, req):
        self.check_query(req, {"user_id"}, strict_from=(2, 75))
        p = self._quota_project(req)
        q = self.fleet.quotas[p["id"]]
        body = {"id": p["id"]}
        body.update((k, q[k]) for k in self._quota_keys(req))
        return Reply(200, {"quota_set": body})

    def quota_detail(self, req):
        self.check_query(req, {"user_id"}, strict_from=(2, 75))
        p = self._quota_project(req)
        q = self.fleet.quotas[p["id"]]
        used = self.fleet.project_usage().get(p["id"], {})
        body = {"id": p["id"]}
        for k in self._quota_keys(req):
            body[k] = {"in_use": used.get(k, 0), "limit": q[k], "reserved": 0}
        return Reply(200, {"quota_set": body})

    def quota_defaults(self, req):
        p = self._quota_project(req)
        body = {"id": p["id"]}
        body.update((k, DEFAULT_QUOTAS[k]) for k in self._quota_keys(req))
        return Reply(200, {"quota_set": body})

    def quota_update(self, req):
        self.check_query(req, {"user_id"}, strict_from=(2, 75))
        p = self._quota_project(req)
        body = req.json().get("quota_set")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input for field/attribute quota_set. 'quota_set' is a "
                                "required property")
        keys = set(self._quota_keys(req))
        updates = {}
        for k, v in body.items():
            if k == "force":
                continue
            if k not in keys:
                raise ApiError(400, "Invalid input for field/attribute quota_set. Value: %s. "
                                    "Additional properties are not allowed (%r was "
                                    "unexpected)" % (json.dumps(body), k))
            updates[k] = _int(v, k, -1)
        q = self.fleet.quotas[p["id"]]
        q.update(updates)
        return Reply(200, {"quota_set": {k: q[k] for k in self._quota_keys(req)}})

    def quota_delete(self, req):
        p = self._quota_project(req)
        self.fleet.quotas[p["id"]] = dict(DEFAULT_QUOTAS)
        return Reply(202)

    def limits(self, req):
        self.check_query(req, {"tenant_id", "reserved"}, strict_from=(2, 75))
        pid = req.arg("tenant_id") or req.context["token"]["project"]["id"]
        q = self.fleet.quotas.get(pid, DEFAULT_QUOTAS)
        u = self.fleet.project_usage().get(pid, {})
        absolute = {
            "maxImageMeta": q["metadata_items"], "maxPersonality": q["injected_files"],
            "maxPersonalitySize": q["injected_file_content_bytes"],
            "maxSecurityGroupRules": q["security_group_rules"],
            "maxSecurityGroups": q["security_groups"],
            "maxServerGroupMembers": q["server_group_members"],
            "maxServerGroups": q["server_groups"], "maxServerMeta": q["metadata_items"],
            "maxTotalCores": q["cores"], "maxTotalFloatingIps": q["floating_ips"],
            "maxTotalInstances": q["instances"], "maxTotalKeypairs": q["key_pairs"],
            "maxTotalRAMSize": q["ram"], "totalCoresUsed": u.get("cores", 0),
            "totalFloatingIpsUsed": 0, "totalInstancesUsed": u.get("instances", 0),
            "totalRAMUsed": u.get("ram", 0), "totalSecurityGroupsUsed": 0,
            "totalServerGroupsUsed": 0}
        if self.ge(req, 2, 36):
            for k in ("maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps",
                      "totalFloatingIpsUsed", "totalSecurityGroupsUsed"):
                del absolute[k]
        if self.ge(req, 2, 39):
            del absolute["maxImageMeta"]
        if self.ge(req, 2, 57):
            del absolute["maxPersonality"]
            del absolute["maxPersonalitySize"]
        return Reply(200, {"limits": {"absolute": absolute, "rate": []}})

    # ------------------------------------------------------------ servers
    def _host_status(self, x):
        if x is None:
            return ""
        if x.state == "down" or x.forced_down:
            return "DOWN"
        if x.disabled:
            return "MAINTENANCE"
        return "UP"

    def _server_view(self, req, s):
        f = self.fleet
        x = f.by_node.get(s.node)
        active = s.status == "ACTIVE"
        view = {
            "id": s.id, "name": s.name, "status": s.status, "tenant_id": s.project_id,
            "user_id": s.user_id, "metadata": {},
            "hostId": hashlib.sha224((s.project_id + s.host).encode()).hexdigest(),
            "image": {"id": s.image_id, "links": [
                {"rel": "bookmark", "href": "%s/compute/images/%s" % (req.base_url, s.image_id)}]},
            "created": iso_z(s.created, micro=False), "updated": iso_z(s.updated, micro=False),
            "addresses": {"gpu-net": [{"version": 4, "addr": s.ip, "OS-EXT-IPS:type": "fixed",
                                       "OS-EXT-IPS-MAC:mac_addr": s.mac}]},
            "accessIPv4": "", "accessIPv6": "", "links": self.links(req, "servers/" + s.id),
            "OS-DCF:diskConfig": "MANUAL", "progress": 0,
            "OS-EXT-AZ:availability_zone": s.az, "config_drive": "", "key_name": s.key_name,
            "OS-SRV-USG:launched_at": iso_naive(s.launched_at),
            "OS-SRV-USG:terminated_at": None,
            "OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:instance_name": s.instance_name,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": s.node,
            "OS-EXT-STS:task_state": None,
            "OS-EXT-STS:vm_state": "active" if active else "stopped",
            "OS-EXT-STS:power_state": 1 if active else 4,
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": "default"}],
        }
        if self.ge(req, 2, 47):
            fl = dict(s.flavor)
            fl["extra_specs"] = dict(fl["extra_specs"])
            view["flavor"] = fl
        else:
            view["flavor"] = {"id": s.flavor_id, "links": [
                {"rel": "bookmark", "href": "%s/compute/flavors/%s" % (req.base_url,
                                                                      s.flavor_id)}]}
        if self.ge(req, 2, 3):
            view.update({"OS-EXT-SRV-ATTR:reservation_id": "r-%08x" % (h(s.id) % 2 ** 32),
                         "OS-EXT-SRV-ATTR:launch_index": 0,
                         "OS-EXT-SRV-ATTR:hostname": s.name.lower(),
                         "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                         "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                         "OS-EXT-SRV-ATTR:user_data": None})
        if self.ge(req, 2, 9):
            view["locked"] = False
        if self.ge(req, 2, 16):
            view["host_status"] = self._host_status(x)
        if self.ge(req, 2, 19):
            view["description"] = None
        if self.ge(req, 2, 26):
            view["tags"] = []
        if self.ge(req, 2, 63):
            view["trusted_image_certificates"] = None
        if self.ge(req, 2, 73):
            view["locked_reason"] = None
        if self.ge(req, 2, 96):
            view["pinned_availability_zone"] = None
        if self.ge(req, 2, 100):
            view["scheduler_hints"] = {}
        return view

    def _server_list(self, req, detail):
        self.check_query(req, SERVER_QUERY, strict_from=(2, 75), multi=SERVER_QUERY)
        f = self.fleet
        all_tenants = "all_tenants" in req.query and (
            req.arg("all_tenants") == "" or parse_bool(req.arg("all_tenants")))
        items = f.servers_sorted()
        if req.arg("deleted") and parse_bool(req.arg("deleted")):
            items = []
        if all_tenants:
            project = req.arg("project_id") or req.arg("tenant_id")
        else:
            project = req.context["token"]["project"]["id"]
        filters = []
        if project:
            filters.append(lambda s: s.project_id == project)
        if req.arg("host") is not None:
            host = req.arg("host")
            filters.append(lambda s: s.host == host)
        if req.arg("node") is not None:
            node = req.arg("node")
            filters.append(lambda s: s.node == node)
        if req.query.get("status"):
            statuses = {v.upper() for v in req.query["status"]}
            filters.append(lambda s: s.status in statuses)
        if req.arg("flavor") is not None:
            flavor = req.arg("flavor")
            filters.append(lambda s: s.flavor_id == flavor)
        if req.arg("image") is not None:
            image = req.arg("image")
            filters.append(lambda s: s.image_id == image)
        if req.arg("availability_zone") is not None:
            az = req.arg("availability_zone")
            filters.append(lambda s: s.az == az)
        if req.arg("uuid") is not None:
            sid = req.arg("uuid")
            filters.append(lambda s: s.id == sid)
        for param in ("name", "ip"):
            if req.arg(param) is not None:
                try:
                    rx = re.compile(req.arg(param))
                except re.error:
                    raise ApiError(400, "Invalid %s filter" % param) from None
                attr = "name" if param == "name" else "ip"
                filters.append(lambda s, rx=rx, attr=attr: rx.search(getattr(s, attr)))
        for param in ("changes-since", "changes-before"):
            if req.arg(param) is not None:
                try:
                    t = _parse_iso(req.arg(param))
                except ValueError:
                    raise ApiError(400, "Invalid input for query parameters %s." % param) \
                        from None
                if param == "changes-since":
                    filters.append(lambda s, t=t: s.updated >= t)
                else:
                    filters.append(lambda s, t=t: s.updated <= t)
        if filters:
            items = [s for s in items if all(fn(s) for fn in filters)]
        sort_key = req.arg("sort_key")
        if sort_key:
            attrs = {"created_at": "created", "updated_at": "updated", "display_name": "name",
                     "uuid": "id", "host": "host", "node": "node", "project_id": "project_id",
                     "vm_state": "status", "hostname": "name", "launched_at": "launched_at"}
            if sort_key not in attrs:
                raise ApiError(400, "Invalid sort_key %s" % sort_key)
            reverse = req.arg("sort_dir", "desc") == "desc"
            items = sorted(items, key=lambda s: (getattr(s, attrs[sort_key]), s.id),
                           reverse=reverse)
        coll = "servers/detail" if detail else "servers"
        page, links = self.paginate(req, items, lambda s: s.id, coll)
        if detail:
            out = [self._server_view(req, s) for s in page]
        else:
            out = [{"id": s.id, "name": s.name, "links": self.links(req, "servers/" + s.id)}
                   for s in page]
        body = {"servers": out}
        if links:
            body["servers_links"] = links
        return Reply(200, body)

    def servers(self, req):
        return self._server_list(req, False)

    def servers_detail(self, req):
        return self._server_list(req, True)

    def server_show(self, req):
        s = self.fleet.servers.get(req.params["id"])
        if s is None:
            raise ApiError(404, "Instance %s could not be found." % req.params["id"])
        return Reply(200, {"server": self._server_view(req, s)})

    # ------------------------------------------------- availability zones
    def _zones(self):
        zones = {}
        for s in self._service_records():
            zones.setdefault(s["zone"], []).append(s)
        return zones

    def zones(self, req):
        out = [{"zoneName": z, "zoneState": {"available": True}, "hosts": None}
               for z in self._zones() if z != "internal"]
        return Reply(200, {"availabilityZoneInfo": out})

    def zones_detail(self, req):
        out = []
        for z, services in self._zones().items():
            hosts = {}
            for s in services:
                hosts.setdefault(s["host"], {})[s["binary"]] = {
                    "available": s["state"] == "up" and not s["forced_down"],
                    "active": not s["disabled"],
                    "updated_at": DOWN_HEARTBEAT if s["state"] == "down" else SERVICE_HEARTBEAT}
            out.append({"zoneName": z, "zoneState": {"available": True}, "hosts": hosts})
        return Reply(200, {"availabilityZoneInfo": out})


def _parse_iso(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return t

