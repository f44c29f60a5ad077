"""The reference `supervisorctl` against both daemons: the same command sequence must print
the same thing and exit the same way on ours as on the reference daemon (after normalising
pids, uptimes, dates and temp paths). This checks the daemon side of every ctl command."""

import re
import signal
import subprocess
import time

import pytest

from conftest import IMPLS, free_port

PY_CTL = str(IMPLS["python"] / "supervisorctl")

PROGRAMS = """
[program:cat]
command=/bin/cat
startsecs=0

[program:sleeper]
command=/bin/sleep 1000
numprocs=2
process_name=%(program_name)s_%(process_num)02d
startsecs=0
autostart=false

[program:nofile]
command=/nonexistent/program
autostart=false

[group:grp]
programs=sleeper
"""


def norm(text, d):
    text = text.replace(str(d.dir), "<DIR>")
    text = re.sub(r"pid \d+", "pid P", text)
    text = re.sub(r"^\d+$", "PID", text, flags=re.M)
    text = re.sub(r"uptime \d+:\d\d:\d\d", "uptime U", text)
    text = re.sub(r"[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M", "DATE", text)
    text = re.sub(r"---supervisor-[A-Za-z0-9_]+\.log", "---supervisor-X.log", text)
    return text


def run(d, *args, extra=()):
    r = d.ctl(*args, extra=extra, timeout=60)
    out = norm(r.stdout, d)
    if args and args[0] == "stop":
        # Waited stops are reported in the order the processes happen to exit (on the
        # reference too): compare them as a set of lines.
        out = "".join(sorted(out.splitlines(keepends=True)))
    return (args, r.returncode, out, norm(r.stderr, d))


def assert_all_equal(ref, ours):
    """Reports every differing command at once (later commands depend on earlier ones, so
    the first difference is the one to look at)."""
    diffs = [f"{a[0]}:\n  reference: {a[1:]!r}\n  ours:      {b[1:]!r}"
             for a, b in zip(ref, ours) if a != b]
    assert not diffs, "\n".join(diffs)


SEQUENCE = [
    ("status",),
    ("status", "cat", "grp:*", "nosuch"),
    ("start", "nosuch"),
    ("start", "nofile"),
    ("start", "grp:*"),
    ("start", "cat"),
    ("status",),
    ("pid",),
    ("pid", "cat"),
    ("pid", "nosuch"),
    ("signal", "HUP", "grp:sleeper_00"),
    ("signal", "BOGUS", "cat"),
    ("signal", "USR1", "nofile"),
    ("stop", "grp:"),
    ("stop", "grp:sleeper_00"),
    ("restart", "cat"),
    ("clear", "cat"),
    ("clear", "all"),
    ("tail", "cat"),
    ("tail", "cat", "stderr"),
    ("tail", "-5", "cat"),
    ("tail", "nofile"),
    ("avail",),
    ("reread",),
    ("update",),
    ("remove", "nofile"),
    ("remove", "nofile"),
    ("add", "nofile"),
    ("add", "nofile"),
    ("stop", "all"),
    ("start", "all"),
    ("status",),
    ("version",),
]


def test_command_sequence_matches_reference(make_daemon):
    daemons = [make_daemon(impl, PROGRAMS, name=impl) for impl in ["python", "rust"]]
    results = []
    for d in daemons:
        d.rpc().supervisor.sendProcessStdin("cat", "hello from cat\n")
        d.wait_for(lambda: d.rpc().supervisor.readProcessStdoutLog("cat", 0, 0), what="cat output")
        results.append([run(d, *cmd) for cmd in SEQUENCE])
    assert_all_equal(*results)


def test_reread_update_after_config_change_matches(make_daemon):
    daemons = [make_daemon(impl, PROGRAMS, name=impl) for impl in ["python", "rust"]]
    results = []
    for d in daemons:
        text = d.conf.read_text()
        text = text.replace("[program:nofile]\ncommand=/nonexistent/program\nautostart=false\n", "")
        text += "\n[program:added]\ncommand=/bin/cat\nstartsecs=0\n"
        text = text.replace("command=/bin/sleep 1000", "command=/bin/sleep 999")
        d.conf.write_text(text)
        results.append([run(d, *cmd) for cmd in [
            ("reread",), ("avail",), ("update",), ("status",), ("reread",)]])
    assert_all_equal(*results)


def test_maintail_and_tail_follow(make_daemon):
    for impl in ["python", "rust"]:
        d = make_daemon(impl, PROGRAMS, name=impl)
        r = d.ctl("maintail", "-5000")
        assert r.returncode == 0
        assert "supervisord started" in r.stdout
        d.rpc().supervisor.sendProcessStdin("cat", "followed line\n")
        p = subprocess.Popen([PY_CTL, "-c", str(d.conf), "tail", "-f", "cat"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(d.dir))
        try:
            deadline = time.time() + 10
            out = b""
            import os
            os.set_blocking(p.stdout.fileno(), False)
            while b"followed line" not in out and time.time() < deadline:
                chunk = p.stdout.read()
                if chunk:
                    out += chunk
                time.sleep(0.05)
            assert b"followed line" in out, (impl, out)
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.mark.parametrize("impl", ["python", "rust"])
def test_server_url_with_credentials(make_daemon, impl):
    port = free_port()
    d = make_daemon(impl, PROGRAMS, extra_sections=f"""
[inet_http_server]
port=127.0.0.1:{port}
username=admin
password=secret
""")
    url = f"http://127.0.0.1:{port}"
    r = d.ctl("status", "cat", extra=("-s", url, "-u", "admin", "-p", "secret"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RUNNING" in r.stdout
    r = d.ctl("status", "cat", extra=("-s", url, "-u", "admin", "-p", "wrong"))
    assert "Server requires authentication" in r.stdout


@pytest.mark.parametrize("impl", ["python", "rust"])
def test_shutdown_and_reload(make_daemon, impl):
    d = make_daemon(impl, PROGRAMS)
    r = d.ctl("reload")
    assert r.stdout == "Restarted supervisord\n"
    d.wait_for(lambda: d.rpc(2).supervisor.getState()["statename"] == "RUNNING",
               what="running again after reload")
    d.wait_state("cat", "RUNNING")
    r = d.ctl("shutdown")
    assert r.stdout == "Shut down\n"
    d.proc.wait(timeout=20)
