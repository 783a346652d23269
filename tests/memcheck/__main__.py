"""make valgrind: the daemon under valgrind's memcheck through one whole life.

Mount (the fake cloud), read every file of the tree, invalidate everything,
read it all again, write to the control files, unmount. memcheck must
report no error (invalid reads or writes, uses of uninitialised values,
bad frees) and no definitely lost block. Prints valgrind's summary.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from tests.harness import Cloud, is_mounted, wait_until  # noqa: E402


def read_tree(root, skip=("live",)):
    """Every file below root (live/ skipped: it is the same code, fetched)."""
    files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    f.read()
                os.stat(path)
                os.listxattr(path)
                os.getxattr(path, "user.infrafs.source")
                files += 1
            except OSError:
                pass
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=12)
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    infrafs = os.environ.get("INFRAFS_BIN", os.path.join(TOP, args.build, "src", "infrafs"))
    with tempfile.TemporaryDirectory(prefix="infrafs-memcheck.") as work:
        cloud = Cloud(args.hosts, work)
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        vg_log = os.path.join(work, "valgrind.log")
        env = dict(os.environ, **cloud.env, G_SLICE="always-malloc", G_DEBUG="gc-friendly")
        daemon = subprocess.Popen(
            ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
             "--errors-for-leak-kinds=definite", "--error-exitcode=99", "--track-fds=no",
             "--log-file=" + vg_log, infrafs, "-f", mnt],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: is_mounted(mnt), 120, "the mount under valgrind")
            start = time.monotonic()
            first = read_tree(mnt)
            with open(os.path.join(mnt, ".infrafs", "invalidate"), "w") as f:
                f.write("*\n")
            with open(os.path.join(mnt, ".infrafs", "ttl"), "w") as f:
                f.write("hosts 30\n")
            with open(os.path.join(mnt, ".infrafs", "refresh"), "w") as f:
                f.write("aggregates\n")
            second = read_tree(mnt)
            for name in ("stats", "stats.json", "metrics", "errors"):
                with open(os.path.join(mnt, ".infrafs", name), "rb") as f:
                    f.read()
            elapsed = time.monotonic() - start
        finally:
            subprocess.run(["fusermount3", "-u", mnt], check=False)
            try:
                code = daemon.wait(timeout=120)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = daemon.wait()
            cloud.stop()
        with open(vg_log) as f:
            report = f.read()
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", report)
    definite = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", report)
    print("memcheck: read %d files, invalidated, read %d again, in %.1f s under valgrind"
          % (first, second, elapsed))
    print("memcheck: %s; definitely lost: %s; daemon exit status %d" % (
        errors.group(0) if errors else "no error summary",
        "%s bytes in %s blocks" % definite.groups() if definite else "0 bytes (no leak section)",
        code))
    ok = (code == 0 and errors is not None and errors.group(1) == "0" and first > 50
          and (definite is None or definite.group(1) == "0"))
    if not ok:
        print(report[-6000:])
    print("memcheck: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
