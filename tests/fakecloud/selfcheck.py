"""Self-check of the fake cloud (standard library only).

    cd /work/main && /usr/bin/python3 -m tests.fakecloud.selfcheck

Starts FakeCloud in-process on port 0 and checks paging, microversion shapes,
auth, failure/latency injection, counters, mutations and bad input.  Prints
one line per failed check and `N passed, N failed` last; exit status 1 on
any failure.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse

from .server import FakeCloud

RESULTS = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
    else:
        RESULTS["failed"] += 1
        print("FAIL %s %s" % (name, detail))
    return cond


class Client:
    """Tiny HTTP client: one connection per call, raw results."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.token = None

    def call(self, method, path, body=None, headers=None, auth=True, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.cloud.port, timeout=timeout)
        hdrs = {"Accept": "application/json"}
        if auth and self.token:
            hdrs["X-Auth-Token"] = self.token
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, mv=None, **kw):
        headers = kw.pop("headers", {})
        if mv:
            headers["OpenStack-API-Version"] = ("placement " if path.startswith("/placement")
                                                else "compute ") + mv
        status, hdrs, raw = self.call(method, path, body, headers, **kw)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return status, hdrs, data

    def login(self):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": self.cloud.password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        status, hdrs, data = self.json("POST", "/identity/v3/auth/tokens", body, auth=False)
        self.token = hdrs.get("X-Subject-Token")
        return status, hdrs, data


def pages(c, path, mv, key):
    """Follow next links; return list of page sizes."""
    sizes = []
    url = path
    while url:
        status, _, data = c.json("GET", url, mv=mv)
        if status != 200:
            return sizes + [("status", status)]
        sizes.append(len(data[key]))
        nxt = [l["href"] for l in data.get(key + "_links", []) if l["rel"] == "next"]
        url = None
        if nxt:
            u = urllib.parse.urlsplit(nxt[0])
            url = u.path + "?" + u.query
        if len(sizes) > 50:
            break
    return sizes


def test_identity(c, cloud):
    status, _, data = c.json("GET", "/identity", auth=False)
    check("identity versions 300", status == 300 and data["versions"]["values"][0]["id"]
          .startswith("v3"), status)
    bad = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": "wrong"}}}}}
    status, _, data = c.json("POST", "/identity/v3/auth/tokens", bad, auth=False)
    check("wrong password 401", status == 401 and data["error"]["code"] == 401, status)
    status, hdrs, data = c.login()
    check("token issue 201", status == 201 and c.token, status)
    tok = data["token"]
    check("token shape", tok["expires_at"].endswith("Z") and "." in tok["expires_at"]
          and tok["project"]["name"] == "admin" and tok["roles"][0]["name"] == "admin", tok)
    types = {e["type"]: e for e in tok["catalog"]}
    check("catalog", {"identity", "compute", "placement"} <= set(types) and
          types["compute"]["endpoints"][0]["url"] == cloud.url + "/compute/v2.1" and
          len(types["placement"]["endpoints"]) == 3, types.keys())
    status, _, data = c.json("GET", "/identity/v3/auth/tokens",
                             headers={"X-Subject-Token": c.token})
    check("token validate", status == 200 and data["token"]["user"]["name"] == "admin", status)
    status, _, data = c.json("GET", "/identity/v3/projects?name=ml-research")
    check("projects filter", status == 200 and [p["name"] for p in data["projects"]] ==
          ["ml-research"] and data["links"]["next"] is None and
          len(data["projects"][0]["id"]) == 32, data)
    status, _, data = c.json("GET", "/identity/v3/projects?limit=2")
    check("projects paging", status == 200 and len(data["projects"]) == 2 and
          "marker=" in (data["links"]["next"] or ""), data and data.get("links"))


def test_paging(c, cloud):
    detail = "/compute/v2.1/os-hypervisors/detail"
    check("hypervisor pages no limit", pages(c, detail, "2.53", "hypervisors") ==
          [1000, 1000, 500], pages(c, detail, "2.53", "hypervisors"))
    p = pages(c, detail + "?limit=800", "2.53", "hypervisors")
    check("hypervisor 3 full pages + final", p == [800, 800, 800, 100], p)
    p = pages(c, detail + "?limit=500", "2.53", "hypervisors")
    check("hypervisor empty last page", p == [500] * 5 + [0], p)
    p = pages(c, detail + "?limit=5000", "2.53", "hypervisors")
    check("limit capped at page_max", p == [1000, 1000, 500], p)
    p = pages(c, "/compute/v2.1/os-hypervisors?limit=1000", "2.33", "hypervisors")
    check("hypervisor paging 2.33 int ids", p == [1000, 1000, 500], p)
    status, _, data = c.json("GET", detail + "?limit=5&marker=nope", mv="2.53")
    check("unknown marker 400", status == 400 and "badRequest" in data, status)
    status, _, data = c.json("GET", detail + "?limit=5&marker=x&marker=y", mv="2.53")
    check("repeated param 400 at 2.53", status == 400, status)
    status, _, data = c.json("GET", detail + "?bogus=1", mv="2.53")
    check("unknown param 400 at 2.53", status == 400, status)
    status, _, data = c.json("GET", detail + "?limit=5&hypervisor_hostname_pattern=a100",
                             mv="2.53")
    check("pattern with paging 400", status == 400, status)
    status, _, data = c.json("GET", "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern="
                             "a100-node01", mv="2.53")
    check("pattern search", status == 200 and data["hypervisors"] and all(
        "a100-node01" in x["hypervisor_hostname"] for x in data["hypervisors"]), status)
    status, _, data = c.json("GET", "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern="
                             "zzz", mv="2.53")
    check("pattern no match 404", status == 404, status)
    status, _, data = c.json("GET", "/compute/v2.1/servers/detail?all_tenants=1&limit=7",
                             mv="2.53")
    check("servers paging", status == 200 and len(data["servers"]) == 7 and
          data["servers_links"][0]["rel"] == "next", status)
    status, _, data = c.json("GET", "/compute/v2.1/flavors/detail?is_public=None&limit=5")
    check("flavors paging", status == 200 and len(data["flavors"]) == 5 and
          "flavors_links" in data, status)
    p = pages(c, "/compute/v2.1/flavors/detail?is_public=None&limit=4", "2.61", "flavors")
    check("flavors follow pages", sum(p) == len(cloud.fleet.flavors) and p[-1] < 4 or
          p[-1] == 0, p)


def test_microversions(c, cloud):
    base = "/compute/v2.1/os-hypervisors/detail?limit=1"
    status, hdrs, data = c.json("GET", "/compute/v2.1/os-hypervisors/detail")
    h = data["hypervisors"][0]
    check("2.1 int id, no paging", status == 200 and isinstance(h["id"], int) and
          len(data["hypervisors"]) == 2500 and "hypervisors_links" not in data and
          isinstance(h["cpu_info"], str) and "vcpus" in h and
          hdrs.get("OpenStack-API-Version") == "compute 2.1", (status, hdrs))
    status, hdrs, data = c.json("GET", base, mv="2.52")
    h = data["hypervisors"][0]
    check("2.52 int id, links, cpu_info dict", isinstance(h["id"], int) and
          isinstance(h["service"]["id"], int) and isinstance(h["cpu_info"], dict) and
          "hypervisors_links" in data and hdrs.get("X-OpenStack-Nova-API-Version") == "2.52"
          and "OpenStack-API-Version" in hdrs.get("Vary", ""), h)
    status, _, data = c.json("GET", base, mv="2.53")
    h = data["hypervisors"][0]
    check("2.53 uuid ids", isinstance(h["id"], str) and len(h["id"]) == 36 and
          len(h["service"]["id"]) == 36 and "vcpus" in h and "uptime" not in h, h)
    uid = h["id"]
    status, _, data = c.json("GET", "/compute/v2.1/os-hypervisors/%s" % uid, mv="2.60")
    check("2.60 show by uuid", status == 200 and data["hypervisor"]["id"] == uid, status)
    status, _, data = c.json("GET", "/compute/v2.1/os-hypervisors/1", mv="2.60")
    check("2.60 show by int -> 400", status == 400, status)
    status, _, data = c.json("GET", base, mv="2.88")
    h = data["hypervisors"][0]
    check("2.88 drops vcpus, adds uptime", "vcpus" not in h and "memory_mb" not in h and
          "cpu_info" not in h and "uptime" in h, h)
    status, _, data = c.json("GET", "/compute/v2.1/os-hypervisors/statistics", mv="2.88")
    check("2.88 statistics 404", status == 404, status)
    status, _, data = c.json("GET", "/compute/v2.1/os-aggregates", mv="2.40")
    check("2.40 aggregates no uuid", "uuid" not in data["aggregates"][0], data["aggregates"][0])
    status, _, data = c.json("GET", "/compute/v2.1/os-aggregates", mv="2.41")
    a = data["aggregates"][0]
    check("2.41 aggregates uuid", "uuid" in a and a["metadata"]["gpu_count"] == "8", a)
    status, _, data = c.json("GET", "/compute/v2.1/servers/detail?all_tenants=1&limit=1",
                             mv="2.47")
    check("2.47 embedded flavor", "original_name" in data["servers"][0]["flavor"], status)
    status, _, data = c.json("GET", "/compute/v2.1/servers/detail?all_tenants=1&limit=1")
    check("2.1 flavor link", "id" in data["servers"][0]["flavor"], status)
    status, _, data = c.json("GET", "/compute/v2.1/flavors/detail", mv="2.60")
    check("2.60 no extra_specs", "extra_specs" not in data["flavors"][0], status)
    status, _, data = c.json("GET", "/compute/v2.1/flavors/detail", mv="2.61")
    check("2.61 extra_specs", "extra_specs" in data["flavors"][0], status)
    status, _, data = c.json("GET", base, headers={"X-OpenStack-Nova-API-Version": "2.60"})
    check("legacy header", status == 200 and isinstance(data["hypervisors"][0]["id"], str),
          status)
    status, hdrs, data = c.json("GET", base, headers={"X-OpenStack-Nova-API-Version": "2.60",
                                                      "OpenStack-API-Version": "compute 2.10"})
    check("new header wins", hdrs.get("OpenStack-API-Version") == "compute 2.10", hdrs)
    status, _, data = c.json("GET", base, mv="2.97")
    check("out of range 406", status == 406 and "computeFault" in data, status)
    status, _, data = c.json("GET", base, mv="2.x")
    check("malformed 400", status == 400 and "badRequest" in data, status)
    status, _, data = c.json("GET", "/compute/v2.1", auth=False)
    check("version doc", status == 200 and data["version"]["version"] == "2.96" and
          data["version"]["min_version"] == "2.1", data)
    status, _, data = c.json("GET", "/placement/", auth=False)
    check("placement versions", data["versions"][0]["max_version"] == "1.39", data)
    status, _, data = c.json("GET", "/placement/resource_providers?name=CA1-esc8-1", mv="1.39")
    if not data["resource_providers"]:
        status, _, data = c.json("GET", "/placement/resource_providers?name=CA1-esc8-1"
                                 ".ca1.example.net", mv="1.39")
    rp = data["resource_providers"][0]
    check("placement rp 1.14 fields", rp["root_provider_uuid"] == rp["uuid"], rp)
    status, _, data = c.json("GET", "/placement/resource_providers/%s/inventories" % rp["uuid"],
                             mv="1.39")
    check("esc8 inventory VGPU", data["inventories"]["VGPU"]["total"] == 8, data)
    h100 = cloud.fleet.by_node.get("CA1-h100sxm-node01") or \
        cloud.fleet.by_node["CA1-h100sxm-node01.ca1.example.net"]
    status, _, data = c.json("GET", "/placement/resource_providers/%s/inventories" % h100.uuid,
                             mv="1.39")
    check("h100 inventory custom rc", "CUSTOM_GPU_H100_SXM5" in data["inventories"], data)
    status, _, data = c.json("GET", "/placement/resource_providers?in_tree=%s" % h100.uuid)
    check("in_tree needs 1.14", status == 400 and "errors" in data, status)


def test_auth(c, cloud):
    status, hdrs, data = c.json("GET", "/compute/v2.1/os-aggregates", auth=False)
    check("no token 401", status == 401 and data["error"]["code"] == 401 and
          "WWW-Authenticate" in hdrs, status)
    status, _, data = c.json("GET", "/placement/resource_providers",
                             headers={"X-Auth-Token": "bogus"}, auth=False)
    check("bad token 401", status == 401 and "error" in data, status)
    c.json("POST", "/_fake/token/expire", {})
    status, _, data = c.json("GET", "/compute/v2.1/os-aggregates")
    check("expired token 401", status == 401, status)
    status, _, _ = c.login()
    status, _, data = c.json("GET", "/compute/v2.1/os-aggregates")
    check("re-auth works", status == 200, status)


def test_injection(c, cloud):
    c.json("POST", "/_fake/reset", {})
    c.json("POST", "/_fake/fail", {"route": "compute.hypervisors.detail", "status": 503,
                                   "count": 2})
    path = "/compute/v2.1/os-hypervisors/detail?limit=1"
    s1 = c.json("GET", path)[0]
    s2, _, d2 = c.json("GET", path)
    s3 = c.json("GET", path)[0]
    check("fail count 2", (s1, s2, s3) == (503, 503, 200) and "serviceUnavailable" in d2,
          (s1, s2, s3))
    c.json("GET", "/compute/v2.1/os-hypervisors/detail?limit=1", auth=False)
    _, _, counts = c.json("GET", "/_fake/counts")
    check("counts include failures and 401", counts.get("compute.hypervisors.detail") == 4,
          counts)
    _, _, log = c.json("GET", "/_fake/requests")
    check("request log", [e["status"] for e in log] == [503, 503, 200, 401] and
          log[0]["route"] == "compute.hypervisors.detail" and log[0]["method"] == "GET", log)
    c.json("POST", "/_fake/fail", {"route": "placement.*", "status": 500, "count": -1})
    st = [c.json("GET", "/placement/resource_providers")[0] for _ in range(3)]
    _, _, d = c.json("GET", "/placement/resource_providers")
    check("glob until cleared", st == [500] * 3 and "errors" in d, st)
    c.json("POST", "/_fake/fail", {"route": "placement.*", "status": 0})
    check("cleared", c.json("GET", "/placement/resource_providers")[0] == 200)
    c.json("POST", "/_fake/fail", {"route": "compute.*", "status": 401, "count": 1})
    s, _, d = c.json("GET", "/compute/v2.1/os-aggregates")
    check("injected 401 keystone shape", s == 401 and "error" in d, (s, d))
    c.json("POST", "/_fake/fail", {"route": "compute.aggregates", "status": 429, "count": 1,
                                   "headers": {"Retry-After": "2"}})
    s, h, d = c.json("GET", "/compute/v2.1/os-aggregates")
    check("429 retryAfter", s == 429 and h.get("Retry-After") == "2" and
          d["overLimit"].get("retryAfter") == "2", (s, h, d))
    c.json("POST", "/_fake/fail", {"route": "compute.aggregates", "status": 502, "count": 1,
                                   "body": "<html>bad gateway</html>"})
    s, _, raw = c.call("GET", "/compute/v2.1/os-aggregates")
    check("raw body", s == 502 and raw == b"<html>bad gateway</html>", (s, raw))
    c.json("POST", "/_fake/fail", {"route": "compute.aggregates", "mode": "garbage",
                                   "count": 1})
    s, _, raw = c.call("GET", "/compute/v2.1/os-aggregates")
    check("garbage", s == 200 and not _is_json(raw), s)
    c.json("POST", "/_fake/fail", {"route": "compute.aggregates", "mode": "truncated",
                                   "count": 1})
    s, _, raw = c.call("GET", "/compute/v2.1/os-aggregates")
    check("truncated", s == 200 and raw.startswith(b'{"aggregates"') and not _is_json(raw), s)
    c.json("POST", "/_fake/fail", {"route": "compute.aggregates", "mode": "drop", "count": 1})
    try:
        c.call("GET", "/compute/v2.1/os-aggregates", timeout=5)
        check("drop", False, "got a response")
    except (http.client.HTTPException, ConnectionError, OSError):
        check("drop", True)
    check("after drop", c.call("GET", "/compute/v2.1/os-aggregates")[0] == 200)

    # hang: other requests keep flowing; clearing releases the hung one
    c.json("POST", "/_fake/fail", {"route": "compute.limits", "mode": "hang", "count": -1})
    out = {}

    def hung():
        try:
            out["status"] = c.call("GET", "/compute/v2.1/limits", timeout=10)[0]
        except Exception as exc:  # noqa: BLE001
            out["error"] = repr(exc)
    t = threading.Thread(target=hung)
    t.start()
    time.sleep(0.3)
    t0 = time.time()
    s = c.call("GET", "/compute/v2.1/os-aggregates")[0]
    check("hang does not block others", s == 200 and time.time() - t0 < 1.0 and t.is_alive())
    try:
        c.call("GET", "/compute/v2.1/limits", timeout=0.5)
        check("hang times out client", False)
    except (OSError, http.client.HTTPException):
        check("hang times out client", True)
    c.json("POST", "/_fake/fail", {"route": "compute.limits", "status": 0})
    t.join(5)
    check("hang released by clear", out.get("status") == 200, out)

    # latency
    c.json("POST", "/_fake/latency", {"route": "compute.flavors*", "ms": 300})
    t0 = time.time()
    c.call("GET", "/compute/v2.1/flavors")
    slow = time.time() - t0
    t0 = time.time()
    c.call("GET", "/compute/v2.1/os-aggregates")
    fast = time.time() - t0
    check("latency applied", slow >= 0.3 and fast < 0.25, (slow, fast))
    c.json("POST", "/_fake/latency", {"route": "compute.flavors*", "ms": 0})
    t0 = time.time()
    c.call("GET", "/compute/v2.1/flavors")
    check("latency removed", time.time() - t0 < 0.25)
    c.json("POST", "/_fake/reset", {})
    _, _, counts = c.json("GET", "/_fake/counts")
    _, _, rules = c.json("GET", "/_fake/fail")
    check("reset", counts == {} and rules == [], (counts, rules))


def _is_json(raw):
    try:
        json.loads(raw)
        return True
    except ValueError:
        return False


def test_mutations(c, cloud):
    s, _, d = c.json("POST", "/compute/v2.1/os-aggregates",
                     {"aggregate": {"name": "selfcheck", "availability_zone": None}}, mv="2.41")
    check("aggregate create", s == 200 and d["aggregate"]["hosts"] == [], (s, d))
    agg = d["aggregate"]
    host = cloud.fleet.hosts[0]
    s, _, d = c.json("POST", "/compute/v2.1/os-aggregates/%d/action" % agg["id"],
                     {"add_host": {"host": host.service_host}})
    check("add_host", s == 200 and d["aggregate"]["hosts"] == [host.service_host], (s, d))
    s, _, d = c.json("POST", "/compute/v2.1/os-aggregates/%d/action" % agg["id"],
                     {"add_host": {"host": "no-such-host"}})
    check("add unknown host 404", s == 404 and "itemNotFound" in d, s)
    c.json("POST", "/compute/v2.1/os-aggregates/%d/action" % agg["id"],
           {"set_metadata": {"metadata": {"k": "v", "gone": "x"}}})
    c.json("POST", "/compute/v2.1/os-aggregates/%d/action" % agg["id"],
           {"set_metadata": {"metadata": {"gone": None}}})
    s, _, d = c.json("GET", "/compute/v2.1/os-aggregates/%d" % agg["id"])
    check("metadata visible", d["aggregate"]["metadata"] == {"k": "v"}, d)
    s, _, d = c.json("GET", "/placement/resource_providers/%s/aggregates" % host.uuid,
                     mv="1.19")
    check("placement mirrors aggregate", agg["uuid"] in d["aggregates"] and
          "resource_provider_generation" in d, d)
    s, _, d = c.json("DELETE", "/compute/v2.1/os-aggregates/%d" % agg["id"])
    check("delete non-empty aggregate 400", s == 400, s)
    s, _, d = c.json("GET", "/compute/v2.1/os-services?host=%s" % host.service_host, mv="2.53")
    svc = d["services"][0]
    s, _, d = c.json("PUT", "/compute/v2.1/os-services/%s" % svc["id"],
                     {"status": "disabled", "disabled_reason": "selfcheck"}, mv="2.53")
    check("service disable", s == 200 and d["service"]["status"] == "disabled", (s, d))
    s, _, d = c.json("GET", "/compute/v2.1/os-hypervisors/%s" % host.uuid, mv="2.53")
    check("hypervisor disabled", d["hypervisor"]["status"] == "disabled" and
          d["hypervisor"]["service"]["disabled_reason"] == "selfcheck", d)
    s, _, d = c.json("POST", "/compute/v2.1/flavors", {"flavor": {
        "name": "sc.tiny", "ram": 512, "vcpus": 1, "disk": 1, "id": "sc-1"}})
    check("flavor create", s == 200 and d["flavor"]["id"] == "sc-1", (s, d))
    c.json("POST", "/compute/v2.1/flavors/sc-1/os-extra_specs",
           {"extra_specs": {"resources:VGPU": "1"}})
    s, _, d = c.json("GET", "/compute/v2.1/flavors/sc-1", mv="2.61")
    check("extra specs visible", d["flavor"]["extra_specs"] == {"resources:VGPU": "1"}, d)
    s, _, d = c.json("POST", "/compute/v2.1/flavors", {"flavor": {
        "name": "sc.tiny", "ram": 512, "vcpus": 1, "disk": 1}})
    check("flavor dup 409", s == 409 and "conflictingRequest" in d, s)
    c.json("DELETE", "/compute/v2.1/flavors/sc-1")
    check("flavor deleted", c.json("GET", "/compute/v2.1/flavors/sc-1")[0] == 404)
    pid = cloud.fleet.project_by_name["ml-research"]["id"]
    c.json("PUT", "/compute/v2.1/os-quota-sets/%s" % pid, {"quota_set": {"cores": 12345}})
    s, _, d = c.json("GET", "/compute/v2.1/os-quota-sets/%s/detail" % pid)
    check("quota update", d["quota_set"]["cores"]["limit"] == 12345 and
          d["quota_set"]["cores"]["in_use"] > 0 and d["quota_set"]["cores"]["reserved"] == 0, d)
    s, _, d = c.json("GET", "/compute/v2.1/os-quota-sets/0123456789abcdef0123456789abcdef")
    check("quota unknown project 400", s == 400, s)
    n0 = len(cloud.fleet.hosts)
    s, _, d = c.json("POST", "/_fake/hosts", {"add": "CA1-new-node01.ca1.example.net",
                                              "gpu_type": "L40"})
    check("fake add host", s == 201 and d["added"]["service_host"] == "CA1-new-node01" and
          d["added"]["gpu_type"] == "L40", (s, d))
    s, _, d = c.json("GET", "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern="
                     "new-node01", mv="2.53")
    check("added host listed", s == 200 and len(d["hypervisors"]) == 1, s)
    c.json("POST", "/_fake/hosts", {"set": "CA1-new-node01.ca1.example.net", "state": "down"})
    s, _, d = c.json("GET", "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern="
                     "new-node01", mv="2.53")
    check("set state down", d["hypervisors"][0]["state"] == "down", d)
    c.json("POST", "/_fake/hosts", {"remove": "CA1-new-node01.ca1.example.net"})
    check("removed host", len(cloud.fleet.hosts) == n0)


def test_bad_input(c, cloud):
    for path, key in (("/compute/v2.1/os-aggregates", "badRequest"),
                      ("/identity/v3/auth/tokens", "error")):
        s, _, d = c.json("POST", path, b"{not json")
        check("bad json %s" % path, s == 400 and key in (d or {}), (s, d))
    s, _, d = c.json("POST", "/compute/v2.1/flavors", {"flavor": {"name": "x", "ram": "lots",
                                                                  "vcpus": 1, "disk": 1}})
    check("bad field 400", s == 400, s)
    s, _, d = c.json("GET", "/compute/v2.1/no-such-thing")
    check("unknown route 404", s == 404 and "itemNotFound" in d, s)
    s, _, d = c.json("GET", "/placement/nothing")
    check("placement unknown 404", s == 404 and "errors" in d, s)
    s, _, d = c.json("GET", "/whatever")
    check("unknown prefix 404", s == 404, s)
    s, _, d = c.json("PATCH", "/compute/v2.1/os-aggregates")
    check("bad method 405", s == 405, s)
    s, _, d = c.json("POST", "/_fake/fail", b"[]")
    check("fake bad body 400", s == 400 and "error" in d, s)
    _, _, counts = c.json("GET", "/_fake/counts")
    check("route names", "compute.unknown" in counts and "compute.aggregates.patch" in counts
          and "unknown" in counts, counts)
    _, _, state = c.json("GET", "/_fake/state")
    check("state", len(state["hypervisors"]) == len(cloud.fleet.hosts), state.keys())


def test_token_ttl():
    """A short --token-ttl makes tokens expire; keystone-shaped 401 follows."""
    cloud = FakeCloud(hosts=3, token_ttl=1, max_microversion="2.60").start()
    try:
        c = Client(cloud)
        c.login()
        check("ttl fresh token", c.json("GET", "/compute/v2.1/os-aggregates")[0] == 200)
        s, _, d = c.json("GET", "/compute/v2.1/os-aggregates", mv="2.61")
        check("custom max microversion 406", s == 406, s)
        time.sleep(1.2)
        s, _, d = c.json("GET", "/compute/v2.1/os-aggregates")
        check("ttl expired token 401", s == 401 and "error" in d, s)
    finally:
        cloud.stop()


def main():
    t0 = time.time()
    cloud = FakeCloud(hosts=2500, page_max=1000).start()
    c = Client(cloud)
    try:
        for test in (test_identity, test_paging, test_microversions, test_auth,
                     test_injection, test_mutations, test_bad_input):
            try:
                test(c, cloud)
            except Exception as exc:  # noqa: BLE001 - report and carry on
                import traceback
                traceback.print_exc()
                check(test.__name__, False, "raised %r" % exc)
    finally:
        cloud.stop()
    test_token_ttl()
    check("under 20 s", time.time() - t0 < 20, time.time() - t0)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
