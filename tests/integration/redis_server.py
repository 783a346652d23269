"""A redis-server of the test's own, and a tiny RESP client, for the Redis
L2 cache tests (test_redis.py). Standard library only: python3-redis is
not a dependency.

RedisServer starts `redis-server` (Debian's, /usr/bin/redis-server) on a
free loopback port with no persistence, waits until PING answers, and
stops, kills or restarts exactly the PID it started. RespClient speaks
RESP2 over one socket: a command is a list of arguments (bytes, str or
int), a reply is parsed from its first byte:

    +OK            -> "OK" (str)
    -ERR ...       -> raises RespError (or returned, with raise_errors=False)
    :42            -> 42
    $5 hello       -> b"hello"; $-1 -> None
    *2 ...         -> [reply, reply]; *-1 -> None
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

REDIS_SERVER = os.environ.get("INFRAFS_REDIS_SERVER", "/usr/bin/redis-server")
HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
SOCKET_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.01


class RespError(Exception):
    """An error reply (-ERR ..., -WRONGPASS ..., -NOAUTH ...)."""


class RespClient:
    """One connection to a Redis server; not thread-safe."""

    def __init__(self, host=HOST, port=6379, timeout=SOCKET_TIMEOUT_S, password=None,
                 username=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""
        if password is not None:
            if username is not None:
                self.command("AUTH", username, password)
            else:
                self.command("AUTH", password)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def encode(args):
        """A command as a RESP array of bulk strings."""
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int) and not isinstance(arg, bool):
                data = str(arg).encode()
            else:
                raise TypeError("RESP argument of type %s: %r" % (type(arg).__name__, arg))
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def command(self, *args, raise_errors=True):
        self.sock.sendall(self.encode(args))
        reply = self.read_reply()
        if isinstance(reply, RespError) and raise_errors:
            raise reply
        return reply

    # Reading.
    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self._buf += chunk

    def _line(self):
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line, self._buf = self._buf[:end], self._buf[end + 2:]
                return line
            self._fill()

    def _exactly(self, n):
        while len(self._buf) < n + 2:
            self._fill()
        data, tail, self._buf = self._buf[:n], self._buf[n:n + 2], self._buf[n + 2:]
        if tail != b"\r\n":
            raise ValueError("RESP bulk string not followed by CRLF: %r" % tail)
        return data

    def read_reply(self):
        line = self._line()
        if not line:
            raise ValueError("empty RESP line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n)
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            items = []
            for _ in range(n):
                item = self.read_reply()
                items.append(item)   # an error inside an array stays an item
            return items
        raise ValueError("unknown RESP reply type %r in %r" % (kind, line))


def free_port():
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class RedisServer:
    """`redis-server` as a subprocess of the test, on 127.0.0.1.

    password: `--requirepass` (`url` never carries it; see url_for). extra_args: more
    redis-server arguments, e.g. ("--maxmemory", "10mb"). Every admin
    call (`command`, `keys`) opens a fresh connection as the default user,
    so it works across kill() and restart()."""

    def __init__(self, workdir, port=None, password=None, extra_args=()):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port
        self.password = password
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(self.workdir, "redis-server.log")
        self.proc = None
        self._log = None
        self.starts = 0

    # -- addresses
    @property
    def url(self):
        """redis://127.0.0.1:PORT/0, without credentials even when the
        server wants a password (url_for builds one with them)."""
        return "redis://%s:%d/0" % (HOST, self.port)

    def url_for(self, user=None, password=None, db=0):
        auth = ""
        if user is not None or password is not None:
            auth = urllib.parse.quote(user or "", safe="")
            if password is not None:
                auth += ":" + urllib.parse.quote(password, safe="")
            auth += "@"
        return "redis://%s%s:%d/%d" % (auth, HOST, self.port, db)

    @property
    def argv(self):
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST,
                "--save", "", "--appendonly", "no", "--dir", self.workdir,
                "--daemonize", "no", "--logfile", ""]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        return argv + self.extra_args

    # -- life cycle
    def start(self, attempts=5):
        """Start on self.port (a free one when None); wait until PING
        answers. A port taken by someone else between picking and binding
        makes a new pick, unless the port was given."""
        if shutil.which(REDIS_SERVER) is None:
            raise FileNotFoundError("no redis-server at %s (apt-get install redis-server)"
                                    % REDIS_SERVER)
        fixed = self.port is not None
        for attempt in range(attempts):
            if not fixed:
                self.port = free_port()
            try:
                return self._start_once()
            except _PortTaken:
                if fixed or attempt == attempts - 1:
                    raise AssertionError("redis-server could not bind port %d:\n%s"
                                         % (self.port, self.log_tail()))
        raise AssertionError("unreachable")

    def _start_once(self):
        if self.alive():
            raise AssertionError("redis-server (pid %d) is already running" % self.proc.pid)
        self._close_log()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = None
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                tail = self.log_tail()
                self.proc = None
                if "Address already in use" in tail:
                    raise _PortTaken()
                raise AssertionError("redis-server exited with %s at start:\n%s" % (code, tail))
            try:
                # PONG from our PID: not from another server on that port.
                if self.command("PING") == "PONG" and \
                        self.info("server").get("process_id") == str(self.proc.pid):
                    return self
            except (OSError, ConnectionError, RespError) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                self.stop()
                raise AssertionError("redis-server on port %d did not answer PING within "
                                     "%.0f s (%s):\n%s" % (self.port, START_TIMEOUT_S,
                                                           last_error, self.log_tail()))
            time.sleep(POLL_INTERVAL_S)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def kill(self):
        """SIGKILL the redis-server we started, and wait for it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT_S)
        return self.proc.returncode

    def pause(self):
        """SIGSTOP: the server keeps its sockets but answers nothing, as
        a hung or partitioned Redis would."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        """SIGTERM (SIGKILL after STOP_TIMEOUT_S) our PID, wait; the exit code."""
        if self.proc is None:
            self._close_log()
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.send_signal(signal.SIGCONT)    # in case it was paused
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        self._close_log()
        return self.proc.returncode

    def restart(self):
        """Kill (if running) and start again on the same port; data is lost
        (no persistence)."""
        if self.alive():
            self.kill()
        return self._start_retrying_same_port()

    def _start_retrying_same_port(self):
        # A port just released by a SIGKILLed listener is free at once
        # (redis sets SO_REUSEADDR); retry anyway within the deadline.
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                return self._start_once()
            except _PortTaken:
                if time.monotonic() >= deadline:
                    raise AssertionError("redis-server could not bind port %d again:\n%s"
                                         % (self.port, self.log_tail()))
                time.sleep(0.05)

    def _close_log(self):
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    # -- admin access
    def client(self, username=None, password=None):
        """A new RespClient, authenticated as the server's admin by default."""
        if username is None and password is None:
            password = self.password
        return RespClient(HOST, self.port, password=password, username=username)

    def command(self, *args, raise_errors=True):
        """One command on a new connection; the parsed reply."""
        with self.client() as c:
            return c.command(*args, raise_errors=raise_errors)

    def keys(self, pattern="*"):
        """Key names (str) matching pattern, sorted, through SCAN."""
        found = set()
        with self.client() as c:
            cursor = b"0"
            while True:
                cursor, batch = c.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                found.update(k.decode(errors="surrogateescape") for k in batch)
                if cursor == b"0":
                    return sorted(found)

    def get(self, key):
        return self.command("GET", key)

    def set(self, key, value):
        return self.command("SET", key, value)

    def dump_all(self, pattern="*"):
        """{key: value} of every string key; other types as their TYPE name
        plus their members (hash, list, set, zset), as bytes."""
        out = {}
        with self.client() as c:
            for key in self.keys(pattern):
                kind = c.command("TYPE", key)
                if kind == "string":
                    out[key] = c.command("GET", key)
                elif kind == "hash":
                    out[key] = b"\n".join(c.command("HGETALL", key))
                elif kind == "list":
                    out[key] = b"\n".join(c.command("LRANGE", key, 0, -1))
                elif kind == "set":
                    out[key] = b"\n".join(c.command("SMEMBERS", key))
                elif kind == "zset":
                    out[key] = b"\n".join(c.command("ZRANGE", key, 0, -1))
                elif kind == "stream":
                    out[key] = repr(c.command("XRANGE", key, "-", "+")).encode()
                elif kind != "none":   # gone since SCAN
                    out[key] = kind.encode()
        return out

    def info(self, section=None):
        """INFO as a dict of its key: value lines."""
        raw = self.command("INFO", *([section] if section else []))
        result = {}
        for line in raw.decode().splitlines():
            if line and not line.startswith("#") and ":" in line:
                key, _, value = line.partition(":")
                result[key] = value
        return result

    def clients(self):
        """CLIENT LIST, one dict per connection."""
        raw = self.command("CLIENT", "LIST").decode()
        return [dict(field.split("=", 1) for field in line.split() if "=" in field)
                for line in raw.splitlines() if line]


class _PortTaken(Exception):
    pass
