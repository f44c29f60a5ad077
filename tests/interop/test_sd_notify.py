"""systemd's notify protocol from our daemon (issue 17): a fake NOTIFY_SOCKET (a unix
datagram socket of the test) receives READY=1 only once the last autostart program is
RUNNING, STATUS= counts, RELOADING=1 around a reload (then READY=1 again), STOPPING=1 at
shutdown and WATCHDOG=1 pings; the children do not inherit the daemon's socket."""

import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import PY_BIN


class FakeSystemd:
    """Collects the datagrams sent to a NOTIFY_SOCKET: (monotonic time, text)."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for t, m in self.snapshot():
                if pred(m):
                    return t, m
            time.sleep(0.02)
        raise AssertionError(f"no {what} among {self.snapshot()}")

    def close(self):
        self.done = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def fake_systemd(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    fs = FakeSystemd(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fs
    fs.close()


def fields(message):
    return dict(line.split("=", 1) for line in message.splitlines() if "=" in line)


def test_ready_only_after_the_last_autostart_program_is_running(make_daemon, fake_systemd,
                                                                  tmp_path):
    envfile = tmp_path / "child.env"
    started = time.monotonic()
    d = make_daemon("rust", f"""\
        [program:fast]
        command=/bin/sleep 1000
        startsecs=0
        [program:slow]
        command=/bin/sleep 1000
        startsecs=2
        [program:envdump]
        command=/bin/sh -c 'env > {envfile} && exec sleep 1000'
        startsecs=0
        [program:manual]
        command=/bin/sleep 1000
        autostart=false
        """)
    t_ready, ready = fake_systemd.wait_for(lambda m: "READY=1" in m.splitlines(), 10, "READY=1")
    # slow needs startsecs=2: READY=1 cannot come before that, and it is RUNNING by then
    assert t_ready - started >= 2.0, t_ready - started
    assert d.rpc().supervisor.getProcessInfo("slow")["statename"] == "RUNNING"
    assert fields(ready)["STATUS"] == "3 running, 1 stopped"
    before = [m for t, m in fake_systemd.snapshot() if t < t_ready]
    assert not any("READY=1" in m for m in before)
    # a STATUS= with the counts while slow was still starting
    assert any(fields(m).get("STATUS") == "2 running, 1 starting, 1 stopped" for m in before), before
    assert len([m for _, m in fake_systemd.snapshot() if "READY=1" in m.splitlines()]) == 1
    # the counts follow changes
    d.rpc().supervisor.stopProcess("fast")
    fake_systemd.wait_for(lambda m: fields(m).get("STATUS") == "2 running, 2 stopped", 5,
                          "STATUS after a stop")
    # watchdog pings every WATCHDOG_USEC/2 = 0.2 s
    time.sleep(0.7)
    pings = [t for t, m in fake_systemd.snapshot() if m == "WATCHDOG=1"]
    assert len(pings) >= 3, pings
    gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
    assert 0.12 < gaps[len(gaps) // 2] < 0.4, gaps  # the median is about 0.2 s
    # the children do not get the daemon's socket
    env = envfile.read_text()
    assert "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env
    # STOPPING=1 at shutdown
    n = len(fake_systemd.snapshot())
    d.stop()
    assert d.proc.returncode == 0
    later = [m for _, m in fake_systemd.snapshot()[n:]]
    assert any("STOPPING=1" in m.splitlines() for m in later), later
    assert not any("READY=1" in m for m in later)


def test_reload_sends_reloading_then_ready_again(make_daemon, fake_systemd):
    d = make_daemon("rust", """\
        [program:slow]
        command=/bin/sleep 1000
        startsecs=1
        """)
    fake_systemd.wait_for(lambda m: "READY=1" in m.splitlines(), 10, "READY=1")
    n = len(fake_systemd.snapshot())
    r = d.ctl("reload")
    assert r.returncode == 0, r.stdout + r.stderr
    t_rel, rel = fake_systemd.wait_for(lambda m: "RELOADING=1" in m.splitlines(), 10,
                                       "RELOADING=1")
    assert int(fields(rel)["MONOTONIC_USEC"]) > 0
    later = lambda: [(t, m) for t, m in fake_systemd.snapshot()[n:]]
    deadline = time.time() + 10
    while time.time() < deadline and not any("READY=1" in m for _, m in later()):
        time.sleep(0.05)
    readies = [t for t, m in later() if "READY=1" in m.splitlines()]
    assert readies and readies[0] > t_rel, later()
    # the new run waited for startsecs=1 again
    assert readies[0] - t_rel >= 1.0
    assert not any("STOPPING=1" in m for _, m in later())


def test_abstract_notify_socket(make_daemon, monkeypatch):
    name = f"supervisor-rs-notify-{os.getpid()}-{time.monotonic_ns()}"
    fs = FakeSystemd("\0" + name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        d = make_daemon("rust", "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
        fs.wait_for(lambda m: "READY=1" in m.splitlines(), 10, "READY=1")
        d.stop()
        fs.wait_for(lambda m: "STOPPING=1" in m.splitlines(), 5, "STOPPING=1")
        assert not any(m == "WATCHDOG=1" for _, m in fs.snapshot())
    finally:
        fs.close()


def test_watchdog_pid_of_another_process_means_no_pings(make_daemon, fake_systemd, monkeypatch):
    monkeypatch.setenv("WATCHDOG_PID", "1")
    d = make_daemon("rust", "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
    fake_systemd.wait_for(lambda m: "READY=1" in m.splitlines(), 10, "READY=1")
    time.sleep(0.6)
    assert not any(m == "WATCHDOG=1" for _, m in fake_systemd.snapshot())
    d.stop()


def test_without_notify_socket_nothing_changes(make_daemon, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    d = make_daemon("rust", "[program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\n")
    assert d.rpc().supervisor.getProcessInfo("a")["statename"] == "RUNNING"
    d.stop()
    assert d.proc.returncode == 0


def test_the_config_loads_under_the_reference(make_daemon, fake_systemd):
    d = make_daemon("python", """\
        [program:slow]
        command=/bin/sleep 1000
        startsecs=0
        """)
    r = subprocess.run([str(PY_BIN / "supervisorctl"), "-c", str(d.conf), "status"],
                       capture_output=True, text=True, timeout=30)
    assert "RUNNING" in r.stdout
    # the reference knows nothing of the protocol: nothing is sent
    time.sleep(0.3)
    assert fake_systemd.snapshot() == []


def test_a_critical_end_is_reported_with_stopping(make_daemon, fake_systemd):
    d = make_daemon("rust", """\
        [program:app]
        command=/bin/sh -c 'sleep 0.5 && exit 5'
        critical=true
        autorestart=false
        startsecs=0
        """)
    fake_systemd.wait_for(lambda m: "READY=1" in m.splitlines(), 10, "READY=1")
    assert d.proc.wait(timeout=15) == 5
    _, stop = fake_systemd.wait_for(lambda m: "STOPPING=1" in m.splitlines(), 5, "STOPPING=1")
    assert fields(stop)["STATUS"].startswith("critical program app exited and will not be restarted")
