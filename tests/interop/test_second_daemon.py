"""A second supervisord started on the config of a running one (issue 12, item 7), and the
start-up error for a unix socket whose directory cannot hold it (issue 12, item 2).

The second daemon must be refused with the reference's usage error and exit status, and
leave the running daemon's files exactly as they were: its AUTO child logs (names and
content), its pid file, its main log and its socket. The reference clears the AUTO child
logs of the running daemon before it finds the address in use, so it fails this scenario:
our daemon binds (takes the instance lock) before anything touches a shared file.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import IMPLS, _die_with_test_process, free_port

ADDRESS_IN_USE = (
    "Error: Another program is already listening on a port that one of our HTTP servers is "
    "configured to use.  Shut this program down first before starting supervisord.\n"
    "For help, use {bin} -h\n"
)

PROGRAMS = """
[program:talker]
command=/bin/sh -c 'echo out-of-talker; echo err-of-talker >&2; exec /bin/sleep 1000'
startsecs=0
stdout_logfile=AUTO
stderr_logfile=AUTO

[program:second]
command=/bin/sh -c 'echo out-of-second; exec /bin/sleep 1000'
startsecs=0
"""

AUTO_NAME = re.compile(r".+?---supervisor-\S+\.log")


def auto_logs(d):
    """{file name: content} of the AUTO child logs in the daemon's childlogdir."""
    return {p.name: p.read_bytes() for p in d.dir.iterdir() if AUTO_NAME.fullmatch(p.name)}


def snapshot(d):
    """Everything a refused second daemon must leave alone."""
    pidfile = d.dir / "supervisord.pid"
    st = os.stat(d.sock)
    return {
        "auto": auto_logs(d),
        "pidfile": pidfile.read_bytes(),
        "mainlog": d.logfile.read_bytes(),
        "socket": (st.st_ino, st.st_mode),
        "lock": os.stat(str(d.sock) + ".lock").st_ino if d.impl == "rust" else None,
    }


def start_a(make_daemon, impl, inet=False):
    d = make_daemon(impl, PROGRAMS, inet_port=free_port() if inet else None)
    # every AUTO log has its program's line (second's stderr log is empty), and the main
    # log is quiet again
    d.wait_for(lambda: sorted(auto_logs(d).values()) == sorted(
        [b"out-of-talker\n", b"err-of-talker\n", b"out-of-second\n", b""]),
        what="AUTO log content")
    d.wait_for(lambda: all(p["statename"] == "RUNNING"
                           for p in d.rpc(5).supervisor.getAllProcessInfo()), what="RUNNING")
    time.sleep(0.3)
    return d


def run_b(d, daemonize=False):
    """Starts a second daemon on `d`'s config, in the foreground or (`daemonize`) as it would
    detach; returns (rc, stdout, stderr)."""
    args = ["-n", "-c", str(d.conf)]
    if daemonize:
        conf = d.dir / "detaching.conf"
        conf.write_text(d.conf.read_text().replace("nodaemon=true", "nodaemon=false"))
        args = ["-c", str(conf)]
    b = subprocess.Popen([str(d.bin_dir / "supervisord"), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=str(d.dir), start_new_session=True,
                         preexec_fn=_die_with_test_process)
    try:
        out, err = b.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        # it took the address over: stop it the normal way so it stops its children too
        os.kill(b.pid, signal.SIGTERM)
        b.communicate(timeout=20)
        pytest.fail("the second daemon did not refuse to start")
    if b.returncode == 0 and daemonize:
        # it detached: the running daemon was displaced; stop the newcomer by its pid
        pid, deadline = d.proc.pid, time.time() + 5
        while pid == d.proc.pid and time.time() < deadline:
            try:
                pid = int((d.dir / "supervisord.pid").read_text())
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        if pid != d.proc.pid:
            os.kill(pid, signal.SIGTERM)
        pytest.fail(f"the second daemon detached (pid {pid}) instead of refusing")
    return b.returncode, out, err


def reference_refusal(make_daemon, inet, daemonize):
    """The reference's exit status and stderr for the same scenario."""
    ref = start_a(make_daemon, "python", inet)
    rc, _out, err = run_b(ref, daemonize)
    ref.stop()
    return rc, err.replace(str(ref.bin_dir / "supervisord"), "{bin}")


@pytest.mark.parametrize("case", ["running", "sigstopped", "daemonizing", "inet"])
def test_second_daemon_leaves_running_daemon_alone(make_daemon, case):
    """Daemon A runs programs with AUTO stdout/stderr logs that have content; daemon B on
    the same config is refused with the reference's message and exit status (2), and A's
    AUTO logs (every file, same content), pid file, main log, socket and lock file are
    unchanged; A still answers with the same children. Also with A stopped (SIGSTOP) while
    B tries, with B about to detach (`nodaemon=false`: the refusal comes from the process
    started, before it forks), and with an `[inet_http_server]` too (its port is bound
    first). After A stops, the next start still clears A's old AUTO logs. The reference
    deletes A's AUTO logs here (then fails to bind): it fails this
    test."""
    stopped, daemonize, inet = case == "sigstopped", case == "daemonizing", case == "inet"
    ref_rc, ref_err = reference_refusal(make_daemon, inet, daemonize)
    assert ref_rc == 2 and ref_err == ADDRESS_IN_USE, (ref_rc, ref_err)

    a = start_a(make_daemon, "rust", inet)
    before = snapshot(a)
    assert len(before["auto"]) == 4, before["auto"]
    pids = {p["name"]: p["pid"] for p in a.rpc(5).supervisor.getAllProcessInfo()}
    if stopped:
        os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        rc, out, err = run_b(a, daemonize)
        took = time.time() - t0
        during = snapshot(a)
    finally:
        if stopped:
            os.kill(a.proc.pid, signal.SIGCONT)
    assert (rc, err) == (ref_rc, ref_err.replace("{bin}", str(a.bin_dir / "supervisord"))), \
        (rc, out, err)
    assert took < 5, took
    assert during == before
    state = a.rpc(5).supervisor.getState()
    assert state["statename"] == "RUNNING"
    assert {p["name"]: p["pid"] for p in a.rpc(5).supervisor.getAllProcessInfo()} == pids
    # A still writes its AUTO logs: the files it has open are the ones on disk
    assert a.rpc(5).supervisor.readProcessStdoutLog("talker", 0, 0) == "out-of-talker\n"
    assert snapshot(a) == before
    if case == "running":
        # once A is gone, the next start on the config does clear the old AUTO logs (the
        # cleanup now follows the bind) and makes new ones
        a.stop()
        a.start()
        a.wait_for(lambda: len(auto_logs(a)) == 4, what="new AUTO logs")
        assert not set(auto_logs(a)) & set(before["auto"]), (auto_logs(a), before["auto"])


def ctl_free_conf(tmp_path, sock_file):
    conf = tmp_path / "s.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/main.log\npidfile={tmp_path}/sd.pid\n"
        f"childlogdir={tmp_path}\nnodaemon=true\n"
        f"[unix_http_server]\nfile={sock_file}\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        "[program:a]\ncommand=/bin/sleep 100\n")
    return conf


def start_error(impl, conf, cwd):
    r = subprocess.run([str(IMPLS[impl] / "supervisord"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20, cwd=str(cwd),
                       preexec_fn=_die_with_test_process)
    return r.returncode, r.stderr.splitlines()


@pytest.mark.parametrize("case", ["missing", "missing-parent", "not-a-directory"])
def test_socket_directory_error_names_the_path(tmp_path, case):
    """The start-up error for a unix socket that cannot be created keeps the reference's
    first line and last line and exit status (2), and adds one line between them naming
    the directory and the config key. (The reference prints only `socket.error reported
    errno.ENOENT (2)`.)"""
    if case == "missing":
        where, sock, why, errno_ = tmp_path / "gone", tmp_path / "gone" / "s.sock", \
            "does not exist", "ENOENT (2)"
    elif case == "missing-parent":
        where, sock, why, errno_ = tmp_path / "gone", tmp_path / "gone" / "deeper" / "s.sock", \
            "does not exist", "ENOENT (2)"
    else:
        (tmp_path / "plain").write_text("")
        where, sock, why, errno_ = tmp_path / "plain", tmp_path / "plain" / "s.sock", \
            "is not a directory", "ENOTDIR (20)"
    conf = ctl_free_conf(tmp_path, sock)
    ref_rc, ref_lines = start_error("python", conf, tmp_path)
    rc, lines = start_error("rust", conf, tmp_path)
    first = f"Error: Cannot open an HTTP server: socket.error reported errno.{errno_}"
    assert ref_lines == [first, f"For help, use {IMPLS['python'] / 'supervisord'} -h"]
    assert rc == ref_rc == 2
    assert lines == [
        first,
        f"the directory '{where}' of [unix_http_server] file={sock} {why}",
        f"For help, use {IMPLS['rust'] / 'supervisord'} -h",
    ]
    # nothing was started: no pid file, no lock file left behind
    assert not (tmp_path / "sd.pid").exists()
    assert not Path(str(sock) + ".lock").exists()
