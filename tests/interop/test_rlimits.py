"""rlimits= (issue 15 item 4) with real children.

The child sees the limits (`ulimit` in its output): soft and hard, one value for both,
sizes with KB/MB/GB, `unlimited`; a limit that cannot be set is a spawn error whose
spawnerr names the limit; a bad value is a config error naming file, line, section and
key; the same config loads under the reference.
"""

import re
import resource
import subprocess
from pathlib import Path

from conftest import IMPLS

SHOW = ("/bin/sh -c 'echo n=$(ulimit -Sn):$(ulimit -Hn) c=$(ulimit -Sc):$(ulimit -Hc) "
        "v=$(ulimit -Sv):$(ulimit -Hv) s=$(ulimit -Ss); grep processes /proc/self/limits; "
        "exec sleep 1000'")


def hard(res):
    h = resource.getrlimit(res)[1]
    return "unlimited" if h == resource.RLIM_INFINITY else str(h)


def test_the_child_sees_its_limits(make_daemon, tmp_path):
    # lower than the daemon's limits, so they can be set without privileges
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    soft = min(777, nofile_hard)
    core_hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    core = "unlimited" if core_hard == resource.RLIM_INFINITY else "0"
    d = make_daemon("rust", f"""
        [program:limited]
        command={SHOW}
        startsecs=0
        stdout_logfile={tmp_path}/limited.out
        rlimits=nofile={soft}:{nofile_hard}, RLIMIT_CORE={core}, AS=2GB, stack=8MB:unlimited,
            NPROC=4096:8192

        [program:plain]
        command={SHOW}
        startsecs=0
        stdout_logfile={tmp_path}/plain.out
        """.replace("stack=8MB:unlimited", "stack=8MB:" + hard(resource.RLIMIT_STACK)))
    out = tmp_path / "limited.out"
    d.wait_for(lambda: out.exists() and "s=" in out.read_text(), timeout=10,
               what="limits printed")
    line = out.read_text()
    assert f"n={soft}:{nofile_hard}" in line, line
    assert f"c={core}:{core}" in line, line
    assert f"v={2 * 1024 * 1024}:{2 * 1024 * 1024}" in line, line   # ulimit -v is in KB
    assert "s=8192" in line, line
    assert re.search(r"Max processes +4096 +8192 ", line), line
    # a program without the key inherits the daemon's limits
    plain = tmp_path / "plain.out"
    d.wait_for(lambda: plain.exists() and "s=" in plain.read_text(), timeout=10,
               what="plain limits printed")
    text = plain.read_text()
    assert "n=" in text and f"n={soft}:" not in text and " 4096 " not in text, text


def test_a_limit_that_cannot_be_set_is_a_spawn_error(make_daemon):
    nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    too_many = nr_open + 1
    d = make_daemon("rust", f"""
        [program:greedy]
        command=/bin/sleep 1000
        startretries=0
        rlimits=NOFILE={too_many}
        """)
    d.wait_state("greedy", "FATAL", timeout=10)
    want = (f"couldn't set RLIMIT_NOFILE to {too_many}:{too_many}: "
            "Operation not permitted")
    info = d.rpc().supervisor.getProcessInfo("greedy")
    assert info["spawnerr"] == want, info
    assert f"spawnerr: {want}" in d.mainlog()
    r = d.ctl("start", "greedy", impl="rust")
    assert "spawn error" in r.stdout.lower() or "ERROR" in r.stdout, r


def test_bad_values_name_file_line_section_and_key(tmp_path):
    for value, needle in [
        ("FILES=10", 'unknown resource "FILES"'),
        ("NOFILE=10:5", "the soft limit is above the hard limit"),
        ("NOFILE=lots", '"lots" is not a number'),
        ("NOFILE", "expected NAME=soft[:hard]"),
    ]:
        conf = tmp_path / "c.conf"
        conf.write_text(f"[supervisord]\nlogfile={tmp_path}/m.log\npidfile={tmp_path}/p\n"
                        f"[program:x]\ncommand=/bin/true\nrlimits={value}\n")
        r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "-n", "-c", str(conf)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 2, r
        assert needle in r.stderr, r.stderr
        assert f"at line 6 in section 'program:x' (file: '{conf}')" in r.stderr, r.stderr
        c = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c",
                            str(conf)], capture_output=True, text=True, timeout=20)
        assert c.returncode == 2, c
        assert f"{conf}:6: error: invalid rlimits entry" in c.stdout, c.stdout


def test_the_same_config_loads_under_the_reference(make_daemon, tmp_path):
    d = make_daemon("python", f"""
        [program:limited]
        command={SHOW}
        startsecs=0
        stdout_logfile={tmp_path}/ref.out
        rlimits=NOFILE=100, CORE=unlimited, NPROC=512:1024, AS=2GB
        """)
    out = tmp_path / "ref.out"
    d.wait_for(lambda: out.exists() and "s=" in out.read_text(), timeout=10,
               what="limits printed")
    # the reference ignores the key: the daemon's own limit
    assert "n=100:100" not in out.read_text()
