"""cgroups (issue 15 item 5): each process with a cgroup key runs in a cgroup of its own
under the daemon's; `kill_mode = cgroup` stops the whole tree (a `setsid` grandchild
included) and SIGKILLs what is left through cgroup.kill; memory_max/pids_max/cpu_max land
in the cgroup files (v2, or the v1 controllers of a hybrid machine); the cgroup is removed
after the process is reaped; --check-config validates the keys; the reference loads the
same config. Skipped (with the reason) where the machine has no writable cgroup v2."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import IMPLS, VENV


def _mounts():
    v2, v1 = None, {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        f, r = left.split(), right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        if r[0] == "cgroup2" and v2 is None:
            v2 = (f[4], f[3])
        elif r[0] == "cgroup":
            for c in r[2].split(","):
                v1[c] = (f[4], f[3])
    return v2, v1


def cgroup_dirs(pid):
    """{'': v2 dir, 'memory': v1 dir, ...} of process pid."""
    v2, v1 = _mounts()
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hid, ctrls, path = line.split(":", 2)
        mounts = [("", v2)] if hid == "0" else [(c, v1.get(c)) for c in ctrls.split(",")]
        for c, m in mounts:
            if m is None:
                continue
            point, root = m
            rel = path[len(root):] if root != "/" and path.startswith(root) else path
            out[c] = Path(point) / rel.lstrip("/")
    return out


def writable_v2():
    """None when a cgroup v2 directory can be made under ours, else the reason."""
    v2, _ = _mounts()
    if v2 is None:
        return "no cgroup v2 hierarchy is mounted"
    own = cgroup_dirs(os.getpid()).get("")
    if own is None:
        return "this process has no cgroup v2 path"
    probe = own / f"h11-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        return f"cgroup v2 at {own} is not writable: {e}"
    return None


REASON = writable_v2()
needs_cgroup = pytest.mark.skipif(REASON is not None,
                                  reason=f"needs a writable cgroup v2 (CI has one, as root): {REASON}")


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(pred, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


TREE = """#!/bin/sh
setsid sh -c 'trap "" TERM; echo $$ > "$1"; exec sleep 1000' sh "$PWD/gc-$2.pid" &
exec sleep 1000
"""


def tree_program(tmp, name, kill_mode):
    script = tmp / "tree.sh"
    script.write_text(TREE)
    script.chmod(0o755)
    mode = f"kill_mode={kill_mode}\n" if kill_mode else "pids_max=100\n"
    return f"""
[program:{name}]
command={script} x {name}
directory={tmp}
{mode}stopwaitsecs=2
startsecs=0
autorestart=false
"""


@needs_cgroup
def test_kill_mode_cgroup_kills_a_setsid_grandchild(make_daemon, tmp_path):
    d = make_daemon("rust", tree_program(tmp_path, "tree", "cgroup")
                    + tree_program(tmp_path, "plain", None))
    d.wait_state("tree", "RUNNING")
    d.wait_state("plain", "RUNNING")
    gc_file, plain_file = tmp_path / "gc-tree.pid", tmp_path / "gc-plain.pid"
    wait_until(lambda: gc_file.exists() and gc_file.read_text().strip(), what="grandchild pid")
    wait_until(lambda: plain_file.exists() and plain_file.read_text().strip(), what="pid")
    gc, plain_gc = int(gc_file.read_text()), int(plain_file.read_text())
    try:
        pid = d.rpc().supervisor.getProcessInfo("tree")["pid"]
        cg = cgroup_dirs(pid)[""]
        # the grandchild left the process group and session, but not the cgroup
        assert cgroup_dirs(gc)[""] == cg
        assert os.getsid(gc) != os.getsid(pid)
        assert cg.name == "p.tree" and cg.parent.name.startswith("supervisord-")
        assert str(gc) in (cg / "cgroup.procs").read_text().split()
        r = d.ctl("stop", "tree")
        assert r.stdout.strip() == "tree: stopped", r.stdout + r.stderr
        # TERM went to the tree, the grandchild ignores it: cgroup.kill after the reap
        wait_until(lambda: not alive(gc), what="the setsid grandchild to die")
        wait_until(lambda: not cg.exists(), what="the cgroup to be removed")
        # without kill_mode=cgroup (the default: the process only) it survives the stop
        d.ctl("stop", "plain")
        d.wait_state("plain", "STOPPED")
        time.sleep(0.3)
        assert alive(plain_gc), "kill_mode=process must not kill the setsid grandchild"
    finally:
        for p in (gc, plain_gc):
            try:
                os.kill(p, 9)
            except OSError:
                pass


FORKER = (
    "import os, sys, time\n"
    "n = 0\n"
    "for i in range(40):\n"
    "    try:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(1000)\n"
    "            os._exit(0)\n"
    "        n += 1\n"
    "    except OSError as e:\n"
    "        print('fork failed:', e.strerror, flush=True)\n"
    "        break\n"
    "print('forked', n, flush=True)\n"
    "time.sleep(1000)\n"
)


@needs_cgroup
def test_limits_land_in_the_cgroup_files(make_daemon, tmp_path):
    (tmp_path / "forker.py").write_text(FORKER)
    import sys
    body = f"""
[program:lim]
command={sys.executable} {tmp_path / 'forker.py'}
memory_max=64MB
memory_high=48MB
pids_max=6
cpu_max=50%
kill_mode=cgroup
startsecs=0
stdout_logfile={tmp_path / 'lim.out'}
"""
    d = make_daemon("rust", body)
    d.wait_state("lim", "RUNNING")
    out = tmp_path / "lim.out"
    wait_until(lambda: out.exists() and "forked" in out.read_text(), what="the fork bomb's report")
    text = out.read_text()
    # the fork bomb was stopped by pids_max: 5 children + itself
    assert "fork failed" in text and "forked 5" in text, text
    pid = d.rpc().supervisor.getProcessInfo("lim")["pid"]
    dirs = cgroup_dirs(pid)

    def read(ctrl, v2name, v1name):
        if ctrl in dirs and (dirs[ctrl] / v1name).exists():
            return (dirs[ctrl] / v1name).read_text().strip()
        return (dirs[""] / v2name).read_text().strip()

    assert read("memory", "memory.max", "memory.limit_in_bytes") == str(64 << 20)
    assert read("memory", "memory.high", "memory.soft_limit_in_bytes") == str(48 << 20)
    assert read("pids", "pids.max", "pids.max") == "6"
    if "cpu" in dirs and (dirs["cpu"] / "cpu.cfs_quota_us").exists():
        assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
    else:
        assert (dirs[""] / "cpu.max").read_text().split() == ["50000", "100000"]
    cg_dirs = {c: p for c, p in dirs.items() if p.name == "p.lim"}
    assert cg_dirs, dirs
    # extensions list the keys
    ext = d.rpc().supervisor_rs.getAllConfigExtensions()[0]
    assert ext["memory_max"] == 64 << 20 and ext["pids_max"] == 6
    assert ext["cpu_max"] == "50000/100000" and ext["kill_mode"] == "cgroup"
    # stopped and reaped: every one of its cgroups is gone
    r = d.ctl("stop", "lim")
    assert "stopped" in r.stdout
    wait_until(lambda: not any(p.exists() for p in cg_dirs.values()), what="cgroups removed")
    assert "cgroups:" in d.mainlog()


CONF_KEYS = """
[program:web]
command=sleep 1000
memory_max=512MB
memory_high=400MB
cpu_max=50%
pids_max=64
kill_mode=cgroup
max_memory=300MB
max_cpu_percent=80
guard_window=30
guard_action=restart
"""


def test_check_config_validates_the_keys_and_the_reference_loads_them(make_daemon, tmp_path):
    d = make_daemon("rust", CONF_KEYS, start=False)
    ours = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "--json",
                           "-c", str(d.conf)], capture_output=True, text=True, timeout=30)
    report = json.loads(ours.stdout)
    codes = [f["code"] for f in report.get("findings", report.get("diagnostics", []))]
    assert "unknown-key" not in json.dumps(report), ours.stdout
    assert ours.returncode == 0 or "cgroup-unavailable" in codes, ours.stdout + ours.stderr
    # the reference ignores every one of them
    ref = subprocess.run([str(VENV / "bin" / "python"), "-c",
                          "import sys; from supervisor.options import ServerOptions as S; "
                          "o=S(); o.realize(['-c', sys.argv[1]]); "
                          "print([p.name for g in o.process_group_configs for p in g.process_configs])",
                          str(d.conf)], capture_output=True, text=True, timeout=30)
    assert ref.returncode == 0 and "['web']" in ref.stdout, ref.stdout + ref.stderr
    for bad, key in [("cpu_max=fast", "cpu_max"), ("memory_max=lots", "memory_max"),
                     ("kill_mode=tree", "kill_mode"), ("pids_max=0", "pids_max"),
                     ("guard_action=explode", "guard_action"), ("max_cpu_percent=-3", "max_cpu_percent"),
                     ("guard_window=0", "guard_window")]:
        conf = tmp_path / f"bad-{key}.conf"
        head = d.conf.read_text().split("[program:web]")[0]
        conf.write_text(head + f"[program:web]\ncommand=sleep 1\n{bad}\n")
        r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, (bad, r.stdout, r.stderr)
        both = r.stdout + r.stderr
        assert key in both and "program:web" in both, both


NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the daemon as an unprivileged user")
def test_keys_refused_when_the_daemon_cannot_write_its_cgroup():
    """A daemon without a writable cgroup (here: running as nobody) warns once at start and
    does not spawn a process with cgroup keys (spawnerr naming them); one without keys
    runs; --check-config warns about the same program."""
    import shutil
    import tempfile
    import conftest
    top = Path(tempfile.mkdtemp(prefix="h11-nobody-", dir="/tmp"))
    os.chmod(top, 0o777)
    try:
        _refused_as_nobody(conftest, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _refused_as_nobody(conftest, top):
    d = conftest.Daemon("rust", top / "d", """
[program:lim]
command=sleep 1000
pids_max=10
startsecs=0
startretries=0

[program:free]
command=sleep 1000
startsecs=0
""", start=False)
    os.chmod(d.dir, 0o777)
    out = open(d.dir / "daemon.out", "wb")
    proc = subprocess.Popen([str(IMPLS["rust"] / "supervisord"), "-n", "-c", str(d.conf)],
                            stdout=out, stderr=subprocess.STDOUT, cwd=str(d.dir),
                            user=NOBODY, group=NOBODY, start_new_session=True)
    try:
        def fatal():
            assert proc.poll() is None, d.output()
            return d.rpc(2).supervisor.getProcessInfo("lim")["statename"] == "FATAL"
        d.wait_for(fatal, timeout=20, what="lim FATAL")
        info = d.rpc().supervisor.getProcessInfo("lim")
        assert info["description"].startswith("cgroup keys of 'lim' (pids_max) cannot be applied: "), info
        assert d.rpc().supervisor.getProcessInfo("free")["statename"] == "RUNNING"
        log = d.mainlog()
        assert log.count("WARN cgroups unavailable:") == 1, log
        r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(d.conf)],
                           capture_output=True, text=True, timeout=30, user=NOBODY, group=NOBODY)
        assert r.returncode == 1 and "cgroup keys of 'lim' (pids_max) cannot be applied" in r.stdout + r.stderr, \
            r.stdout + r.stderr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        out.close()


STUBBORN = """#!/bin/sh
trap "" TERM
setsid sh -c 'trap "" TERM; echo $$ > "$1"; while :; do sleep 1; done' sh "$PWD/gc-stubborn.pid" &
while :; do sleep 1; done
"""


@needs_cgroup
def test_kill_mode_cgroup_sigkills_the_tree_after_stopwaitsecs(make_daemon, tmp_path):
    """Every process ignores SIGTERM: stopwaitsecs later the whole cgroup is SIGKILLed
    (cgroup.kill), the main process and the setsid grandchild alike."""
    script = tmp_path / "stubborn.sh"
    script.write_text(STUBBORN)
    script.chmod(0o755)
    d = make_daemon("rust", f"""
[program:stubborn]
command={script}
directory={tmp_path}
kill_mode=cgroup
stopwaitsecs=1
startsecs=0
autorestart=false
""")
    d.wait_state("stubborn", "RUNNING")
    gc_file = tmp_path / "gc-stubborn.pid"
    wait_until(lambda: gc_file.exists() and gc_file.read_text().strip(), what="grandchild pid")
    gc = int(gc_file.read_text())
    pid = d.rpc().supervisor.getProcessInfo("stubborn")["pid"]
    def state(p):
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]

    try:
        # an operator's signal is for the process, not the whole cgroup
        r = d.ctl("signal", "STOP", "stubborn")
        assert "signalled" in r.stdout, r.stdout + r.stderr
        wait_until(lambda: state(pid) == "T", what="the main process stopped")
        assert state(gc) != "T"
        d.ctl("signal", "CONT", "stubborn")
        wait_until(lambda: state(pid) != "T", what="the main process continued")
        t0 = time.time()
        r = d.ctl("stop", "stubborn")
        took = time.time() - t0
        assert r.stdout.strip() == "stubborn: stopped", r.stdout + r.stderr
        assert took >= 0.9, took  # TERM was ignored: the kill came after stopwaitsecs
        wait_until(lambda: not alive(gc) and not alive(pid), what="the tree to die")
        log = d.mainlog()
        assert "killing stubborn" in log and "SIGKILL" in log, log[-2000:]
    finally:
        for p in (gc, pid):
            try:
                os.kill(p, 9)
            except OSError:
                pass
