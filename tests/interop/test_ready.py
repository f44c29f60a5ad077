"""`ready=` readiness checks with real children (issue 14 item 1).

A process with `ready=` enters RUNNING when its check passes, not after `startsecs`:
tcp, http, exec, log and notify checks; `ready_timeout` makes a failed start (BACKOFF,
retries, FATAL with a spawnerr naming the check and the reason); `startProcess(wait=True)`
and `supervisorctl start` return only when the program is ready. The same configs load
under the Python reference, which ignores the keys.
"""

import datetime
import os
import shutil
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

PY = sys.executable


def script(d, name, text):
    p = Path(d) / name
    p.write_text(textwrap.dedent(text))
    return p


def log_time(mainlog, needle):
    """The time (epoch seconds) of the first main-log line containing `needle`."""
    for line in mainlog.splitlines():
        if needle in line:
            stamp = line[:23]
            t = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            return t.timestamp()
    raise AssertionError(f"{needle!r} not in the main log:\n{mainlog[-3000:]}")


def info(d, name):
    return d.rpc(10).supervisor.getProcessInfo(name)


# ---- tcp: a "database" that opens its port after 2 s --------------------------------------

DB = """\
    import socket, sys, time
    time.sleep(float(sys.argv[2]))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(16)
    open(sys.argv[3], "w").write(repr(time.time()))
    while True:
        c, _ = s.accept()
        c.close()
"""


@pytest.mark.parametrize("client", ["python", "rust"])
def test_tcp_ready_only_after_the_port_is_open(make_daemon, tmp_path, client):
    port = free_port()
    db = script(tmp_path, "db.py", DB)
    opened = tmp_path / "opened"
    d = make_daemon("rust", f"""\
        [program:db]
        command={PY} {db} {port} 2 {opened}
        autostart=false
        startsecs=0
        ready=tcp://127.0.0.1:{port}
        ready_interval=0.2
        """)
    t0 = time.time()
    # supervisorctl (the reference's and ours): `start` returns when the program is ready.
    proc_start = d.ctl("start", "db", timeout=30, impl=client)
    elapsed = time.time() - t0
    assert proc_start.stdout.strip() == "db: started", proc_start
    assert elapsed >= 1.9, f"start returned after {elapsed:.2f}s, before the port opened"
    assert opened.exists()
    i = info(d, "db")
    assert i["statename"] == "RUNNING"
    assert i["description"].startswith(f"pid {i['pid']}, uptime")
    log = d.mainlog()
    assert "success: db entered RUNNING state, ready check passed " \
           f"(tcp://127.0.0.1:{port})" in log, log
    # RUNNING within one ready_interval (+ slack for a loaded machine) of the port opening.
    lag = log_time(log, "success: db entered RUNNING") - float(opened.read_text())
    assert -0.01 <= lag < 0.2 + 0.5, f"port open -> RUNNING took {lag:.3f}s"
    print(f"tcp: port open -> RUNNING {lag * 1000:.0f} ms")


def test_waiting_description_and_event_order(make_daemon, tmp_path):
    port = free_port()
    db = script(tmp_path, "db.py", DB)
    d = make_daemon("rust", f"""\
        [program:db]
        command={PY} {db} {port} 1.5 {tmp_path / 'opened'}
        ready=tcp://127.0.0.1:{port}
        ready_interval=0.1
        """, inet_port=free_port())
    d.wait_for(lambda: "connection refused" in info(d, "db")["description"],
               timeout=10, what="the failure in the description")
    i = info(d, "db")
    assert i["statename"] == "STARTING"
    assert i["pid"] > 0
    assert i["description"] == f"not ready yet: tcp://127.0.0.1:{port} (connection refused)"
    # supervisorctl status shows it too, and so does the web UI.
    out = d.ctl("status", "db").stdout
    assert "STARTING" in out and "not ready yet: tcp://" in out, out
    page = urllib.request.urlopen(f"http://127.0.0.1:{d.inet_port}/", timeout=10).read()
    assert b"not ready yet: tcp://127.0.0.1:" in page
    d.wait_state("db", "RUNNING", timeout=15)


# ---- log: ---------------------------------------------------------------------------------

def test_log_ready_on_a_line_printed_later_independent_of_the_log_file(make_daemon, tmp_path):
    app = script(tmp_path, "app.py", """\
        import sys, time
        print("booting", flush=True)
        time.sleep(1.0)
        sys.stderr.write("partial ")
        sys.stderr.flush()
        time.sleep(0.2)
        t = time.time()
        sys.stderr.write("ready to serve on 8080\\n")
        sys.stderr.flush()
        open(sys.argv[1], "w").write(repr(t))
        time.sleep(60)
    """)
    printed = tmp_path / "printed"
    d = make_daemon("rust", f"""\
        [program:app]
        command={PY} {app} {printed}
        autostart=false
        stdout_logfile=NONE
        stderr_logfile=NONE
        ready=log:^partial ready to serve on \\d+$
        """)
    t0 = time.time()
    assert d.rpc(30).supervisor.startProcess("app", True) is True
    elapsed = time.time() - t0
    assert elapsed >= 1.1, f"startProcess(wait) returned after {elapsed:.2f}s"
    assert info(d, "app")["statename"] == "RUNNING"
    lag = log_time(d.mainlog(), "success: app entered RUNNING") - float(printed.read_text())
    assert lag < 0.5, f"line printed -> RUNNING took {lag:.3f}s"
    print(f"log: line printed -> RUNNING {lag * 1000:.0f} ms")


# ---- notify --------------------------------------------------------------------------------

NOTIFY = """\
    import os, socket, sys, time
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\\0" + path[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"STATUS=loading data", path)
    time.sleep(1.0)
    t = time.time()
    s.sendto(b"READY=1\\nSTATUS=serving 3 clients", path)
    open(sys.argv[1], "w").write(repr(t))
    time.sleep(60)
"""


def test_notify_ready_and_status(make_daemon, tmp_path):
    app = script(tmp_path, "notify.py", NOTIFY)
    sent = tmp_path / "sent"
    d = make_daemon("rust", f"""\
        [program:app]
        command={PY} {app} {sent}
        ready=notify
        """)
    d.wait_for(lambda: "status: loading data" in info(d, "app")["description"],
               timeout=10, what="STATUS= in the description")
    assert info(d, "app")["description"] == "not ready yet: notify (status: loading data)"
    d.wait_state("app", "RUNNING", timeout=10)
    i = info(d, "app")
    assert i["description"].endswith(", status: serving 3 clients"), i
    lag = log_time(d.mainlog(), "success: app entered RUNNING") - float(sent.read_text())
    assert lag < 0.5, f"READY=1 -> RUNNING took {lag:.3f}s"
    print(f"notify: READY=1 -> RUNNING {lag * 1000:.0f} ms")


def test_systemd_notify_works_unchanged(make_daemon, tmp_path):
    tool = shutil.which("systemd-notify")
    if tool is None:
        pytest.skip("systemd-notify is not installed (Debian package 'systemd')")
    d = make_daemon("rust", f"""\
        [program:unit]
        command=/bin/sh -c 'sleep 0.5; {tool} --ready --status="up and running"; exec sleep 60'
        ready=notify
        ready_timeout=15
        """)
    d.wait_state("unit", "RUNNING", timeout=15)
    d.wait_for(lambda: "status: up and running" in info(d, "unit")["description"],
               timeout=5, what="the STATUS from systemd-notify")


# ---- exec: ---------------------------------------------------------------------------------

def test_exec_ready_with_the_programs_environment_and_directory(make_daemon, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    d = make_daemon("rust", f"""\
        [program:svc]
        command=/bin/sh -c 'sleep 1; touch ready.flag; exec sleep 60'
        directory={work}
        environment=MARK="yes"
        ready=exec:sh -c 'test "$MARK" = yes && test -f ready.flag'
        ready_interval=0.1
        """)
    d.wait_for(lambda: info(d, "svc")["description"].endswith("(exit status 1)"),
               timeout=10, what="the exec failure in the description")
    d.wait_state("svc", "RUNNING", timeout=10)
    assert (work / "ready.flag").exists()
    log = d.mainlog()
    assert "reaped unknown pid" not in log, "exec probe children are the daemon's own"


def test_exec_probe_overrunning_is_killed_and_reaped(make_daemon, tmp_path):
    d = make_daemon("rust", """\
        [program:slow]
        command=/bin/sh -c 'exec sleep 60'
        ready=exec:sleep 31.25
        ready_timeout=1
        startretries=0
        stopwaitsecs=2
        """)
    d.wait_state("slow", "FATAL", timeout=15)
    i = info(d, "slow")
    assert i["spawnerr"] == "not ready after 1s: exec:sleep 31.25 timed out after 0.8s", i
    time.sleep(0.3)
    left = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "cmdline").read_bytes() == b"sleep\x0031.25\x00":
                    left.append(p.name)
            except OSError:
                pass
    assert not left, f"probe children left running: {left}"
    assert "reaped unknown pid" not in d.mainlog()


# ---- http ----------------------------------------------------------------------------------

WEB = """\
    import http.server, sys, time
    start = time.time()
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/healthz":
                code = 404
            elif time.time() - start < 1.0:
                code = 503
            else:
                code = 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_http_ready_on_2xx_only(make_daemon, tmp_path):
    port = free_port()
    web = script(tmp_path, "web.py", WEB)
    d = make_daemon("rust", f"""\
        [program:web]
        command={PY} {web} {port}
        ready=http://127.0.0.1:{port}/healthz
        ready_interval=0.1
        """)
    d.wait_for(lambda: info(d, "web")["description"].endswith("(HTTP 503)"),
               timeout=10, what="HTTP 503 in the description")
    assert info(d, "web")["statename"] == "STARTING"
    d.wait_state("web", "RUNNING", timeout=10)


# ---- timeout -> BACKOFF -> FATAL -------------------------------------------------------------

def test_not_ready_in_time_is_a_failed_start_then_fatal(make_daemon, tmp_path):
    port = free_port()  # nothing listens there
    d = make_daemon("rust", f"""\
        [program:db]
        command=/bin/sh -c 'exec sleep 60'
        autostart=false
        ready=tcp://127.0.0.1:{port}
        ready_timeout=1
        ready_interval=0.2
        startretries=1
        """)
    r = d.ctl("start", "db", timeout=30)
    assert r.stdout.strip() == "db: ERROR (spawn error)", r
    d.wait_state("db", "FATAL", timeout=15)
    want = f"not ready after 1s: tcp://127.0.0.1:{port} connection refused"
    i = info(d, "db")
    assert i["spawnerr"] == want, i
    assert i["description"] == want
    log = d.mainlog()
    assert log.count("db: " + want + "; stopping it") == 2, log  # the start and one retry
    assert "gave up: db entered FATAL state, too many start retries too quickly" in log
    assert "success: db" not in log


# ---- the reference ignores the keys ----------------------------------------------------------

def test_the_same_configs_load_under_the_reference(make_daemon, tmp_path):
    port = free_port()

    def body(fcgi_port):
        return f"""\
        [program:db]
        command=/bin/sh -c 'exec sleep 60'
        ready=tcp://127.0.0.1:{port}
        ready_timeout=30
        ready_interval=0.25
        startsecs=0

        [program:app]
        command=/bin/sh -c 'exec sleep 60'
        ready=log:^ready$
        startsecs=0

        [program:unit]
        command=/bin/sh -c 'exec sleep 60'
        ready=notify
        startsecs=0

        [program:chk]
        command=/bin/sh -c 'exec sleep 60'
        ready=exec:sh -c 'exit 0'
        startsecs=0

        [fcgi-program:f]
        command=/bin/sh -c 'exec sleep 60'
        socket=tcp://127.0.0.1:{fcgi_port}
        ready=http://127.0.0.1:{port}/healthz
        startsecs=0
        """
    ref = make_daemon("python", body(free_port()), name="ref")
    ref.wait_for(lambda: all(p["statename"] == "RUNNING"
                             for p in ref.rpc(5).supervisor.getAllProcessInfo()),
                 timeout=15, what="every program RUNNING under the reference")
    # Ours reads the same file (the chk exec check passes at once).
    ours = make_daemon("rust", body(free_port()), name="ours")
    ours.wait_state("chk", "RUNNING", timeout=10)
    assert info(ours, "db")["statename"] == "STARTING"


# ---- where users look: --check-config, the extension method, config errors -------------------

def test_check_config_and_extension_method_show_the_check(make_daemon, tmp_path):
    port = free_port()
    body = f"""\
        [program:db]
        command=/bin/sh -c 'exec sleep 60'
        autostart=false
        ready=tcp://127.0.0.1:{port}
        ready_timeout=30
        ready_interval=0.25

        [program:plain]
        command=/bin/sh -c 'exec sleep 60'
        autostart=false
        """
    d = make_daemon("rust", body)
    import subprocess
    from conftest import RUST_BIN
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "-c", str(d.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert f"ready tcp://127.0.0.1:{port} (timeout 30s, interval 0.25s)" in r.stdout, r.stdout
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "--json", "-c",
                        str(d.conf)], capture_output=True, text=True, timeout=30)
    import json
    procs = {p["name"]: p for g in json.loads(r.stdout)["groups"] for p in g["processes"]}
    assert procs["db"]["ready"] == {"check": f"tcp://127.0.0.1:{port}", "timeout": 30.0,
                                    "interval": 0.25}, procs["db"]
    assert procs["plain"]["ready"] is None
    rows = {row["name"]: row for row in d.rpc(10).supervisor_rs.getAllConfigExtensions()}
    assert rows["db"]["ready"] == f"tcp://127.0.0.1:{port}"
    assert (rows["db"]["ready_timeout"], rows["db"]["ready_interval"]) == (30.0, 0.25)
    assert (rows["plain"]["ready"], rows["plain"]["ready_timeout"]) == ("", 60.0)


@pytest.mark.parametrize("line,message", [
    ("ready=tcp://127.0.0.1", 'invalid ready value "tcp://127.0.0.1": missing port'),
    ("ready=log:(unclosed", 'invalid ready value "log:(unclosed": bad regular expression'),
    ("ready=https://h/", "https:// is not supported"),
    ("ready=", 'invalid ready value "": empty'),
    ("ready_timeout=0", 'invalid ready_timeout value "0": must be a positive number'),
    ("ready_interval=-0.5", 'invalid ready_interval value "-0.5": must be a positive number'),
])
def test_bad_values_are_config_errors_naming_file_line_section_key(tmp_path, line, message):
    import subprocess
    from conftest import RUST_BIN
    conf = tmp_path / "s.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/l\n[program:db]\ncommand=/bin/true\n{line}\n")
    # The daemon refuses to start, with the reference's way of saying where.
    r = subprocess.run([str(RUST_BIN / "supervisord"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert message in r.stderr and "in section 'program:db'" in r.stderr, r.stderr
    # --check-config names the file and line too.
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert f"{conf}:5: error: " in r.stdout + r.stderr, r
    assert message in r.stdout + r.stderr


def test_the_events_stream_carries_running_only_once_ready(make_daemon, tmp_path):
    import json
    from conftest import UnixStreamHTTPConnection
    from test_events_stream import read_sse_item
    port = free_port()
    db = script(tmp_path, "db.py", DB)
    opened = tmp_path / "opened"
    d = make_daemon("rust", f"""\
        [program:db]
        command={PY} {db} {port} 1 {opened}
        autostart=false
        ready=tcp://127.0.0.1:{port}
        ready_interval=0.1
        """)
    conn = UnixStreamHTTPConnection(str(d.sock), timeout=15)
    try:
        conn.request("GET", "/events?events=PROCESS_STATE")
        resp = conn.getresponse()
        assert resp.status == 200
        d.rpc(10).supervisor.startProcess("db", False)
        seen = []
        while "PROCESS_STATE_RUNNING" not in seen:
            item = read_sse_item(resp)
            seen.append(item["event"])
            if item["event"] == "PROCESS_STATE_RUNNING":
                data = json.loads(item["data"])
                assert data["payload"]["processname"] == "db"
                assert data["payload"]["from_state"] == "STARTING"
                assert opened.exists(), "RUNNING before the port was open"
        assert seen == ["PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"], seen
    finally:
        conn.close()


def test_notify_socket_belongs_to_the_programs_user(make_daemon, tmp_path):
    tool = shutil.which("systemd-notify")
    if os.geteuid() != 0:
        pytest.skip("needs root to run a program as another user")
    if tool is None:
        pytest.skip("systemd-notify is not installed (Debian package 'systemd')")
    d = make_daemon("rust", f"""\
        [program:unit]
        command=/bin/sh -c 'sleep 0.3; {tool} --ready --status=hi; exec sleep 60'
        user=nobody
        ready=notify
        ready_timeout=15
        """)
    d.wait_state("unit", "RUNNING", timeout=15)
    d.wait_for(lambda: info(d, "unit")["description"].endswith(", status: hi"),
               timeout=5, what="the STATUS sent as nobody")


def test_exec_probe_runs_as_the_programs_user(make_daemon, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to run a program as another user")
    import pwd
    uid = pwd.getpwnam("nobody").pw_uid
    d = make_daemon("rust", f"""\
        [program:svc]
        command=/bin/sh -c 'exec sleep 60'
        user=nobody
        directory=/
        ready=exec:sh -c 'test "$(id -u)" = {uid}'
        ready_timeout=10
        """)
    d.wait_state("svc", "RUNNING", timeout=15)
