"""HTTP plumbing of the fake cloud: one threaded server on 127.0.0.1 with
keystone under /identity, nova under /compute, placement under /placement,
a small NetBox under /netbox and the test control plane under /_fake/.

Use in-process from pytest:

    from tests.fakecloud.server import FakeCloud
    cloud = FakeCloud(hosts=48).start()
    os.environ.update(cloud.env())
    ...
    cloud.stop()

Every service request goes: resolve route name -> count -> injected latency
-> injected failure -> token check (NetBox: its own token) -> microversion
-> handler (under the fleet lock) -> service headers -> send -> request log.
"""

import http.server
import json
import secrets
import select
import socket
import sys
import threading
import time
import traceback
import urllib.parse

from .base import ApiError, Reply, Request
from .compute import Compute, parse_version
from .control import Control
from .fleet import Fleet
from .identity import Identity, keystone_error
from .image import Image
from .netbox import NetBox
from .placement import Placement

GARBAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
           b"Gateway</h1></center><hr><center>nginx</center></body></html>\n")
HANG_POLL = 0.05
# NetBox API token (40 hex characters like NetBox's own keys): sha1 of
# "fakecloud/netbox-token", fixed so that it is the same in every run.
NETBOX_TOKEN = "0287f1a296085b2b84ce792439dee5059838399b"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakecloud/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def _dispatch(self):
        self.server.cloud.dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def log_message(self, fmt, *args):
        if self.server.cloud.verbose:
            sys.stderr.write("fakecloud: %s - %s\n" % (self.address_string(), fmt % args))


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients hanging up mid-request are part of the tests; stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        if self.cloud.verbose:
            super().handle_error(request, client_address)


class FakeCloud:
    """The whole fake cloud: data, services, control plane and HTTP server."""

    def __init__(self, hosts=48, port=0, password=None, max_microversion="2.96",
                 page_max=1000, token_ttl=3600, verbose=False, bind="127.0.0.1",
                 netbox_token=None):
        v = parse_version(str(max_microversion))
        if v < (2, 1):
            raise ValueError("max_microversion must be >= 2.1")
        if int(page_max) < 1:
            raise ValueError("page_max must be >= 1")
        self.max_microversion = "%d.%d" % v
        self.page_max = int(page_max)
        self.token_ttl = int(token_ttl)
        self.password = password or "fake-" + secrets.token_hex(8)
        self.netbox_token = NETBOX_TOKEN if netbox_token is None else netbox_token
        if not self.netbox_token or any(c.isspace() for c in self.netbox_token):
            raise ValueError("the NetBox token must be a non-empty word without spaces")
        self.verbose = verbose
        self.bind = bind
        self.requested_port = int(port)
        self.port = None
        self.fleet = Fleet(int(hosts))
        self.control = Control(self)
        self.identity = Identity(self)
        self.compute = Compute(self)
        self.placement = Placement(self)
        self.image = Image(self)
        self.netbox = NetBox(self)
        self.services = [self.identity, self.compute, self.placement, self.image, self.netbox]
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self):
        return "http://%s:%d" % (self.bind, self.port)

    def start(self):
        """Bind and serve on a background thread; returns self."""
        self._stopping.clear()
        self._httpd = _HTTPServer((self.bind, self.requested_port), _Handler)
        self._httpd.cloud = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="fakecloud", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving; hung requests are released by the stop flag."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self):
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc):
        self.stop()

    def env(self):
        """OS_* variables of an openrc for this cloud."""
        return {
            "OS_AUTH_URL": self.url + "/identity/v3",
            "OS_USERNAME": "admin",
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_INTERFACE": "public",
        }

    @property
    def netbox_url(self):
        return self.url + "/netbox"

    def netbox_env(self):
        """INFRAFS_NETBOX_* variables: where the fake NetBox is and its token."""
        return {"INFRAFS_NETBOX_URL": self.netbox_url,
                "INFRAFS_NETBOX_TOKEN": self.netbox_token}

    def write_openrc(self, path):
        with open(path, "w") as fh:
            fh.write("# fakecloud openrc (generated)\n")
            for k, v in self.env().items():
                fh.write("export %s=%s\n" % (k, _shell_quote(v)))
            fh.write("# the fake NetBox (not an OpenStack service)\n")
            for k, v in self.netbox_env().items():
                fh.write("export %s=%s\n" % (k, _shell_quote(v)))

    # ---------------------------------------------------------- dispatching
    def _resolve(self, req):
        """Return (service, route, route name); route None means 404/405."""
        for svc in self.services:
            if req.raw_path == svc.prefix or req.raw_path.startswith(svc.prefix + "/"):
                rest = req.raw_path[len(svc.prefix):]
                matched = []
                for r in svc.routes:
                    m = r.regex.match(rest)
                    if not m:
                        continue
                    matched.append(r)
                    if r.method == req.method or (req.method == "HEAD" and r.method == "GET"
                                                  and not any(x.method == "HEAD" and
                                                              x.regex.match(rest)
                                                              for x in svc.routes)):
                        req.params = {k: urllib.parse.unquote(v)
                                      for k, v in m.groupdict().items()}
                        return svc, r, r.name
                if matched:
                    base = next((r.name for r in matched if r.method == "GET"), matched[0].name)
                    return svc, None, "%s.%s" % (base, req.method.lower())
                return svc, None, svc.name + ".unknown"
        return None, None, "unknown"

    def dispatch(self, handler):
        t0 = time.time()
        try:
            body = _read_body(handler)
        except ValueError as exc:
            handler.close_connection = True
            self._send(handler, Reply(400, {"error": str(exc)}))
            return
        req = Request(handler.command, handler.path, handler.headers, body, self.url)
        if req.raw_path == "/_fake" or req.raw_path.startswith("/_fake/"):
            self._send(handler, self.control.handle(req))
            return
        svc, route, name = self._resolve(req)
        req.context["route"] = name
        self.control.count(name)
        status = 0
        try:
            status = self._serve(handler, req, svc, route, name)
        finally:
            self.control.record(t0, name, req.method, handler.path, status)

    def _serve(self, handler, req, svc, route, name):
        """Run one service request; returns the status sent (0 = none)."""
        delay = self.control.delay_ms(name)
        if delay:
            self._stopping.wait(delay / 1000.0)
        rule = self.control.take_failure(name)
        reply = None
        if rule is not None:
            if rule.mode == "drop":
                _drop(handler)
                return 0
            if rule.mode == "hang":
                if not self._hang(handler, rule):
                    _drop(handler)
                    return 0
            elif rule.mode == "garbage":
                reply = Reply(rule.status or 200, rule.body.encode() if rule.body else GARBAGE,
                              dict(rule.headers, **{"Content-Type": "application/json"}))
            elif rule.mode == "status":
                reply = self._injected(svc, req, rule)
        if reply is None:
            reply = self._run(svc, route, req)
        data, ctype = reply.encoded()
        mode = rule.mode if rule is not None else None
        if mode == "truncated" and data:
            data = data[:max(1, len(data) // 2)]
        elif mode == "shape":
            data, ctype = reshape(data, rule.shape), "application/json"
            reply.headers["Content-Type"] = ctype
        elif mode == "huge":
            data = pad_json(data, int(rule.size_mb * MIB))
        if mode == "trickle":
            self._trickle(handler, reply, data, ctype, rule)
        else:
            self._send(handler, reply, data, ctype)
        return reply.status

    def _injected(self, svc, req, rule):
        headers = dict(rule.headers)
        if rule.body is not None:
            headers.setdefault("Content-Type", "application/json")
            return Reply(rule.status, rule.body.encode(), headers)
        message = "Injected failure (fakecloud)"
        if svc is None or (rule.status == 401 and svc.keystone_401):
            body = keystone_error(rule.status, message)
        else:
            body = svc.error_body(rule.status, message, req)
            if svc is self.compute and rule.status in (413, 429):
                retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
                if retry is not None:
                    next(iter(body.values()))["retryAfter"] = retry
        return Reply(rule.status, body, headers)

    def _hang(self, handler, rule):
        """Wait until the rule is cleared (True) or client/server goes (False)."""
        sock = handler.connection
        while rule.active:
            if self._stopping.is_set():
                return False
            try:
                readable, _, _ = select.select([sock], [], [], HANG_POLL)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return False
                if readable:
                    time.sleep(HANG_POLL)
            except (OSError, ValueError):
                return False
        return True

    def _trickle(self, handler, reply, data, ctype, rule):
        """Send the headers at once, then the body one byte per interval;
        the rest goes at once when the rule is cleared. Stops when the
        client goes or the server stops."""
        if handler.command == "HEAD" or not data:
            self._send(handler, reply, data, ctype)
            return
        try:
            self._send_headers(handler, reply, len(data), ctype)
            for i in range(len(data)):
                if not rule.active:
                    handler.wfile.write(data[i:])
                    break
                handler.wfile.write(data[i:i + 1])
                if i + 1 < len(data) and not self._pause(handler, rule, rule.interval_ms / 1000.0):
                    handler.close_connection = True
                    return
            handler.wfile.flush()
        except (ConnectionError, OSError):
            handler.close_connection = True

    def _pause(self, handler, rule, seconds):
        """Wait up to `seconds` (less if the rule is cleared meanwhile);
        False when the server stops or the client hangs up."""
        end = time.monotonic() + seconds
        sock = handler.connection
        while rule.active:
            left = end - time.monotonic()
            if left <= 0:
                return True
            if self._stopping.is_set():
                return False
            try:
                readable, _, _ = select.select([sock], [], [], min(left, HANG_POLL))
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return False
                if readable:
                    time.sleep(min(left, HANG_POLL))
            except (OSError, ValueError):
                return False
        return True

    def _run(self, svc, route, req):
        if svc is None:
            return Reply(404, keystone_error(404, "The resource could not be found."))
        try:
            if route is None:
                if req.context["route"].endswith(".unknown"):
                    raise ApiError(404, "The resource could not be found.")
                raise ApiError(405, "The method is not allowed for the requested URL.")
            if route.auth and not svc.authenticate(req):
                rec = self.identity.lookup(req.header("X-Auth-Token"))
                if rec is None:
                    err = self.identity.unauthorized()
                    return Reply(401, keystone_error(401, err.message), err.headers)
                req.context["token"] = rec
                if svc is not self.identity and rec["project"] is None:
                    raise ApiError(403, "Policy doesn't allow this operation to be performed "
                                        "with a token that is not project-scoped.")
            svc.before(req)
            with self.fleet.lock:
                reply = route.handler(req)
                # encode while holding the lock: views may share mutable state
                data, ctype = reply.encoded()
            reply = Reply(reply.status, data if ctype else None,
                          dict(reply.headers, **({"Content-Type": ctype} if ctype else {})))
        except ApiError as exc:
            reply = Reply(exc.status, svc.error_body(exc.status, exc.message, req), exc.headers)
        except Exception:  # never let a bug kill the connection silently
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, svc.error_body(500, "Unexpected error in fakecloud", req))
        svc.after(req, reply)
        return reply

    @staticmethod
    def _send_headers(handler, reply, length, ctype):
        handler.send_response(reply.status)
        headers = dict(reply.headers)
        if ctype and "Content-Type" not in headers:
            headers["Content-Type"] = ctype
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()

    def _send(self, handler, reply, data=None, ctype=None):
        if data is None:
            data, ctype = reply.encoded()
        try:
            self._send_headers(handler, reply, len(data), ctype)
            if handler.command != "HEAD" and data:
                handler.wfile.write(data)
            handler.wfile.flush()
        except (ConnectionError, OSError):
            handler.close_connection = True

    # ------------------------------------------------------------- /_fake/
    def host_state(self, x):
        device = self.fleet.devices.get(x.service_host)
        return {"id": x.id, "uuid": x.uuid, "hypervisor_hostname": x.hypervisor_hostname,
                "service_host": x.service_host, "gpu_type": x.gpu_type, "state": x.state,
                "status": "disabled" if x.disabled else "enabled",
                "disabled_reason": x.disabled_reason, "forced_down": x.forced_down,
                "servers": len(self.fleet.servers_on_node(x.hypervisor_hostname)),
                "netbox_device": device.id if device else None}

    def state(self):
        f = self.fleet
        with f.lock:
            return {
                "url": self.url, "max_microversion": self.max_microversion,
                "page_max": self.page_max, "token_ttl": self.token_ttl,
                "tokens": len(self.identity.tokens),
                "projects": [{"id": p["id"], "name": p["name"]} for p in f.projects],
                "user": dict(f.user),
                "aggregates": [{"id": a.id, "uuid": a.uuid, "name": a.name,
                                "availability_zone": a.availability_zone, "hosts": a.hosts,
                                "metadata": a.metadata} for a in f.aggregates.values()],
                "flavors": [{"id": fl.id, "name": fl.name, "is_public": fl.is_public}
                            for fl in f.flavors.values()],
                "servers": len(f.servers),
                "hypervisors": [self.host_state(x) for x in f.hosts],
                "netbox": {"url": self.netbox_url, "token": self.netbox_token,
                           "devices": len(f.devices),
                           "without_device": [x.hypervisor_hostname for x in f.hosts
                                              if x.service_host not in f.devices]},
            }


MIB = 1024 * 1024
# What `mode: shape, shape: bad-items` puts in place of each item, in turn.
BAD_ITEMS = (None, 42, "fakecloud: not an item", [], True)


def _main_key(doc):
    """The member of an answer that holds its data: the first whose value
    is a list or an object ("flavors", "hypervisors", "quota_set"), else the
    first member; None for an empty object."""
    for key, value in doc.items():
        if isinstance(value, (list, dict)):
            return key
    return next(iter(doc), None)


def _wrong_type(value):
    """A list as an object (keyed "0", "1", ...), an object as the list of
    its values, anything else in a list."""
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _bad_items(value):
    if isinstance(value, list):
        return [BAD_ITEMS[i % len(BAD_ITEMS)] for i in range(len(value))]
    if isinstance(value, dict):
        return {k: BAD_ITEMS[i % len(BAD_ITEMS)] for i, k in enumerate(value)}
    return BAD_ITEMS[0]


def reshape(data, shape):
    """The JSON answer `data` (bytes) bent into valid JSON of the wrong
    shape (README: `mode: shape`). A body that is not JSON is taken as the
    string it holds."""
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = data.decode("utf-8", "replace")
    if shape == "null-document":
        return b"null"
    if isinstance(doc, dict):
        key = _main_key(doc)
        value = doc.get(key) if key is not None else None
    else:
        key, value, doc = None, doc, {}
    if shape == "not-object":
        out = value if isinstance(value, list) else [value]
    else:
        out = dict(doc)
        if key is None and shape != "missing-key":
            key = "fakecloud"
        if shape == "missing-key":
            out.pop(key, None)
        elif shape == "null":
            out[key] = None
        elif shape == "wrong-type":
            out[key] = _wrong_type(value)
        elif shape == "bad-items":
            out[key] = _bad_items(value)
    return json.dumps(out).encode()


def pad_json(data, size):
    """`data` grown to `size` bytes and still the same JSON: an object gets
    a member "fakecloud_padding" (a string of "x"), anything else trailing
    spaces. Longer bodies stay as they are."""
    if len(data) >= size:
        return data
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "fakecloud_padding" not in doc:
        doc["fakecloud_padding"] = ""
        base = json.dumps(doc).encode()
        if len(base) <= size:
            # '"fakecloud_padding": ""}' ends the document: fill the quotes.
            return base[:-2] + b"x" * (size - len(base)) + base[-2:]
    return data + b" " * (size - len(data))


def _read_body(handler):
    te = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        chunks = []
        while True:
            line = handler.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise ValueError("bad chunked encoding") from None
            if size == 0:
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(65537)
    length = handler.headers.get("Content-Length")
    if not length:
        return b""
    try:
        n = int(length)
        if n < 0:
            raise ValueError
    except ValueError:
        raise ValueError("bad Content-Length %r" % length) from None
    return handler.rfile.read(n)


def _drop(handler):
    """Close the connection without sending anything."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _shell_quote(value):
    if value and all(c.isalnum() or c in "-_./:@%+=," for c in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"
