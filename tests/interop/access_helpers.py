"""Shared by test_roles.py, test_tokens.py and test_audit.py: a daemon (ours or the
reference) whose servers have an admin user plus the users and roles of issue 13, and
clients that log in as any of them (xmlrpc.client over the unix socket or TCP, the
reference's supervisorctl, plain HTTP for Bearer tokens)."""

import base64
import http.client
import os
import signal
import socket
import subprocess
import textwrap
import time
import xmlrpc.client
from pathlib import Path

from conftest import IMPLS, _die_with_test_process

ADMIN = ("admin", "adminpw")
# sha1("look") for the viewer, plain for the operator.
VIEWER = ("viewer", "look")
VIEWER_SHA = "{SHA}" + __import__("hashlib").sha1(b"look").hexdigest()
DEPLOY = ("deploy", "ship")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout=30):
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        # get_host_info turns the URL's user:password@ into the Authorization header.
        _, self._extra_headers, _ = self.get_host_info(host)
        return UnixConn(self.unix_path, self.timeout)


ACCESS_KEYS = """\
username = {admin[0]}
password = {admin[1]}
users = {viewer[0]}:{viewer_sha}, {deploy[0]}:{deploy[1]}
roles = {deploy[0]}=operate
"""


class AccessDaemon:
    """A daemon with `[unix_http_server]` and `[inet_http_server]` (127.0.0.1, a free
    port), both with the admin user, the viewer (read) and the deployer (operate)."""

    def __init__(self, tmp, impl="rust", programs=None, server_extra="", supervisord_extra="",
                 access=None, start=True, inet_extra=""):
        self.impl = impl
        self.dir = Path(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = self.dir / "supervisor.sock"
        self.logfile = self.dir / "supervisord.log"
        self.conf = self.dir / "supervisord.conf"
        self.port = free_port()
        self.proc = None
        if access is None:
            access = ACCESS_KEYS.format(admin=ADMIN, viewer=VIEWER, viewer_sha=VIEWER_SHA,
                                        deploy=DEPLOY)
        if programs is None:
            programs = textwrap.dedent("""\
                [program:sleeper]
                command=/bin/sleep 1000
                startsecs=0
                autorestart=false
                """)
        text = (
            f"[unix_http_server]\nfile={self.sock}\n{access}{server_extra}\n"
            f"[inet_http_server]\nport=127.0.0.1:{self.port}\n{access}{server_extra}{inet_extra}\n"
            f"[supervisord]\nlogfile={self.logfile}\npidfile={self.dir / 'supervisord.pid'}\n"
            f"childlogdir={self.dir}\nnodaemon=true\nloglevel=info\n{supervisord_extra}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{self.sock}\n\n" + programs
        )
        self.conf.write_text(text)
        if start:
            self.start()

    def start(self, timeout=20):
        self.out = open(self.dir / "daemon.out", "ab")
        self.proc = subprocess.Popen(
            [str(IMPLS[self.impl] / "supervisord"), "-n", "-c", str(self.conf)],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=str(self.dir),
            start_new_session=True, preexec_fn=_die_with_test_process)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"supervisord exited {self.proc.returncode}: {self.output()}")
            try:
                if self.unix(*ADMIN, timeout=2).supervisor.getState()["statename"] == "RUNNING":
                    return
            except Exception as e:  # not up yet
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"not ready: {last!r} {self.output()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.out.close()

    def output(self):
        try:
            return (self.dir / "daemon.out").read_text(errors="replace")
        except OSError:
            return ""

    def mainlog(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    # -- clients ---------------------------------------------------------------------------
    def unix(self, user=None, password=None, timeout=30):
        """xmlrpc.client over the unix socket, as supervisorctl does."""
        auth = f"{user}:{password}@" if user else ""
        return xmlrpc.client.ServerProxy(f"http://{auth}127.0.0.1",
                                         transport=UnixTransport(str(self.sock), timeout))

    def inet(self, user=None, password=None):
        auth = f"{user}:{password}@" if user else ""
        return xmlrpc.client.ServerProxy(f"http://{auth}127.0.0.1:{self.port}/RPC2")

    def ctl(self, user, password, *args, impl="python", via="inet", timeout=60):
        """The reference's (or our) supervisorctl logged in as `user`."""
        url = f"http://127.0.0.1:{self.port}" if via == "inet" else f"unix://{self.sock}"
        cmd = [str(IMPLS[impl] / "supervisorctl"), "-c", str(self.conf), "-s", url,
               "-u", user, "-p", password, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.dir))

    def http(self, method, path, headers=None, body=None, timeout=10):
        """One plain HTTP request on the TCP port: (status, headers, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def wait_log(self, needle, timeout=10, path=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = Path(path).read_text(errors="replace") if path else self.mainlog()
            if needle in text:
                return text
            time.sleep(0.05)
        text = Path(path).read_text(errors="replace") if path and Path(path).exists() else self.mainlog()
        raise AssertionError(f"{needle!r} not in log:\n{text[-3000:]}")


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def rpc_body(method, params=()):
    return xmlrpc.client.dumps(tuple(params), method).encode()
