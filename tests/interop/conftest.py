"""Shared fixtures for the interop tests.

They start a real daemon, ours (`SUPERVISOR_RS_BIN_DIR/supervisord`) or the Python reference
(`.venv/bin/supervisord`), on a config written into a temp dir, with a unix socket only (or a
loopback TCP port the test chooses). Every daemon is stopped by its pid at teardown, never by name.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import xmlrpc.client
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("SUPERVISOR_RS_VENV", ROOT / ".venv"))
RUST_BIN = Path(os.environ.get("SUPERVISOR_RS_BIN_DIR", ROOT / "target" / "debug"))
PY_BIN = VENV / "bin"

IMPLS = {
    "rust": RUST_BIN,
    "python": PY_BIN,
}


def _die_with_test_process():
    """Runs in the daemon child before exec: if the test process dies without its teardown
    (killed by a timeout), the kernel sends the daemon SIGTERM, so no daemon outlives its test."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class UnixStreamHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixStreamTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout=30):
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        return UnixStreamHTTPConnection(self.unix_path, self.timeout)


def rpc_proxy(sock_path, timeout=30):
    """An xmlrpc.client proxy talking to a daemon's unix socket, as supervisorctl does."""
    return xmlrpc.client.ServerProxy(
        "http://127.0.0.1", transport=UnixStreamTransport(str(sock_path), timeout)
    )


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """One running supervisord (ours or the reference) in its own temp dir."""

    def __init__(self, impl, tmpdir, body, extra_sections="", inet_port=None, start=True,
                 ready_timeout=20):
        self.impl = impl
        self.bin_dir = IMPLS[impl]
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = self.dir / "supervisor.sock"
        self.logfile = self.dir / "supervisord.log"
        self.conf = self.dir / "supervisord.conf"
        self.inet_port = inet_port
        self.proc = None
        inet = ""
        if inet_port is not None:
            inet = f"[inet_http_server]\nport=127.0.0.1:{inet_port}\n"
        text = textwrap.dedent(
            f"""\
            [unix_http_server]
            file={self.sock}

            [supervisord]
            logfile={self.logfile}
            pidfile={self.dir / 'supervisord.pid'}
            childlogdir={self.dir}
            nodaemon=true
            loglevel=debug

            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            [supervisorctl]
            serverurl=unix://{self.sock}

            """
        )
        text += inet + "\n" + textwrap.dedent(extra_sections) + "\n" + textwrap.dedent(body)
        self.conf.write_text(text)
        if start:
            self.start(ready_timeout)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, ready_timeout=20):
        self.out = open(self.dir / "daemon.out", "wb")
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "supervisord"), "-n", "-c", str(self.conf)],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=str(self.dir),
            start_new_session=True,
            preexec_fn=_die_with_test_process,
        )
        deadline = time.time() + ready_timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.impl} supervisord exited {self.proc.returncode}: {self.output()}"
                )
            try:
                if self.rpc(timeout=2).supervisor.getState()["statename"] == "RUNNING":
                    return
            except Exception as e:  # not up yet
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"{self.impl} supervisord not ready: {last!r} {self.output()}")

    def rpc(self, timeout=30):
        return rpc_proxy(self.sock, timeout)

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

    def ctl(self, *args, impl=None, input=None, timeout=60, extra=()):
        """Runs a supervisorctl against this daemon: `impl="python"` (default) is the
        reference client, `impl="rust"` ours."""
        client = IMPLS[impl or "python"] / "supervisorctl"
        cmd = [str(client), "-c", str(self.conf), *extra, *args]
        return subprocess.run(cmd, capture_output=True, text=True, input=input,
                              timeout=timeout, cwd=str(self.dir))

    def wait_for(self, predicate, timeout=15, interval=0.05, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if predicate():
                    return
            except (OSError, xmlrpc.client.Fault, http.client.HTTPException):
                pass
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what}; log:\n{self.mainlog()[-3000:]}")

    def wait_state(self, name, statename, timeout=15):
        self.wait_for(
            lambda: self.rpc(5).supervisor.getProcessInfo(name)["statename"] == statename,
            timeout, what=f"{name} -> {statename}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        finally:
            self.out.close()


@pytest.fixture
def make_daemon(tmp_path):
    """Factory: make_daemon(impl, body, **kw) -> Daemon; all are stopped at teardown."""
    started = []

    def factory(impl, body="", name=None, **kw):
        d = Daemon(impl, tmp_path / (name or f"{impl}{len(started)}"), body, **kw)
        started.append(d)
        return d

    yield factory
    for d in started:
        d.stop()


def pytest_report_header(config):
    return [f"rust bin dir: {RUST_BIN}", f"reference venv: {VENV}"]
