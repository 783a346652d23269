"""Test-only control plane under /_fake/: counters, request log, latency and
failure injection, token expiry and hypervisor changes the real API cannot make
(including whether NetBox has a device for a host).

Counters and the log see every request to the service APIs (also those
answered by an injected failure or a 401), never /_fake/ itself.  Route
names are the stable dotted names documented in README.md.
"""

import collections
import fnmatch
import threading

from .base import ApiError, Reply
from . import fleet as fleetmod

FAIL_MODES = ("status", "garbage", "truncated", "hang", "drop", "trickle", "shape", "huge")
# `mode: shape` variants: how a good JSON answer is bent out of shape.
SHAPES = ("missing-key", "null", "wrong-type", "not-object", "bad-items", "null-document")
# Per-mode options of a failure rule: name -> (mode, default).
MODE_OPTIONS = {"interval_ms": ("trickle", 1000), "shape": ("shape", "missing-key"),
                "size_mb": ("huge", 50)}
MAX_SIZE_MB = 1024
LOG_SIZE = 10000


class FailRule:
    """One armed failure: applies to the next `count` matching requests."""

    def __init__(self, route, mode, status, count, body, headers, options=None):
        self.route = route
        self.mode = mode
        self.status = status
        self.count = count          # -1 = until cleared
        self.body = body
        self.headers = headers
        self.options = dict(options or {})   # interval_ms, shape or size_mb of its mode
        self.active = True          # cleared rules release hung and trickling requests

    @property
    def interval_ms(self):
        return self.options.get("interval_ms", MODE_OPTIONS["interval_ms"][1])

    @property
    def shape(self):
        return self.options.get("shape", MODE_OPTIONS["shape"][1])

    @property
    def size_mb(self):
        return self.options.get("size_mb", MODE_OPTIONS["size_mb"][1])

    def describe(self):
        return {"route": self.route, "mode": self.mode, "status": self.status,
                "count": self.count, "body": self.body, "headers": self.headers,
                **self.options}


class Control:
    def __init__(self, cloud):
        self.cloud = cloud
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.log = collections.deque(maxlen=LOG_SIZE)
        self.latency = {}            # pattern -> ms
        self.rules = []              # FailRule, first match wins

    # ------------------------------------------------- used by the dispatcher
    def count(self, route):
        with self.lock:
            self.counts[route] += 1

    def record(self, t, route, method, path, status):
        with self.lock:
            self.log.append({"t": t, "route": route, "method": method,
                             "path": path, "status": status})

    def delay_ms(self, route):
        with self.lock:
            matches = [ms for pat, ms in self.latency.items() if fnmatch.fnmatchcase(route, pat)]
        return max(matches, default=0)

    def take_failure(self, route):
        """Consume one use of the first armed rule matching the route."""
        with self.lock:
            for rule in self.rules:
                if rule.count != 0 and fnmatch.fnmatchcase(route, rule.route):
                    if rule.count > 0:
                        rule.count -= 1
                    return rule
        return None

    # ------------------------------------------------------------ /_fake/ API
    def handle(self, req):
        """Dispatch /_fake/... requests; errors are {"error": "..."}."""
        path = req.path[len("/_fake"):].rstrip("/") or "/"
        routes = {
            ("GET", "/"): self._index,
            ("GET", "/counts"): self._counts,
            ("GET", "/requests"): self._requests,
            ("POST", "/reset"): self._reset,
            ("GET", "/latency"): self._get_latency,
            ("POST", "/latency"): self._set_latency,
            ("GET", "/fail"): self._get_fail,
            ("POST", "/fail"): self._set_fail,
            ("POST", "/token/expire"): self._expire_tokens,
            ("GET", "/tokens"): self._tokens,
            ("POST", "/hosts"): self._hosts,
            ("GET", "/state"): self._state,
        }
        handler = routes.get((req.method, path))
        if handler is None:
            if any(p == path for (_, p) in routes):
                return Reply(405, {"error": "method %s not allowed on /_fake%s" % (req.method, path)})
            return Reply(404, {"error": "no such control route /_fake%s" % path})
        try:
            return handler(req)
        except ApiError as exc:
            return Reply(exc.status, {"error": exc.message})

    def _index(self, req):
        return Reply(200, {"routes": ["GET /_fake/counts", "GET /_fake/requests", "POST /_fake/reset",
                                      "GET|POST /_fake/latency", "GET|POST /_fake/fail",
                                      "POST /_fake/token/expire", "GET /_fake/tokens",
                                      "POST /_fake/hosts",
                                      "GET /_fake/state"]})

    def _counts(self, req):
        with self.lock:
            return Reply(200, dict(sorted(self.counts.items())))

    def _requests(self, req):
        with self.lock:
            return Reply(200, list(self.log))

    def reset(self):
        with self.lock:
            self.counts.clear()
            self.log.clear()
            self.latency.clear()
            for rule in self.rules:
                rule.active = False
            self.rules = []

    def _reset(self, req):
        self.reset()
        return Reply(200, {"reset": True})

    def _get_latency(self, req):
        with self.lock:
            return Reply(200, [{"route": k, "ms": v} for k, v in self.latency.items()])

    def _set_latency(self, req):
        body = req.json()
        route = body.get("route")
        ms = body.get("ms")
        if not isinstance(route, str) or not route:
            raise ApiError(400, "'route' (a route name or glob) is required")
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0:
            raise ApiError(400, "'ms' must be a number >= 0")
        with self.lock:
            if ms == 0:
                self.latency.pop(route, None)
            else:
                self.latency[route] = ms
        return self._get_latency(req)

    def _get_fail(self, req):
        with self.lock:
            return Reply(200, [r.describe() for r in self.rules])

    def _clear_rules(self, route):
        """Drop rules with exactly this pattern ("*" drops every rule)."""
        keep = []
        for rule in self.rules:
            if route == "*" or rule.route == route:
                rule.active = False
            else:
                keep.append(rule)
        self.rules = keep

    def _set_fail(self, req):
        body = req.json()
        route = body.get("route")
        if not isinstance(route, str) or not route:
            raise ApiError(400, "'route' (a route name or glob) is required")
        mode = body.get("mode", "status")
        if mode in ("clear", "none"):
            mode, status = "status", 0
        else:
            status = body.get("status", 503 if mode == "status" else 200)
        if mode not in FAIL_MODES:
            raise ApiError(400, "'mode' must be one of %s" % ", ".join(FAIL_MODES))
        if isinstance(status, bool) or not isinstance(status, int) or \
                (status != 0 and not 100 <= status <= 599):
            raise ApiError(400, "'status' must be 0 (clear) or an HTTP status 100-599")
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < -1:
            raise ApiError(400, "'count' must be an integer >= -1 (-1 = until cleared)")
        raw = body.get("body")
        if raw is not None and not isinstance(raw, str):
            raise ApiError(400, "'body' must be a string")
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in headers.items()):
            raise ApiError(400, "'headers' must be an object of strings")
        headers = {k: str(v) for k, v in headers.items()}
        options = _mode_options(body, mode)
        with self.lock:
            self._clear_rules(route)
            if mode == "status" and status == 0 or count == 0:
                pass
            else:
                self.rules.append(FailRule(route, mode, status, count, raw, headers, options))
        return self._get_fail(req)

    def _tokens(self, req):
        return Reply(200, {"issued": self.cloud.identity.issued_tokens()})

    def _expire_tokens(self, req):
        n = self.cloud.identity.expire_all()
        return Reply(200, {"expired": n})

    def _hosts(self, req):
        body = req.json()
        f = self.cloud.fleet
        with f.lock:
            if "add" in body:
                name = body["add"]
                if not isinstance(name, str) or not name:
                    raise ApiError(400, "'add' must be a hypervisor_hostname")
                try:
                    gpu = fleetmod.INFER
                    if "gpu_type" in body:  # explicit null means a CPU-only host
                        gpu = fleetmod.normalize_gpu_type(body["gpu_type"])
                    x = f.add_host(name, body.get("service_host"), gpu,
                                   aggregate=bool(body.get("aggregate", True)),
                                   netbox=bool(body.get("netbox", True)))
                except ValueError as exc:
                    raise ApiError(409 if "exists" in str(exc) else 400, str(exc)) from None
                return Reply(201, {"added": self.cloud.host_state(x)})
            if "remove" in body:
                try:
                    x = f.remove_host(body["remove"])
                except (KeyError, TypeError):
                    raise ApiError(404, "no hypervisor %r" % (body["remove"],)) from None
                return Reply(200, {"removed": self.cloud.host_state(x)})
            if "set" in body:
                x = f.by_node.get(body["set"]) if isinstance(body["set"], str) else None
                if x is None:
                    raise ApiError(404, "no hypervisor %r" % (body["set"],))
                if "state" in body and body["state"] not in ("up", "down"):
                    raise ApiError(400, "'state' must be 'up' or 'down'")
                if "status" in body and body["status"] not in ("enabled", "disabled"):
                    raise ApiError(400, "'status' must be 'enabled' or 'disabled'")
                if "netbox" in body and not isinstance(body["netbox"], bool):
                    raise ApiError(400, "'netbox' must be true or false")
                if "netbox" in body:
                    f.set_device(x, body["netbox"])
                if "state" in body:
                    x.state = body["state"]
                    if x.state == "down":
                        x.uptime = None
                    elif x.uptime is None:
                        x.uptime = (" 00:01:00 up 1 min,  0 users,  load average: 0.00, "
                                    "0.00, 0.00")
                if "status" in body:
                    x.disabled = body["status"] == "disabled"
                    x.disabled_reason = body.get("disabled_reason") if x.disabled else None
                elif "disabled_reason" in body:
                    x.disabled_reason = body["disabled_reason"]
                if "uptime" in body:
                    x.uptime = body["uptime"]
                return Reply(200, {"host": self.cloud.host_state(x)})
        raise ApiError(400, "body needs one of 'add', 'remove' or 'set'")

    def _state(self, req):
        return Reply(200, self.cloud.state())


def _mode_options(body, mode):
    """The per-mode options of a /_fake/fail body, checked; each is only
    allowed with its own mode, and a mode without its option gets the
    default (filled in, so that GET /_fake/fail shows it)."""
    options = {}
    for name, (owner, default) in MODE_OPTIONS.items():
        if name not in body:
            if mode == owner:
                options[name] = default
            continue
        if mode != owner:
            raise ApiError(400, "'%s' goes with mode '%s' only" % (name, owner))
        value = body[name]
        if name == "interval_ms":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 < value <= 60000:
                raise ApiError(400, "'interval_ms' must be a number of milliseconds, "
                                    "more than 0 and at most 60000")
        elif name == "shape":
            if value not in SHAPES:
                raise ApiError(400, "'shape' must be one of %s" % ", ".join(SHAPES))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0 < value <= MAX_SIZE_MB:
            raise ApiError(400, "'size_mb' must be a number of MiB, more than 0 and at "
                                "most %d" % MAX_SIZE_MB)
        options[name] = value
    return options

