"""infrafs.conf: infrafs's own settings in a GKeyFile, found under
$XDG_CONFIG_HOME/infrafs/ (or given with --config), overridden by -o; a bad
file fails the mount with a message naming the file, section and key."""

import json
import os
import subprocess

from helpers import INFRAFS_BIN


def write_conf(tmp_path, text):
    conf_dir = tmp_path / "xdg" / "infrafs"
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "infrafs.conf"
    path.write_text(text)
    return path


def ttls(m):
    return dict(line.split() for line in m.lines(".infrafs/ttl"))


def test_the_default_file_sets_ttls_and_api_settings(mount, tmp_path):
    write_conf(tmp_path, "[ttl]\nhosts = 42\nflavors = 17\n[api]\nrate_limit = 7\n")
    m = mount(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert ttls(m)["hosts"] == "42"
    assert ttls(m)["flavors"] == "17"
    assert "settings: %s" % (tmp_path / "xdg" / "infrafs" / "infrafs.conf") in m.log()


def test_o_options_override_the_file(mount, tmp_path):
    write_conf(tmp_path, "[ttl]\nhosts = 42\nflavors = 17\n")
    m = mount("ttl.hosts=5", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert ttls(m)["hosts"] == "5"
    assert ttls(m)["flavors"] == "17"


def test_config_option_names_the_file(mount, tmp_path):
    path = tmp_path / "elsewhere.conf"
    path.write_text("[ttl]\naggregates = 99\n")
    m = mount(args=["--config", str(path)])
    assert ttls(m)["aggregates"] == "99"


def test_gpu_rules_from_the_file_drive_the_derived_files(mount, tmp_path):
    # Rules that rename every H100 host's GPUs, count a resource class the
    # built-in rules never would (MEMORY_MB: deliberately odd, so that the
    # count can only come from this rule), and format flavors differently.
    write_conf(tmp_path, "[gpu]\n"
                         "name_rules = *h100*=HOPPER-X; *a100*=AMPERE\n"
                         "resource_classes = MEMORY_MB\n"
                         "flavor_format = hx.{gpu}.{count}\n")
    m = mount(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    h100 = [h for h in m.listdir("hosts") if "h100" in h.lower()]
    assert h100
    for host in h100[:3]:
        totals = json.loads(m.text("hosts/%s/inventory.json" % host))["totals"]
        memory = totals["MEMORY_MB"]["capacity"]
        assert m.text("hosts/%s/gpu_type" % host) == "HOPPER-X\n"
        assert m.text("hosts/%s/gpu_count" % host) == "%d\n" % memory
        assert m.text("hosts/%s/flavor" % host) == "hx.HOPPER.%d\n" % memory
    # Hostname rules come before the aggregates' metadata (which says A100).
    a100 = [h for h in m.listdir("hosts") if "a100" in h.lower()]
    assert a100 and m.text("hosts/%s/gpu_type" % a100[0]) == "AMPERE\n"


def run_infrafs(args, env_extra, tmp_path):
    mnt = tmp_path / "never-mounted"
    mnt.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update({"OS_AUTH_URL": "http://127.0.0.1:9/identity/v3", "OS_USERNAME": "u",
                "OS_PASSWORD": "p", "OS_PROJECT_NAME": "x"})
    env.update(env_extra)
    return subprocess.run([INFRAFS_BIN, *args, str(mnt)], env=env, capture_output=True,
                          text=True, timeout=20)


def test_a_bad_file_fails_the_mount_naming_file_section_and_key(tmp_path):
    path = write_conf(tmp_path, "[cache]\nmax_bytes = lots\n")
    result = run_infrafs([], {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, tmp_path)
    assert result.returncode != 0
    assert str(path) in result.stderr
    assert "[cache] max_bytes" in result.stderr
    assert "lots" in result.stderr
    with open("/proc/mounts") as mounts:
        assert str(tmp_path / "never-mounted") not in mounts.read()


def test_an_unknown_section_fails_the_mount(tmp_path):
    write_conf(tmp_path, "[caching]\nttl = 5\n")
    result = run_infrafs([], {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, tmp_path)
    assert result.returncode != 0
    assert "[caching]" in result.stderr and "unknown section" in result.stderr


def test_a_missing_config_file_named_on_the_command_line_fails(tmp_path):
    result = run_infrafs(["--config", str(tmp_path / "nope.conf")], {}, tmp_path)
    assert result.returncode != 0
    assert "nope.conf" in result.stderr
