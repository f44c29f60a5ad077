"""Thousands of programs within a normal descriptor limit (issue 16 item 4).

Every program has AUTO stdout and stderr logs. The daemon runs under RLIMIT_NOFILE = 4 per
program (20,000 for 5,000 programs): before the bounded cache of open log files
(logs/filecache.rs) a running child cost 5 descriptors (3 pipe ends, 2 log files), so this
limit could not be met. The daemon's descriptors, counted in /proc/<pid>/fd, must stay within
the budget documented in docs/benchmarks.md: 3 per running child (stdin, stdout and stderr
pipes) plus at most 256 open log files plus a small fixed part.

Sizes: 5,000 programs with the release binary (set SUPERVISOR_RS_RELEASE_BIN_DIR, e.g.
target/release); 2,000 with the debug build otherwise, to stay within ~30 s.
"""

import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Daemon, _die_with_test_process

RELEASE = os.environ.get("SUPERVISOR_RS_RELEASE_BIN_DIR")
N = 5000 if RELEASE else 2000
CACHE = 256  # logs::filecache::DEFAULT_CAPACITY
FIXED = 64  # main log, sockets, epoll, signal pipe, /dev/null slots ...
SLEEP = shutil.which("sleep") or "/bin/sleep"
TALKERS = 300  # more than the cache holds: their files are closed and opened again


def body():
    parts = []
    for i in range(N):
        parts.append(f"[program:p{i:05d}]\ncommand={SLEEP} 1000\nstartsecs=0\n"
                     "autorestart=false\nstopsignal=KILL\n")
    # Programs that write to both channels twice, a while apart: between their writes the
    # other talkers' files push theirs out of the cache.
    for i in range(TALKERS):
        parts.append(
            f"[program:t{i:03d}]\n"
            f"command=/bin/sh -c 'echo out1-{i}; echo err1-{i} >&2; sleep 3; "
            f"echo out2-{i}; echo err2-{i} >&2; exec {SLEEP} 1000'\n"
            "startsecs=0\nautorestart=false\nstopsignal=KILL\n")
    return "\n".join(parts)


def start_limited(d, limit):
    def pre():
        _die_with_test_process()
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    bin_dir = Path(RELEASE) if RELEASE else d.bin_dir
    d.out = open(d.dir / "daemon.out", "wb")
    d.proc = subprocess.Popen(
        [str(bin_dir / "supervisord"), "-n", "-c", str(d.conf)],
        stdout=d.out, stderr=subprocess.STDOUT, cwd=str(d.dir),
        start_new_session=True, preexec_fn=pre)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_thousands_of_programs_with_auto_logs_fit_in_four_descriptors_each(tmp_path):
    total = N + TALKERS
    limit = 4 * N
    d = Daemon("rust", tmp_path / "many", body(), start=False)
    d.conf.write_text(d.conf.read_text().replace("loglevel=debug", "loglevel=info"))
    start_limited(d, limit)
    pids = []
    try:
        t0 = time.monotonic()

        def all_running():
            infos = d.rpc(60).supervisor.getAllProcessInfo()
            return len(infos) == total and all(i["statename"] == "RUNNING" for i in infos)

        d.wait_for(all_running, timeout=120, interval=0.5, what=f"{total} RUNNING")
        t_running = time.monotonic() - t0
        infos = d.rpc(60).supervisor.getAllProcessInfo()
        pids = [i["pid"] for i in infos]
        assert not [i for i in infos if i["spawnerr"]]
        assert "too many open files" not in d.mainlog()

        # Every AUTO log exists, in childlogdir, under the reported name.
        paths = {i["stdout_logfile"] for i in infos} | {i["stderr_logfile"] for i in infos}
        assert len(paths) == 2 * total
        assert all(os.path.exists(p) for p in list(paths)[:: max(1, total // 50)])

        # The talkers' second lines reach the same files after theirs were closed.
        def talked():
            for i in range(0, TALKERS, 7):
                name = f"t{i:03d}"
                out = d.rpc().supervisor.readProcessStdoutLog(name, 0, 0)
                err = d.rpc().supervisor.readProcessStderrLog(name, 0, 0)
                if out != f"out1-{i}\nout2-{i}\n" or err != f"err1-{i}\nerr2-{i}\n":
                    return False
            return True

        d.wait_for(talked, timeout=30, interval=0.5, what="the talkers' second lines")

        fds = fd_count(d.proc.pid)
        budget = 3 * total + CACHE + FIXED
        rss = rss_mib(d.proc.pid)
        print(f"\n{total} programs RUNNING after {t_running:.1f} s under RLIMIT_NOFILE={limit}; "
              f"daemon fds {fds} (budget {budget}), RSS {rss:.1f} MiB")
        assert fds <= budget, (fds, budget)
        assert fds <= limit - 32
        # The target is 40 MiB at 5,000 (release); measured 52-69 MiB (docs/
        # benchmarks.md), so this only guards against a regression beyond that.
        assert rss <= (80.0 if RELEASE else 120.0), rss

        # They keep running.
        time.sleep(1.0)
        infos = d.rpc(60).supervisor.getAllProcessInfo()
        assert sum(i["statename"] == "RUNNING" for i in infos) == total

        # And they can be stopped, all of them.
        d.rpc(120).supervisor.stopAllProcesses()
        infos = d.rpc(60).supervisor.getAllProcessInfo()
        assert all(i["statename"] == "STOPPED" for i in infos), {
            i["statename"] for i in infos}
        assert fd_count(d.proc.pid) <= CACHE + FIXED
    finally:
        d.stop()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def fd_target(pid, fd):
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def test_a_channel_nobody_reads_gets_dev_null_instead_of_a_pipe(make_daemon):
    body = f"""
        [program:none]
        command={SLEEP} 1000
        stdout_logfile=NONE
        stderr_logfile=NONE
        startsecs=0

        [program:none_redirect]
        command={SLEEP} 1000
        stdout_logfile=NONE
        redirect_stderr=true
        startsecs=0

        [program:events]
        command={SLEEP} 1000
        stdout_logfile=NONE
        stderr_logfile=NONE
        stdout_events_enabled=true
        startsecs=0

        [program:capture]
        command={SLEEP} 1000
        stdout_logfile=NONE
        stderr_logfile=NONE
        stderr_capture_maxbytes=1KB
        startsecs=0

        [program:logged]
        command={SLEEP} 1000
        stderr_logfile=NONE
        startsecs=0
    """
    d = make_daemon("rust", body, start=False)
    d.conf.write_text(d.conf.read_text().replace("loglevel=debug", "loglevel=info"))
    d.start()
    names = ["none", "none_redirect", "events", "capture", "logged"]
    for n in names:
        d.wait_state(n, "RUNNING")
    pid = {n: d.rpc().supervisor.getProcessInfo(n)["pid"] for n in names}
    null = "/dev/null"
    assert fd_target(pid["none"], 1) == null and fd_target(pid["none"], 2) == null
    assert fd_target(pid["none_redirect"], 1) == null
    assert fd_target(pid["none_redirect"], 2) == null
    # PROCESS_LOG events need stdout's bytes; stderr's are needed by nobody.
    assert fd_target(pid["events"], 1).startswith("pipe:")
    assert fd_target(pid["events"], 2) == null
    # Capture mode scans stderr.
    assert fd_target(pid["capture"], 1) == null
    assert fd_target(pid["capture"], 2).startswith("pipe:")
    assert fd_target(pid["logged"], 1).startswith("pipe:")
    assert fd_target(pid["logged"], 2) == null
    # stdin stays a pipe (sendProcessStdin).
    assert fd_target(pid["none"], 0).startswith("pipe:")
    assert d.rpc().supervisor.sendProcessStdin("none", "x") is True


def test_at_debug_level_every_channel_keeps_its_pipe(make_daemon):
    # The main log copies child output at debug: no channel is left unread.
    d = make_daemon("rust", f"""
        [program:none]
        command={SLEEP} 1000
        stdout_logfile=NONE
        stderr_logfile=NONE
        startsecs=0
    """)
    d.wait_state("none", "RUNNING")
    pid = d.rpc().supervisor.getProcessInfo("none")["pid"]
    assert fd_target(pid, 1).startswith("pipe:")
    assert fd_target(pid, 2).startswith("pipe:")
