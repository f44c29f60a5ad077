"""Liveness health checks `healthcheck=` with real children (issue 15 item 1).

An HTTP child that starts answering 500 is restarted after `healthcheck_retries` failures
in a row (a new pid), with PROCESS_HEALTH_UNHEALTHY and then PROCESS_HEALTH_HEALTHY (from
the new child) delivered to a listener that names them and on `/events`, never to a
listener subscribed to EVENT. An unhealthy process with `healthcheck_action = none` shows
it everywhere users look: its description (XML-RPC, `supervisorctl status`, the web UI),
the main log and `/metrics`. The same program config loads under the Python reference,
which ignores the keys; bad values are config errors naming file, line, section and key.
"""

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import RUST_BIN, UnixStreamHTTPConnection, free_port

PY = sys.executable
RECORDER = Path(__file__).parent / "listeners" / "recorder.py"

# Answers GET /health with 200, or 500 while the file argv[2] holds this process's pid.
WEB = """\
    import http.server, os, sys
    port, sick = int(sys.argv[1]), sys.argv[2]
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                bad = open(sick).read().strip() == str(os.getpid())
            except OSError:
                bad = False
            self.send_response(500 if bad else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    http.server.HTTPServer.allow_reuse_address = True
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def script(d, name, text):
    p = Path(d) / name
    p.write_text(textwrap.dedent(text))
    return p


def records(path):
    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def names(path):
    return [r["headers"]["eventname"] for r in records(path)]


def program(name, port, web, sick, *extra):
    return "\n".join([
        f"[program:{name}]",
        f"command={PY} {web} {port} {sick}",
        "startsecs=0",
        "stopwaitsecs=5",
        f"healthcheck=http://127.0.0.1:{port}/health",
        "healthcheck_interval=0.2",
        "healthcheck_timeout=1",
        "healthcheck_retries=3",
        *extra,
    ]) + "\n"


def test_a_child_answering_500_is_restarted_after_retries_and_the_events_arrive(
        make_daemon, tmp_path):
    from test_events_stream import read_sse_item
    port = free_port()
    web = script(tmp_path, "web.py", WEB)
    sick = tmp_path / "sick"
    health_out, all_out = tmp_path / "health.jsonl", tmp_path / "all.jsonl"
    d = make_daemon("rust", program("web", port, web, sick) + textwrap.dedent(f"""
        [eventlistener:health]
        command={PY} {RECORDER} {health_out}
        events=PROCESS_HEALTH_UNHEALTHY,PROCESS_HEALTH_HEALTHY

        [eventlistener:everything]
        command={PY} {RECORDER} {all_out}
        events=EVENT
        """))
    d.wait_state("web", "RUNNING")
    rpc = d.rpc(10)
    pid1 = rpc.supervisor.getProcessInfo("web")["pid"]
    conn = UnixStreamHTTPConnection(str(d.sock), timeout=20)
    try:
        # The default stream (no ?events=) carries the health events too.
        conn.request("GET", "/events")
        resp = conn.getresponse()
        assert resp.status == 200
        # Healthy for a while: no restart.
        time.sleep(1.0)
        assert rpc.supervisor.getProcessInfo("web")["pid"] == pid1
        sick.write_text(str(pid1))
        t0 = time.time()
        d.wait_for(lambda: rpc.supervisor.getProcessInfo("web")["pid"] not in (0, pid1),
                   timeout=15, what="a new pid")
        elapsed = time.time() - t0
        # Three failures 0.2 s apart: not before the third.
        assert elapsed >= 0.35, elapsed
        d.wait_for(lambda: names(health_out) == ["PROCESS_HEALTH_UNHEALTHY",
                                                 "PROCESS_HEALTH_HEALTHY"],
                   timeout=15, what="both health events at the listener")
        pid2 = rpc.supervisor.getProcessInfo("web")["pid"]
        unhealthy, healthy = records(health_out)
        head, _, body = unhealthy["payload"].partition("\n")
        assert head == (f"processname:web groupname:web pid:{pid1} failures:3 "
                        f"action:restart"), unhealthy
        assert body == "HTTP 500"
        assert healthy["payload"] == f"processname:web groupname:web pid:{pid2}\n"
        # The same two on /events, in order, among the state changes of the restart.
        seen = []
        deadline = time.time() + 15
        while "PROCESS_HEALTH_HEALTHY" not in seen and time.time() < deadline:
            item = read_sse_item(resp)
            if item["event"].startswith("PROCESS_HEALTH"):
                seen.append(item["event"])
                data = json.loads(item["data"])
                assert data["payload"]["processname"] == "web"
        assert seen == ["PROCESS_HEALTH_UNHEALTHY", "PROCESS_HEALTH_HEALTHY"], seen
    finally:
        conn.close()
    log = d.mainlog()
    assert (f"WARN unhealthy: web failed 3 health checks in a row: "
            f"http://127.0.0.1:{port}/health HTTP 500; restarting it") in log, log[-3000:]
    # A normal stop and start: the stop signal, the stopped: line, a spawn.
    assert "stopped: web (terminated by SIGTERM)" in log
    assert (f"INFO healthy: web passed its health check again "
            f"(http://127.0.0.1:{port}/health)") in log
    # A listener subscribed to EVENT never gets a type the reference does not have.
    everything = names(all_out)
    assert "PROCESS_STATE_STOPPING" in everything, everything
    assert not [n for n in everything if n.startswith("PROCESS_HEALTH")], everything


def test_unhealthy_with_action_none_shows_everywhere(make_daemon, tmp_path):
    port, http_port = free_port(), free_port()
    web = script(tmp_path, "web.py", WEB)
    sick = tmp_path / "sick"
    d = make_daemon("rust", program("web", port, web, sick, "healthcheck_action=none"),
                    inet_port=http_port)
    d.wait_state("web", "RUNNING")
    rpc = d.rpc(10)
    pid = rpc.supervisor.getProcessInfo("web")["pid"]

    def metric():
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics",
                                    timeout=10) as r:
            page = r.read().decode()
        lines = [l for l in page.splitlines()
                 if l.startswith('supervisor_process_healthy{group="web",name="web"}')]
        return lines[0].split()[-1] if lines else None

    d.wait_for(lambda: metric() == "1", timeout=10, what="healthy gauge 1")
    sick.write_text(str(pid))
    d.wait_for(lambda: "unhealthy" in rpc.supervisor.getProcessInfo("web")["description"],
               timeout=10, what="unhealthy description")
    info = rpc.supervisor.getProcessInfo("web")
    assert info["statename"] == "RUNNING" and info["pid"] == pid, info
    desc = info["description"]
    assert desc.startswith(f"pid {pid}, uptime 0:00:"), desc
    assert ", unhealthy: http 500 (" in desc and desc.endswith(" checks)"), desc
    assert metric() == "0"
    # supervisorctl status, the reference's client and ours.
    for impl in ("python", "rust"):
        out = d.ctl("status", "web", impl=impl).stdout
        assert "RUNNING" in out and "unhealthy: http 500 (" in out, (impl, out)
    # The web UI shows the description.
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=10) as r:
        page = r.read().decode()
    assert "unhealthy: http 500 (" in page
    assert ("WARN unhealthy: web failed 3 health checks in a row: "
            f"http://127.0.0.1:{port}/health HTTP 500\n") in d.mainlog()
    # Recovery: the description clears, INFO line, gauge 1, never restarted.
    sick.write_text("")
    d.wait_for(lambda: "unhealthy" not in rpc.supervisor.getProcessInfo("web")["description"],
               timeout=10, what="recovery")
    assert "INFO healthy: web passed its health check again" in d.mainlog()
    assert metric() == "1"
    assert rpc.supervisor.getProcessInfo("web")["pid"] == pid


def test_stop_action_leaves_it_stopped_and_exec_checks_work(make_daemon, tmp_path):
    flag = tmp_path / "ok"
    flag.write_text("")
    d = make_daemon("rust", f"""\
        [program:w]
        command=/bin/sh -c 'exec sleep 60'
        startsecs=0
        healthcheck=exec:test -e {flag}
        healthcheck_interval=0.2
        healthcheck_retries=2
        healthcheck_action=stop
        """)
    d.wait_state("w", "RUNNING")
    time.sleep(0.8)
    assert d.rpc(10).supervisor.getProcessInfo("w")["statename"] == "RUNNING"
    flag.unlink()
    d.wait_state("w", "STOPPED", timeout=10)
    time.sleep(1.0)
    assert d.rpc(10).supervisor.getProcessInfo("w")["statename"] == "STOPPED"
    assert (f"unhealthy: w failed 2 health checks in a row: exec:test -e {flag} "
            "exit status 1; stopping it") in d.mainlog()


def test_start_delay_holds_the_first_check(make_daemon, tmp_path):
    d = make_daemon("rust", """\
        [program:w]
        command=/bin/sh -c 'exec sleep 60'
        startsecs=0
        healthcheck=tcp://127.0.0.1:1
        healthcheck_interval=0.1
        healthcheck_retries=1
        healthcheck_start_delay=1.5
        healthcheck_action=none
        """)
    d.wait_state("w", "RUNNING")
    t0 = time.time()
    d.wait_for(lambda: "unhealthy" in d.rpc(5).supervisor.getProcessInfo("w")["description"],
               timeout=10, what="unhealthy after the start delay")
    assert time.time() - t0 >= 1.0
    assert "unhealthy: tcp connection refused (1 check)" in \
        d.rpc(5).supervisor.getProcessInfo("w")["description"]


def test_the_same_config_loads_under_the_reference(make_daemon, tmp_path):
    port = free_port()
    web = script(tmp_path, "web.py", WEB)
    body = program("web", port, web, tmp_path / "sick",
                   "healthcheck_start_delay=0", "healthcheck_action=restart")
    ref = make_daemon("python", body, name="ref")
    ref.wait_state("web", "RUNNING")
    ref.stop()
    ours = make_daemon("rust", body, name="ours")
    ours.wait_state("web", "RUNNING")


def test_check_config_lists_the_check_and_the_extension_method(make_daemon, tmp_path):
    port = free_port()
    d = make_daemon("rust", f"""\
        [program:web]
        command=/bin/sh -c 'exec sleep 60'
        autostart=false
        healthcheck=http://127.0.0.1:{port}/healthz
        healthcheck_interval=5
        healthcheck_retries=4
        healthcheck_action=stop

        [program:plain]
        command=/bin/sh -c 'exec sleep 60'
        autostart=false
        """)
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "-c", str(d.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert (f"healthcheck http://127.0.0.1:{port}/healthz (interval 5s, timeout 3s, "
            "retries 4, start delay 0s, action stop)") in r.stdout, r.stdout
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "--json", "-c",
                        str(d.conf)], capture_output=True, text=True, timeout=30)
    procs = {p["name"]: p for g in json.loads(r.stdout)["groups"] for p in g["processes"]}
    assert procs["web"]["healthcheck"] == {
        "check": f"http://127.0.0.1:{port}/healthz", "interval": 5.0, "timeout": 3.0,
        "retries": 4, "start_delay": 0.0, "action": "stop"}, procs["web"]
    assert procs["plain"]["healthcheck"] is None
    rows = {row["name"]: row for row in d.rpc(10).supervisor_rs.getAllConfigExtensions()}
    assert rows["web"]["healthcheck"] == f"http://127.0.0.1:{port}/healthz"
    assert (rows["web"]["healthcheck_interval"], rows["web"]["healthcheck_timeout"],
            rows["web"]["healthcheck_retries"], rows["web"]["healthcheck_start_delay"],
            rows["web"]["healthcheck_action"]) == (5.0, 3.0, 4, 0.0, "stop")
    assert (rows["plain"]["healthcheck"], rows["plain"]["healthcheck_action"]) == ("", "restart")


@pytest.mark.parametrize("line,message", [
    ("healthcheck=log:ready", 'invalid healthcheck value "log:ready": a log check cannot '
                              'be a health check'),
    ("healthcheck=notify", "a notify check cannot be a health check"),
    ("healthcheck=tcp://127.0.0.1", 'invalid healthcheck value "tcp://127.0.0.1": '
                                    'missing port'),
    ("healthcheck_interval=0", 'invalid healthcheck_interval value "0": must be a positive'),
    ("healthcheck_timeout=soon", 'invalid healthcheck_timeout value "soon"'),
    ("healthcheck_retries=0", 'invalid healthcheck_retries value "0": must be from 1'),
    ("healthcheck_start_delay=-2", 'invalid healthcheck_start_delay value "-2"'),
    ("healthcheck_action=reboot", 'invalid healthcheck_action value "reboot": expected '
                                  'restart, stop or none'),
])
def test_bad_values_are_config_errors_naming_file_line_section_key(tmp_path, line, message):
    conf = tmp_path / "s.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/l\n[program:db]\n"
                    f"command=/bin/true\n{line}\n")
    r = subprocess.run([str(RUST_BIN / "supervisord"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert message in r.stderr and "in section 'program:db'" in r.stderr, r.stderr
    r = subprocess.run([str(RUST_BIN / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    out = r.stdout + r.stderr
    assert f"{conf}:5: error: " in out, out
    assert message in out and line.split("=")[0] in out, out
