"""CLI: python3 -m tests.fakecloud --port 0 --hosts 48 --openrc FILE [--netbox-token T]

Prints exactly one line, `fakecloud listening on http://127.0.0.1:PORT`, to
stdout once the socket is bound (and the openrc written), then serves until
SIGTERM/SIGINT and exits 0.
"""

import argparse
import signal
import sys
import threading

from .server import FakeCloud


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m tests.fakecloud",
                                description="Fake OpenStack cloud for infrafs tests.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick one)")
    p.add_argument("--hosts", type=int, default=48, help="number of hypervisors (default 48)")
    p.add_argument("--openrc", metavar="FILE", help="write an openrc (export OS_...) here")
    p.add_argument("--password", help="admin password (default: fake-<16 hex>, random)")
    p.add_argument("--max-microversion", default="2.96",
                   help="highest compute microversion advertised (default 2.96, min 2.1)")
    p.add_argument("--page-max", type=int, default=1000,
                   help="server-side cap on limit=, like nova's [api] max_limit")
    p.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds")
    p.add_argument("--netbox-token", metavar="TOKEN",
                   help="API token of the fake NetBox under /netbox (default: a fixed "
                        "40-hex-digit token, see README.md)")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = p.parse_args(argv)
    if args.hosts < 0:
        p.error("--hosts must be >= 0")
    try:
        cloud = FakeCloud(hosts=args.hosts, port=args.port, password=args.password,
                          max_microversion=args.max_microversion, page_max=args.page_max,
                          token_ttl=args.token_ttl, verbose=args.verbose,
                          netbox_token=args.netbox_token)
    except ValueError as exc:
        p.error(str(exc))

    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cloud.start()
    if args.openrc:
        cloud.write_openrc(args.openrc)
    sys.stdout.write("fakecloud listening on %s\n" % cloud.url)
    sys.stdout.flush()
    while not done.wait(0.5):
        pass
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
