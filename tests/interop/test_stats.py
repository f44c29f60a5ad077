"""Per-process resource figures (issue 13 item 1): supervisor_rs.getProcessStats and
getAllProcessStats, `supervisorctl status -l`, `status --json`, `top` (snapshots with a
non-tty stdout, the live view through a pty), and the clean failure against the Python
reference, which has no such method."""

import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
import xmlrpc.client

import pytest

from conftest import IMPLS

# A child that allocates (and touches) 64 MB, then spins one CPU.
HOG = (
    f"{sys.executable} -c \"exec('b=bytearray(64*1024*1024)\\n"
    "for i in range(0,len(b),4096): b[i]=1\\n"
    "while True: pass')\""
)
# A child that allocates 160 MB and sleeps: the most memory, no CPU.
FAT = (
    f"{sys.executable} -c \"exec('import time\\nb=bytearray(160*1024*1024)\\n"
    "for i in range(0,len(b),4096): b[i]=1\\n"
    "time.sleep(1000)')\""
)

PROGRAMS = f"""
[program:hog]
command={HOG}
startsecs=0

[program:fat]
command={FAT}
startsecs=0

[program:idle]
command=sleep 1000
startsecs=0

[program:quitter]
command=sh -c 'sleep 0.2; exit 3'
startsecs=0
autostart=false
autorestart=false
exitcodes=0
"""

STATS_KEYS = {"name", "group", "pid", "state", "statename", "start", "uptime", "restarts",
              "exitstatus", "available", "cpu_seconds", "cpu_percent", "rss_kb", "fds",
              "threads", "processes", "cpu_source"}


def rust_ctl(d, *args, timeout=60):
    return d.ctl(*args, impl="rust", timeout=timeout)


@pytest.fixture
def daemon(make_daemon):
    d = make_daemon("rust", PROGRAMS)
    for name in ("hog", "fat", "idle"):
        d.wait_state(name, "RUNNING")
    # The allocations take a moment: wait until both children hold their memory.
    d.wait_for(lambda: d.rpc().supervisor_rs.getProcessStats("fat")["rss_kb"] > 150 * 1024
               and d.rpc().supervisor_rs.getProcessStats("hog")["rss_kb"] > 60 * 1024,
               timeout=20, what="children allocated")
    return d


def test_methods_are_listed_with_help_and_signature(daemon):
    rpc = daemon.rpc()
    methods = rpc.system.listMethods()
    assert "supervisor_rs.getProcessStats" in methods
    assert "supervisor_rs.getAllProcessStats" in methods
    assert rpc.system.methodSignature("supervisor_rs.getProcessStats") == ["struct", "string"]
    assert rpc.system.methodSignature("supervisor_rs.getAllProcessStats") == ["array"]
    assert "CPU" in rpc.system.methodHelp("supervisor_rs.getProcessStats")
    with pytest.raises(xmlrpc.client.Fault) as e:
        rpc.supervisor_rs.getProcessStats("nosuch")
    assert e.value.faultCode == 10  # BAD_NAME


def test_figures_of_a_known_child(daemon):
    rpc = daemon.rpc()
    # Two samples a second apart: CPU % covers the time between them.
    first = {s["name"]: s for s in rpc.supervisor_rs.getAllProcessStats()}
    t0 = time.monotonic()
    time.sleep(1.2)
    by_name = {s["name"]: s for s in rpc.supervisor_rs.getAllProcessStats()}
    elapsed = time.monotonic() - t0
    assert set(by_name) == {"hog", "fat", "idle", "quitter"}
    hog, fat, idle = by_name["hog"], by_name["fat"], by_name["idle"]
    for s in (hog, fat, idle):
        assert set(s) == STATS_KEYS
        assert s["available"] is True and s["statename"] == "RUNNING"
        assert s["fds"] >= 3 and s["threads"] >= 1 and s["processes"] == 1
        assert s["restarts"] == 0
    info = {i["name"]: i for i in rpc.supervisor.getAllProcessInfo()}
    assert hog["pid"] == info["hog"]["pid"] and hog["start"] == info["hog"]["start"]
    # The spinning child: CPU % is the CPU seconds it used between the two samples over
    # the time between them (whatever share of a core the loaded machine gave it).
    used = hog["cpu_seconds"] - first["hog"]["cpu_seconds"]
    expected = used / elapsed * 100
    assert abs(hog["cpu_percent"] - expected) <= max(8.0, 0.2 * expected), (hog, expected)
    assert 5.0 <= hog["cpu_percent"] <= 210.0, hog
    assert hog["cpu_seconds"] > 0.1
    assert 64 * 1024 <= hog["rss_kb"] <= 400 * 1024, hog
    assert 160 * 1024 <= fat["rss_kb"] <= 500 * 1024, fat
    assert idle["cpu_percent"] < 5.0 and idle["rss_kb"] < 20 * 1024, idle
    # Not running: no figures, zeros.
    q = by_name["quitter"]
    assert q["available"] is False and q["pid"] == 0 and q["rss_kb"] == 0 and q["uptime"] == 0


def test_restarts_and_last_exit_status(daemon):
    rpc = daemon.rpc()
    rpc.supervisor.startProcess("quitter")
    daemon.wait_state("quitter", "EXITED")
    s = rpc.supervisor_rs.getProcessStats("quitter")
    assert (s["restarts"], s["exitstatus"]) == (0, 3)
    rpc.supervisor.startProcess("quitter")
    s = rpc.supervisor_rs.getProcessStats("quitter")
    # Started again: the reference's exitstatus is cleared, the last exit is kept here.
    assert s["restarts"] == 1 and s["exitstatus"] == 3
    assert rpc.supervisor.getProcessInfo("quitter")["exitstatus"] == 0
    daemon.wait_state("quitter", "EXITED")


def test_process_info_is_unchanged(make_daemon, daemon):
    ref = make_daemon("python", PROGRAMS)
    ref.wait_state("idle", "RUNNING")
    ours = daemon.rpc().supervisor.getAllProcessInfo()
    theirs = ref.rpc().supervisor.getAllProcessInfo()
    assert [sorted(i) for i in ours] == [sorted(i) for i in theirs]


def test_status_long_columns_are_aligned(daemon):
    r = rust_ctl(daemon, "status", "-l")
    assert r.returncode == 3, r  # quitter is STOPPED, as plain status says
    lines = r.stdout.splitlines()
    header = lines[0].split()
    assert header == ["NAME", "STATE", "CPU%", "RSS", "FDS", "THREADS", "RESTARTS",
                      "DESCRIPTION"]
    rows = {l.split()[0]: l for l in lines[1:]}
    assert set(rows) == {"hog", "fat", "idle", "quitter"}
    # Every column starts (text) or ends (numbers) at the same place on every line.
    state_at = lines[0].index("STATE")
    desc_at = lines[0].index("DESCRIPTION")
    rss_end = lines[0].index("RSS") + 3
    for l in lines[1:]:
        assert l[state_at - 1] == " " and l[state_at] != " ", l
        assert l[desc_at - 1] == " " and l[desc_at] != " ", l
        assert l[rss_end - 1] != " " and l[rss_end] == " ", l
    assert re.search(r"^hog\s+RUNNING\s+\d+\.\d\s+\d+\.\dM\s+\d+\s+\d+\s+0\s+pid \d+", rows["hog"])
    assert re.search(r"^quitter\s+STOPPED\s+-\s+-\s+-\s+-\s+0\s+Not started", rows["quitter"])
    # A name selects, like plain status.
    one = rust_ctl(daemon, "status", "-l", "idle")
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 2


def test_status_json_has_the_standard_fields_and_stats(daemon):
    r = rust_ctl(daemon, "status", "--json")
    doc = json.loads(r.stdout)
    by = {o["name"]: o for o in doc}
    info = {i["name"]: i for i in daemon.rpc().supervisor.getAllProcessInfo()}
    for name, o in by.items():
        for k, v in info[name].items():
            if k not in ("now", "description"):
                assert o[k] == v, (name, k)
        assert o["namespec"] == name
    assert by["fat"]["stats"]["rss_bytes"] >= 160 * 1024 * 1024
    assert by["hog"]["stats"]["available"] is True
    assert set(by["hog"]["stats"]) >= {"cpu_percent", "cpu_seconds", "rss_kb", "rss_bytes",
                                       "fds", "threads", "restarts", "uptime"}
    assert by["quitter"]["stats"]["available"] is False


def frames(text):
    return [f for f in text.split("\n\n") if f.strip()]


def test_top_snapshots_without_a_terminal(daemon):
    r = rust_ctl(daemon, "top", "-n", "2", "-d", "0.5")
    assert r.returncode == 0, r
    shots = frames(r.stdout)
    assert len(shots) == 2
    for shot in shots:
        lines = shot.splitlines()
        assert lines[0].startswith("supervisor-rs top - ")
        assert lines[1].split()[:4] == ["NAME", "STATE", "PID", "CPU%"]
        assert len(lines) == 2 + 4
    # Sorted by CPU by default (the spinning child first), by memory on request.
    assert shots[1].splitlines()[2].startswith("hog ")
    mem = rust_ctl(daemon, "top", "--sort", "mem")
    assert frames(mem.stdout)[0].splitlines()[2].startswith("fat ")
    assert len(frames(mem.stdout)) == 1  # non-tty: one snapshot
    only = rust_ctl(daemon, "top", "idle")
    assert [l.split()[0] for l in only.stdout.splitlines()[2:]] == ["idle"]
    bad = rust_ctl(daemon, "top", "--sort", "disk")
    assert bad.returncode == 2 and "bad sort key" in bad.stdout


def test_top_in_the_shell(daemon):
    client = IMPLS["rust"] / "supervisorctl"
    r = subprocess.run([str(client), "-c", str(daemon.conf)], input="top -n 1\nquit\n",
                       capture_output=True, text=True, timeout=30)
    assert "supervisor-rs top - " in r.stdout and "\nhog " in r.stdout, r
    assert "top" in rust_ctl(daemon, "help").stdout
    assert "top -d <seconds>" in rust_ctl(daemon, "help", "top").stdout


def read_until(fd, pattern, timeout=15):
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if re.search(pattern, buf):
                return buf
    raise AssertionError(f"{pattern!r} not seen in {buf[-2000:]!r}")


def test_top_live_view_in_a_pty_quits_on_q_and_restores_the_terminal(daemon):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    client = IMPLS["rust"] / "supervisorctl"
    p = subprocess.Popen([str(client), "-c", str(daemon.conf), "top", "-d", "0.5"],
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        out = read_until(master, rb"q quit")
        assert b"\x1b[?1049h" in out  # alternate screen
        assert re.search(rb"\nhog ", out), out
        os.write(master, b"m")  # sort by memory: fat goes on top
        read_until(master, rb"sort: mem[^\r]*\r+\nNAME[^\r]*\r+\nfat ")
        os.write(master, b"c")
        read_until(master, rb"sort: cpu[^\r]*\r+\nNAME[^\r]*\r+\nhog ")
        os.write(master, b"q")
        assert p.wait(timeout=10) == 0
        rest = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        assert b"\x1b[?1049l" in out + rest  # back to the normal screen
        assert termios.tcgetattr(slave) == before  # echo, line mode and signals restored
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_ctrl_c_also_quits_top(daemon):
    master, slave = pty.openpty()
    client = IMPLS["rust"] / "supervisorctl"
    p = subprocess.Popen([str(client), "-c", str(daemon.conf), "top"],
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        read_until(master, rb"q quit")
        os.write(master, b"\x03")
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_against_the_reference_the_extension_commands_fail_cleanly(make_daemon):
    ref = make_daemon("python", "[program:idle]\ncommand=sleep 1000\nstartsecs=0\n")
    ref.wait_state("idle", "RUNNING")
    for args in (("status", "-l"), ("top",), ("top", "-n", "2")):
        r = rust_ctl(ref, *args)
        assert r.returncode == 3, (args, r)
        assert r.stdout.strip().splitlines() == [
            "Error: this supervisord does not provide process stats "
            "(supervisor_rs.getAllProcessStats is unknown: it is not supervisor-rs)"
        ], (args, r.stdout)
        assert "Traceback" not in r.stderr and "panicked" not in r.stderr
    # Plain status and status --json still work there, without stats.
    assert rust_ctl(ref, "status").returncode == 0
    doc = json.loads(rust_ctl(ref, "status", "--json").stdout)
    assert doc[0]["name"] == "idle" and doc[0]["stats"] is None


def test_web_ui_shows_cpu_memory_and_restarts(daemon):
    import http.client
    import socket

    class Unix(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(str(daemon.sock))

    def get(path):
        c = Unix("localhost", timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()

    status, page = get("/index.html")
    assert status == 200
    for th in ("CPU", "Memory", "Restarts"):
        assert f'scope="col">{th}</th>' in page
    row = page[page.index('data-ns="fat"'):]
    row = row[:row.index("</tr>")]
    assert re.search(r'<td class="cpu">\d+\.\d%</td><td class="mem">1\d\d\.\d MiB</td>'
                     r'<td class="restarts">0</td>', row), row
    status, body = get("/api/status.json")
    procs = {p["name"]: p for p in json.loads(body)["processes"]}
    assert procs["fat"]["stats"]["rss_kb"] >= 160 * 1024
    assert procs["quitter"]["stats"]["available"] is False


def cgroup2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount, _, fs = line.partition(" - ")
            if fs.split()[:1] == ["cgroup2"]:
                return mount.split()[4]
    return None


def test_cpu_of_a_process_in_its_own_cgroup_comes_from_the_cgroup(make_daemon, tmp_path):
    root = cgroup2_root()
    if root is None or not os.access(root, os.W_OK):
        pytest.skip("no writable cgroup v2 hierarchy")
    cg = f"{root}/supervisor-rs-test-{os.getpid()}-{time.monotonic_ns()}"
    try:
        os.mkdir(cg)
    except OSError as e:
        pytest.skip(f"cannot create a cgroup: {e}")
    burn = tmp_path / "burn.py"
    burn.write_text("import time\nt = time.process_time()\n"
                    "while time.process_time() - t < 0.4: pass\n")
    d = None
    try:
        d = make_daemon("rust", f"""
[program:cg]
command=sh -c 'echo $$ > {cg}/cgroup.procs && {sys.executable} {burn} && exec sleep 1000'
startsecs=0

[program:plain]
command=sleep 1000
startsecs=0
""")
        d.wait_for(lambda: d.rpc().supervisor_rs.getProcessStats("cg")["cpu_seconds"] >= 0.35,
                   timeout=30, what="the burner's CPU counted")
        s = d.rpc().supervisor_rs.getProcessStats("cg")
        assert s["cpu_source"] == "cgroup", s
        # The cgroup's own figure: what cpu.stat says now (the burner is gone).
        usage = int(dict(l.split() for l in open(f"{cg}/cpu.stat"))["usage_usec"]) / 1e6
        assert abs(s["cpu_seconds"] - usage) < 0.05, (s, usage)
        # A process in the daemon's cgroup is measured from /proc.
        assert d.rpc().supervisor_rs.getProcessStats("plain")["cpu_source"] == "proc"
    finally:
        if d is not None:
            d.stop()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
