"""Container logging (issue 17 item 3): `stdout_logfile=/dev/stdout` with prefixes, the main
log on `/dev/stdout` too, while the daemon's stdout is a pipe, a pty, a unix socket or a
regular file (the ways container runtimes and CI hand out stdout).

Four programs write 25,000 numbered lines each as fast as they can, in writes of 1021
bytes (so the daemon reads chunks that end in the middle of lines): every line must come out
once, whole, in order per program, with its program's prefix, and the main log's lines must
be there once each (no doubled copy with -n). The config also loads under the reference.
"""

import os
import re
import signal
import socket
import subprocess
import textwrap
import threading
import time
import tty

from conftest import PY_BIN, RUST_BIN, _die_with_test_process, rpc_proxy

PROGRAMS = ["alpha", "beta", "gamma", "delta"]
LINES = 25_000

# Each line carries its number and a payload whose length depends on it, so a line cut or
# glued to another one cannot pass for a whole line.
WRITER = (
    "import os, sys\n"
    "n, name = int(sys.argv[1]), sys.argv[2]\n"
    "data = b''.join(b'%s %06d %s|\\n' % (name.encode(), i, b'x' * (i % 97)) for i in range(n))\n"
    "# Writes that end in the middle of lines (1021 is prime), each one a write(2).\n"
    "for at in range(0, len(data), 1021):\n"
    "    chunk = data[at:at + 1021]\n"
    "    while chunk:\n"
    "        chunk = chunk[os.write(1, chunk):]\n"
)

LINE_RE = re.compile(r"^(\w+) \| (\w+) (\d{6}) (x*)\|$")
MAIN_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]{4} ")


def write_config(tmp_path):
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    sock = tmp_path / "supervisor.sock"
    progs = "".join(
        textwrap.dedent(
            f"""
            [program:{name}]
            command={PY_BIN / 'python3'} {writer} {LINES} {name}
            autostart=true
            autorestart=false
            startsecs=0
            stdout_logfile=/dev/stdout
            stdout_logfile_maxbytes=0
            stdout_log_prefix=%(program_name)s |
            stderr_logfile=/dev/stderr
            stderr_logfile_maxbytes=0
            stderr_log_prefix=%(program_name)s (stderr) |
            """
        )
        for name in PROGRAMS
    )
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            [unix_http_server]
            file={sock}

            [supervisord]
            logfile=/dev/stdout
            logfile_maxbytes=0
            pidfile={tmp_path / 'supervisord.pid'}
            childlogdir={tmp_path}
            nodaemon=true
            loglevel=info

            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            [supervisorctl]
            serverurl=unix://{sock}
            """
        )
        + progs
    )
    return conf, sock


class Collector(threading.Thread):
    """Reads a descriptor (or socket) until EOF/EIO into memory."""

    def __init__(self, read):
        super().__init__(daemon=True)
        self.read = read
        self.chunks = []

    def run(self):
        while True:
            try:
                data = self.read()
            except OSError:  # EIO on a pty master once the slave side is closed
                break
            if not data:
                break
            self.chunks.append(data)

    def text(self):
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def run_daemon(conf, sock, stdout_fd):
    proc = subprocess.Popen(
        [str(RUST_BIN / "supervisord"), "-n", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=stdout_fd,
        stderr=stdout_fd,
        cwd=str(conf.parent),
        start_new_session=True,
        preexec_fn=_die_with_test_process,
    )
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, f"daemon exited {proc.returncode}"
            assert time.time() < deadline, "programs did not finish"
            try:
                infos = rpc_proxy(sock, 5).supervisor.getAllProcessInfo()
                if len(infos) == len(PROGRAMS) and all(i["statename"] == "EXITED" for i in infos):
                    break
            except (OSError, ConnectionError):
                pass
            time.sleep(0.1)
        assert all(i["exitstatus"] == 0 for i in infos), infos
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


def check_output(text):
    seen = {name: [] for name in PROGRAMS}
    main_lines = []
    bad = []
    for line in text.split("\n"):
        if not line:
            continue
        m = LINE_RE.match(line)
        if m:
            prefix, name, num, xs = m.groups()
            n = int(num)
            if prefix != name or name not in seen or len(xs) != n % 97:
                bad.append(line)
            else:
                seen[name].append(n)
        elif MAIN_RE.match(line):
            main_lines.append(line)
        else:
            bad.append(line)
    assert not bad, f"{len(bad)} garbled lines, first: {bad[:3]!r}"
    for name in PROGRAMS:
        nums = seen[name]
        assert nums == list(range(LINES)), (
            f"{name}: {len(nums)} lines, {LINES - len(set(nums))} missing, "
            f"{len(nums) - len(set(nums))} duplicated, in order: {nums == sorted(nums)}"
        )
    for name in PROGRAMS:
        spawned = [l for l in main_lines if f"spawned: '{name}' with pid" in l]
        assert len(spawned) == 1, (name, spawned)
        exited = [l for l in main_lines if f"exited: {name} (exit status 0; expected)" in l]
        assert len(exited) == 1, (name, exited)
    assert not any("Illegal seek" in l for l in main_lines), main_lines


def test_pipe(tmp_path):
    conf, sock = write_config(tmp_path)
    r, w = os.pipe()
    c = Collector(lambda: os.read(r, 1 << 16))
    c.start()
    try:
        run_daemon(conf, sock, w)
    finally:
        os.close(w)
    c.join(30)
    os.close(r)
    check_output(c.text())


def test_pty(tmp_path):
    conf, sock = write_config(tmp_path)
    master, slave = os.openpty()
    tty.setraw(slave)  # no \n -> \r\n translation, no echo: the bytes as written
    c = Collector(lambda: os.read(master, 1 << 16))
    c.start()
    try:
        run_daemon(conf, sock, slave)
    finally:
        os.close(slave)
    c.join(30)
    os.close(master)
    check_output(c.text())


def test_unix_socket(tmp_path):
    conf, sock = write_config(tmp_path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # A small receive buffer makes the daemon meet a full socket (EAGAIN) many times.
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    c = Collector(lambda: ours.recv(1 << 16))
    c.start()
    try:
        run_daemon(conf, sock, theirs.fileno())
    finally:
        theirs.close()
    c.join(30)
    ours.close()
    check_output(c.text())


def test_regular_file(tmp_path):
    conf, sock = write_config(tmp_path)
    out = tmp_path / "stdout.txt"
    with open(out, "wb") as f:
        run_daemon(conf, sock, f.fileno())
    check_output(out.read_text())
    # Nothing was rotated or created next to it, whatever maxbytes says.
    assert not list(tmp_path.glob("stdout.txt.*"))


def test_config_loads_under_the_reference(tmp_path):
    conf, _ = write_config(tmp_path)
    r = subprocess.run(
        [str(PY_BIN / "python"), "-c",
         "import sys; from supervisor.options import ServerOptions\n"
         "o = ServerOptions(); o.realize(['-c', sys.argv[1]])\n"
         "print(sorted(p.name for g in o.process_group_configs for p in g.process_configs))",
         str(conf)],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sorted(PROGRAMS))


def test_rotation_is_refused_politely_on_dev_stdout(tmp_path):
    """maxbytes > 0 on /dev/stdout: never rotated (the reference fails with 'Illegal
    seek'); `supervisorctl rotate` says the target is not a regular file."""
    conf, sock = write_config(tmp_path)
    text = conf.read_text().replace("stdout_logfile_maxbytes=0", "stdout_logfile_maxbytes=1KB")
    text = re.sub(r"command=.*", "command=/bin/sleep 30", text, count=1)
    conf.write_text(text)
    r, w = os.pipe()
    c = Collector(lambda: os.read(r, 1 << 16))
    c.start()
    proc = subprocess.Popen(
        [str(RUST_BIN / "supervisord"), "-n", "-c", str(conf)],
        stdin=subprocess.DEVNULL, stdout=w, stderr=w, cwd=str(tmp_path),
        start_new_session=True, preexec_fn=_die_with_test_process)
    os.close(w)
    try:
        deadline = time.time() + 60
        while True:
            assert time.time() < deadline
            try:
                states = {i["name"]: i["statename"]
                          for i in rpc_proxy(sock, 5).supervisor.getAllProcessInfo()}
                if states == {"alpha": "RUNNING", **{n: "EXITED" for n in PROGRAMS[1:]}}:
                    break
            except (OSError, ConnectionError):
                pass
            time.sleep(0.1)
        ctl = subprocess.run(
            [str(RUST_BIN / "supervisorctl"), "-c", str(conf), "rotate", "alpha"],
            capture_output=True, text=True, timeout=30)
        assert ctl.stdout.strip() == (
            "alpha: stdout not a regular file, not rotated; "
            "stderr not a regular file, not rotated"), ctl.stdout + ctl.stderr
        assert ctl.returncode == 0
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    c.join(30)
    os.close(r)
    assert "Illegal seek" not in c.text()
    for name in PROGRAMS[1:]:
        assert sum(1 for l in c.text().split("\n") if l.startswith(f"{name} | ")) == LINES


STALL_WRITER = (
    "import os, sys, time\n"
    "i = 0\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    sys.stdout.write(''.join('w %07d\\n' % (i + k) for k in range(100)))\n"
    "    sys.stdout.flush()\n"
    "    i += 100\n"
    "    time.sleep(0.001)\n"
    "sys.stdout.write('END %d\\n' % i)\n"
)


def test_reader_that_stops_reading_does_not_stop_the_daemon(tmp_path):
    """Nobody reads the daemon's stdout for a while: the daemon keeps answering (a write
    waits at most 3 s, then output for /dev/stdout is dropped and counted), the child is
    never blocked, and once the pipe is read again output resumes on whole lines and the
    main log reports the loss."""
    (tmp_path / "w.py").write_text(STALL_WRITER)
    sock = tmp_path / "supervisor.sock"
    mainlog = tmp_path / "supervisord.log"
    conf = tmp_path / "supervisord.conf"
    conf.write_text(textwrap.dedent(f"""\
        [unix_http_server]
        file={sock}
        [supervisord]
        logfile={mainlog}
        pidfile={tmp_path / 'supervisord.pid'}
        childlogdir={tmp_path}
        nodaemon=true
        silent=true
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [program:w]
        command={PY_BIN / 'python3'} {tmp_path / 'w.py'} {tmp_path / 'stop'}
        startsecs=0
        autorestart=false
        stdout_logfile=/dev/stdout
        stdout_logfile_maxbytes=0
        stdout_log_prefix=w |
        """))
    r, w = os.pipe()
    proc = subprocess.Popen(
        [str(RUST_BIN / "supervisord"), "-n", "-c", str(conf)],
        stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.DEVNULL, cwd=str(tmp_path),
        start_new_session=True, preexec_fn=_die_with_test_process)
    os.close(w)
    c = Collector(lambda: os.read(r, 1 << 16))
    try:
        deadline = time.time() + 30
        while True:
            assert time.time() < deadline, "daemon not up"
            try:
                if rpc_proxy(sock, 5).supervisor.getProcessInfo("w")["statename"] == "RUNNING":
                    break
            except (OSError, ConnectionError):
                pass
            time.sleep(0.05)
        # Nobody reads for 5 s: every call is still answered, none waits for long.
        end = time.time() + 5
        slowest = 0.0
        while time.time() < end:
            t0 = time.time()
            assert rpc_proxy(sock, 10).supervisor.getState()["statename"] == "RUNNING"
            slowest = max(slowest, time.time() - t0)
            time.sleep(0.1)
        assert slowest < 4.5, slowest
        assert "write failed" in mainlog.read_text(), mainlog.read_text()[-2000:]
        # Read again, then let the child finish.
        c.start()
        time.sleep(1.5)
        (tmp_path / "stop").write_text("")
        deadline = time.time() + 30
        while rpc_proxy(sock, 5).supervisor.getProcessInfo("w")["statename"] != "EXITED":
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    c.join(30)
    os.close(r)
    lines = [l for l in c.text().split("\n") if l]
    bad = [l for l in lines if not re.match(r"^w \| (w \d{7}|END \d+)$", l)]
    assert not bad, bad[:3]
    assert lines[-1].startswith("w | END "), lines[-3:]
    log = mainlog.read_text()
    assert re.search(r"WARN stdout log of 'w' \(/dev/stdout\): write failed: ", log), log[-2000:]
    m = re.search(r"writing works again; (\d+) bytes of output were lost", log)
    assert m and int(m.group(1)) > 0, log[-2000:]
