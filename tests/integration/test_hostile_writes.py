"""Hostile writes to the control files (issue 5, "Hardening"): random
bytes, a 1 MB line, a valid and an invalid line in one write, writes at
arbitrary offsets, more unfinished lines than the daemon keeps, and many
threads writing split lines at once. Each write either succeeds or fails
with EINVAL, the daemon never dies, and a rejected write applies nothing
(docs/control-files.md, "One write, all or nothing" and "Lines written in
pieces")."""

import errno
import os
import random
import re
import threading

import pytest

from helpers import call_with_deadline, counts_delta, wait_until

WRITABLE = ("invalidate", "refresh", "ttl", "warm")
MIB = 1 << 20


# ---- helpers -----------------------------------------------------------------

def open_control(m, name, flags=os.O_WRONLY):
    return os.open(m.path(".infrafs/" + name), flags)


def write_result(fd, data, offset=None):
    """What one write(2) (pwrite(2) at `offset`) returns: the count written,
    or ("errno", E) for the errno it failed with. Called directly, on the
    caller's thread: infrafs puts lines together per writer thread, so a
    sequence of pieces must come from one thread (run it with
    on_one_thread, which bounds it in time)."""
    try:
        if offset is None:
            return os.write(fd, data)
        return os.pwrite(fd, data, offset)
    except OSError as exc:
        return ("errno", exc.errno)


def on_one_thread(fn, timeout=120):
    """fn() on one helper thread, failing the test if it does not return in
    time (a hung FUSE request)."""
    return call_with_deadline(fn, timeout=timeout, what=fn.__name__)


def write_once(m, name, data, offset=None):
    """One write through a descriptor of its own."""
    fd = open_control(m, name)
    try:
        return write_result(fd, data, offset)
    finally:
        os.close(fd)


def ttls(m):
    return dict(line.split() for line in m.lines(".infrafs/ttl"))


def assert_alive(m):
    assert m.proc.poll() is None, m.describe("infrafs died (exit %s)" % m.proc.returncode)
    assert m.mounted(), m.describe("the mount is gone")
    assert m.text("README").startswith("infrafs")


def hold_some_data(m):
    """Read a few collections, so that there is cached data a bad
    invalidate or refresh could expire or fetch again."""
    for path in ("hosts.json", "aggregates.json", "flavors.json"):
        m.read(path)


def rejected_lines(m, name):
    return [line for line in m.log().splitlines()
            if "rejected write to /.infrafs/%s:" % name in line]


EINVAL = ("errno", errno.EINVAL)


# ---- random bytes ------------------------------------------------------------

def random_writes(seed, count):
    """(data, how) for `count` writes of random bytes: mostly short, some a
    few KiB (around the 4096-byte line limit); `how` is "stream" (the next
    write on one long-lived descriptor), "fresh" (a descriptor of its own)
    or an offset for pwrite(2)."""
    rng = random.Random(seed)
    writes = []
    for _ in range(count):
        size = rng.choice((rng.randint(1, 16), rng.randint(17, 512), rng.randint(4000, 5000)))
        data = rng.randbytes(size)
        how = rng.choice(("stream", "stream", "fresh", rng.randrange(0, MIB)))
        writes.append((data, how))
    return writes


@pytest.mark.parametrize("name", WRITABLE)
def test_random_bytes_are_refused_or_harmless(mount, cloud, name):
    m = mount()
    hold_some_data(m)
    ttl_before = m.text(".infrafs/ttl")
    warm_before = m.text(".infrafs/warm")
    before = cloud.counts()
    writes = random_writes("hostile-%s" % name, 300)

    def barrage():
        results = []
        stream = open_control(m, name)
        try:
            for data, how in writes:
                if how == "stream":
                    results.append(write_result(stream, data))
                else:
                    results.append(write_once(m, name, data,
                                              offset=None if how == "fresh" else how))
        finally:
            os.close(stream)
        return results

    results = on_one_thread(barrage)
    odd = [(i, data[:40], got) for i, ((data, _), got) in enumerate(zip(writes, results))
           if got != len(data) and got != EINVAL]
    assert not odd, "writes neither accepted whole nor refused with EINVAL: %r" % odd
    refused = results.count(EINVAL)
    # Random bytes hold control characters and invalid UTF-8: most of
    # them are refused, and each refusal is logged once, at info level.
    assert refused >= len(writes) // 2, (refused, len(writes))
    assert len(rejected_lines(m, name)) == refused
    assert_alive(m)
    # No line of the random data is a valid command, so nothing changed...
    assert not [d for d, _ in writes if re.search(rb"(^|\n)[ \t]*(hosts|aggregates|flavors|"
                                                   rb"projects|quotas|servers|placement|netbox)"
                                                   rb"[ \t]+\d", d)], "the seed makes a ttl line"
    assert m.text(".infrafs/ttl") == ttl_before
    assert m.text(".infrafs/warm") == warm_before
    # ...nothing was fetched (refresh) and nothing expired (invalidate).
    for path in ("hosts.json", "aggregates.json", "flavors.json"):
        m.read(path)
    assert counts_delta(before, cloud.counts()) == {}


# ---- a 1 MB line -------------------------------------------------------------

ONE_MB_LINES = {
    "invalidate": b"hosts/" + b"x" * MIB + b"\n",
    "refresh": b"hosts/" + b"x" * MIB + b"\n",
    "ttl": b"hosts " + b"1" * MIB + b"\n",
    "warm": b"start" + b"x" * MIB + b"\n",
}


@pytest.mark.parametrize("newline", [True, False], ids=["line", "no-newline"])
@pytest.mark.parametrize("name", WRITABLE)
def test_a_1mb_line_is_refused_and_applies_nothing(mount, cloud, name, newline):
    m = mount()
    hold_some_data(m)
    ttl_before = m.text(".infrafs/ttl")
    before = cloud.counts()
    line = ONE_MB_LINES[name]
    if not newline:
        line = line.rstrip(b"\n")
    follow = {"invalidate": b"flavors\n", "refresh": b"flavors\n", "ttl": b"hosts 7\n",
              "warm": b"stop"}[name]

    def line_then_follow():
        fd = open_control(m, name)
        try:
            return write_result(fd, line), write_result(fd, follow)
        finally:
            os.close(fd)

    got, got_follow = on_one_thread(line_then_follow)
    assert got in (EINVAL, ("errno", errno.E2BIG)), got
    # The refused line is forgotten, not glued to what follows.
    assert got_follow == len(follow), got_follow
    assert_alive(m)
    expected_ttl = ttl_before.replace("hosts 60\n", "hosts 7\n") if name == "ttl" else ttl_before
    assert m.text(".infrafs/ttl") == expected_ttl
    assert m.lines(".infrafs/warm") == ["state off"]
    for path in ("hosts.json", "aggregates.json", "flavors.json"):
        m.read(path)
    # Only the follow-up line did anything: flavors expired (or were
    # refreshed) once; hosts were never touched.
    expected = cloud.flavors_fetch_counts() if name in ("invalidate", "refresh") else {}
    assert counts_delta(before, cloud.counts()) == expected


# ---- a valid and an invalid line in one write ----------------------------------

MIXED = [
    ("ttl", b"hosts 7\nbogus 5\n"),
    ("ttl", b"bogus 5\nhosts 7\n"),
    ("ttl", b"hosts 7\nhosts x\n"),
    ("ttl", b"hosts 7\nflavors 99999999\n"),
    ("ttl", b"hosts 7\nhosts 8 9"),
    ("invalidate", b"hosts\nbogus\n"),
    ("invalidate", b"hosts\n../etc\n"),
    ("invalidate", b"hosts\nflavors/\x01\n"),
    ("invalidate", b"hosts\x00bogus\n"),
    ("refresh", b"hosts\nbad[\n"),
    ("refresh", b"hosts\n" + b"x" * 5000 + b"\n"),
    ("refresh", b"hosts\n\xff\xfe\n"),
    ("warm", b"start\nstop"),
    ("warm", b"start bogus"),
    # A NUL makes every write invalid, also where the parser would stop
    # at it and see only what comes before.
    ("ttl", b"hosts 7\x00bogus\n"),
    ("ttl", b"\x00hosts 7\n"),
    ("ttl", b"hosts 7\x00"),
    ("warm", b"start\x00bogus"),
    ("warm", b"\x00"),
]


@pytest.mark.parametrize("name,data", MIXED)
def test_a_write_with_an_invalid_line_applies_none_of_it(mount, cloud, name, data):
    m = mount()
    hold_some_data(m)
    ttl_before = m.text(".infrafs/ttl")
    before = cloud.counts()
    got = on_one_thread(lambda: write_once(m, name, data))
    assert got == EINVAL, "%r: got %r" % (data, got)
    assert_alive(m)
    assert m.text(".infrafs/ttl") == ttl_before
    assert m.lines(".infrafs/warm") == ["state off"]
    for path in ("hosts.json", "aggregates.json", "flavors.json"):
        m.read(path)
    assert counts_delta(before, cloud.counts()) == {}, "hosts expired or were refetched"


# ---- writes at arbitrary offsets ---------------------------------------------

def test_writes_at_arbitrary_offsets(mount):
    """What a write at an offset does: it continues the same thread's
    unfinished line only if it starts where that line's last piece ended
    (whatever the descriptor); anywhere else it starts a line afresh."""
    m = mount()
    seen = {}

    def sequence():
        fd = open_control(m, "ttl")
        try:
            # An unfinished line at 0..3, then a piece at 100: not a
            # continuation, so "ts 9" stands alone and is refused.
            seen["hos@0"] = write_result(fd, b"hos", 0)
            seen["ts 9@100"] = write_result(fd, b"ts 9\n", 100)
            seen["ttl after ts 9"] = ttls(m)["hosts"]
            # A whole command at 4096 applies at once; its continuation
            # at 4103 makes it 90.
            seen["hosts 9@4096"] = write_result(fd, b"hosts 9", 4096)
            seen["ttl after hosts 9"] = ttls(m)["hosts"]
            seen["0@4103"] = write_result(fd, b"0\n", 4103)
            seen["ttl after 0"] = ttls(m)["hosts"]
            # Writing at 4096 again starts afresh: "1" alone is refused.
            seen["1@4096"] = write_result(fd, b"1\n", 4096)
            # Far offsets are just offsets.
            seen["flav@2^40"] = write_result(fd, b"flav", 1 << 40)
            seen["ors 45@2^40+4"] = write_result(fd, b"ors 45\n", (1 << 40) + 4)
            # Past the largest file size: the kernel refuses before
            # infrafs sees anything.
            seen["hosts 1@2^63-4"] = write_result(fd, b"hosts 1\n", (1 << 63) - 4)
            # The same thread continuing through another descriptor at
            # the right offset continues its line: the writer is the
            # thread, not the descriptor.
            seen["quo@0"] = write_result(fd, b"quo", 0)
        finally:
            os.close(fd)
        other = open_control(m, "ttl")
        try:
            seen["tas 77@3 (other fd)"] = write_result(other, b"tas 77\n", 3)
        finally:
            os.close(other)

    on_one_thread(sequence)
    beyond = seen.pop("hosts 1@2^63-4")
    assert beyond in (("errno", errno.EFBIG), EINVAL), beyond
    assert seen == {
        "hos@0": 3, "ts 9@100": EINVAL, "ttl after ts 9": "60",
        "hosts 9@4096": 7, "ttl after hosts 9": "9", "0@4103": 2, "ttl after 0": "90",
        "1@4096": EINVAL, "flav@2^40": 4, "ors 45@2^40+4": 7,
        "quo@0": 3, "tas 77@3 (other fd)": 7,
    }, seen
    assert_alive(m)
    got = ttls(m)
    assert (got["hosts"], got["flavors"], got["quotas"]) == ("90", "45", "77")


# ---- writes that wait for the kernel -------------------------------------------
# fs_write applies a command and then waits (fs_notify_flush, at most 5 s)
# for the kernel invalidations queued so far before it replies. These
# notices must never need a lock that a writer holds while it waits for a
# reply: a buffered writer holds the pages of its current write locked
# (the kernel's invalidate_inode_pages2 waits for them), so an inode
# notice for the control file itself, queued by the previous write, once
# made the next write wait the full 5 s ("kernel invalidations still
# queued after 5000 ms"): a shell loop writing lines one by one, a write
# the kernel splits into several requests, and concurrent writers.

STALL_LINE = "kernel invalidations still queued"


def stalls(m):
    return [line for line in m.log().splitlines() if STALL_LINE in line]


class LogWatch:
    """Reads what the daemon's log gained since the last look (cheap enough
    to ask after every write)."""

    def __init__(self, m):
        self._fh = open(m.log_path, "rb")
        self._tail = b""

    def saw(self, text):
        self._tail = self._tail[-len(text):] + self._fh.read()
        return text.encode() in self._tail

    def close(self):
        self._fh.close()


def test_consecutive_writes_through_one_descriptor_do_not_stall(mount):
    # What a shell loop does: `for s in ...; do echo "hosts $s"; done > ttl`.
    # The stall was a race: it showed within the first few hundred lines.
    m = mount()
    n_lines = 2000

    def lines():
        watch = LogWatch(m)
        fd = open_control(m, "ttl")
        try:
            for seconds in range(1, n_lines + 1):
                line = b"hosts %d\n" % seconds
                assert write_result(fd, line) == len(line)
                if watch.saw(STALL_LINE):
                    return seconds
        finally:
            os.close(fd)
            watch.close()
        return None

    stalled_at = on_one_thread(lines)
    assert stalled_at is None, "write of line %d stalled: %s" % (stalled_at, stalls(m))
    assert ttls(m)["hosts"] == str(n_lines)


def test_a_write_over_one_request_with_a_command_at_its_end_does_not_stall(mount):
    m = mount()
    for seconds in (5, 6, 7):
        # A blank line of 1 MiB (the first request, applied: it holds
        # nothing), then a command (the second request).
        data = b" " * MIB + b"\nhosts %d\n" % seconds
        assert on_one_thread(lambda: write_once(m, "ttl", data)) == len(data)
        assert ttls(m)["hosts"] == str(seconds)
        assert not stalls(m), stalls(m)


# ---- more unfinished lines than the daemon keeps ------------------------------

def test_more_unfinished_lines_than_kept_drops_the_oldest(mount):
    """100 threads each leave "hos" unfinished; at most 64 unfinished lines
    are kept, so the 36 oldest are dropped: their continuations stand alone
    and are refused, the other 64 apply. Threads write one at a time, in
    order, so which lines are oldest is known."""
    m = mount()
    n_threads, kept = 100, 64
    steps = [threading.Event() for _ in range(n_threads)]
    done = threading.Semaphore(0)
    results = {}
    errors = []

    def writer(i):
        try:
            fd = open_control(m, "ttl")
            try:
                for piece in (b"hos", b"ts %d\n" % (100 + i)):
                    if not steps[i].wait(60):
                        raise AssertionError("writer %d: not told to write" % i)
                    steps[i].clear()
                    results.setdefault(i, []).append(write_result(fd, piece))
                    done.release()
            finally:
                os.close(fd)
        except Exception as exc:  # reported below
            errors.append(exc)
            done.release()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):
            for i in range(n_threads):
                steps[i].set()
                assert done.acquire(timeout=30), "writer %d did not write" % i
    finally:
        for event in steps:
            event.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors[:5]
    first = [results[i][0] for i in range(n_threads)]
    second = [results[i][1] for i in range(n_threads)]
    assert first == [3] * n_threads
    dropped = n_threads - kept
    assert second[:dropped] == [EINVAL] * dropped, second[:dropped]
    assert second[dropped:] == [len(b"ts %d\n" % (100 + i)) for i in range(dropped, n_threads)]
    assert ttls(m)["hosts"] == str(100 + n_threads - 1)
    assert_alive(m)


# ---- concurrent writers --------------------------------------------------------

@pytest.mark.parametrize("flags", [
    pytest.param(os.O_WRONLY | os.O_DIRECT, id="O_DIRECT"),
    pytest.param(os.O_WRONLY, id="buffered"),
])
def test_sixteen_threads_writing_split_lines_never_mix(mount, flags):
    """16 threads, two per class, each through its own descriptor, write
    ttl lines in three pieces each, all at once. Every write succeeds, and
    each class ends with the last value one of its two threads wrote: a
    line made of two threads' pieces would give a value no thread wrote,
    or one out of range (EINVAL). Buffered (page cache) and O_DIRECT
    writes reach infrafs alike; the writers stop at the first stall."""
    m = mount()
    classes = sorted(ttls(m))
    n_threads, n_lines = 16, 60
    barrier = threading.Barrier(n_threads)
    stop = threading.Event()
    written = {}      # thread -> values in order
    failures = []

    def writer(t):
        rng = random.Random(t)
        cls = classes[t % len(classes)]
        try:
            fd = open_control(m, "ttl", flags)
        except OSError as exc:
            failures.append((t, exc))
            barrier.abort()
            return
        try:
            barrier.wait(timeout=30)
            for i in range(n_lines):
                value = 1000 * (t + 1) + i        # unique to the thread
                line = b"%s %d\n" % (cls.encode(), value)
                a = rng.randint(1, len(line) - 2)
                b = rng.randint(a + 1, len(line) - 1)
                for piece in (line[:a], line[a:b], line[b:]):
                    if stop.is_set():
                        return
                    got = write_result(fd, piece)
                    if got != len(piece):
                        failures.append((t, line, piece, got))
                written.setdefault(t, []).append(value)
        except Exception as exc:  # reported below
            failures.append((t, exc))
        finally:
            os.close(fd)

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: stalls(m) or not any(thread.is_alive() for thread in threads),
                   timeout=120, what="the writers to finish")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert not stalls(m), stalls(m)
    assert not failures, failures[:10]
    assert all(len(written.get(t, ())) == n_lines for t in range(n_threads))
    assert_alive(m)
    final = ttls(m)
    for c, cls in enumerate(classes):
        lasts = {str(written[t][-1]) for t in range(n_threads) if t % len(classes) == c}
        assert final[cls] in lasts, (cls, final[cls], lasts)
    # Every value the log shows applied is one a thread wrote, or the
    # start of one (a piece ending in a whole command applies at once).
    wrote = {"%s %d" % (classes[t % len(classes)], v) for t, vs in written.items() for v in vs}
    for cls, value in re.findall(r"ttl: (\w+) now (\d+) s", m.log()):
        assert any(w.startswith("%s %s" % (cls, value)) for w in wrote), (cls, value)
