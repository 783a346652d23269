"""Keystone v3 subset: discovery, password/token/application-credential auth,
token validation, projects, users and domains.

Tokens live in memory with a TTL; /_fake/token/expire drops all of them so
the next service call gets the keystonemiddleware-style 401.
"""

import datetime
import secrets
import threading
import urllib.parse

from .base import ApiError, Reply, Service, iso_z, utcnow
from .fleet import DOMAIN_ID, DOMAIN_NAME, hex32

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
          429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
          502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
AUTH_REQUIRED = "The request you have made requires authentication."
APP_CRED_NAME = "infrafs"
ROLE = {"id": hex32("fakecloud-role", "admin"), "name": "admin"}


def keystone_error(status, message):
    return {"error": {"code": status, "title": TITLES.get(status, "Error"), "message": message}}


class Identity(Service):
    prefix = "/identity"
    name = "identity"

    def __init__(self, cloud):
        super().__init__(cloud)
        self.tokens = {}
        self.issued = []          # every token id ever issued, for leak tests
        self.tokens_lock = threading.Lock()
        self.app_cred_id = hex32("fakecloud-appcred", APP_CRED_NAME)
        a = self.add
        a("GET", "", "identity.versions", self.versions, auth=False)
        a("GET", "/", "identity.versions", self.versions, auth=False)
        a("GET", "/v3", "identity.version", self.version, auth=False)
        a("GET", "/v3/", "identity.version", self.version, auth=False)
        a("POST", "/v3/auth/tokens", "identity.tokens", self.issue, auth=False)
        a("GET", "/v3/auth/tokens", "identity.tokens.validate", self.validate_route)
        a("HEAD", "/v3/auth/tokens", "identity.tokens.validate", self.validate_route)
        a("DELETE", "/v3/auth/tokens", "identity.tokens.delete", self.revoke)
        a("GET", "/v3/auth/catalog", "identity.catalog", self.catalog_route)
        a("GET", "/v3/auth/projects", "identity.auth_projects", self.auth_projects)
        a("GET", "/v3/auth/domains", "identity.auth_domains", self.auth_domains)
        a("GET", "/v3/projects", "identity.projects", self.projects)
        a("GET", "/v3/projects/{project_id}", "identity.project", self.project)
        a("GET", "/v3/users", "identity.users", self.users)
        a("GET", "/v3/users/{user_id}", "identity.user", self.user)
        a("GET", "/v3/domains", "identity.domains", self.domains)
        a("GET", "/v3/domains/{domain_id}", "identity.domain", self.domain)

    def error_body(self, status, message, req=None):
        return keystone_error(status, message)

    # ------------------------------------------------------------- helpers
    def v3_url(self, req):
        return req.base_url + "/identity/v3"

    def _version_doc(self, req):
        return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": self.v3_url(req) + "/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.identity-v3+json"}]}

    def catalog(self, base_url):
        entries = []
        for stype, name, url in (("identity", "keystone", base_url + "/identity/v3"),
                                 ("compute", "nova", base_url + "/compute/v2.1"),
                                 ("placement", "placement", base_url + "/placement"),
                                 ("image", "glance", base_url + "/image")):
            endpoints = [{"id": hex32("fakecloud-endpoint", stype, iface), "interface": iface,
                          "region": "RegionOne", "region_id": "RegionOne", "url": url}
                         for iface in ("public", "internal", "admin")]
            entries.append({"id": hex32("fakecloud-service", stype), "type": stype,
                            "name": name, "endpoints": endpoints})
        return entries

    def domain_ref(self):
        return {"id": DOMAIN_ID, "name": DOMAIN_NAME}

    def lookup(self, token_id):
        """Return the live token record or None (unknown, expired, revoked)."""
        if not token_id:
            return None
        with self.tokens_lock:
            rec = self.tokens.get(token_id)
            if rec is None:
                return None
            if rec["expires"] <= utcnow():
                del self.tokens[token_id]
                return None
            return rec

    def issued_tokens(self):
        with self.tokens_lock:
            return list(self.issued)

    def expire_all(self):
        with self.tokens_lock:
            n = len(self.tokens)
            self.tokens.clear()
        return n

    def unauthorized(self, message=AUTH_REQUIRED):
        return ApiError(401, message, {"WWW-Authenticate": 'Keystone uri="%s"' % (
            self.cloud.url + "/identity")})

    # ----------------------------------------------------------- discovery
    def versions(self, req):
        return Reply(300, {"versions": {"values": [self._version_doc(req)]}})

    def version(self, req):
        return Reply(200, {"version": self._version_doc(req)})

    # ---------------------------------------------------------------- auth
    def _find_user(self, spec):
        users = self.cloud.fleet.user
        if not isinstance(spec, dict):
            raise ApiError(400, "Invalid input for field 'identity/password/user'.")
        if "id" in spec:
            return spec["id"] == users["id"]
        if "name" not in spec:
            raise ApiError(400, "Expecting to find id or name in user.")
        dom = spec.get("domain")
        if not isinstance(dom, dict) or not ({"id", "name"} & set(dom)):
            raise ApiError(400, "Expecting to find domain in user. The server could not comply "
                                "with the request since it is either malformed or otherwise "
                                "incorrect. The client is assumed to be in error.")
        dom_ok = dom.get("id") == DOMAIN_ID if "id" in dom else \
            str(dom.get("name")).lower() == DOMAIN_NAME.lower()
        return dom_ok and spec["name"] == users["name"]

    def _scope(self, body_scope, default_project):
        """Return (project, domain, system) of the requested scope."""
        f = self.cloud.fleet
        if body_scope is None:
            return default_project, None, None
        if not isinstance(body_scope, dict):
            raise ApiError(400, "Invalid input for field 'scope'.")
        if "project" in body_scope:
            p = body_scope["project"]
            if not isinstance(p, dict):
                raise ApiError(400, "Invalid input for field 'scope/project'.")
            if "id" in p:
                proj = next((x for x in f.projects if x["id"] == p["id"]), None)
            elif "name" in p:
                dom = p.get("domain")
                if not isinstance(dom, dict) or not ({"id", "name"} & set(dom)):
                    raise ApiError(400, "Expecting to find domain in project. The server could "
                                        "not comply with the request since it is either "
                                        "malformed or otherwise incorrect. The client is "
                                        "assumed to be in error.")
                dom_ok = dom.get("id") == DOMAIN_ID if "id" in dom else \
                    str(dom.get("name")).lower() == DOMAIN_NAME.lower()
                proj = next((x for x in f.projects if x["name"] == p["name"]), None) \
                    if dom_ok else None
            else:
                raise ApiError(400, "Expecting to find id or name in project.")
            if proj is None:
                raise self.unauthorized()
            return proj, None, None
        if "domain" in body_scope:
            d = body_scope["domain"]
            if isinstance(d, dict) and (d.get("id") == DOMAIN_ID or
                                        str(d.get("name")).lower() == DOMAIN_NAME.lower()):
                return None, self.domain_ref(), None
            raise self.unauthorized()
        if "system" in body_scope:
            return None, None, {"all": True}
        raise ApiError(400, "Invalid input for field 'scope'.")

    def issue(self, req):
        try:
            body = req.json()
        except ApiError as exc:
            raise ApiError(400, exc.message) from None
        auth = body.get("auth")
        if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
            raise ApiError(400, "Expecting to find identity in auth. The server could not "
                                "comply with the request since it is either malformed or "
                                "otherwise incorrect. The client is assumed to be in error.")
        ident = auth["identity"]
        methods = ident.get("methods")
        if not isinstance(methods, list) or not methods:
            raise ApiError(400, "Expecting to find methods in identity.")
        f = self.cloud.fleet
        admin_project = f.project_by_name["admin"]
        scope = auth.get("scope")
        app_cred = None
        method = methods[0]
        if method == "password":
            pw = ident.get("password")
            if not isinstance(pw, dict) or not isinstance(pw.get("user"), dict):
                raise ApiError(400, "Expecting to find user in password.")
            if not self._find_user(pw["user"]) or pw["user"].get("password") != self.cloud.password:
                raise self.unauthorized()
        elif method == "token":
            tok = ident.get("token")
            rec = self.lookup(tok.get("id") if isinstance(tok, dict) else None)
            if rec is None:
                raise ApiError(404, "Could not find token: %s." % (
                    tok.get("id") if isinstance(tok, dict) else None))
        elif method == "application_credential":
            ac = ident.get("application_credential")
            if not isinstance(ac, dict):
                raise ApiError(400, "Expecting to find application_credential in identity.")
            if scope is not None:
                raise ApiError(401, "Application credentials cannot request a scope.")
            ok_id = ac.get("id") == self.app_cred_id or (
                ac.get("name") == APP_CRED_NAME and isinstance(ac.get("user"), dict)
                and self._find_user(ac["user"]))
            if not ok_id or ac.get("secret") != self.cloud.password:
                raise self.unauthorized()
            app_cred = {"id": self.app_cred_id, "name": APP_CRED_NAME, "restricted": True}
        else:
            raise self.unauthorized("Attempted to authenticate with an unsupported method.")
        project, domain, system = self._scope(scope, admin_project)

        now = utcnow()
        rec = {"id": "gAAAAAB" + secrets.token_urlsafe(96), "issued": now,
               "expires": now + datetime.timedelta(seconds=self.cloud.token_ttl),
               "methods": [method], "project": project, "domain": domain,
               "system": system, "app_cred": app_cred,
               "audit": secrets.token_urlsafe(16)[:22]}
        with self.tokens_lock:
            self.tokens[rec["id"]] = rec
            self.issued.append(rec["id"])
        nocatalog = "nocatalog" in req.query
        return Reply(201, self.token_body(rec, req.base_url, not nocatalog),
                     {"X-Subject-Token": rec["id"]})

    def token_body(self, rec, base_url, with_catalog=True):
        user = dict(self.cloud.fleet.user)
        user["domain"] = self.domain_ref()
        user["password_expires_at"] = None
        tok = {"methods": rec["methods"], "user": user, "audit_ids": [rec["audit"]],
               "expires_at": iso_z(rec["expires"]), "issued_at": iso_z(rec["issued"]),
               "is_domain": False}
        if rec["project"]:
            p = rec["project"]
            tok["project"] = {"id": p["id"], "name": p["name"], "domain": self.domain_ref()}
        elif rec["domain"]:
            tok["domain"] = rec["domain"]
        elif rec["system"]:
            tok["system"] = rec["system"]
        tok["roles"] = [dict(ROLE)]
        if rec["app_cred"]:
            tok["application_credential"] = dict(rec["app_cred"])
        if with_catalog:
            tok["catalog"] = self.catalog(base_url)
        return {"token": tok}

    def validate_route(self, req):
        rec = self.lookup(req.header("X-Subject-Token"))
        if rec is None:
            raise ApiError(404, "Could not find token: %s." % req.header("X-Subject-Token"))
        body = None if req.method == "HEAD" else \
            self.token_body(rec, req.base_url, "nocatalog" not in req.query)
        return Reply(200, body, {"X-Subject-Token": rec["id"]})

    def revoke(self, req):
        sub = req.header("X-Subject-Token")
        with self.tokens_lock:
            if self.tokens.pop(sub or "", None) is None:
                raise ApiError(404, "Could not find token: %s." % sub)
        return Reply(204)

    def catalog_route(self, req):
        return Reply(200, {"catalog": self.catalog(req.base_url),
                           "links": {"self": self.v3_url(req) + "/auth/catalog",
                                     "previous": None, "next": None}})

    # ----------------------------------------------------- projects & users
    def _project_view(self, req, p):
        return {"id": p["id"], "name": p["name"], "domain_id": DOMAIN_ID,
                "description": p["description"], "enabled": True, "parent_id": DOMAIN_ID,
                "is_domain": False, "tags": [], "options": {},
                "links": {"self": self.v3_url(req) + "/projects/" + p["id"]}}

    def _list(self, req, key, items, collection):
        """Keystone list body with marker/limit paging and a links object."""
        self_url = self.v3_url(req) + "/" + collection
        limit = req.arg("limit")
        marker = req.arg("marker")
        if marker is not None:
            ids = [i["id"] for i in items]
            if marker not in ids:
                raise ApiError(400, "Marker %s could not be found." % marker)
            items = items[ids.index(marker) + 1:]
        nxt = None
        if limit is not None:
            try:
                limit = int(limit)
                if limit < 0:
                    raise ValueError
            except ValueError:
                raise ApiError(400, "Invalid value for limit: %s" % limit) from None
            limit = min(limit, self.cloud.page_max)
            items = items[:limit]
            if items and len(items) == limit:
                q = [(k, v) for k, v in req.query_pairs if k != "marker"] + \
                    [("marker", items[-1]["id"])]
                nxt = self_url + "?" + urllib.parse.urlencode(q)
        if req.query_string:
            self_url += "?" + req.query_string
        return Reply(200, {key: items, "links": {"self": self_url, "previous": None, "next": nxt}})

    def _filtered_projects(self, req):
        out = []
        for p in self.cloud.fleet.projects:
            if req.arg("name") is not None and req.arg("name") != p["name"]:
                continue
            if req.arg("domain_id") not in (None, DOMAIN_ID):
                continue
            if req.arg("parent_id") not in (None, DOMAIN_ID):
                continue
            if req.arg("enabled") is not None and req.arg("enabled").lower() in ("false", "0"):
                continue
            if req.arg("is_domain", "false").lower() in ("true", "1"):
                continue
            out.append(self._project_view(req, p))
        return out

    def projects(self, req):
        return self._list(req, "projects", self._filtered_projects(req), "projects")

    def auth_projects(self, req):
        items = [self._project_view(req, p) for p in self.cloud.fleet.projects]
        return Reply(200, {"projects": items,
                           "links": {"self": self.v3_url(req) + "/auth/projects",
                                     "previous": None, "next": None}})

    def project(self, req):
        p = self.cloud.fleet.project(req.params["project_id"])
        if p is None or p["id"] != req.params["project_id"]:
            raise ApiError(404, "Could not find project: %s." % req.params["project_id"])
        return Reply(200, {"project": self._project_view(req, p)})

    def _user_view(self, req):
        u = self.cloud.fleet.user
        return {"id": u["id"], "name": u["name"], "domain_id": DOMAIN_ID, "enabled": True,
                "default_project_id": self.cloud.fleet.project_by_name["admin"]["id"],
                "password_expires_at": None, "options": {},
                "links": {"self": self.v3_url(req) + "/users/" + u["id"]}}

    def users(self, req):
        items = [self._user_view(req)]
        if req.arg("name") is not None:
            items = [u for u in items if u["name"] == req.arg("name")]
        return self._list(req, "users", items, "users")

    def user(self, req):
        if req.params["user_id"] != self.cloud.fleet.user["id"]:
            raise ApiError(404, "Could not find user: %s." % req.params["user_id"])
        return Reply(200, {"user": self._user_view(req)})

    def _domain_view(self, req):
        return {"id": DOMAIN_ID, "name": DOMAIN_NAME, "description": "The default domain",
                "enabled": True, "tags": [], "options": {},
                "links": {"self": self.v3_url(req) + "/domains/" + DOMAIN_ID}}

    def domains(self, req):
        items = [self._domain_view(req)]
        if req.arg("name") is not None:
            items = [d for d in items if d["name"] == req.arg("name")]
        return self._list(req, "domains", items, "domains")

    def auth_domains(self, req):
        return Reply(200, {"domains": [self._domain_view(req)],
                           "links": {"self": self.v3_url(req) + "/auth/domains",
                                     "previous": None, "next": None}})

    def domain(self, req):
        if req.params["domain_id"] != DOMAIN_ID:
            raise ApiError(404, "Could not find domain: %s." % req.params["domain_id"])
        return Reply(200, {"domain": self._domain_view(req)})
