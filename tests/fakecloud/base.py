"""Shared request/response primitives for the fake cloud services.

Kept apart from server.py so that the service modules (identity, compute,
placement) can import them without a circular import.
"""

import datetime
import json
import re
import urllib.parse


class ApiError(Exception):
    """Raised by handlers; the owning service turns it into its error shape."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Reply:
    """What a handler returns: a status, a JSON-able body (or bytes/None)."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status=200, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def encoded(self):
        """Return (bytes, content_type) for the body."""
        if self.body is None:
            return b"", None
        if isinstance(self.body, (bytes, bytearray)):
            return bytes(self.body), self.headers.get("Content-Type", "text/plain")
        return json.dumps(self.body).encode(), "application/json"


class Request:
    """A parsed HTTP request as seen by a service handler."""

    def __init__(self, method, raw_path, headers, body, base_url):
        self.method = method
        split = urllib.parse.urlsplit(raw_path)
        self.path = urllib.parse.unquote(split.path) or "/"
        self.raw_path = split.path or "/"
        self.query_string = split.query
        self.query_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        self.query = {}
        for k, v in self.query_pairs:
            self.query.setdefault(k, []).append(v)
        self.headers = headers
        self.body = body
        self.base_url = base_url  # http://127.0.0.1:PORT
        self.params = {}          # path parameters filled by the router
        self.context = {}         # per-request data (token, microversion...)

    def header(self, name, default=None):
        value = self.headers.get(name)
        return default if value is None else value

    def arg(self, name, default=None):
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        """Decode the JSON body or raise a 400 in the service's shape."""
        if not self.body:
            raise ApiError(400, "The request body is empty; a JSON object is required.")
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "Malformed request body: %s" % exc) from None
        if not isinstance(data, dict):
            raise ApiError(400, "Malformed request body: a JSON object is required.")
        return data


class Route:
    """One (method, path template) pair of a service and its stable name."""

    def __init__(self, method, template, name, handler, auth=True):
        self.method = method
        self.template = template
        self.name = name
        self.handler = handler
        self.auth = auth
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.regex = re.compile("^" + pattern + "$")


class Service:
    """Base class: a URL prefix, its routes and its error body shape."""

    prefix = ""
    name = ""
    keystone_401 = True     # an injected 401 gets keystone's error shape

    def __init__(self, cloud):
        self.cloud = cloud
        self.routes = []

    def add(self, method, template, name, handler, auth=True):
        self.routes.append(Route(method, template, name, handler, auth))

    def error_body(self, status, message, req=None):  # pragma: no cover - overridden
        raise NotImplementedError

    def authenticate(self, req):
        """Own credential check of a service: True when it accepts the request
        (raise ApiError to refuse), False to require a keystone token."""
        return False

    def before(self, req):
        """Hook run after auth and before the handler (microversions)."""

    def after(self, req, reply):
        """Hook run on every reply of the service (version headers)."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def iso_z(dt, micro=True):
    """ISO 8601 UTC with a Z, as keystone and nova 'created' use."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
    return dt.strftime(fmt)


def iso_naive(dt):
    """Naive timestamp with microseconds, as nova's DB-backed fields use."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_bool(value, strict=False):
    """oslo strutils.bool_from_string, roughly."""
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("1", "t", "true", "on", "y", "yes"):
        return True
    if v in ("0", "f", "false", "off", "n", "no"):
        return False
    if strict:
        raise ValueError(value)
    return False
