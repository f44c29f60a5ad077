"""TLS on [inet_http_server] and https:// in supervisorctl (issue 13 item 5).

A CA, server and client certificates are made in each test's temp dir with the openssl
command line tool. Then: Python's xmlrpc.client over https with that CA; our supervisorctl
with tls_ca= (status, tail, tail -f); a wrong CA and a wrong host name refused in plain
words; mutual TLS (no client certificate refused, a certificate of another CA refused, the
certificate's CN authenticates as that user); plain HTTP to the TLS port answered with a
400 and the daemon unharmed; renewed certificate files used after SIGHUP; bad TLS files
stop the start with an error naming the key (and --check-config reports them); the same
config loads under the Python reference, which ignores the tls_* keys.
"""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
import xmlrpc.client
from pathlib import Path

import pytest

from conftest import IMPLS, VENV, free_port

RUST_CTL = IMPLS["rust"] / "supervisorctl"
RUST_D = IMPLS["rust"] / "supervisord"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """A throw-away CA in `dir`, issuing EC P-256 certificates."""

    def __init__(self, dir, name="ca"):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.serial = 1
        self.ca = self.dir / f"{name}.crt"
        self.ca_key = self.dir / f"{name}.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2",
                "-subj", f"/CN={name} test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def issue(self, file, cn, san=None, usage="serverAuth"):
        """(cert, key) paths of a leaf signed by this CA."""
        self.serial += 1
        key = self.dir / f"{file}.key"
        csr = self.dir / f"{file}.csr"
        crt = self.dir / f"{file}.crt"
        ext = self.dir / f"{file}.ext"
        lines = ["basicConstraints=CA:FALSE", f"extendedKeyUsage={usage}"]
        if san:
            lines.append(f"subjectAltName={san}")
        ext.write_text("\n".join(lines) + "\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}", cwd=self.dir)
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey",
                str(self.ca_key), "-set_serial", str(self.serial), "-days", "2", "-extfile",
                str(ext), "-out", str(crt), cwd=self.dir)
        return crt, key


@pytest.fixture
def pki(tmp_path):
    p = Pki(tmp_path / "pki")
    p.server = p.issue("server", "localhost", san="DNS:localhost")
    p.client = p.issue("client", "admin", usage="clientAuth")
    p.stranger = p.issue("stranger", "nobody", usage="clientAuth")
    return p


def inet(port, pki, client_ca=False, creds=True):
    cert, key = pki.server
    text = f"[inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={cert}\ntls_key={key}\n"
    if creds:
        text += "username=admin\npassword=s3cret\n"
    if client_ca:
        text += f"tls_client_ca={pki.ca}\ntls_client_cn_user=true\n"
    return text


BODY = """\
[program:talker]
command=sh -c 'while true; do echo tick-$$; sleep 0.2; done'
startsecs=0
"""


def ctl_conf(d, port, pki, client=None, ca=None, creds=True, host="localhost"):
    """A config file for our supervisorctl pointing at the https server."""
    text = (f"[supervisorctl]\nserverurl=https://{host}:{port}\n"
            f"tls_ca={ca or pki.ca}\n")
    if creds:
        text += "username=admin\npassword=s3cret\n"
    if client:
        text += f"tls_cert={client[0]}\ntls_key={client[1]}\n"
    path = d.dir / f"ctl-{abs(hash(text))}.conf"
    path.write_text(text)
    return path


def ctl(conf, *args, timeout=30):
    return subprocess.run([str(RUST_CTL), "-c", str(conf), *args], capture_output=True,
                          text=True, timeout=timeout)


def https_proxy(port, pki, user="admin:s3cret@", cert=None):
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return xmlrpc.client.ServerProxy(f"https://{user}localhost:{port}/RPC2", context=ctx)


def peer_serial(port, pki):
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert()["serialNumber"]


def test_https_with_xmlrpc_client_and_our_supervisorctl(make_daemon, pki):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki))
    d.wait_state("talker", "RUNNING")
    # The start-up lines: what is served, and the warning of a certificate about to expire.
    log = d.mainlog()
    assert "INFO inet_http_server serves HTTPS: certificate CN=localhost, valid until 20" in log
    assert "WARN inet_http_server: the TLS certificate (CN=localhost) expires on " in log
    # The reference's client library, over https with the test CA.
    p = https_proxy(port, pki)
    assert p.supervisor.getState()["statename"] == "RUNNING"
    assert p.supervisor.getProcessInfo("talker")["statename"] == "RUNNING"
    # Wrong password: 401 over TLS, as over plain HTTP.
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        https_proxy(port, pki, user="admin:nope@").supervisor.getState()
    assert e.value.errcode == 401
    # Our supervisorctl with tls_ca=.
    conf = ctl_conf(d, port, pki)
    r = ctl(conf, "status")
    assert r.returncode == 0, r
    assert "talker" in r.stdout and "RUNNING" in r.stdout
    r = ctl(conf, "tail", "talker")
    assert r.returncode == 0 and "tick-" in r.stdout, r
    # tail -f streams over TLS until Ctrl-C.
    f = subprocess.Popen([str(RUST_CTL), "-c", str(conf), "tail", "-f", "talker"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 15
        seen = ""
        while time.time() < deadline and seen.count("tick-") < 3:
            seen += f.stdout.readline()
        assert seen.count("tick-") >= 3, seen
        f.send_signal(signal.SIGINT)
        assert f.wait(timeout=10) == 0
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()


def test_wrong_ca_wrong_name_and_insecure(make_daemon, pki, tmp_path):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki))
    other = Pki(tmp_path / "other", name="other")
    # Python's ssl refuses the server with another CA.
    with pytest.raises(ssl.SSLCertVerificationError):
        xmlrpc.client.ServerProxy(
            f"https://admin:s3cret@localhost:{port}/RPC2",
            context=ssl.create_default_context(cafile=str(other.ca))).supervisor.getState()
    # Ours: a plain stdout line, a hint, the exit status of a connection problem.
    r = ctl(ctl_conf(d, port, pki, ca=other.ca), "pid")
    assert r.stdout.strip() == f"https://localhost:{port} certificate not trusted", r
    assert "hint: " in r.stderr and "tls_ca=" in r.stderr
    assert r.returncode == 1
    # No tls_ca and a private CA: the system roots do not know it either.
    plain = d.dir / "noca.conf"
    plain.write_text(f"[supervisorctl]\nserverurl=https://localhost:{port}\n"
                     "username=admin\npassword=s3cret\n")
    r = ctl(plain, "pid")
    assert "certificate not trusted" in r.stdout, r
    # The certificate names localhost only: 127.0.0.1 does not match it.
    r = ctl(ctl_conf(d, port, pki, host="127.0.0.1"), "pid")
    assert r.stdout.strip() == f"https://127.0.0.1:{port} certificate name mismatch", r
    assert "subjectAltName" in r.stderr
    assert r.returncode == 1
    # --insecure connects anyway, and says so on stderr every time.
    for _ in range(2):
        r = ctl(plain, "--insecure", "pid")
        assert r.returncode == 0 and r.stdout.strip().isdigit(), r
        assert "--insecure" in r.stderr and "NOT verified" in r.stderr
    # The daemon is fine after the refused handshakes.
    assert https_proxy(port, pki).supervisor.getState()["statename"] == "RUNNING"


def test_mutual_tls_requires_a_verified_certificate_and_maps_its_cn(make_daemon, pki,
                                                                     tmp_path):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki, client_ca=True))
    # No client certificate: refused in the handshake (Python and ours).
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_proxy(port, pki).supervisor.getState()
    r = ctl(ctl_conf(d, port, pki), "pid")
    assert r.stdout.strip() == f"https://localhost:{port} requires a client certificate", r
    assert "tls_cert=" in r.stderr
    assert r.returncode == 77
    # A client certificate of another CA: refused.
    rogue = Pki(tmp_path / "rogue", name="rogue")
    rogue_client = rogue.issue("client", "admin", usage="clientAuth")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_proxy(port, pki, cert=rogue_client).supervisor.getState()
    r = ctl(ctl_conf(d, port, pki, client=rogue_client), "pid")
    assert r.stdout.strip() == f"https://localhost:{port} refused the client certificate", r
    assert r.returncode == 77
    # The CA's certificate with CN=admin: authenticated as admin without a password.
    p = https_proxy(port, pki, user="", cert=pki.client)
    assert p.supervisor.getState()["statename"] == "RUNNING"
    r = ctl(ctl_conf(d, port, pki, client=pki.client, creds=False), "status")
    assert r.returncode == 0 and "talker" in r.stdout, r
    # A verified certificate whose CN is no user still needs credentials.
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        https_proxy(port, pki, user="", cert=pki.stranger).supervisor.getState()
    assert e.value.errcode == 401
    p = https_proxy(port, pki, cert=pki.stranger)
    assert p.supervisor.getState()["statename"] == "RUNNING"


def test_plain_http_to_the_tls_port_fails_cleanly(make_daemon, pki):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/RPC2", body=b"<x/>", headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    assert r.status == 400
    assert b"speaks HTTPS" in r.read()
    c.close()
    with pytest.raises(xmlrpc.client.ProtocolError):
        xmlrpc.client.ServerProxy(f"http://admin:s3cret@127.0.0.1:{port}/RPC2"
                                  ).supervisor.getState()
    # Garbage and half-open connections do not hurt it either.
    for junk in (b"\x00\x01\x02\x03", b"\x16\x03\x01\x00\x05ab", b""):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            # The server may close (or reset) before we are done: only its survival counts.
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                assert s.recv(100) == b""
            except OSError:
                pass
    # Our supervisorctl with http:// says what to do.
    conf = d.dir / "http.conf"
    conf.write_text(f"[supervisorctl]\nserverurl=http://localhost:{port}\n"
                    "username=admin\npassword=s3cret\n")
    r = ctl(conf, "pid")
    assert r.stdout.strip() == f"http://localhost:{port} speaks HTTPS only", r
    assert "https://" in r.stderr
    assert https_proxy(port, pki).supervisor.getState()["statename"] == "RUNNING"
    assert d.rpc().supervisor.getState()["statename"] == "RUNNING"


def test_renewed_certificate_is_served_after_sighup(make_daemon, pki):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki))
    first = peer_serial(port, pki)
    # Renew in place (same paths), then SIGHUP: the daemon restarts and binds again.
    renewed = pki.issue("renewed", "localhost", san="DNS:localhost")
    for new, old in zip(renewed, pki.server):
        os.replace(new, old)
    os.kill(d.proc.pid, signal.SIGHUP)

    def serial_changed():
        try:
            return peer_serial(port, pki) != first
        except OSError:
            return False

    d.wait_for(serial_changed, timeout=20, what="the renewed certificate")
    assert https_proxy(port, pki).supervisor.getState()["statename"] == "RUNNING"
    r = ctl(ctl_conf(d, port, pki), "status")
    assert r.returncode == 0, r


def run_daemon(conf, timeout=20):
    return subprocess.run([str(RUST_D), "-n", "-c", str(conf)], capture_output=True,
                          text=True, timeout=timeout)


def test_bad_tls_files_stop_the_start_naming_the_key(tmp_path, pki):
    port = free_port()
    good_cert, good_key = pki.server
    other_cert, other_key = pki.issue("other", "localhost", san="DNS:localhost")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = {
        "missing": (tmp_path / "nope.crt", good_key, "tls_cert",
                    "No such file or directory"),
        "bad pem": (junk, good_key, "tls_cert", "holds no PEM certificate"),
        "bad key": (good_cert, junk, "tls_key", "holds no PEM private key"),
        "mismatch": (good_cert, other_key, "tls_key", "does not match the certificate"),
    }
    for name, (cert, key, bad, words) in cases.items():
        conf = tmp_path / f"{name.replace(' ', '_')}.conf"
        conf.write_text(
            f"[supervisord]\nlogfile={tmp_path}/d.log\npidfile={tmp_path}/d.pid\n"
            f"[inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={cert}\ntls_key={key}\n")
        r = run_daemon(conf)
        assert r.returncode == 2, (name, r)
        assert f"[inet_http_server] {bad} (file: '{conf}', line " in r.stderr, (name, r.stderr)
        assert words in r.stderr, (name, r.stderr)
        c = subprocess.run([str(RUST_D), "--check-config", "-c", str(conf)],
                           capture_output=True, text=True, timeout=20)
        assert c.returncode == 2, (name, c)
        assert words in c.stdout + c.stderr, (name, c)
    # A pair that is incomplete is a config error naming the missing key.
    conf = tmp_path / "half.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/d.log\n"
                    f"[inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={good_cert}\n")
    r = run_daemon(conf)
    assert r.returncode == 2 and "tls_key is not" in r.stderr, r


def test_config_with_tls_keys_loads_under_the_reference(tmp_path, pki):
    cert, key = pki.server
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/d.log\npidfile={tmp_path}/d.pid\n"
        f"[inet_http_server]\nport=127.0.0.1:{free_port()}\ntls_cert={cert}\n"
        f"tls_key={key}\ntls_client_ca={pki.ca}\ntls_client_cn_user=true\n"
        f"username=admin\npassword=s3cret\n"
        f"[supervisorctl]\nserverurl=https://localhost:9001\ntls_ca=%(here)s/ca.pem\n"
        f"tls_cert={cert}\ntls_key={key}\n"
        "[program:x]\ncommand=sleep 1\n")
    script = (
        "import sys\n"
        "from supervisor.options import ServerOptions, ClientOptions\n"
        "s = ServerOptions(); s.realize(['-c', sys.argv[1]])\n"
        "print('server', [c['port'] for c in s.server_configs])\n"
        "c = ClientOptions(); c.realize(['-c', sys.argv[1]])\n"
        "print('client', c.serverurl)\n")
    r = subprocess.run([str(VENV / "bin" / "python"), "-c", script, str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert "server [" in r.stdout and "client https://localhost:9001" in r.stdout, r
    # And ours accepts it (no unknown-key findings for the tls_* keys).
    c = subprocess.run([str(RUST_D), "--check-config", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20)
    assert "unknown" not in (c.stdout + c.stderr).lower() or "tls_" not in c.stdout, c
    assert c.returncode in (0, 1), c


def test_certificate_user_gets_its_role_and_is_audited(make_daemon, pki):
    """The CN maps to a user of users=/roles=: a read user's certificate may look, not act."""
    port = free_port()
    viewer = pki.issue("viewer", "viewer", usage="clientAuth")
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki, client_ca=True)
                    + "users = viewer:viewpass, deploy:deploypass\nroles = deploy=operate\n")
    d.wait_state("talker", "RUNNING")
    conf = ctl_conf(d, port, pki, client=viewer, creds=False)
    r = ctl(conf, "status")
    assert r.returncode == 0 and "talker" in r.stdout, r
    r = ctl(conf, "stop", "talker")
    assert r.returncode != 0 and "not allowed for role read" in r.stdout, r
    assert d.rpc().supervisor.getProcessInfo("talker")["statename"] == "RUNNING"
    # The admin's certificate may act, and the audit log names the certificate's user.
    admin = ctl_conf(d, port, pki, client=pki.client, creds=False)
    r = ctl(admin, "stop", "talker")
    assert r.returncode == 0 and "talker: stopped" in r.stdout, r
    d.wait_for(lambda: "cert-user admin" in d.mainlog() and "stopProcess('talker')"
               in d.mainlog(), what="the audit line of the certificate user")
    assert "cert-user viewer" in d.mainlog()


def test_web_ui_and_open_over_https(make_daemon, pki):
    port = free_port()
    d = make_daemon("rust", BODY, extra_sections=inet(port, pki))
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    c = http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx)
    auth = "Basic " + __import__("base64").b64encode(b"admin:s3cret").decode()
    c.request("GET", "/", headers={"Authorization": auth})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and b"talker" in body, (r.status, body[:200])
    c.close()
    # `open https://...` switches to the server and shows its status.
    conf = ctl_conf(d, port, pki)
    r = ctl(conf, "open", f"https://localhost:{port}")
    assert "talker" in r.stdout and "RUNNING" in r.stdout, r
