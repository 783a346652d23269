"""Keep the documentation true to what is built.

    pytest-3 tests/integration/test_docs.py

The binary is $INFRAFS_BIN (default: build/src/infrafs in this checkout).
Most checks read the sources and the docs and need no mount. The checks of
examples/scripts/ mount the fake cloud themselves (fixture `examples_mount`
below, nothing from helpers.py; from conftest.py only the session's
INFRAFS_FAKE_MAX_MICROVERSION, fixture `fake_max_microversion`) and skip when
/dev/fuse, fusermount3 or jq is missing.
"""

import json
import os
import pathlib
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
INFRAFS_BIN = os.environ.get("INFRAFS_BIN", str(TOP / "build" / "src" / "infrafs"))
PYTHON = "/usr/bin/python3"

README = TOP / "README.md"
MAN = TOP / "docs" / "infrafs.1"
CONTROL_MD = TOP / "docs" / "control-files.md"
CONFIG_MD = TOP / "docs" / "configuration.md"
SCRIPTS = TOP / "examples" / "scripts"


# ---------------------------------------------------------------- helpers

def read(path):
    return path.read_text(encoding="utf-8")


def run(argv, timeout=30, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def squash(text):
    return re.sub(r"\s+", " ", text)


def markdown_text(path):
    """A Markdown file without backticks and with whitespace squashed."""
    return squash(read(path).replace("`", ""))


_man_text = None


def man_text():
    """The man page as rendered plain text, whitespace squashed."""
    global _man_text
    if _man_text is None:
        if shutil.which("groff") is None:
            pytest.skip("groff is not installed (Debian package groff-base)")
        result = run(["groff", "-man", "-Tascii", "-P-cbou", str(MAN)])
        assert result.returncode == 0, result.stderr
        _man_text = squash(result.stdout)
    return _man_text


def flag_pattern(flag):
    return re.compile(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])")


def o_key_pattern(key):
    return re.compile(r"(?<![\w-])-o\s+" + re.escape(key) + r"(?![\w])")


def help_options():
    """(flags, -o keys) printed by `infrafs --help`, infrafs's and libfuse's."""
    result = run([INFRAFS_BIN, "--help"])
    assert result.returncode == 0, f"{INFRAFS_BIN} --help exited {result.returncode}"
    flags, keys = set(), set()
    for line in result.stdout.splitlines():
        if not re.match(r"^\s+-", line):
            continue  # headings, prose and continuation lines
        keys.update(re.findall(r"(?<![\w-])-o\s+([A-Za-z_][\w.]*)", line))
        flags.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line))
    assert "ttl.CLASS" in keys and "--help" in flags, "cannot parse --help:\n" + result.stdout
    return flags, keys


def source_strings(path, array):
    """The string literals of the C array initialiser `array[] = { ... }`."""
    text = read(TOP / "src" / path)
    match = re.search(re.escape(array) + r"\[\]\s*=\s*\{(.*?)\};", text, re.S)
    assert match, f"no array {array} in src/{path}"
    return re.findall(r'"([^"]+)"', match.group(1))


def control_names():
    return source_strings("tree.c", "control_names")


def ttl_classes():
    """(name, default TTL) of every data class in src/classes.c."""
    text = read(TOP / "src" / "classes.c")
    found = re.findall(r'\[CLASS_[A-Z_]+\]\s*=\s*\{\s*"([a-z_]+)"\s*,\s*(\d+)\s*\}', text)
    assert found, "no data classes found in src/classes.c"
    return [(name, int(ttl)) for name, ttl in found]


def tree_names():
    """Every name tree.c serves at the root and inside an item directory."""
    text = read(TOP / "src" / "tree.c")
    names = set()
    for body in re.findall(r"struct view \w+\[\]\s*=\s*\{(.*?)\};", text, re.S):
        names.update(re.findall(r'\{\s*"([^"]+)"\s*,\s*TREE_', body))
    assert {"README", "hosts", "state", "flavor.json"} <= names, names
    return sorted(names)


def meson_version():
    match = re.search(r"version\s*:\s*'([^']+)'", read(TOP / "meson.build"))
    assert match, "no version in meson.build"
    return match.group(1)


def section(markdown, heading):
    """The text of a '## heading' section of a Markdown document."""
    match = re.search(r"^## " + re.escape(heading) + r"\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


# ------------------------------------------------------- options and --help

def test_every_help_flag_is_in_the_man_page():
    flags, _ = help_options()
    text = man_text()
    missing = sorted(f for f in flags if not flag_pattern(f).search(text))
    assert not missing, f"docs/infrafs.1 does not mention {missing}"


def test_every_help_flag_is_in_the_readme():
    flags, _ = help_options()
    text = markdown_text(README)
    missing = sorted(f for f in flags if not flag_pattern(f).search(text))
    assert not missing, f"README.md does not mention {missing}"


def test_every_help_o_option_is_in_the_man_page():
    _, keys = help_options()
    text = man_text()
    missing = sorted(k for k in keys if not o_key_pattern(k).search(text))
    assert not missing, f"docs/infrafs.1 does not document -o {missing}"


def test_every_help_o_option_is_in_the_readme():
    _, keys = help_options()
    text = markdown_text(README)
    missing = sorted(k for k in keys if not o_key_pattern(k).search(text))
    assert not missing, f"README.md does not document -o {missing}"


def test_every_help_o_option_is_in_configuration_md():
    _, keys = help_options()
    text = markdown_text(CONFIG_MD)
    missing = sorted(k for k in keys if not o_key_pattern(k).search(text))
    assert not missing, f"docs/configuration.md does not document -o {missing}"


def test_every_os_variable_read_is_documented():
    sources = ("config.c", "clouds_yaml.c")
    names = sorted({name for source in sources
                    for name in re.findall(r'"(OS_[A-Z_]+)"', read(TOP / "src" / source))})
    assert "OS_AUTH_URL" in names
    for path, text in ((MAN, man_text()), (CONFIG_MD, markdown_text(CONFIG_MD))):
        missing = [n for n in names if not re.search(r"\b" + n + r"\b", text)]
        assert not missing, f"{path.relative_to(TOP)} does not mention {missing}"


# ------------------------------------------------------------ control files

def test_every_control_file_is_in_control_files_md():
    text = markdown_text(CONTROL_MD)
    missing = [n for n in control_names() if not re.search(r"\b" + re.escape(n) + r"\b", text)]
    assert not missing, f"docs/control-files.md does not describe {missing}"


def test_every_control_file_is_in_the_man_page():
    text = man_text()
    missing = [n for n in control_names() if ".infrafs/" + n not in text]
    assert not missing, f"docs/infrafs.1 does not describe .infrafs/{missing}"


def test_readme_control_table_lists_exactly_the_control_files():
    table = section(read(README), "Control files")
    listed = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert sorted(listed) == sorted(control_names())


# ------------------------------------------------------------ TTLs and tree

def test_every_ttl_class_is_in_the_readme_with_its_default():
    text = read(README)
    for name, ttl in ttl_classes():
        assert re.search(r"\b" + name + r"\b", text), f"README.md does not mention class {name}"
        row = re.compile(r"^\| `" + name + r"` \| " + str(ttl) + r" \|", re.M)
        assert row.search(text), f"README.md has no TTL table row '| `{name}` | {ttl} |'"


def test_every_ttl_class_is_in_the_man_page_with_its_default():
    text = man_text()
    for name, ttl in ttl_classes():
        assert re.search(r"\b%s %d seconds" % (name, ttl), text), \
            f"docs/infrafs.1 does not give class {name} a default of {ttl} seconds"


def test_every_served_name_is_in_the_readme_and_man_page():
    readme, man = markdown_text(README), man_text()
    for name in tree_names():
        pattern = re.compile(r"(?<![\w.])" + re.escape(name) + r"(?![\w])")
        assert pattern.search(readme), f"README.md does not mention {name}"
        assert pattern.search(man), f"docs/infrafs.1 does not mention {name}"


def test_readme_tree_shows_nothing_unbuilt():
    tree = section(read(README), "The tree")
    block = re.search(r"```\n(.*?)```", tree, re.S).group(1)
    # Planned in design.md, not served yet (nothing at the moment; keep the
    # check for what comes next).
    for pattern in (r"/redis\b",):
        assert not re.search(pattern, block), f"README.md's tree shows unbuilt {pattern}"


# ----------------------------------------------------------- man page itself

def test_man_page_renders_without_groff_warnings():
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (Debian package groff-base)")
    result = run(["groff", "-man", "-Tutf8", "-ww", str(MAN)])
    assert result.returncode == 0
    assert result.stderr == "", "groff warnings:\n" + result.stderr


def test_man_page_has_the_standard_sections():
    text = read(MAN)
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES", "ENVIRONMENT",
                 "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(r'^\.SH "?' + name + r'"?\s*$', text, re.M), f"no .SH {name}"


# ------------------------------------------------------------- README shape

def test_readme_starts_with_make_demo_and_make_check():
    head = "".join(read(README).splitlines(keepends=True)[:40])
    assert "make demo" in head
    assert "make check" in head


def test_relative_links_in_docs_point_at_files():
    broken = []
    for path in [README, *sorted((TOP / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", read(path)):
            if re.match(r"[a-z]+:", target):
                continue  # http:, mailto:
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(TOP)} -> {target}")
    assert not broken, broken


# ------------------------------------------------------------------ version

def test_version_matches_meson_build():
    result = run([INFRAFS_BIN, "--version"])
    assert result.returncode == 0
    match = re.search(r"^infrafs (\S+)$", result.stdout, re.M)
    assert match, "no 'infrafs X.Y.Z' line in --version output:\n" + result.stdout
    assert match.group(1) == meson_version()


def test_versions_quoted_in_docs_match_meson_build():
    version = meson_version()
    for path in [README, MAN, *sorted((TOP / "docs").glob("*.md"))]:
        for quoted in re.findall(r"infrafs (\d+\.\d+\.\d+)", read(path)):
            assert quoted == version, f"{path.relative_to(TOP)} quotes infrafs {quoted}"


# ----------------------------------------------------------- example scripts

def test_example_scripts_parse():
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert scripts, "no examples/scripts/*.sh"
    for script in scripts:
        shell = "bash" if "bash" in read(script).splitlines()[0] else "sh"
        result = run([shell, "-n", str(script)])
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
        assert os.access(script, os.X_OK), f"{script.name} is not executable"


def test_example_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    result = run(["shellcheck", *map(str, sorted(SCRIPTS.glob("*.sh")))])
    assert result.returncode == 0, result.stdout


def wait_until(predicate, timeout, what):
    """Poll `predicate` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def is_mounted(path):
    with open("/proc/self/mounts") as mounts:
        return any(fields[1] == path and fields[2] == "fuse.infrafs"
                   for fields in (line.split() for line in mounts))


class Mount:
    """A fake cloud and an infrafs mount on it, both started (and stopped) here."""

    def __init__(self, work):
        self.work = work
        self.mnt = os.path.join(work, "mnt")
        self.log_path = os.path.join(work, "infrafs.log")
        self.cloud = None
        self.daemon = None
        self.url = None
        self.env = None
        self.cloud_args = []

    def start(self, hosts=12, max_microversion=None):
        os.mkdir(self.mnt)
        openrc = os.path.join(self.work, "openrc")
        if max_microversion is not None:
            self.cloud_args = ["--max-microversion", max_microversion]
        self.cloud = subprocess.Popen(
            [PYTHON, "-m", "tests.fakecloud", "--port", "0", "--hosts", str(hosts),
             "--openrc", openrc, *self.cloud_args],
            cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.cloud.stdout], [], [], 30)
        line = self.cloud.stdout.readline() if ready else ""
        assert "listening on" in line, f"fake cloud did not start: {line!r}"
        self.url = line.split()[-1]
        # Nothing of the caller's own cloud: only the fake's OS_* variables.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["G_DEBUG"] = "fatal-warnings"
        with open(openrc) as rc:
            for words in map(shlex.split, rc):
                if words and words[0] == "export":
                    key, _, value = words[1].partition("=")
                    self.env[key] = value
        with open(self.log_path, "w") as log:
            self.daemon = subprocess.Popen([INFRAFS_BIN, "-f", self.mnt], env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: is_mounted(self.mnt) or self.daemon.poll() is not None, 15,
                   "the mount")
        assert is_mounted(self.mnt), "infrafs did not mount:\n" + self.log()

    def log(self):
        with open(self.log_path) as log:
            return log.read()

    def fake_state(self):
        with urllib.request.urlopen(self.url + "/_fake/state", timeout=10) as answer:
            return json.load(answer)

    def stop(self):
        """Unmount and stop our two processes, by their own handles only."""
        status = None
        if self.daemon is not None:
            if is_mounted(self.mnt):
                subprocess.run(["fusermount3", "-u", self.mnt], timeout=30)
            try:
                status = self.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=15)
                subprocess.run(["fusermount3", "-u", "-z", self.mnt], timeout=30)
        if self.cloud is not None:
            self.cloud.terminate()
            try:
                self.cloud.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.cloud.kill()
                self.cloud.wait(timeout=15)
            self.cloud.stdout.close()
        return status

    def rerun(self):
        args = "".join(" " + shlex.quote(a) for a in self.cloud_args)
        return (f"cd {TOP} && {PYTHON} -m tests.fakecloud --port 0 --openrc /tmp/openrc{args} & "
                f". /tmp/openrc; {INFRAFS_BIN} -f {self.mnt}")


@pytest.fixture(scope="module")
def examples_mount(fake_max_microversion):
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        pytest.skip("needs /dev/fuse and fusermount3")
    if shutil.which("jq") is None:
        pytest.skip("needs jq")
    with tempfile.TemporaryDirectory(prefix="infrafs-docs-") as work:
        m = Mount(work)
        try:
            m.start(max_microversion=fake_max_microversion)
            yield m
        finally:
            status = m.stop()
            log = m.log() if os.path.exists(m.log_path) else ""
        assert status in (None, 0), f"infrafs exited {status}; run: {m.rerun()}\n{log}"
        bad = [line for line in log.splitlines()
               if re.search(r"infrafs\[(warning|critical|error)\]", line)]
        assert not bad, "infrafs logged:\n" + "\n".join(bad)


def script(mount, name, *args):
    result = run([str(SCRIPTS / name), *args], timeout=60, env=mount.env)
    assert result.returncode == 0, f"{name} {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_hosts_by_gpu_type_lists_every_host_with_the_fakes_type(examples_mount):
    mount = examples_mount
    expected = sorted(f"{h['gpu_type']}\t{h['hypervisor_hostname']}"
                      for h in mount.fake_state()["hypervisors"])
    assert sorted(script(mount, "hosts-by-gpu-type.sh", mount.mnt).splitlines()) == expected


def test_hosts_by_gpu_type_filters_by_type(examples_mount):
    mount = examples_mount
    expected = sorted(h["hypervisor_hostname"] for h in mount.fake_state()["hypervisors"]
                      if h["gpu_type"] == "RTX6000")
    lines = script(mount, "hosts-by-gpu-type.sh", mount.mnt, "RTX6000").splitlines()
    assert expected and [line.split("\t")[1] for line in lines] == expected


def test_aggregate_hosts_shows_each_member_with_its_state(examples_mount):
    mount = examples_mount
    state = mount.fake_state()
    members = next(a["hosts"] for a in state["aggregates"] if a["name"] == "GPU-L40")
    by_service = {h["service_host"]: h for h in state["hypervisors"]}
    lines = script(mount, "aggregate-hosts.sh", mount.mnt, "GPU-L40").splitlines()
    assert lines[0].split() == ["HOST", "STATE", "STATUS", "GPU"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == members
    for host, st, status, gpu in rows:
        assert (st, status, gpu) == (by_service[host]["state"], by_service[host]["status"], "L40")


def test_watch_hosts_first_round_lists_hosts_not_up_and_enabled(examples_mount):
    mount = examples_mount
    expected = sorted(f"{h['hypervisor_hostname']} {h['state']} {h['status']}"
                      for h in mount.fake_state()["hypervisors"]
                      if (h["state"], h["status"]) != ("up", "enabled"))
    lines = script(mount, "watch-hosts.sh", mount.mnt, "0", "2").splitlines()
    assert re.match(r"# \d\d:\d\d:\d\d hosts not up/enabled:$", lines[0])
    assert expected, "the fake fleet should have a host that is down or disabled"
    assert lines[1:] == expected  # and no change between the two rounds
