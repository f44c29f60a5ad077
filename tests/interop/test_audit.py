"""Issue 13 item 6: the audit log. Every state-changing call (RPC, each call of a
multicall, web UI actions, supervisorctl) is one INFO line in the main log, or in
audit_logfile: who (user or token; on the unix socket the peer uid/pid), from where, the
method, its arguments and the outcome. Refused calls are logged; reads are not."""

import os
import re
import subprocess
import time

import pytest

from access_helpers import ADMIN, DEPLOY, VIEWER, AccessDaemon, basic
from conftest import IMPLS

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO audit: ", re.M)


@pytest.fixture
def daemon(tmp_path):
    d = AccessDaemon(tmp_path / "d")
    yield d
    d.stop()


def audit_lines(text):
    return [l for l in text.splitlines() if " INFO audit: " in l]


def test_stop_and_update_lines_name_the_user(daemon):
    r = daemon.ctl(*DEPLOY, "stop", "sleeper")
    assert "sleeper: stopped" in r.stdout, r.stdout + r.stderr
    log = daemon.wait_log("supervisor.stopProcess('sleeper')")
    line = [l for l in audit_lines(log) if "stopProcess('sleeper')" in l][0]
    assert LINE.match(line), line
    assert re.search(r"audit: user deploy from 127\.0\.0\.1:\d+ called supervisor\.stopProcess\('sleeper'\) -> ok$",
                     line), line
    # update (the reference's client: reloadConfig, then nothing to add or remove).
    r = daemon.ctl(*ADMIN, "update")
    assert r.returncode == 0, r.stdout + r.stderr
    log = daemon.wait_log("called supervisor.reloadConfig() -> ok")
    assert re.search(r"audit: user admin from 127\.0\.0\.1:\d+ called supervisor\.reloadConfig\(\) -> ok",
                     log), log
    # Reads are not audited.
    daemon.inet(*VIEWER).supervisor.getAllProcessInfo()
    assert not [l for l in audit_lines(daemon.mainlog()) if "getAllProcessInfo" in l or "getState" in l]


def test_unix_socket_lines_carry_the_peer_uid_and_pid(daemon):
    p = subprocess.Popen([str(IMPLS["python"] / "supervisorctl"), "-c", str(daemon.conf),
                          "-u", ADMIN[0], "-p", ADMIN[1], "stop", "sleeper"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    assert "sleeper: stopped" in out, out + err
    log = daemon.wait_log("stopProcess('sleeper')")
    line = [l for l in audit_lines(log) if "stopProcess('sleeper')" in l][0]
    assert f"audit: user admin uid {os.getuid()} pid {p.pid} from unix called supervisor.stopProcess('sleeper') -> ok" in line, line


def test_refused_failed_and_multicall_lines(daemon):
    s = daemon.inet(*VIEWER).supervisor
    try:
        s.stopProcess("sleeper")
    except Exception:
        pass
    log = daemon.wait_log("denied: FAILED: not allowed for role read")
    assert re.search(r"audit: user viewer from 127\.0\.0\.1:\d+ called supervisor\.stopProcess\('sleeper'\) -> denied: "
                     r"FAILED: not allowed for role read: supervisor\.stopProcess needs operate", log), log
    # A failing call: its fault is the outcome.
    try:
        daemon.inet(*DEPLOY).supervisor.stopProcess("nosuch")
    except Exception:
        pass
    daemon.wait_log("called supervisor.stopProcess('nosuch') -> fault 10 (BAD_NAME: nosuch)")
    # Each call of a multicall is one line; waiting calls are written when they finish.
    daemon.inet(*DEPLOY).system.multicall([
        {"methodName": "supervisor.stopProcess", "params": ["sleeper", True]},
        {"methodName": "supervisor.getState", "params": []},
        {"methodName": "supervisor.startProcess", "params": ["sleeper"]},
    ])
    log = daemon.wait_log("called supervisor.startProcess('sleeper') -> ok")
    assert "called supervisor.stopProcess('sleeper', True) -> ok" in log
    lines = audit_lines(log)
    i = [n for n, l in enumerate(lines) if "stopProcess('sleeper', True)" in l][0]
    assert "startProcess('sleeper')" in lines[i + 1]


def test_tokens_and_web_actions_are_audited(daemon):
    token = daemon.inet(*ADMIN).supervisor_rs.createToken("ci-bot", "operate")
    log = daemon.wait_log("called supervisor_rs.createToken('ci-bot', 'operate') -> ok")
    assert token not in log  # the secret is the answer, never written
    st, _, _ = daemon.http("POST", "/RPC2", {"Authorization": f"Bearer {token}", "Content-Type": "text/xml"},
                           __import__("xmlrpc.client").client.dumps(("sleeper",), "supervisor.stopProcess").encode())
    assert st == 200
    daemon.wait_log("audit: token ci-bot from 127.0.0.1:")
    # A web UI action as the operator.
    st, _, page = daemon.http("GET", "/", {"Authorization": basic(*DEPLOY)})
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.decode()).group(1)
    st, _, _ = daemon.http("POST", "/index.html?processname=sleeper&action=start",
                           {"Authorization": basic(*DEPLOY),
                            "Content-Type": "application/x-www-form-urlencoded"},
                           f"csrf_token={csrf}".encode())
    assert st in (200, 301), st
    log = daemon.wait_log("called supervisor.startProcess('sleeper'")
    assert re.search(r"audit: user deploy from 127\.0\.0\.1:\d+ called supervisor\.startProcess\('sleeper'", log), log


def test_audit_logfile(tmp_path):
    audit = tmp_path / "audit.log"
    d = AccessDaemon(tmp_path / "d", supervisord_extra=f"audit_logfile={audit}\n")
    try:
        d.inet(*DEPLOY).supervisor.stopProcess("sleeper")
        text = d.wait_log("called supervisor.stopProcess('sleeper') -> ok", path=audit)
        assert LINE.match(text), text
        time.sleep(0.2)
        assert "audit:" not in d.mainlog()
    finally:
        d.stop()


def test_lines_are_written_whatever_the_loglevel(tmp_path):
    d = AccessDaemon(tmp_path / "d", start=False)
    d.conf.write_text(d.conf.read_text().replace("loglevel=info", "loglevel=error"))
    d.start()
    try:
        d.inet(*DEPLOY).supervisor.stopProcess("sleeper")
        line = d.wait_log("called supervisor.stopProcess('sleeper') -> ok")
        assert LINE.search(line)
        assert "INFO spawned" not in d.mainlog()
    finally:
        d.stop()
