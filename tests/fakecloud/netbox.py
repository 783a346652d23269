"""A small read-only NetBox (REST API of NetBox 4.1, with 3.x's `device_role`
too) under /netbox: the API root, status, and DCIM devices, one per service
host of the fleet (see fleet.py's NB_* catalog and README.md).

Authentication is NetBox's `Authorization: Token <key>`, with the token of
--netbox-token; keystone tokens mean nothing here.  Errors are DRF's
`{"detail": "..."}` with NetBox's 403 (never 401) for missing or bad
credentials.
"""

import hmac
import urllib.parse

from .base import ApiError, Reply, Service
from .fleet import (NB_DEVICE_TYPES, NB_MANUFACTURERS, NB_PLATFORM, NB_ROLES, NB_SITES,
                    NB_STATUSES, NB_TAGS, GPU_TYPES)

VERSION = "4.1.0"
API_VERSION = "4.1"
DEFAULT_LIMIT = 50          # PAGINATE_COUNT
MAX_PAGE_SIZE = 1000        # MAX_PAGE_SIZE; limit=0 means this
NO_CREDENTIALS = "Authentication credentials were not provided."
BRIEF_FIELDS = ("id", "url", "display", "name", "description")
API_APPS = ("circuits", "core", "dcim", "extras", "ipam", "plugins", "status", "tenancy",
            "users", "virtualization", "vpn", "wireless")


class NetBox(Service):
    prefix = "/netbox"
    name = "netbox"
    keystone_401 = False

    def __init__(self, cloud):
        super().__init__(cloud)
        a = self.add
        # Django's APPEND_SLASH: the slash-less paths redirect, before any auth.
        a("GET", "/api", "netbox.root", self.redirect, auth=False)
        a("GET", "/api/", "netbox.root", self.root)
        a("GET", "/api/status", "netbox.status", self.redirect, auth=False)
        a("GET", "/api/status/", "netbox.status", self.status)
        a("GET", "/api/dcim/devices", "netbox.devices", self.redirect, auth=False)
        a("GET", "/api/dcim/devices/", "netbox.devices", self.devices)
        a("GET", "/api/dcim/devices/{id}", "netbox.device", self.redirect, auth=False)
        a("GET", "/api/dcim/devices/{id}/", "netbox.device", self.device)

    def error_body(self, status, message, req=None):
        if isinstance(message, dict):   # a filter's validation errors, by parameter
            return message
        if status == 405 and req is not None:
            message = 'Method "%s" not allowed.' % req.method
        elif status == 404 and req is not None and req.context.get("route") == "netbox.unknown":
            message = "Not found."
        return {"detail": message}

    def authenticate(self, req):
        """DRF TokenAuthentication as NetBox configures it: failures are 403."""
        value = req.header("Authorization")
        words = value.split() if value else []
        if not words or words[0].lower() != "token":
            raise ApiError(403, NO_CREDENTIALS)
        if len(words) == 1:
            raise ApiError(403, "Invalid token header. No credentials provided.")
        if len(words) > 2:
            raise ApiError(403, "Invalid token header. Token string should not contain spaces.")
        if not hmac.compare_digest(words[1].encode(), self.cloud.netbox_token.encode()):
            raise ApiError(403, "Invalid token")
        return True

    def after(self, req, reply):
        reply.headers.setdefault("API-Version", API_VERSION)
        reply.headers.setdefault("Vary", "Accept, Cookie, Origin")
        if 200 <= reply.status < 300:
            reply.headers.setdefault("Allow", "GET, HEAD")

    # ------------------------------------------------------------- helpers
    def api_url(self, req, path):
        return "%s/netbox/api/%s" % (req.base_url, path)

    def redirect(self, req):
        location = req.base_url + req.raw_path + "/"
        if req.query_string:
            location += "?" + req.query_string
        return Reply(301, b"", {"Location": location, "Content-Type": "text/html; charset=utf-8"})

    def _ref(self, req, path, obj_id, name, slug=None, **extra):
        ref = {"id": obj_id, "url": self.api_url(req, "%s/%d/" % (path, obj_id)),
               "display": name, "name": name}
        if slug is not None:
            ref["slug"] = slug
        ref["description"] = ""
        ref.update(extra)
        return ref

    def view(self, req, d):
        """The full DeviceSerializer shape (NetBox 4.1 field order)."""
        dt_id, mfr_id, model, dt_slug, _ = NB_DEVICE_TYPES[d.gpu_type]
        mfr_name, mfr_slug = NB_MANUFACTURERS[mfr_id]
        role_id = 1 if d.gpu_type else 2
        role = self._ref(req, "dcim/device-roles", role_id, *NB_ROLES[role_id])
        site_name, site_slug, loc_id, loc_name, loc_slug, _ = NB_SITES[d.site]
        ip = {"id": d.id, "url": self.api_url(req, "ipam/ip-addresses/%d/" % d.id),
              "display": d.ip4, "family": {"value": 4, "label": "IPv4"}, "address": d.ip4,
              "description": ""}
        gpus = GPU_TYPES.get(d.gpu_type, {}).get("gpus", 0)
        tags = []
        for slug in d.tags:
            tag_id, tag_name, color = NB_TAGS[slug]
            tags.append({"id": tag_id, "url": self.api_url(req, "extras/tags/%d/" % tag_id),
                         "display_url": "%s/netbox/extras/tags/%d/" % (req.base_url, tag_id),
                         "display": tag_name, "name": tag_name, "slug": slug, "color": color})
        device_type = {"id": dt_id, "url": self.api_url(req, "dcim/device-types/%d/" % dt_id),
                       "display": model,
                       "manufacturer": self._ref(req, "dcim/manufacturers", mfr_id, mfr_name,
                                                 mfr_slug),
                       "model": model, "slug": dt_slug, "description": ""}
        return {
            "id": d.id,
            "url": self.api_url(req, "dcim/devices/%d/" % d.id),
            "display_url": "%s/netbox/dcim/devices/%d/" % (req.base_url, d.id),
            "display": d.name,
            "name": d.name,
            "device_type": device_type,
            "role": role,
            "device_role": dict(role),          # NetBox 3.6/3.7 name of `role`
            "tenant": None,
            "platform": self._ref(req, "dcim/platforms", *NB_PLATFORM),
            "serial": d.serial,
            "asset_tag": d.asset_tag,
            "site": self._ref(req, "dcim/sites", d.site, site_name, site_slug),
            "location": self._ref(req, "dcim/locations", loc_id, loc_name, loc_slug, _depth=0),
            "rack": {"id": d.rack[0], "url": self.api_url(req, "dcim/racks/%d/" % d.rack[0]),
                     "display": d.rack[1], "name": d.rack[1], "description": ""},
            "position": float(d.position),
            "face": {"value": "front", "label": "Front"},
            "latitude": None,
            "longitude": None,
            "parent_device": None,
            "status": {"value": d.status, "label": NB_STATUSES[d.status]},
            "airflow": {"value": "front-to-rear", "label": "Front to rear"},
            "primary_ip": dict(ip),
            "primary_ip4": ip,
            "primary_ip6": None,
            "oob_ip": None,
            "cluster": None,
            "virtual_chassis": None,
            "vc_position": None,
            "vc_priority": None,
            "description": _description(d),
            "comments": d.comments,
            "config_template": None,
            "config_context": {},
            "local_context_data": None,
            "tags": tags,
            "custom_fields": {},
            "created": _drf_time(d.created),
            "last_updated": _drf_time(d.last_updated),
            "console_port_count": 1,
            "console_server_port_count": 0,
            "power_port_count": 6 if gpus == 8 else 2,
            "power_outlet_count": 0,
            "interface_count": 2 + gpus,
            "front_port_count": 0,
            "rear_port_count": 0,
            "device_bay_count": 0,
            "module_bay_count": 0,
            "inventory_item_count": gpus,
        }

    def _shape(self, req, d):
        """?fields=a,b (NetBox 4) or ?brief=... select fields of the full view."""
        full = self.view(req, d)
        fields = req.query.get("fields", [""])[-1]
        if fields:
            wanted = fields.split(",")
        elif req.query.get("brief", [""])[-1]:
            wanted = BRIEF_FIELDS
        else:
            return full
        return {k: v for k, v in full.items() if k in wanted}

    # -------------------------------------------------------------- routes
    def root(self, req):
        return Reply(200, {app: self.api_url(req, app + "/") for app in API_APPS})

    def status(self, req):
        return Reply(200, {
            "django-version": "5.0.9",
            "installed-apps": {"debug_toolbar": "4.3.0", "django_filters": "24.3",
                               "django_prometheus": "2.3.1", "django_rq": "2.10.2",
                               "django_tables2": "2.7.0", "drf_spectacular": "0.27.2",
                               "drf_spectacular_sidecar": "2024.7.1", "mptt": "0.16.0",
                               "rest_framework": "3.15.2", "social_django": "5.4.2",
                               "taggit": "5.0.1", "timezone_field": "7.0"},
            "netbox-version": VERSION,
            "plugins": {},
            "python-version": "3.12.3",
            "rq-workers-running": 1,
        })

    def _filtered(self, req):
        """DeviceFilterSet, the part of it that matters here; unknown
        parameters are ignored, as NetBox does."""
        q = req.query
        items = self.cloud.fleet.devices_sorted()
        if "id" in q:
            try:
                ids = {int(v) for v in q["id"]}
            except ValueError:
                raise ApiError(400, {"id": ["Enter a number."]}) from None
            items = [d for d in items if d.id in ids]
        if "name" in q:
            names = set(q["name"])
            items = [d for d in items if d.name in names]
        if "name__ie" in q:
            names = {v.lower() for v in q["name__ie"]}
            items = [d for d in items if d.name.lower() in names]
        if "name__ic" in q:
            parts = [v.lower() for v in q["name__ic"]]
            items = [d for d in items if any(p in d.name.lower() for p in parts)]
        for key, choices, attr in (("site", {s[1]: i for i, s in NB_SITES.items()}, "site"),
                                   ("status", {k: k for k in NB_STATUSES}, "status")):
            if key in q:
                wanted = set()
                for v in q[key]:
                    if v not in choices:
                        raise ApiError(400, {key: ["Select a valid choice. %s is not one of the "
                                                   "available choices." % v]})
                    wanted.add(choices[v])
                items = [d for d in items if getattr(d, attr) in wanted]
        if "role" in q:
            roles = {slug: i for i, (_, slug) in NB_ROLES.items()}
            for v in q["role"]:
                if v not in roles:
                    raise ApiError(400, {"role": ["Select a valid choice. %s is not one of the "
                                                  "available choices." % v]})
            wanted = {roles[v] for v in q["role"]}
            items = [d for d in items if (1 if d.gpu_type else 2) in wanted]
        if "tag" in q:  # conjoined: every tag given
            for v in q["tag"]:
                if v not in NB_TAGS:
                    raise ApiError(400, {"tag": ["Select a valid choice. %s is not one of the "
                                                 "available choices." % v]})
            items = [d for d in items if all(v in d.tags for v in q["tag"])]
        term = q.get("q", [""])[-1]
        if term.strip():
            low, stripped = term.lower(), term.strip().lower()
            items = [d for d in items if low in d.name.lower() or
                     stripped in d.serial.lower() or stripped in d.asset_tag.lower() or
                     stripped in _description(d).lower() or low in d.comments.lower() or
                     d.ip4.startswith(term)]
        return items

    def devices(self, req):
        items = self._filtered(req)
        count = len(items)
        limit = _limit(req)
        offset = _offset(req)
        page = items[offset:offset + limit] if offset <= count else []
        url = req.base_url + req.raw_path + ("?" + req.query_string if req.query_string else "")
        nxt = prev = None
        if offset + limit < count:
            nxt = _replace_query(url, limit=limit, offset=offset + limit)
        if offset > 0:
            if offset - limit <= 0:
                prev = _replace_query(url, limit=limit, offset=None)
            else:
                prev = _replace_query(url, limit=limit, offset=offset - limit)
        return Reply(200, {"count": count, "next": nxt, "previous": prev,
                           "results": [self._shape(req, d) for d in page]})

    def device(self, req):
        try:
            dev_id = int(req.params["id"])
        except ValueError:
            raise ApiError(404, "Not found.") from None
        for d in self.cloud.fleet.devices.values():
            if d.id == dev_id:
                return Reply(200, self._shape(req, d))
        raise ApiError(404, "Not found.")


def _description(d):
    return "%dx %s" % (GPU_TYPES[d.gpu_type]["gpus"], d.gpu_type) if d.gpu_type else ""


def _limit(req):
    """OptionalLimitOffsetPagination.get_limit: bad values give the default."""
    if "limit" not in req.query:
        return DEFAULT_LIMIT
    try:
        limit = int(req.query["limit"][-1])
    except ValueError:
        return DEFAULT_LIMIT
    if limit < 0:
        return DEFAULT_LIMIT
    return MAX_PAGE_SIZE if limit == 0 else min(limit, MAX_PAGE_SIZE)


def _offset(req):
    try:
        offset = int(req.query.get("offset", ["0"])[-1])
    except ValueError:
        return 0
    return offset if offset >= 0 else 0


def _replace_query(url, **params):
    """DRF's replace_query_param/remove_query_param: keys sorted, repeats kept."""
    scheme, netloc, path, query, fragment = urllib.parse.urlsplit(url)
    qd = urllib.parse.parse_qs(query, keep_blank_values=True)
    for key, value in params.items():
        if value is None:
            qd.pop(key, None)
        else:
            qd[key] = [str(value)]
    query = urllib.parse.urlencode(sorted(qd.items()), doseq=True)
    return urllib.parse.urlunsplit((scheme, netloc, path, query, fragment))


def _drf_time(dt):
    """DRF DateTimeField output: ISO 8601, UTC as Z, microseconds when non-zero."""
    if dt is None:
        return None
    return dt.isoformat() + "Z"
