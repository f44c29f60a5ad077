"""Issue 13 item 4: bearer tokens. `supervisorctl token create NAME --role ROLE` (admin
only) prints the token once; `Authorization: Bearer TOKEN` works with curl on /RPC2,
/metrics, /events and the web UI with the token's role; the daemon keeps only hashes in a
0600 file that survives restarts; `token revoke` ends it at once."""

import os
import shutil
import stat
import subprocess
import xmlrpc.client

import pytest

from access_helpers import ADMIN, DEPLOY, VIEWER, AccessDaemon, rpc_body
from conftest import IMPLS


@pytest.fixture
def daemon(tmp_path):
    d = AccessDaemon(tmp_path / "d")
    yield d
    d.stop()


def ours(d, user, pw, *args):
    return d.ctl(user, pw, *args, impl="rust")


def bearer_call(d, token, method, params=()):
    """One XML-RPC call with the token, through curl when it is installed."""
    body = rpc_body(method, params)
    if shutil.which("curl"):
        r = subprocess.run(
            ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {token}",
             "-H", "Content-Type: text/xml", "--data-binary", "@-",
             f"http://127.0.0.1:{d.port}/RPC2"],
            input=body, capture_output=True, timeout=30)
        out, _, code = r.stdout.rpartition(b"\n")
        status = int(code)
    else:
        status, _, out = d.http("POST", "/RPC2", {"Authorization": f"Bearer {token}",
                                                   "Content-Type": "text/xml"}, body)
    if status != 200:
        return status, None
    try:
        return 200, xmlrpc.client.loads(out)[0][0]
    except xmlrpc.client.Fault as f:
        return 200, f


def stream_status(d, path, headers):
    """The status of a streaming endpoint (the stream itself is not read)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        c.request("GET", path, headers=headers)
        return c.getresponse().status
    finally:
        c.close()


def test_token_lifecycle_with_curl(daemon, tmp_path):
    r = ours(daemon, *ADMIN, "token", "create", "dash", "--role", "read")
    assert r.returncode == 0, r.stdout + r.stderr
    token = r.stdout.strip()
    assert token.startswith("srs_") and len(token) > 40, r.stdout
    assert "shown only this once" in r.stderr
    status, state = bearer_call(daemon, token, "supervisor.getState")
    assert status == 200 and state["statename"] == "RUNNING"
    status, fault = bearer_call(daemon, token, "supervisor.stopProcess", ["sleeper"])
    assert isinstance(fault, xmlrpc.client.Fault) and fault.faultCode == 30
    assert "not allowed for role read" in fault.faultString
    # Other endpoints: /metrics, the web UI, /events (headers only), /logtail.
    hdr = {"Authorization": f"Bearer {token}"}
    st, _, body = daemon.http("GET", "/metrics", hdr)
    assert st in (200, 404), st  # 404 only in builds without /metrics
    if st == 200:
        assert b"supervisor" in body
    assert daemon.http("GET", "/metrics", {"Authorization": "Bearer srs_wrong"})[0] == 401
    st, _, page = daemon.http("GET", "/", hdr)
    assert st == 200 and b'data-read-only="1"' in page
    for path in ("/logtail/sleeper", "/events", "/mainlogtail"):
        assert stream_status(daemon, path, hdr) == 200, path
        assert stream_status(daemon, path, {"Authorization": "Bearer srs_wrong"}) == 401, path
    # list shows it without the secret; the file holds only a hash, mode 0600.
    r = ours(daemon, *ADMIN, "token", "list")
    assert "dash" in r.stdout and "read" in r.stdout and token not in r.stdout, r.stdout
    tf = daemon.dir / "supervisord.tokens"
    assert stat.S_IMODE(os.stat(tf).st_mode) == 0o600
    assert token not in tf.read_text() and "dash:read:" in tf.read_text()
    # It survives a restart of the daemon.
    daemon.stop()
    daemon.start()
    status, state = bearer_call(daemon, token, "supervisor.getState")
    assert status == 200 and state["statename"] == "RUNNING"
    # Revoked: refused at once.
    r = ours(daemon, *ADMIN, "token", "revoke", "dash")
    assert "token dash revoked" in r.stdout, r.stdout + r.stderr
    status, _ = bearer_call(daemon, token, "supervisor.getState")
    assert status == 401
    r = ours(daemon, *ADMIN, "token", "revoke", "dash")
    assert r.returncode != 0 and "BAD_NAME" in r.stdout, r.stdout
    assert "no tokens" in ours(daemon, *ADMIN, "token", "list").stdout


def test_operate_token_and_admin_only_management(daemon):
    s = daemon.inet(*ADMIN)
    token = s.supervisor_rs.createToken("ci", "operate")
    status, ok = bearer_call(daemon, token, "supervisor.stopProcess", ["sleeper"])
    assert status == 200 and ok is True
    status, f = bearer_call(daemon, token, "supervisor.shutdown")
    assert isinstance(f, xmlrpc.client.Fault) and "role operate" in f.faultString
    # Tokens cannot mint tokens unless admin; users below admin cannot either.
    status, f = bearer_call(daemon, token, "supervisor_rs.createToken", ["x", "admin"])
    assert isinstance(f, xmlrpc.client.Fault)
    with pytest.raises(xmlrpc.client.Fault):
        daemon.inet(*DEPLOY).supervisor_rs.createToken("y", "read")
    r = ours(daemon, *VIEWER, "token", "list")
    assert "not allowed for role read" in r.stdout and r.returncode != 0, r.stdout
    # Bad input.
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.supervisor_rs.createToken("ci", "read")
    assert "exists already" in e.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.supervisor_rs.createToken("z", "root")
    assert e.value.faultCode == 3
    assert [t["name"] for t in s.supervisor_rs.listTokens()] == ["ci"]
    assert "supervisor_rs.createToken" in s.system.listMethods()
    help_text = subprocess.run([str(IMPLS["rust"] / "supervisorctl"), "help", "token"],
                               capture_output=True, text=True, timeout=30).stdout
    assert "token create" in help_text and "token revoke" in help_text


def test_tokens_file_key(tmp_path):
    tf = tmp_path / "state" / "tokens"
    tf.parent.mkdir()
    d = AccessDaemon(tmp_path / "d", supervisord_extra=f"tokens_file={tf}\n")
    try:
        token = d.inet(*ADMIN).supervisor_rs.createToken("t1", "admin")
        assert tf.exists() and "t1:admin:" in tf.read_text()
        status, v = bearer_call(d, token, "supervisor_rs.listTokens")
        assert status == 200 and v[0]["name"] == "t1"
    finally:
        d.stop()
