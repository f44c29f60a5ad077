"""depends_on= (issue 14): start order by dependencies, with real children.

A process with dependencies waits in STARTING with pid 0 and the description
`waiting for: ...` until each dependency is RUNNING (`ready`) or has exited with an
expected code (`done`); a failed dependency makes it FATAL; shutdown and `stop all`
stop dependents first; config errors (unknown names, cycles, bad conditions) name file,
line, section and key and start nothing; the same config loads under the reference,
which ignores the key.
"""

import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import IMPLS, free_port

SLEEP = "/bin/sleep 1000"

# db: RUNNING after 1 s; migrate: a one-shot that needs db and takes 1.5 s; web needs db
# and the finished migration; worker needs web.
STACK = f"""
[program:db]
command={SLEEP}
startsecs=1
stopwaitsecs=5

[program:migrate]
command=/bin/sh -c 'sleep 1.5; echo migrated'
depends_on=db
autorestart=false
startsecs=0

[program:web]
command={SLEEP}
depends_on=db, migrate:done
startsecs=0

[program:worker]
command={SLEEP}
depends_on=web
startsecs=0
"""


def log_time(line):
    """The timestamp of a main-log line, as a float (seconds)."""
    stamp = line[:23]
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def first_line(log, needle):
    for line in log.splitlines():
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in:\n{log}")


def test_migration_done_then_app_starts(make_daemon):
    d = make_daemon("rust", STACK)
    rpc = d.rpc()
    # while db starts: migrate, web and worker wait with pid 0
    info = rpc.supervisor.getProcessInfo("web")
    assert info["statename"] == "STARTING" and info["pid"] == 0, info
    assert info["description"].startswith("waiting for: "), info
    d.wait_for(lambda: rpc.supervisor.getProcessInfo("migrate")["pid"] != 0,
               timeout=10, what="migrate spawned")
    # the migration runs: web waits for it only, worker for web
    info = rpc.supervisor.getProcessInfo("web")
    assert (info["statename"], info["pid"], info["description"]) == (
        "STARTING", 0, "waiting for: migrate"), info
    worker = rpc.supervisor.getProcessInfo("worker")
    assert worker["description"] == "waiting for: web" and worker["pid"] == 0
    # supervisorctl status (the reference's client and ours) shows the description
    for impl in ("python", "rust"):
        out = d.ctl("status", "web", impl=impl).stdout
        assert re.match(r"web\s+STARTING\s+waiting for: migrate\s*$", out), (impl, out)
    d.wait_state("worker", "RUNNING", timeout=15)
    log = d.mainlog()
    migrated = log_time(first_line(log, "exited: migrate (exit status 0; expected)"))
    web = log_time(first_line(log, "spawned: 'web'"))
    db_running = log_time(first_line(log, "success: db entered RUNNING state"))
    migrate = log_time(first_line(log, "spawned: 'migrate'"))
    assert db_running <= migrate <= migrated <= web, log
    assert log_time(first_line(log, "spawned: 'worker'")) >= web
    # the migration ran once and stays EXITED; web is RUNNING with its pid
    assert rpc.supervisor.getProcessInfo("migrate")["statename"] == "EXITED"
    assert rpc.supervisor.getProcessInfo("web")["pid"] != 0
    assert log.count("spawned: 'migrate'") == 1
    # the extension method exposes the key
    ext = {(e["group"], e["name"]): e for e in rpc.supervisor_rs.getAllConfigExtensions()}
    assert ext[("web", "web")]["depends_on"] == ["db:ready", "migrate:done"]
    assert ext[("db", "db")]["depends_on"] == []
    assert "supervisor_rs.getAllConfigExtensions" in rpc.system.listMethods()
    assert rpc.system.methodSignature("supervisor_rs.getAllConfigExtensions") == ["array"]


def test_start_of_a_dependent_starts_its_dependencies_and_waits(make_daemon):
    d = make_daemon("rust", f"""
        [program:db]
        command={SLEEP}
        autostart=false
        startsecs=1

        [program:web]
        command={SLEEP}
        autostart=false
        depends_on=db
        startsecs=0
        """)
    rpc = d.rpc()
    assert rpc.supervisor.getProcessInfo("db")["statename"] == "STOPPED"
    t0 = time.monotonic()
    # startProcess(wait=True) returns when web is RUNNING, i.e. after db's startsecs
    assert rpc.supervisor.startProcess("web", True) is True
    took = time.monotonic() - t0
    assert took >= 0.9, took
    assert rpc.supervisor.getProcessInfo("db")["statename"] == "RUNNING"
    assert rpc.supervisor.getProcessInfo("web")["statename"] == "RUNNING"
    # supervisorctl start prints started once web is really up
    d.ctl("stop", "all")
    out = d.ctl("start", "web", impl="rust")
    assert out.stdout.strip() == "web: started", out
    assert rpc.supervisor.getProcessInfo("db")["statename"] == "RUNNING"


def test_fatal_dependency_makes_the_dependent_fatal(make_daemon):
    d = make_daemon("rust", f"""
        [program:db]
        command=/bin/sh -c 'exit 1'
        startretries=0
        startsecs=1

        [program:web]
        command={SLEEP}
        depends_on=db

        [program:worker]
        command={SLEEP}
        depends_on=web
        """)
    rpc = d.rpc()
    d.wait_state("worker", "FATAL", timeout=10)
    web = rpc.supervisor.getProcessInfo("web")
    assert web["statename"] == "FATAL" and web["pid"] == 0
    assert web["spawnerr"] == "dependency db is FATAL"
    assert web["description"] == "dependency db is FATAL"
    assert rpc.supervisor.getProcessInfo("worker")["spawnerr"] == "dependency web is FATAL"
    log = d.mainlog()
    assert "gave up: web entered FATAL state, dependency db is FATAL" in log
    assert "spawned: 'web'" not in log
    # a start with wait faults (the reference's client prints a spawn error)
    out = d.ctl("start", "web")
    assert "web: ERROR (spawn error)" in out.stdout, out
    assert out.returncode != 0


def test_stopping_the_dependency_while_waited_for(make_daemon):
    d = make_daemon("rust", f"""
        [program:db]
        command={SLEEP}
        startsecs=30

        [program:web]
        command={SLEEP}
        depends_on=db
        """)
    rpc = d.rpc()
    d.wait_for(lambda: rpc.supervisor.getProcessInfo("db")["pid"] != 0, what="db spawned")
    assert rpc.supervisor.getProcessInfo("web")["description"] == "waiting for: db"
    rpc.supervisor.stopProcess("db")
    web = rpc.supervisor.getProcessInfo("web")
    assert web["statename"] == "FATAL"
    assert web["spawnerr"] == "dependency db was stopped"


def _exit_order(log, names):
    """The order in which `stopped: NAME` lines appear, with their times."""
    out = []
    for line in log.splitlines():
        m = re.search(r"stopped: (\w+) \(", line)
        if m and m.group(1) in names:
            out.append((m.group(1), log_time(line)))
    return out


def _signal_time(log, name):
    return log_time(first_line(log, f"killing {name} (pid"))


STOP_STACK = f"""
[program:db]
command=/bin/sh -c 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.1; done'
startsecs=0
priority=1

[program:api]
command=/bin/sh -c 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.1; done'
depends_on=db
startsecs=0
priority=1

[program:web]
command=/bin/sh -c 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.1; done'
depends_on=api
startsecs=0
priority=1

[program:other]
command={SLEEP}
startsecs=0
priority=1
"""


def _check_reverse_order(log):
    order = [n for n, _ in _exit_order(log, {"db", "api", "web"})]
    assert order == ["web", "api", "db"], log
    # a dependency is signalled only after its dependent stopped
    stopped = dict(_exit_order(log, {"db", "api", "web"}))
    assert _signal_time(log, "api") >= stopped["web"], log
    assert _signal_time(log, "db") >= stopped["api"], log


def test_shutdown_stops_dependents_first(make_daemon):
    d = make_daemon("rust", STOP_STACK)
    d.wait_state("web", "RUNNING", timeout=10)
    d.stop()
    assert d.proc.returncode == 0
    _check_reverse_order(d.mainlog())


def test_stop_all_stops_dependents_first(make_daemon):
    d = make_daemon("rust", STOP_STACK)
    d.wait_state("web", "RUNNING", timeout=10)
    out = d.ctl("stop", "all")
    assert out.returncode == 0, out
    for n in ("db", "api", "web", "other"):
        assert f"{n}: stopped" in out.stdout, out
    _check_reverse_order(d.mainlog())
    # start all: dependencies first again
    mark = len(d.mainlog())
    out = d.ctl("start", "all")
    assert out.returncode == 0, out
    # each is reported, also those an earlier start pulled in as its dependency
    for n in ("db", "api", "web", "other"):
        assert f"{n}: started" in out.stdout, out
    after = d.mainlog()[mark:]
    spawns = [m.group(1) for m in re.finditer(r"spawned: '(\w+)'", after)]
    assert sorted(spawns) == ["api", "db", "other", "web"], after
    assert spawns.index("db") < spawns.index("api") < spawns.index("web"), after


def _run_daemon_on(tmp_path, text, impl="rust"):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    return conf, subprocess.run(
        [str(IMPLS[impl] / "supervisord"), "-n", "-c", str(conf)],
        capture_output=True, text=True, timeout=20, cwd=str(tmp_path))


def _base(tmp_path):
    return (f"[supervisord]\nlogfile={tmp_path}/main.log\npidfile={tmp_path}/s.pid\n"
            f"childlogdir={tmp_path}\n[unix_http_server]\nfile={tmp_path}/s.sock\n\n")


def test_cycle_is_refused_with_file_line_section_key_and_nothing_starts(tmp_path):
    marker = tmp_path / "started"
    text = _base(tmp_path) + (
        f"[program:web]\ncommand=/bin/touch {marker}\ndepends_on=api\n\n"
        f"[program:api]\ncommand=/bin/touch {marker}\ndepends_on=web\n")
    conf, r = _run_daemon_on(tmp_path, text)
    assert r.returncode == 2, r
    err = r.stderr
    assert "depends_on: dependency cycle web -> api -> web in section 'program:web'" in err, err
    assert f"in section 'program:web' (file: '{conf}', line 10)" in err, err
    assert err.startswith("Error: depends_on: "), err
    assert not marker.exists()
    assert not (tmp_path / "s.pid").exists()
    # --check-config locates it: file:line [section] key
    c = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert c.returncode == 2
    assert f"{conf}:10: error: depends_on: dependency cycle web -> api -> web" in c.stdout, c.stdout


@pytest.mark.parametrize("value,needle", [
    ("nosuch", "unknown dependency 'nosuch'"),
    ("db:soon", "invalid depends_on condition 'soon' in 'db:soon'"),
    ("db:x:y", "invalid depends_on condition 'y'"),
])
def test_bad_names_and_conditions_are_refused(tmp_path, value, needle):
    text = _base(tmp_path) + (
        f"[program:db]\ncommand={SLEEP}\n\n[program:web]\ncommand={SLEEP}\n"
        f"depends_on={value}\n")
    conf, r = _run_daemon_on(tmp_path, text)
    assert r.returncode == 2, r
    assert needle in r.stderr, r.stderr
    err = r.stderr
    assert "line 13" in err and "in section 'program:web' (file: '" + str(conf) in err, err
    assert "depends_on" in err


def test_check_config_prints_the_start_order(tmp_path):
    text = _base(tmp_path) + textwrap_stack()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    c = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert c.returncode in (0, 1), c
    out = c.stdout
    assert "  web (priority 999, autostart true, depends_on db:ready migrate:done): " in out, out
    block = out.split("start order (dependencies first, then priority):\n", 1)[1]
    lines = [l.strip() for l in block.splitlines() if re.match(r"\s+\d+\. ", l)]
    assert lines == [
        "1. db",
        "2. migrate (after db:ready)",
        "3. web (after db:ready, migrate:done)",
        "4. worker (after web:ready)",
    ], out
    j = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "--json", "-c",
                        str(conf)], capture_output=True, text=True, timeout=20)
    import json
    doc = json.loads(j.stdout)
    assert doc["start_order"] == ["db", "migrate", "web", "worker"], doc
    web = [g for g in doc["groups"] if g["name"] == "web"][0]["processes"][0]
    assert web["depends_on"] == ["db:ready", "migrate:done"]


def textwrap_stack():
    return "\n".join(l for l in STACK.splitlines()) + "\n"


def test_the_same_config_loads_under_the_reference(make_daemon):
    # the reference ignores depends_on: every program starts by priority alone
    d = make_daemon("python", STACK)
    d.wait_state("web", "RUNNING", timeout=15)
    d.wait_state("worker", "RUNNING", timeout=15)
    assert d.rpc().supervisor.getProcessInfo("db")["statename"] in ("STARTING", "RUNNING")


def test_update_adds_a_dependent_that_waits(make_daemon):
    d = make_daemon("rust", f"""
        [program:db]
        command={SLEEP}
        startsecs=1
        autostart=false
        """)
    text = d.conf.read_text() + f"\n[program:web]\ncommand={SLEEP}\ndepends_on=db\nstartsecs=0\n"
    d.conf.write_text(text)
    out = d.ctl("update")
    assert "web: added process group" in out.stdout, out
    rpc = d.rpc()
    info = rpc.supervisor.getProcessInfo("web")
    assert (info["statename"], info["pid"]) == ("STARTING", 0), info
    d.wait_state("web", "RUNNING", timeout=10)
    assert rpc.supervisor.getProcessInfo("db")["statename"] == "RUNNING"


DB_SCRIPT = """
import socket, sys, time
time.sleep(2)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2], "w").write(repr(time.time()))
while True:
    c, _ = s.accept()
    c.close()
"""


def test_web_app_waits_for_a_database_port(make_daemon, tmp_path):
    port = free_port()
    script = tmp_path / "db.py"
    script.write_text(DB_SCRIPT)
    opened = tmp_path / "opened"
    d = make_daemon("rust", f"""
        [program:db]
        command={sys.executable} {script} {port} {opened}
        ready=tcp://127.0.0.1:{port}
        ready_interval=0.1
        ready_timeout=20

        [program:web]
        command={SLEEP}
        depends_on=db
        startsecs=0
        """)
    rpc = d.rpc()
    # until the port is open: db STARTING (not ready), web STARTING with pid 0
    info = rpc.supervisor.getProcessInfo("web")
    assert (info["statename"], info["pid"], info["description"]) == (
        "STARTING", 0, "waiting for: db"), info
    deadline = time.time() + 20
    while time.time() < deadline:
        info = rpc.supervisor.getProcessInfo("web")
        if info["pid"] != 0:
            # the app's pid appears only after the port is open
            assert opened.exists(), "web spawned before db's port was open"
            break
        assert info["description"] == "waiting for: db", info
        time.sleep(0.05)
    else:
        raise AssertionError(d.mainlog())
    log = d.mainlog()
    open_time = float(opened.read_text())
    spawned = log_time(first_line(log, "spawned: 'web'"))
    ready = log_time(first_line(log, "success: db entered RUNNING state"))
    # log stamps have millisecond resolution
    assert spawned + 0.001 >= open_time, (spawned, open_time)
    assert ready <= spawned
    assert spawned - ready < 0.05, (ready, spawned)
    d.wait_state("web", "RUNNING")


def test_reload_stops_in_reverse_and_starts_in_order(make_daemon):
    d = make_daemon("rust", STOP_STACK)
    d.wait_state("web", "RUNNING", timeout=10)
    first_db_pid = d.rpc().supervisor.getProcessInfo("db")["pid"]
    os.kill(d.proc.pid, 1)  # SIGHUP: restart
    d.wait_for(lambda: d.rpc(5).supervisor.getProcessInfo("db")["pid"] not in (0, first_db_pid),
               timeout=15, what="db restarted")
    d.wait_state("web", "RUNNING", timeout=10)
    log = d.mainlog()
    _check_reverse_order(log)
    after = log[log.index("stopped: db ("):]
    spawns = [m.group(1) for m in re.finditer(r"spawned: '(\w+)'", after)]
    assert spawns.index("db") < spawns.index("api") < spawns.index("web"), after


def test_web_ui_shows_the_wait(make_daemon):
    import urllib.request
    port = free_port()
    d = make_daemon("rust", f"""
        [program:db]
        command={SLEEP}
        startsecs=30

        [program:web]
        command={SLEEP}
        depends_on=db
        """, inet_port=port)
    d.wait_for(lambda: d.rpc().supervisor.getProcessInfo("db")["pid"] != 0, what="db spawned")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        page = r.read().decode()
    assert "waiting for: db" in page, page[:3000]
    assert "starting" in page.lower()


def test_events_stream_carries_the_transitions(make_daemon):
    """STARTING (the wait, pid 0) and FATAL (the failed wait) reach the event stream."""
    import json
    from conftest import UnixStreamHTTPConnection
    from test_events_stream import read_sse_item
    d = make_daemon("rust", f"""
        [program:db]
        command=/bin/sh -c 'sleep 0.5; exit 1'
        autostart=false
        startretries=0
        startsecs=1

        [program:web]
        command={SLEEP}
        autostart=false
        depends_on=db
        """)
    conn = UnixStreamHTTPConnection(str(d.sock), timeout=10)
    try:
        conn.request("GET", "/events?events=PROCESS_STATE")
        resp = conn.getresponse()
        assert resp.status == 200
        d.rpc().supervisor.startProcess("web", False)
        seen = []
        while ("web", "PROCESS_STATE_FATAL") not in seen:
            item = read_sse_item(resp)
            data = json.loads(item["data"])
            seen.append((data["payload"]["processname"], item["event"]))
            if seen[-1] == ("web", "PROCESS_STATE_STARTING"):
                assert data["payload"]["from_state"] == "STOPPED"
        web = [e for n, e in seen if n == "web"]
        assert web == ["PROCESS_STATE_STARTING", "PROCESS_STATE_FATAL"], seen
        assert seen.index(("db", "PROCESS_STATE_FATAL")) < seen.index(("web", "PROCESS_STATE_FATAL"))
    finally:
        conn.close()


def test_reread_refuses_a_cycle_and_changes_nothing(make_daemon):
    d = make_daemon("rust", f"""
        [program:db]
        command={SLEEP}
        startsecs=0
        """)
    d.wait_state("db", "RUNNING")
    before = d.rpc().supervisor.getProcessInfo("db")["pid"]
    d.conf.write_text(d.conf.read_text() + "depends_on=db\n")
    out = d.ctl("update")
    assert "CANT_REREAD: depends_on: dependency cycle db -> db in section" in out.stdout, out
    assert d.rpc().supervisor.getProcessInfo("db")["pid"] == before


def test_start_all_reports_dependencies_started_on_the_way(make_daemon):
    d = make_daemon("rust", f"""
        [program:web]
        command={SLEEP}
        priority=1
        autostart=false
        depends_on=db
        startsecs=0

        [program:db]
        command={SLEEP}
        priority=2
        autostart=false
        startsecs=1
        """)
    rpc = d.rpc()
    res = rpc.supervisor.startAllProcesses(True)
    assert sorted((r["name"], r["description"]) for r in res) == [("db", "OK"), ("web", "OK")], res
    assert rpc.supervisor.getProcessInfo("web")["statename"] == "RUNNING"
    assert rpc.supervisor.getProcessInfo("db")["statename"] == "RUNNING"


def test_groups_and_group_processes_as_dependencies(make_daemon):
    d = make_daemon("rust", f"""
        [program:cache]
        command={SLEEP}
        numprocs=2
        process_name=c%(process_num)d
        startsecs=1

        [program:q]
        command={SLEEP}
        startsecs=2

        [group:backend]
        programs=q

        [program:web]
        command={SLEEP}
        depends_on=backend, cache:c0
        startsecs=0
        """)
    rpc = d.rpc()
    info = rpc.supervisor.getProcessInfo("web")
    assert (info["pid"], info["description"]) == (0, "waiting for: backend, cache:c0"), info
    d.wait_state("cache:c0", "RUNNING", timeout=10)
    info = rpc.supervisor.getProcessInfo("web")
    assert (info["pid"], info["description"]) == (0, "waiting for: backend"), info
    d.wait_state("web", "RUNNING", timeout=10)
    log = d.mainlog()
    assert log_time(first_line(log, "success: q entered RUNNING")) <= log_time(
        first_line(log, "spawned: 'web'"))
