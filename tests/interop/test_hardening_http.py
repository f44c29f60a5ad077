"""Hardening of the HTTP servers (issue 10): a second daemon never displaces a stopped
one, a refused login on the unix socket is always a clean 401, half-open connections do not
shut out an authenticated client, the servers keep answering when the daemon is out of
file descriptors, and big requests do not leave their memory behind.

Each scenario runs against our daemon; where the reference is run too, the test says what it
does there.
"""

import base64
import os
import re
import resource
import select
import signal
import socket
import subprocess
import time
import xmlrpc.client
from pathlib import Path

import pytest

from conftest import IMPLS, _die_with_test_process, free_port, rpc_proxy


def _limited(nofile):
    """preexec_fn: the daemon dies with the test, and runs under an fd limit of `nofile`."""

    def pre():
        _die_with_test_process()
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return pre


class Proc:
    """A daemon started by hand (own rlimits, credentials on the unix socket, ...)."""

    def __init__(self, impl, conf, out, nofile=None):
        self.out = open(out, "wb")
        self.proc = subprocess.Popen(
            [str(IMPLS[impl] / "supervisord"), "-n", "-c", str(conf)],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=str(Path(conf).parent),
            start_new_session=True, preexec_fn=_limited(nofile))
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.out.close()


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        p.stop()


def write_conf(dir, body="", unix_auth=None, inet=None, minfds=None):
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    sock = dir / "supervisor.sock"
    auth = ""
    if unix_auth:
        auth = f"username={unix_auth[0]}\npassword={unix_auth[1]}\n"
    inet_text = ""
    if inet:
        port, user, pw = inet
        inet_text = f"[inet_http_server]\nport=127.0.0.1:{port}\n"
        if user:
            inet_text += f"username={user}\npassword={pw}\n"
    extra = f"minfds={minfds}\n" if minfds else ""
    conf = dir / "supervisord.conf"
    conf.write_text(
        f"[unix_http_server]\nfile={sock}\n{auth}\n{inet_text}\n"
        f"[supervisord]\nlogfile={dir / 'supervisord.log'}\npidfile={dir / 'supervisord.pid'}\n"
        f"childlogdir={dir}\nnodaemon=true\nloglevel=info\n{extra}\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{sock}\n\n{body}\n")
    return conf, sock


class AuthUnixTransport(xmlrpc.client.Transport):
    """xmlrpc.client over a unix socket, with Basic credentials."""

    def __init__(self, path, user, pw, timeout=10):
        super().__init__()
        self.path, self.timeout = path, timeout
        self.auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    def make_connection(self, host):
        from conftest import UnixStreamHTTPConnection
        return UnixStreamHTTPConnection(self.path, self.timeout)

    def send_headers(self, connection, headers):
        connection.putheader("Authorization", self.auth)
        super().send_headers(connection, headers)


def wait_ready(proxy_fn, proc, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.proc.returncode}")
        try:
            if proxy_fn().supervisor.getState()["statename"] == "RUNNING":
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"daemon not ready: {last!r}")


# -- item 8: a refused login on the unix socket ----------------------------------------------

def run_wrong_login(impl, tmp_path, procs, runs):
    conf, sock = write_conf(tmp_path / impl, "[program:cat]\ncommand=/bin/cat\n",
                            unix_auth=("user", "123"))
    p = Proc(impl, conf, tmp_path / impl / "daemon.out")
    procs.append(p)
    wait_ready(lambda: xmlrpc.client.ServerProxy(
        "http://127.0.0.1", transport=AuthUnixTransport(str(sock), "user", "123")), p)
    results = []
    for _ in range(runs):
        r = subprocess.run([str(IMPLS["python"] / "supervisorctl"), "-c", str(conf),
                            "-u", "x", "-p", "wrong", "status"],
                           capture_output=True, text=True, timeout=30)
        results.append((r.returncode, r.stdout + r.stderr))
    return results


def test_wrong_login_on_unix_socket_is_always_401(tmp_path, procs):
    """The reference's supervisorctl, 30 times with a wrong password against our unix socket:
    always `Server requires authentication` with the reference's exit code (the refused
    request's body is read before the 401 and the close, so the client never gets a broken
    pipe). The reference daemon behaves the same (checked here on a few runs)."""
    ref = run_wrong_login("python", tmp_path, procs, 3)
    ours = run_wrong_login("rust", tmp_path, procs, 30)
    # The reference's client asks twice (it retries the command after the first 401), so
    # its output is two lines; the first is the one users know.
    assert len(set(ref)) == 1, ref
    assert ref[0][1].startswith("Server requires authentication\n"), ref
    for result in ours:
        assert "BrokenPipe" not in result[1], result
        assert result == ref[0], (result, ref[0])


# -- item 7: single instance --------------------------------------------------------------------

def test_stopped_daemon_is_not_displaced(tmp_path, procs):
    """Daemon A is stopped (SIGSTOP); daemon B on the same config must refuse to start with
    the reference's "Another program is already listening" usage error, within a few
    seconds and without touching A's socket; after SIGCONT A answers and its child is the
    same process. (The reference decides by connecting and waiting for an answer, so it
    takes the stopped daemon's socket over after its timeout: our bar is higher.)"""
    conf, sock = write_conf(tmp_path / "a", "[program:sleeper]\ncommand=/bin/sleep 1000\n"
                            "startsecs=0\n")
    a = Proc("rust", conf, tmp_path / "a" / "a.out")
    procs.append(a)
    wait_ready(lambda: rpc_proxy(sock, 5), a)
    info = rpc_proxy(sock, 5).supervisor.getProcessInfo("sleeper")
    assert info["statename"] == "RUNNING"
    sock_ino = os.stat(sock).st_ino
    os.kill(a.pid, signal.SIGSTOP)
    t0 = time.time()
    b = subprocess.Popen([str(IMPLS["rust"] / "supervisord"), "-n", "-c", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=str(tmp_path), preexec_fn=_die_with_test_process)
    try:
        out, err = b.communicate(timeout=15)
        took = time.time() - t0
    except subprocess.TimeoutExpired:
        # It took the socket over: stop it the normal way, so it stops its children too.
        b.terminate()
        b.communicate(timeout=20)
        pytest.fail("the second daemon did not refuse to start: it took the socket over")
    finally:
        os.kill(a.pid, signal.SIGCONT)
    assert b.returncode == 2, (b.returncode, out, err)
    assert ("Error: Another program is already listening on a port that one of our HTTP "
            "servers is configured to use.  Shut this program down first before starting "
            "supervisord.") in err, err
    assert took < 5, took
    assert os.stat(sock).st_ino == sock_ino
    again = rpc_proxy(sock, 5).supervisor.getProcessInfo("sleeper")
    assert again["statename"] == "RUNNING" and again["pid"] == info["pid"]
    os.kill(info["pid"], 0)


def test_lock_released_for_next_daemon(tmp_path, procs):
    """After a daemon stops (and after a restart), the next one starts on the same config,
    and no lock file is left behind."""
    conf, sock = write_conf(tmp_path / "a")
    a = Proc("rust", conf, tmp_path / "a" / "a.out")
    procs.append(a)
    wait_ready(lambda: rpc_proxy(sock, 5), a)
    assert Path(str(sock) + ".lock").exists()
    rpc_proxy(sock, 5).supervisor.restart()
    time.sleep(0.5)
    wait_ready(lambda: rpc_proxy(sock, 5), a)
    a.stop()
    assert not sock.exists() and not Path(str(sock) + ".lock").exists()
    b = Proc("rust", conf, tmp_path / "a" / "b.out")
    procs.append(b)
    wait_ready(lambda: rpc_proxy(sock, 5), b)


def test_daemonized_daemon_keeps_its_lock(tmp_path):
    """The lock survives daemonizing (the background child inherits it): a second daemon
    is refused while the detached one runs, and the lock file goes with it at exit."""
    conf, sock = write_conf(tmp_path / "a")
    conf.write_text(conf.read_text().replace("nodaemon=true", "nodaemon=false"))
    pidfile = tmp_path / "a" / "supervisord.pid"
    r = subprocess.run([str(IMPLS["rust"] / "supervisord"), "-c", str(conf)],
                       capture_output=True, text=True, timeout=20, cwd=str(tmp_path))
    assert r.returncode == 0, r
    pid = None
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                pid = int(pidfile.read_text())
                if rpc_proxy(sock, 2).supervisor.getState()["statename"] == "RUNNING":
                    break
            except (OSError, ValueError, xmlrpc.client.Error):
                pass
            time.sleep(0.05)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            b = subprocess.run([str(IMPLS["rust"] / "supervisord"), "-n", "-c", str(conf)],
                               capture_output=True, text=True, timeout=15,
                               cwd=str(tmp_path), preexec_fn=_die_with_test_process)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert b.returncode == 2 and "Another program is already listening" in b.stderr, b
        assert rpc_proxy(sock, 5).supervisor.getState()["statename"] == "RUNNING"
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 15
        while time.time() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        assert not sock.exists() and not Path(str(sock) + ".lock").exists()
    finally:
        if pid is not None and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


# -- item 4: half-open connections ----------------------------------------------------------

class TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc.client over TCP with a socket timeout (a hung server fails the test)."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def tcp_proxy(url, timeout=5):
    return xmlrpc.client.ServerProxy(url, transport=TimeoutTransport(timeout))


def raise_own_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n)) if hard != resource.RLIM_INFINITY else max(soft, n)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def open_half_heads(port, count, deadline):
    """Opens `count` TCP connections that each send half a request head and then wait."""
    socks, pending = [], []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        pending.append(s)
    head = b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\n"
    poller = select.poll()
    byfd = {}
    for s in pending:
        poller.register(s, select.POLLOUT)
        byfd[s.fileno()] = s
    while byfd and time.time() < deadline:
        for fd, ev in poller.poll(200):
            s = byfd.pop(fd)
            poller.unregister(fd)
            if ev & select.POLLOUT and not ev & (select.POLLERR | select.POLLHUP):
                try:
                    s.send(head)
                except OSError:
                    pass
            socks.append(s)
    return socks + list(byfd.values())


@pytest.mark.parametrize("nofile", [None, 1024])
def test_half_open_connections_do_not_shut_out_a_client(tmp_path, procs, nofile):
    """5,000 connections that send half a request head and wait; then an authenticated
    getState on the inet server still answers quickly, because the oldest connections
    without a complete head are closed to make room. Run with the test's own fd limit
    (a cap of 4,096 connections) and with the common 1,024 (a cap of 256). (Under the old
    limits, 4,096 connections waiting 30 minutes for their heads, or accept failing with
    EMFILE, the client timed out.)"""
    raise_own_nofile(12000)
    port = free_port()
    conf, sock = write_conf(tmp_path / "d", inet=(port, "user", "123"))
    d = Proc("rust", conf, tmp_path / "d" / "d.out", nofile=nofile)
    procs.append(d)
    url = f"http://user:123@127.0.0.1:{port}/RPC2"
    wait_ready(lambda: tcp_proxy(url), d)
    t0 = time.time()
    socks = open_half_heads(port, 5000, time.time() + 30)
    # The flood itself gets through quickly: head-less connections make room at once.
    assert time.time() - t0 < 15, time.time() - t0
    try:
        # Let the flood settle (the held connections are old, as a slowloris' are).
        time.sleep(2.5)
        times = []
        for _ in range(5):
            proxy = tcp_proxy(url)
            t0 = time.monotonic()
            try:
                state = proxy.supervisor.getState()
            except OSError as e:
                pytest.fail(f"authenticated call failed under the flood: {e!r}")
            times.append(time.monotonic() - t0)
            assert state["statename"] == "RUNNING"
        times.sort()
        # 100 ms on a release build; looser on a debug build on a shared machine.
        assert times[2] < 0.2, times
        assert times[-1] < 1.0, times
        # The daemon holds no more connections than its cap (a quarter of its fd limit).
        nfds = len(os.listdir(f"/proc/{d.pid}/fd"))
        soft = int(re.search(r"Max open files\s+(\d+)",
                             Path(f"/proc/{d.pid}/limits").read_text()).group(1))
        assert nfds < soft // 2, (nfds, soft)
    finally:
        for s in socks:
            s.close()


# -- item 1 (servers): out of descriptors ---------------------------------------------------

def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_servers_answer_when_the_daemon_is_out_of_fds(tmp_path, procs):
    """The daemon runs under a 64-descriptor limit: programs take most of its descriptors
    and connections that send nothing take the rest, until the daemon has none left. Then
    supervisorctl over the unix socket and an RPC over the inet server still get their
    answers (each server keeps spare descriptors and gives one up to accept). Before, the
    accept failed with EMFILE for as long as the descriptors stayed taken."""
    port = free_port()
    # Log files (not NONE): a channel whose log is NONE and whose bytes nobody reads gets
    # /dev/null instead of a pipe (issue 16), and the programs must hold their three pipe
    # ends each for the connections to exhaust what is left.
    (tmp_path / "d").mkdir(parents=True, exist_ok=True)
    body = "".join(f"[program:p{i}]\ncommand=/bin/sleep 1000\nstartsecs=0\n"
                   f"stdout_logfile={tmp_path / 'd'}/p{i}.out\n"
                   f"stderr_logfile={tmp_path / 'd'}/p{i}.err\n" for i in range(8))
    conf, sock = write_conf(tmp_path / "d", body, inet=(port, None, None), minfds=32)
    d = Proc("rust", conf, tmp_path / "d" / "d.out", nofile=64)
    procs.append(d)
    wait_ready(lambda: rpc_proxy(sock, 5), d)
    proxy = rpc_proxy(sock, 5)
    deadline = time.time() + 15
    while time.time() < deadline:
        if all(p["statename"] in ("RUNNING", "FATAL")
               for p in proxy.supervisor.getAllProcessInfo()):
            break
        time.sleep(0.1)
    held = []
    try:
        # Take every descriptor left with idle connections (alternating the two servers).
        for i in range(200):
            before = fd_count(d.pid)
            if before >= 64:
                break
            if i % 2:
                s = socket.socket()
                s.connect(("127.0.0.1", port))
            else:
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(sock))
            held.append(s)
            t = time.time() + 1
            while fd_count(d.pid) == before and time.time() < t:
                time.sleep(0.01)
        assert fd_count(d.pid) >= 64, fd_count(d.pid)
        r = subprocess.run([str(IMPLS["python"] / "supervisorctl"), "-c", str(conf), "status"],
                           capture_output=True, text=True, timeout=20)
        # Every program listed (one that could not be spawned is FATAL: `too many open
        # files`, and the exit status is then 3).
        lines = r.stdout.splitlines()
        assert [line.split()[0] for line in lines] == [f"p{i}" for i in range(8)], r
        assert all(line.split()[1] in ("RUNNING", "FATAL") for line in lines), r
        assert "RUNNING" in r.stdout and r.returncode in (0, 3), r
        inet = tcp_proxy(f"http://127.0.0.1:{port}/RPC2")
        assert inet.supervisor.getState()["statename"] == "RUNNING"
        # And again, with the reserve used once already.
        assert rpc_proxy(sock, 5).supervisor.getState()["statename"] == "RUNNING"
    finally:
        for s in held:
            s.close()
    # Descriptors back: everything normal.
    assert rpc_proxy(sock, 5).supervisor.getState()["statename"] == "RUNNING"


# -- item 6: memory after big requests ------------------------------------------------------

def vm(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def post_unix(sock, body, timeout=120):
    from conftest import UnixStreamHTTPConnection
    c = UnixStreamHTTPConnection(str(sock), timeout)
    c.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def test_memory_is_given_back_after_big_requests(tmp_path, procs):
    """A 13 MB multicall (69,000 getState calls) and a 15 MB string argument: the daemon's
    peak stays a small multiple of the request, and a second after each its RSS is back
    within 10 MB of the baseline (before: ~200 MB kept after the multicall, 16x the
    request at the peak). The reference also keeps most of its peak after such requests."""
    conf, sock = write_conf(tmp_path / "d", "[program:cat]\ncommand=/bin/cat\n")
    d = Proc("rust", conf, tmp_path / "d" / "d.out")
    procs.append(d)
    wait_ready(lambda: rpc_proxy(sock, 5), d)
    time.sleep(0.5)
    base = vm(d.pid, "VmRSS")
    call = ("<value><struct><member><name>methodName</name><value><string>"
            "supervisor.getState</string></value></member><member><name>params</name>"
            "<value><array><data></data></array></value></member></struct></value>")
    n = 13_000_000 // len(call)
    body = ("<?xml version='1.0'?><methodCall><methodName>system.multicall</methodName>"
            "<params><param><value><array><data>" + call * n +
            "</data></array></value></param></params></methodCall>").encode()
    status, answer = post_unix(sock, body)
    assert status == 200
    peak = vm(d.pid, "VmHWM") - base
    assert peak < 6 * len(body), (peak, len(body))
    deadline = time.time() + 5
    while vm(d.pid, "VmRSS") > base + 10 * 2**20 and time.time() < deadline:
        time.sleep(0.2)
    after = vm(d.pid, "VmRSS")
    assert after <= base + 10 * 2**20, (base // 2**20, peak // 2**20, after // 2**20)
    big = "x" * 15_000_000
    status, answer = post_unix(
        sock, xmlrpc.client.dumps(("cat", big), "supervisor.sendProcessStdin").encode())
    # Taken, or refused as more than the stdin buffer holds: parsed either way.
    assert status == 200 and (b"<boolean>1</boolean>" in answer
                              or b"stdin buffer full" in answer), answer[:300]
    # The second big buffers must not stay in the heap either.
    assert post_unix(sock, body)[0] == 200
    status, answer = post_unix(
        sock, xmlrpc.client.dumps((big,), "supervisor.getProcessInfo").encode())
    assert status == 200 and b"BAD_NAME" in answer[:1000], answer[:300]
    assert post_unix(sock, body)[0] == 200
    deadline = time.time() + 5
    while vm(d.pid, "VmRSS") > base + 10 * 2**20 and time.time() < deadline:
        time.sleep(0.2)
    after = vm(d.pid, "VmRSS")
    assert after <= base + 10 * 2**20, (base // 2**20, after // 2**20)
    assert rpc_proxy(sock, 5).supervisor.getState()["statename"] == "RUNNING"
