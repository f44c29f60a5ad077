"""`GET /livez` and `GET /readyz` on our daemon (issue 17): liveness answered by the event
loop, readiness 503 with a short plain-text list of what is not ready and 200 once every
autostart program is RUNNING; authentication as for `/ok.html` unless the server section
says `health_auth = false`. The configs load under the Python reference."""

import base64
import http.client
import socket
import subprocess
import time

from conftest import PY_BIN, free_port

AUTH = {"Authorization": "Basic " + base64.b64encode(b"user:secret").decode()}


def get(port, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def get_unix(path_sock, path, headers=None):
    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(str(path_sock))
    c = Conn("localhost", timeout=10)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def inet(port, extra=""):
    return f"""\
        [inet_http_server]
        port=127.0.0.1:{port}
        username=user
        password=secret
        {extra}
        """


PROGRAMS = """\
    [program:fast]
    command=/bin/sleep 1000
    startsecs=0
    [program:slow]
    command=/bin/sleep 1000
    startsecs=2
    [program:manual]
    command=/bin/sleep 1000
    autostart=false
    """


def reference_loads(conf):
    r = subprocess.run(
        [str(PY_BIN / "python"), "-c",
         "import sys\nfrom supervisor.options import ServerOptions\n"
         "o = ServerOptions()\no.realize(['-c', sys.argv[1]])\n", str(conf)],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr + r.stdout


def test_readyz_is_503_until_every_autostart_program_runs(make_daemon):
    port = free_port()
    d = make_daemon("rust", PROGRAMS, extra_sections=inet(port))
    d.wait_state("fast", "RUNNING")
    status, ctype, body = get(port, "/readyz", AUTH)
    assert status == 503, body
    assert ctype.startswith("text/plain")
    assert body == "not ready\nslow: STARTING\n"
    # the loop answers: alive
    assert get(port, "/livez", AUTH)[::2] == (200, "ok\n")
    d.wait_state("slow", "RUNNING")
    assert get(port, "/readyz", AUTH)[::2] == (200, "ready\n")
    # HEAD works, other methods do not
    assert get(port, "/readyz", AUTH, method="HEAD")[0] == 200
    assert get(port, "/livez", AUTH, method="POST")[0] == 405
    # a stopped autostart program makes it not ready again
    d.rpc().supervisor.stopProcess("fast")
    assert get(port, "/readyz", AUTH)[::2] == (503, "not ready\nfast: STOPPED\n")


def test_authentication_is_as_for_ok_html(make_daemon):
    port = free_port()
    d = make_daemon("rust", PROGRAMS, extra_sections=inet(port))
    for path in ("/ok.html", "/livez", "/readyz"):
        assert get(port, path)[0] == 401, path
        assert get(port, path, {"Authorization": "Basic " + base64.b64encode(b"user:bad").decode()})[0] == 401
    assert get(port, "/ok.html", AUTH)[0] == 200
    assert get(port, "/livez", AUTH)[0] == 200
    reference_loads(d.conf)


def test_health_auth_false_opens_only_the_two_probes(make_daemon):
    port = free_port()
    d = make_daemon("rust", PROGRAMS, extra_sections=inet(port, "health_auth=false"))
    assert get(port, "/livez")[::2] == (200, "ok\n")
    status, _, body = get(port, "/readyz")
    assert status in (200, 503)
    d.wait_state("slow", "RUNNING")
    assert get(port, "/readyz")[::2] == (200, "ready\n")
    # everything else still asks for the credentials
    assert get(port, "/ok.html")[0] == 401
    assert get(port, "/RPC2", method="POST")[0] == 401
    assert get(port, "/")[0] == 401
    reference_loads(d.conf)


def test_fatal_programs_are_listed_and_the_unix_server_answers_too(make_daemon):
    d = make_daemon("rust", """\
        [program:ok]
        command=/bin/sleep 1000
        startsecs=0
        [program:broken]
        command=/nonexistent/binary
        startretries=0
        """)
    d.wait_state("broken", "FATAL")
    status, body = get_unix(d.sock, "/readyz")
    assert (status, body) == (503, "not ready\nbroken: FATAL\n")
    assert get_unix(d.sock, "/livez") == (200, "ok\n")


def test_readyz_during_shutdown(make_daemon):
    port = free_port()
    d = make_daemon("rust", """\
        [program:stubborn]
        command=/bin/sh -c 'trap "" TERM && exec sleep 1000'
        startsecs=0
        stopwaitsecs=3
        """, extra_sections=inet(port, "health_auth=false"))
    assert get(port, "/readyz")[0] == 200
    d.rpc().supervisor.shutdown()
    deadline = time.time() + 5
    seen = None
    while time.time() < deadline:
        try:
            seen = get(port, "/readyz")
        except OSError:
            break
        if seen[0] == 503:
            break
        time.sleep(0.05)
    assert seen is not None and seen[0] == 503, seen
    assert "supervisord: SHUTDOWN" in seen[2]
