"""Issue 13 item 3 (roles) and item 7 (safer defaults): several users with roles in both
server sections; the admin user (username=/password=) keeps working with the reference's
clients; a `read` user can look but gets the documented fault (FAILED, 'not allowed for
role read') on changes; an `operate` user can stop but not shut down or update; argon2
hashes and users_file; config errors; the failed-login delay; the read-only web UI; the
CRIT line and the --check-config warning of an open server."""

import re
import shutil
import subprocess
import threading
import time
import xmlrpc.client

import pytest

from access_helpers import ADMIN, DEPLOY, VIEWER, AccessDaemon, basic, rpc_body
from conftest import IMPLS, VENV


@pytest.fixture
def daemon(tmp_path):
    d = AccessDaemon(tmp_path / "d")
    yield d
    d.stop()


def test_config_loads_under_the_reference(tmp_path):
    d = AccessDaemon(tmp_path / "ref", start=False,
                     supervisord_extra=f"tokens_file={tmp_path}/tok\naudit_logfile={tmp_path}/audit.log\n",
                     server_extra=f"users_file={tmp_path}/users\n")
    (tmp_path / "users").write_text("ops:pw:operate\n")
    code = ("from supervisor.options import ServerOptions; o = ServerOptions(); "
            f"o.realize(['-c', {str(d.conf)!r}]); "
            "print([c['username'] for c in o.server_configs])")
    r = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "'admin'" in r.stdout
    # ... and the reference daemon runs on it with its one (admin) user.
    ref = AccessDaemon(tmp_path / "ref2", impl="python",
                       supervisord_extra=f"tokens_file={tmp_path}/tok\n")
    try:
        assert ref.unix(*ADMIN).supervisor.getState()["statename"] == "RUNNING"
    finally:
        ref.stop()


def test_admin_with_the_reference_clients(daemon):
    r = daemon.ctl(*ADMIN, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^sleeper\s+RUNNING", r.stdout, re.M), r.stdout
    s = daemon.inet(*ADMIN).supervisor
    assert s.stopProcess("sleeper") is True
    assert s.startProcess("sleeper") is True
    r = daemon.ctl(*ADMIN, "stop", "sleeper", via="unix")
    assert "sleeper: stopped" in r.stdout, r.stdout + r.stderr
    # Wrong admin password: the reference client's own error.
    r = daemon.ctl("admin", "nope", "status")
    assert "Server requires authentication" in r.stdout, r.stdout


def test_read_user_can_look_but_not_change(daemon):
    r = daemon.ctl(*VIEWER, "status")
    assert re.search(r"^sleeper\s+RUNNING", r.stdout, re.M), r.stdout + r.stderr
    assert daemon.ctl(*VIEWER, "tail", "sleeper").returncode == 0
    assert daemon.ctl(*VIEWER, "maintail").returncode == 0
    r = daemon.ctl(*VIEWER, "stop", "sleeper")
    assert "FAILED: not allowed for role read: supervisor.stopProcess needs operate" in r.stdout, r.stdout
    assert r.returncode != 0
    s = daemon.inet(*VIEWER).supervisor
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.stopProcess("sleeper")
    assert e.value.faultCode == 30
    assert "not allowed for role read" in e.value.faultString
    with pytest.raises(xmlrpc.client.Fault):
        s.shutdown()
    assert s.getProcessInfo("sleeper")["statename"] == "RUNNING"
    # Every call of a multicall is checked on its own.
    res = daemon.inet(*VIEWER).system.multicall([
        {"methodName": "supervisor.getState", "params": []},
        {"methodName": "supervisor.stopProcess", "params": ["sleeper"]},
        {"methodName": "supervisor.getPID", "params": []},
    ])
    assert res[0]["statename"] == "RUNNING"
    assert res[1]["faultCode"] == 30 and "role read" in res[1]["faultString"]
    assert isinstance(res[2], int)
    # Over the unix socket too.
    with pytest.raises(xmlrpc.client.Fault):
        daemon.unix(*VIEWER).supervisor.stopProcess("sleeper")


def test_operate_user_can_stop_but_not_shutdown_or_update(daemon):
    r = daemon.ctl(*DEPLOY, "stop", "sleeper")
    assert "sleeper: stopped" in r.stdout, r.stdout + r.stderr
    r = daemon.ctl(*DEPLOY, "start", "sleeper")
    assert "sleeper: started" in r.stdout, r.stdout + r.stderr
    r = daemon.ctl(*DEPLOY, "restart", "sleeper")
    assert "sleeper: started" in r.stdout, r.stdout + r.stderr
    s = daemon.inet(*DEPLOY).supervisor
    assert s.signalProcess("sleeper", "CONT") is True
    for call in (s.shutdown, s.reloadConfig, s.restart):
        with pytest.raises(xmlrpc.client.Fault) as e:
            call()
        assert "not allowed for role operate" in e.value.faultString
    r = daemon.ctl(*DEPLOY, "update")
    assert "not allowed for role operate" in r.stdout + r.stderr
    # Ours: the reference's line on stdout, plus what to do on stderr.
    r = daemon.ctl(*DEPLOY, "update", impl="rust")
    assert "not allowed for role operate: supervisor.reloadConfig needs admin" in r.stdout
    assert "hint: this user or token may not do that (it needs role admin)" in r.stderr
    assert r.returncode == 1
    assert daemon.unix(*ADMIN).supervisor.getState()["statename"] == "RUNNING"


def test_argon2_users_file_and_hash_password(tmp_path):
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--hash-password"],
                       input="s3cret,with:punct\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("{ARGON2}$argon2id$"), h
    help_text = subprocess.run([str(IMPLS["rust"] / "supervisord"), "-h"], capture_output=True,
                               text=True, timeout=30).stdout
    assert "--hash-password" in help_text
    (tmp_path / "users").write_text(f"# ops team\nops:{h}:operate\nauditor:{h}:read\n")
    d = AccessDaemon(tmp_path / "d", server_extra=f"users_file={tmp_path}/users\n")
    try:
        s = d.inet("ops", "s3cret,with:punct").supervisor
        assert s.stopProcess("sleeper") is True
        with pytest.raises(xmlrpc.client.ProtocolError) as e:
            d.inet("ops", "s3cret").supervisor.getState()
        assert e.value.errcode == 401
        with pytest.raises(xmlrpc.client.Fault):
            d.inet("auditor", "s3cret,with:punct").supervisor.startProcess("sleeper")
        # An argon2 hash inside users= (its commas do not split the list).
        bare = h[len("{ARGON2}"):]
    finally:
        d.stop()
    access = f"username = admin\npassword = adminpw\nusers = a:{bare}, b:plain\nroles = a=admin\n"
    d = AccessDaemon(tmp_path / "d2", access=access)
    try:
        assert d.inet("a", "s3cret,with:punct").supervisor.stopProcess("sleeper") is True
        assert d.inet("b", "plain").supervisor.getState()["statename"] == "RUNNING"
    finally:
        d.stop()


@pytest.mark.parametrize("access,users_file,needle", [
    ("users = a:x\nroles = a=boss\n", None, "unknown role \"boss\""),
    ("users = a:x, a:y\n", None, "duplicate user \"a\""),
    ("username = a\npassword = p\nusers = a:y\n", None, "duplicate user \"a\""),
    ("users = a:x\nroles = b=read\n", None, "unknown user \"b\""),
    ("users = nocolon\n", None, "malformed entry"),
    ("users = a:x\n", "ok:pw:read\nbad line\n", "users:2: [unix_http_server] users_file: malformed"),
    ("users = a:x\n", "b:pw:wizard\n", "unknown role \"wizard\""),
])
def test_config_errors_name_file_line_section_key(tmp_path, access, users_file, needle):
    extra = ""
    if users_file is not None:
        (tmp_path / "users").write_text(users_file)
        extra = f"users_file={tmp_path}/users\n"
    d = AccessDaemon(tmp_path / "d", access=access, server_extra=extra, start=False)
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "-n", "-c", str(d.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
    if users_file is None:
        # file:line: [section] key:
        assert re.search(re.escape(str(d.conf)) + r":\d+: \[unix_http_server\] (users|roles): ",
                         r.stderr), r.stderr


def test_failed_login_is_delayed_without_holding_up_others(daemon):
    body = rpc_body("supervisor.getState")
    hdr = {"Content-Type": "text/xml", "Authorization": basic("admin", "wrong")}
    t = time.monotonic()
    status, _, _ = daemon.http("POST", "/RPC2", hdr, body)
    wrong = time.monotonic() - t
    assert status == 401
    assert wrong >= 0.25, wrong
    good_times = []

    def slow():
        daemon.http("POST", "/RPC2", hdr, body)

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.02)
    for _ in range(3):
        t = time.monotonic()
        status, _, _ = daemon.http("POST", "/RPC2", {"Content-Type": "text/xml",
                                                     "Authorization": basic(*ADMIN)}, body)
        good_times.append(time.monotonic() - t)
        assert status == 200
    th.join(10)
    # Other clients are served while the failed login waits.
    assert sum(good_times) < wrong, (good_times, wrong)
    print(f"failed login answered after {wrong * 1000:.0f} ms; good logins meanwhile "
          f"{[round(x * 1000) for x in good_times]} ms")


def test_web_ui_read_only(daemon):
    st, _, page = daemon.http("GET", "/", {"Authorization": basic(*VIEWER)})
    assert st == 200
    page = page.decode()
    assert "sleeper" in page
    assert 'data-read-only="1"' in page
    for button in ("Stop All", "Start All", "Restart All", "act-stop", "act-restart", "act-clearlog"):
        assert button not in page, button
    st, _, admin_page = daemon.http("GET", "/", {"Authorization": basic(*ADMIN)})
    assert "Stop All" in admin_page.decode() and "act-stop" in admin_page.decode()
    # The server refuses the action anyway (even with a valid CSRF token of the viewer).
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    st, _, _ = daemon.http("POST", "/index.html?processname=sleeper&action=stop",
                           {"Authorization": basic(*VIEWER),
                            "Content-Type": "application/x-www-form-urlencoded"},
                           f"csrf_token={token}".encode())
    assert st == 403
    assert daemon.unix(*ADMIN).supervisor.getProcessInfo("sleeper")["statename"] == "RUNNING"
    # An operate user sees the buttons.
    st, _, page = daemon.http("GET", "/", {"Authorization": basic(*DEPLOY)})
    assert "act-stop" in page.decode()


def test_open_server_crit_and_check_config_warning(tmp_path):
    d = AccessDaemon(tmp_path / "open", access="")
    try:
        log = d.wait_log("CRIT Server 'inet_http_server' running without any HTTP authentication checking")
        assert "CRIT Server 'unix_http_server' running without any HTTP authentication checking" in log
    finally:
        d.stop()
    # The reference logs the same line (kept as is).
    ref = AccessDaemon(tmp_path / "ref", impl="python", access="", start=False)
    rp = subprocess.Popen([str(IMPLS["python"] / "supervisord"), "-n", "-c", str(ref.conf)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ref.wait_log("CRIT Server 'inet_http_server' running without any HTTP authentication checking")
    finally:
        rp.terminate()
        rp.wait(20)
    # --check-config: a warning (exit 1) for a non-loopback address without credentials.
    conf = (tmp_path / "open" / "supervisord.conf").read_text()
    exposed = tmp_path / "exposed.conf"
    exposed.write_text(conf.replace(f"port=127.0.0.1:{d.port}", f"port=0.0.0.0:{d.port}"))
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(exposed)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "without any HTTP authentication" in r.stdout, r.stdout
    assert "inet-without-auth" in subprocess.run(
        [str(IMPLS["rust"] / "supervisord"), "--check-config", "--json", "-c", str(exposed)],
        capture_output=True, text=True, timeout=30).stdout
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c",
                        str(tmp_path / "open" / "supervisord.conf")],
                       capture_output=True, text=True, timeout=30)
    assert "without any HTTP authentication" not in r.stdout, r.stdout
    # With users= (no username=) the exposed server is fine.
    guarded = tmp_path / "guarded.conf"
    guarded.write_text(exposed.read_text().replace(
        f"port=0.0.0.0:{d.port}\n", f"port=0.0.0.0:{d.port}\nusers = a:b\n"))
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "--check-config", "-c", str(guarded)],
                       capture_output=True, text=True, timeout=30)
    assert "without any HTTP authentication" not in r.stdout, r.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for the test CA")
def test_client_certificate_user_gets_its_role(tmp_path):
    """mTLS (H8's tls_client_cn_user): a verified certificate's CN is a user of users=, with
    that user's role; audited as cert-user."""
    import ssl
    from test_tls import Pki
    pki = Pki(tmp_path / "pki")
    cert, key = pki.issue("server", "localhost", san="DNS:localhost")
    viewer = pki.issue("viewer", "viewer", usage="clientAuth")
    deploy = pki.issue("deploy", "deploy", usage="clientAuth")
    d = AccessDaemon(tmp_path / "d", inet_extra=(
        f"tls_cert={cert}\ntls_key={key}\ntls_client_ca={pki.ca}\ntls_client_cn_user=true\n"))
    try:
        def proxy(client):
            ctx = ssl.create_default_context(cafile=str(pki.ca))
            ctx.load_cert_chain(str(client[0]), str(client[1]))
            return xmlrpc.client.ServerProxy(f"https://localhost:{d.port}/RPC2", context=ctx)
        s = proxy(viewer).supervisor
        assert s.getState()["statename"] == "RUNNING"
        with pytest.raises(xmlrpc.client.Fault) as e:
            s.stopProcess("sleeper")
        assert "not allowed for role read" in e.value.faultString
        assert proxy(deploy).supervisor.stopProcess("sleeper") is True
        d.wait_log("audit: cert-user deploy from 127.0.0.1:")
    finally:
        d.stop()
