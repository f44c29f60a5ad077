"""Our daemon as PID 1 of a new pid namespace (`unshare --pid --fork --mount-proc`), and as a
child subreaper without one (issue 17): orphans reaped quietly and fast, SIGTERM honoured
(also while starting), `critical = true` and `exit_when_done = true` ending the namespace
with the documented statuses. The configs also load under the Python reference (which
ignores the keys)."""

import os
import re
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import PY_BIN, RUST_BIN, rpc_proxy


def _unshare_works():
    try:
        r = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "true"],
            capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare cannot run: {e}"
    if r.returncode != 0:
        return f"unshare --pid is not permitted here: {r.stderr.decode(errors='replace').strip()}"
    return None


UNSHARE_PROBLEM = _unshare_works()
needs_unshare = pytest.mark.skipif(UNSHARE_PROBLEM is not None, reason=UNSHARE_PROBLEM or "")


def write_conf(d, body, supervisord_extra=""):
    d.mkdir(parents=True, exist_ok=True)
    sock = d / "supervisor.sock"
    conf = d / "supervisord.conf"
    conf.write_text(textwrap.dedent(f"""\
        [unix_http_server]
        file={sock}

        [supervisord]
        logfile={d / 'supervisord.log'}
        pidfile={d / 'supervisord.pid'}
        childlogdir={d}
        nodaemon=true
        loglevel=debug
        {supervisord_extra}

        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

        """) + textwrap.dedent(body))
    return conf, sock


def reference_loads(conf):
    """The Python reference parses the same file (it ignores our keys)."""
    r = subprocess.run(
        [str(PY_BIN / "python"), "-c",
         "import sys\nfrom supervisor.options import ServerOptions\n"
         "o = ServerOptions()\no.realize(['-c', sys.argv[1]])\n"
         "print(sorted(p.name for g in o.process_group_configs for p in g.process_configs))",
         str(conf)],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout


def children_of(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[:-1]
    except OSError:
        return None


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def status_field(pid, name):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def wait_until(pred, timeout, what, interval=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class Namespaced:
    """`unshare --pid --fork --mount-proc --kill-child supervisord -n -c conf`: our daemon is
    PID 1 of the new namespace; `host_pid` is its pid as seen from here."""

    def __init__(self, d, conf, sock, wait_running=True, bin_dir=RUST_BIN, args=("-n",)):
        self.dir, self.conf, self.sock = d, conf, sock
        self.out = open(d / "daemon.out", "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
             str(bin_dir / "supervisord"), *args, "-c", str(conf)],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=str(d), start_new_session=True)
        self.host_pid = wait_until(lambda: (children_of(self.proc.pid) or [None])[0], 10,
                                   "the daemon to be forked", interval=0.001)
        if wait_running:
            self.wait_running()

    def wait_running(self):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.output()}")
            try:
                return rpc_proxy(self.sock, 2).supervisor.getState()["statename"] == "RUNNING"
            except Exception:
                return False
        wait_until(up, 20, "the daemon to run")

    def rpc(self):
        return rpc_proxy(self.sock, 10)

    def mainlog(self):
        try:
            return (self.dir / "supervisord.log").read_text(errors="replace")
        except OSError:
            return ""

    def output(self):
        return (self.dir / "daemon.out").read_text(errors="replace") + self.mainlog()

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the namespace did not end: {self.output()[-3000:]}")

    def close(self):
        if self.proc.poll() is None:
            # --kill-child: SIGKILL to unshare's child when unshare goes
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.out.close()


@pytest.fixture
def namespaced(tmp_path):
    started = []

    def factory(body, supervisord_extra="", name="ns", wait_running=True, bin_dir=RUST_BIN):
        conf, sock = write_conf(tmp_path / name, body, supervisord_extra)
        n = Namespaced(tmp_path / name, conf, sock, wait_running, bin_dir)
        started.append(n)
        return n

    yield factory
    for n in started:
        n.close()


# The supervised program forks a subshell that starts `sleep 1.5` in the background and
# exits at once: the sleep is an orphan, re-parented to PID 1 (or to the subreaper).
ORPHAN_MAKER = """\
    [program:forker]
    command=/bin/sh -c '( exec sleep 1.5 & ) && exec sleep 1000'
    startsecs=0
    """


def find_orphan(daemon_pid):
    def look():
        for c in children_of(daemon_pid):
            if cmdline(c) == [b"sleep", b"1.5"]:
                return c
        return None
    return wait_until(look, 10, "the orphan to be re-parented", interval=0.002)


def assert_reaped_fast(orphan):
    """The orphan exits by itself; from the moment it is a zombie until it is gone
    (reaped) must take less than 100 ms."""
    zombie_at = None
    deadline = time.time() + 5
    while time.time() < deadline:
        st = proc_state(orphan)
        now = time.monotonic()
        if st is None:
            break
        if st == "Z" and zombie_at is None:
            zombie_at = now
        time.sleep(0.001)
    else:
        raise AssertionError("the orphan was not reaped within 5 s")
    gone_at = time.monotonic()
    if zombie_at is not None:
        assert gone_at - zombie_at < 0.1, f"reaped {gone_at - zombie_at:.3f}s after it exited"
    return (gone_at - zombie_at) if zombie_at else 0.0


def assert_quiet_about(log, nspid):
    lines = [l for l in log.splitlines() if re.search(rf"\bpid {nspid}\b", l)]
    assert any(" DEBG reaped unknown pid " in l for l in lines), log[-2000:]
    loud = [l for l in lines if re.search(r" (INFO|WARN|ERRO|CRIT) ", l)]
    assert not loud, loud


@needs_unshare
def test_pid1_reaps_a_double_forked_orphan_fast_and_quietly(namespaced):
    n = namespaced(ORPHAN_MAKER)
    assert status_field(n.host_pid, "NSpid").split()[-1] == "1"  # we are PID 1 there
    orphan = find_orphan(n.host_pid)
    nspid = status_field(orphan, "NSpid").split()[-1]
    assert int(status_field(orphan, "PPid")) == n.host_pid
    assert_reaped_fast(orphan)
    wait_until(lambda: f"reaped unknown pid {nspid} " in n.mainlog(), 5, "the DEBG line")
    assert_quiet_about(n.mainlog(), nspid)
    # still running and serving
    assert n.rpc().supervisor.getProcessInfo("forker")["statename"] == "RUNNING"
    os.kill(n.host_pid, signal.SIGTERM)
    assert n.wait_exit() == 0


@needs_unshare
def test_sigterm_to_pid1_stops_every_child_and_exits_0(namespaced):
    n = namespaced("""\
        [program:a]
        command=/bin/sleep 1000
        startsecs=0
        [program:b]
        command=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
        startsecs=0
        [program:c]
        command=/bin/sleep 1000
        startsecs=0
        priority=10
        """)
    kids = children_of(n.host_pid)
    assert len(kids) == 3, kids
    os.kill(n.host_pid, signal.SIGTERM)
    assert n.wait_exit() == 0
    log = n.mainlog()
    assert "received SIGTERM indicating exit request" in log
    for name in ("a", "b", "c"):
        assert re.search(rf"stopped: {name} \(", log), log[-2000:]
    # in order: c (priority 10) is stopped after a and b (999)
    assert log.index("stopped: c (") > max(log.index("stopped: a ("), log.index("stopped: b ("))
    for k in kids:
        assert proc_state(k) in (None, "Z") or not os.path.exists(f"/proc/{k}")


@needs_unshare
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT])
def test_sigint_and_sigquit_shut_down_too(namespaced, sig):
    n = namespaced("[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n", name=f"s{int(sig)}")
    os.kill(n.host_pid, sig)
    assert n.wait_exit() == 0
    assert "stopped: a (terminated by SIGTERM)" in n.mainlog()


@needs_unshare
def test_sigterm_while_starting_is_not_lost(namespaced):
    n = namespaced("[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n", wait_running=False)
    # As soon as the daemon has its signals blocked (first thing in main), and before it
    # is up: an unhandled SIGTERM to PID 1 would simply vanish.
    # (unshare's child blocks SIGTERM itself between fork and exec: wait for our binary.)
    def blocked_by_us():
        argv = cmdline(n.host_pid) or [b""]
        blk = int(status_field(n.host_pid, "SigBlk") or "0", 16)
        return argv[0].endswith(b"supervisord") and blk & (1 << 14)
    wait_until(blocked_by_us, 10, "the signals to be blocked", interval=0.0005)
    os.kill(n.host_pid, signal.SIGTERM)
    assert n.wait_exit(timeout=20) == 0
    assert "received SIGTERM indicating exit request" in n.mainlog()


@needs_unshare
def test_critical_program_ends_the_namespace_with_its_status(namespaced, tmp_path):
    body = """\
        [program:app]
        command=/bin/sh -c 'sleep 0.5; exit 7'
        critical=true
        autorestart=false
        startsecs=0
        [program:helper]
        command=/bin/sleep 1000
        startsecs=0
        """
    n = namespaced(body)
    assert n.wait_exit() == 7
    log = n.mainlog()
    assert re.search(r" CRIT critical program app exited and will not be restarted "
                     r"\(exit status 7\); shutting down \(exit status 7\)", log), log[-2000:]
    assert "stopped: helper (terminated by SIGTERM)" in log
    reference_loads(n.conf)


@needs_unshare
def test_critical_fatal_ends_with_status_3(namespaced):
    n = namespaced("""\
        [program:broken]
        command=/nonexistent/binary
        critical=true
        startretries=0
        """, wait_running=False)
    assert n.wait_exit() == 3
    assert re.search(r" CRIT critical program broken entered FATAL state", n.mainlog())


@needs_unshare
def test_exit_when_done_exits_0_when_every_program_ended_as_expected(namespaced):
    n = namespaced("""\
        [program:one]
        command=/bin/sh -c 'sleep 0.3'
        autorestart=false
        startsecs=0
        [program:two]
        command=/bin/sh -c 'sleep 0.6; exit 2'
        exitcodes=0,2
        autorestart=false
        startsecs=0
        """, supervisord_extra="exit_when_done=true", wait_running=False)
    assert n.wait_exit() == 0
    assert "exit_when_done: every program is done; shutting down (exit status 0)" in n.mainlog()
    reference_loads(n.conf)


@needs_unshare
def test_exit_when_done_exits_1_when_a_program_failed(namespaced):
    n = namespaced("""\
        [program:ok]
        command=/bin/true
        autorestart=false
        startsecs=0
        [program:bad]
        command=/bin/sh -c 'sleep 0.3; exit 3'
        autorestart=false
        startsecs=0
        """, supervisord_extra="exit_when_done=true", wait_running=False)
    assert n.wait_exit() == 1
    assert "not all as expected: bad (exit status 3)" in n.mainlog()


def test_subreaper_without_a_namespace(make_daemon):
    d = make_daemon("rust", ORPHAN_MAKER, extra_sections="")
    # make_daemon writes its own [supervisord]; add the key there and restart it
    d.stop()
    text = d.conf.read_text().replace("loglevel=debug\n", "loglevel=debug\nsubreaper=true\n", 1)
    d.conf.write_text(text)
    d.start()
    assert "set as child subreaper" in d.mainlog()
    orphan = find_orphan(d.proc.pid)
    assert int(status_field(orphan, "PPid")) == d.proc.pid
    assert_reaped_fast(orphan)
    wait_until(lambda: f"reaped unknown pid {orphan} " in d.mainlog(), 5, "the DEBG line")
    assert_quiet_about(d.mainlog(), orphan)
    reference_loads(d.conf)


def test_without_subreaper_orphans_go_elsewhere(make_daemon):
    d = make_daemon("rust", ORPHAN_MAKER)
    assert "child subreaper" not in d.mainlog()
    # the orphan is not re-parented to us
    time.sleep(0.3)
    assert not any(cmdline(c) == [b"sleep", b"1.5"] for c in children_of(d.proc.pid))


def test_critical_is_listed_by_the_config_extensions(make_daemon):
    d = make_daemon("rust", """\
        [program:app]
        command=/bin/sleep 1000
        critical=true
        [program:side]
        command=/bin/sleep 1000
        """)
    rows = {r["name"]: r for r in d.rpc().supervisor_rs.getAllConfigExtensions()}
    assert rows["app"]["critical"] is True
    assert rows["side"]["critical"] is False


LONG_ORPHAN = """\
    [program:forker]
    command=/bin/sh -c '( exec sleep 1001 & ) && exec sleep 1000'
    startsecs=0
    """


def find_long_orphan(daemon_pid):
    def look():
        for c in children_of(daemon_pid):
            if cmdline(c) == [b"sleep", b"1001"]:
                return c
        return None
    return wait_until(look, 10, "the orphan to be re-parented", interval=0.005)


@needs_unshare
def test_orphans_left_at_shutdown_get_sigterm(namespaced):
    n = namespaced(LONG_ORPHAN)
    find_long_orphan(n.host_pid)
    started = time.monotonic()
    os.kill(n.host_pid, signal.SIGTERM)
    assert n.wait_exit() == 0
    assert time.monotonic() - started < 5
    assert "sending SIGTERM to 1 orphaned process(es) left" in n.mainlog(), n.mainlog()[-2000:]


def test_subreaper_ends_adopted_orphans_at_shutdown(make_daemon):
    d = make_daemon("rust", LONG_ORPHAN)
    d.stop()
    d.conf.write_text(d.conf.read_text().replace("loglevel=debug\n",
                                                 "loglevel=debug\nsubreaper=true\n", 1))
    d.start()
    orphan = find_long_orphan(d.proc.pid)
    d.stop()
    assert d.proc.returncode == 0
    # without the subreaper's clean-up it would live on, adopted by init
    wait_until(lambda: proc_state(orphan) is None, 5, "the orphan to be gone")
    assert "sending SIGTERM to 1 orphaned process(es) left" in d.mainlog()


def test_sigterm_right_after_sighup_is_not_lost(make_daemon):
    d = make_daemon("rust", "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    # as soon as the restart is under way (the window between two runs of the loop)
    wait_until(lambda: "indicating restart request" in d.mainlog(), 10, "the restart",
               interval=0.001)
    os.kill(d.proc.pid, signal.SIGTERM)
    assert d.proc.wait(timeout=20) == 0
    assert "received SIGTERM indicating exit request" in d.mainlog()


@needs_unshare
def test_the_reference_as_pid1_logs_orphans_at_info(namespaced):
    """What docs/COMPATIBILITY.md says of the reference: it reaps the orphan too, but logs
    it at INFO (ours: DEBUG only, see the first test)."""
    n = namespaced(ORPHAN_MAKER, bin_dir=PY_BIN)
    orphan = find_orphan(n.host_pid)
    nspid = status_field(orphan, "NSpid").split()[-1]
    wait_until(lambda: f"reaped unknown pid {nspid}" in n.mainlog(), 10, "the reference's line")
    assert re.search(rf" INFO reaped unknown pid {nspid}\b", n.mainlog()), n.mainlog()[-1500:]
    os.kill(n.host_pid, signal.SIGTERM)
    assert n.wait_exit() == 0


@needs_unshare
def test_pid1_stays_in_the_foreground_without_nodaemon(tmp_path):
    """Daemonizing as PID 1 would end the namespace (the first process exits): the daemon
    stays in the foreground and runs as usual."""
    d = tmp_path / "fg"
    conf, sock = write_conf(d, "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
    conf.write_text(conf.read_text().replace("nodaemon=true\n", "nodaemon=false\n", 1))
    n = Namespaced(d, conf, sock, args=())
    try:
        assert n.proc.poll() is None
        assert n.rpc().supervisor.getProcessInfo("a")["statename"] == "RUNNING"
        assert "running as PID 1: staying in the foreground" in n.mainlog()
        assert (d / "supervisord.pid").read_text().strip() == "1"
        os.kill(n.host_pid, signal.SIGTERM)
        assert n.wait_exit() == 0
    finally:
        n.close()


@needs_unshare
def test_critical_killed_by_a_signal_ends_with_128_plus_signal(namespaced):
    n = namespaced("""\
        [program:app]
        command=/bin/sh -c 'sleep 0.3 && kill -9 $$'
        critical=true
        startsecs=0
        autorestart=false
        """, wait_running=False)
    assert n.wait_exit() == 128 + 9
    assert "critical program app exited and will not be restarted (terminated by SIGKILL)" \
        in n.mainlog()
