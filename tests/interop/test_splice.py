"""Zero-copy log capture (issue 16 item 1): a channel whose bytes need no inspection goes
pipe -> log file by splice(2); `supervisor_log_spliced_bytes_total` on /metrics says how
many bytes took that path (no strace needed). Rotation stays exact (every file <= maxbytes,
nothing lost or duplicated), and a channel goes back to reading the moment something needs
its bytes: a PROCESS_LOG listener, capture mode, the main-log debug copy, a stream target.
"""

import http.client
import os
import re
import socket
import sys
import textwrap

import pytest

LINE = "line %08d " + "x" * 40 + "\n"
LINE_LEN = len(LINE % 1)  # 55 bytes


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self.path))


def metrics(d):
    c = UnixHTTPConnection(d.sock)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    assert r.status == 200, body
    return body


def counter(d, family, name, channel="stdout"):
    pat = re.compile(
        r'^%s_total\{group="[^"]*",name="%s",channel="%s"\} (\d+)$' % (family, name, channel),
        re.M)
    m = pat.search(metrics(d))
    assert m, f"{family} {name} not on /metrics"
    return int(m.group(1))


def start_at(make_daemon, body, loglevel="info", **kw):
    """Our daemon with `loglevel` (the fixture's default, debug, copies child output into
    the main log, which needs the bytes and so turns splicing off)."""
    d = make_daemon("rust", body, start=False, **kw)
    d.conf.write_text(d.conf.read_text().replace("loglevel=debug", f"loglevel={loglevel}"))
    d.start()
    return d


def writer(tmp_path, lines, pause_every=0, pause=0.0, gate=None):
    """A script printing `lines` numbered lines (in big writes, pausing if asked; with
    `gate`, after the first 400 lines it waits (at most 30 s) until that file exists)."""
    p = tmp_path / f"writer{lines}.py"
    p.write_text(textwrap.dedent(f"""\
        import os, sys, time
        LINE = {LINE!r}
        n, buf = 0, []
        for i in range(1, {lines} + 1):
            buf.append(LINE % i)
            if len(buf) == 400 or i == {lines}:
                os.write(1, ''.join(buf).encode())
                buf = []
            if {pause_every} and i % {pause_every} == 0:
                time.sleep({pause})
            if {str(gate)!r} != 'None' and i == 400:
                end = time.time() + 30
                while not os.path.exists({str(gate)!r}) and time.time() < end:
                    time.sleep(0.02)
        """))
    return f"{sys.executable} -S {p}"


def rotated_files(base):
    """The log files of `base`, oldest first."""
    d, name = os.path.split(base)
    found = []
    for fn in os.listdir(d):
        if fn == name:
            found.append((0, fn))
        elif fn.startswith(name + ".") and fn[len(name) + 1:].isdigit():
            found.append((int(fn[len(name) + 1:]), fn))
    found.sort(key=lambda x: (x[0] == 0, -x[0]))
    return [os.path.join(d, fn) for _, fn in found]


def check_lines(data, lines):
    seen = [0] * (lines + 1)
    for ln in data.split(b"\n"):
        if not ln:
            continue
        k = int(ln.split(b" ")[1])
        assert ln + b"\n" == (LINE % k).encode(), ln[:80]
        seen[k] += 1
    lost = [i for i in range(1, lines + 1) if seen[i] == 0]
    dup = [i for i in range(1, lines + 1) if seen[i] > 1]
    assert not lost and not dup, (lost[:5], dup[:5])


def test_rotation_across_many_files_is_exact_with_splice(make_daemon, tmp_path):
    lines, maxbytes = 80_000, 64 * 1024  # 4.4 MB over ~67 files
    log = tmp_path / "rot.log"
    d = start_at(make_daemon, f"""
        [program:rot]
        command={writer(tmp_path, lines)}
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={log}
        stdout_logfile_maxbytes={maxbytes}
        stdout_logfile_backups=200
        stderr_logfile=NONE
        """)
    d.rpc().supervisor.startProcess("rot", False)
    total = lines * LINE_LEN
    d.wait_for(lambda: sum(os.path.getsize(p) for p in rotated_files(str(log))) >= total,
               timeout=60, what="all bytes in the log files")
    d.wait_state("rot", "EXITED")
    files = rotated_files(str(log))
    assert len(files) >= total // maxbytes
    sizes = [os.path.getsize(p) for p in files]
    assert max(sizes) <= maxbytes
    # Every rotated file was filled to maxbytes exactly (the last splice before a rotation
    # moves just the room left).
    assert all(s == maxbytes for s in sizes[:-1]), sizes
    data = b"".join(open(p, "rb").read() for p in files)
    assert len(data) == total
    check_lines(data, lines)
    # The bytes went by splice(2), all of them.
    assert counter(d, "supervisor_log_bytes", "rot") == total
    assert counter(d, "supervisor_log_spliced_bytes", "rot") == total
    assert counter(d, "supervisor_log_rotations", "rot") == len(files) - 1


LISTENER = r'''
import sys
out = open(sys.argv[1], 'ab', buffering=0)
while True:
    sys.stdout.write('READY\n'); sys.stdout.flush()
    header = sys.stdin.readline()
    fields = dict(x.split(':', 1) for x in header.split())
    payload = sys.stdin.read(int(fields['len']))
    if fields['eventname'].startswith('PROCESS_LOG'):
        head, data = payload.split('\n', 1)
        out.write(data.encode())
    sys.stdout.write('RESULT 2\nOK'); sys.stdout.flush()
'''


def test_a_listener_subscribing_mid_stream_turns_the_channel_back_to_reading(
        make_daemon, tmp_path):
    lines = 3000
    log = tmp_path / "talk.log"
    got = tmp_path / "events.out"
    lis = tmp_path / "listener.py"
    lis.write_text(LISTENER)
    listener_section = f"""
        [eventlistener:logwatch]
        command={sys.executable} -u {lis} {got}
        events=PROCESS_LOG_STDOUT
        buffer_size=10000
        startsecs=0
        """
    # 3000 lines in writes of 400 lines; after the first 400 the writer waits for the
    # gate, which opens once the listener is there, then pauses 0.1 s every 400 lines.
    gate = tmp_path / "gate"
    body = f"""
        [program:talk]
        command={writer(tmp_path, lines, pause_every=400, pause=0.1, gate=gate)}
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        stdout_events_enabled=true
        stderr_logfile=NONE
        """
    d = start_at(make_daemon, body)
    d.rpc().supervisor.startProcess("talk", False)
    d.wait_for(lambda: os.path.getsize(log) >= 400 * LINE_LEN, timeout=20,
               what="first lines in the file")
    assert counter(d, "supervisor_log_spliced_bytes", "talk") > 0
    # The listener appears mid-stream: from then on the bytes are read (and sent as events).
    d.conf.write_text(d.conf.read_text() + textwrap.dedent(listener_section))
    r = d.ctl("update")
    assert r.returncode == 0, r.stdout + r.stderr
    d.wait_state("logwatch", "RUNNING")
    gate.write_text("")
    d.wait_state("talk", "EXITED", timeout=30)
    total = lines * LINE_LEN
    d.wait_for(lambda: os.path.getsize(log) >= total, timeout=20, what="all lines in the file")
    check_lines(log.read_bytes(), lines)
    bytes_, spliced = (counter(d, "supervisor_log_bytes", "talk"),
                       counter(d, "supervisor_log_spliced_bytes", "talk"))
    assert bytes_ == total
    assert 0 < spliced < total, (spliced, total)
    # What was not spliced reached the listener as PROCESS_LOG_STDOUT events, in order:
    # the events are exactly the file's tail from where splicing stopped.
    d.wait_for(lambda: got.exists() and os.path.getsize(got) >= total - spliced, timeout=20,
               what="events of the read bytes")
    ev = got.read_bytes()
    assert len(ev) >= total - spliced
    assert log.read_bytes().endswith(ev)


def test_capture_mode_is_not_spliced(make_daemon, tmp_path):
    log = tmp_path / "cap.log"
    d = start_at(make_daemon, f"""
        [program:cap]
        command=sh -c 'echo before; printf "<!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END-->"; echo after'
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={log}
        stdout_capture_maxbytes=1MB
        stderr_logfile=NONE
        """)
    d.rpc().supervisor.startProcess("cap", False)
    d.wait_state("cap", "EXITED")
    d.wait_for(lambda: b"after" in log.read_bytes(), what="the line after the capture")
    text = log.read_bytes()
    assert b"before\n" in text and b"secret" not in text and b"XSUPERVISOR" not in text
    assert counter(d, "supervisor_log_spliced_bytes", "cap") == 0


def test_debug_copy_and_stream_targets_are_read(make_daemon, tmp_path):
    # loglevel=debug: the main log gets a copy of the output, so the bytes are read.
    d = start_at(make_daemon, f"""
        [program:dbg]
        command=sh -c 'echo hello-debug-copy'
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={tmp_path / 'dbg.log'}
        stderr_logfile=NONE

        [program:out]
        command=sh -c 'echo to-the-daemon-stdout-1; echo to-the-daemon-stdout-2'
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile=/dev/stdout
        stdout_logfile_maxbytes=0
        stderr_logfile=NONE
        """, loglevel="debug")
    s = d.rpc().supervisor
    s.startProcess("dbg", False)
    s.startProcess("out", False)
    d.wait_state("dbg", "EXITED")
    d.wait_state("out", "EXITED")
    d.wait_for(lambda: "hello-debug-copy" in d.mainlog(), what="the debug copy")
    assert (tmp_path / "dbg.log").read_bytes() == b"hello-debug-copy\n"
    assert counter(d, "supervisor_log_spliced_bytes", "dbg") == 0
    d.wait_for(lambda: "to-the-daemon-stdout-2" in d.output(), what="stream output")
    assert "to-the-daemon-stdout-1\n" in d.output()
    assert counter(d, "supervisor_log_spliced_bytes", "out") == 0


def test_stream_target_at_info_level_is_not_spliced(make_daemon, tmp_path):
    d = start_at(make_daemon, """
        [program:out]
        command=sh -c 'echo line-one; echo line-two'
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile=/dev/stdout
        stdout_logfile_maxbytes=0
        stderr_logfile=NONE
        """)
    d.rpc().supervisor.startProcess("out", False)
    d.wait_state("out", "EXITED")
    d.wait_for(lambda: "line-two" in d.output(), what="stream output")
    assert "line-one\nline-two\n" in d.output()
    assert counter(d, "supervisor_log_spliced_bytes", "out") == 0


@pytest.mark.parametrize("impl", ["rust", "python"])
def test_readlog_and_tail_see_spliced_bytes(make_daemon, tmp_path, impl):
    log = tmp_path / f"t-{impl}.log"
    d = make_daemon(impl, f"""
        [program:t]
        command={writer(tmp_path, 1000)}
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        stderr_logfile=NONE
        """, start=False)
    d.conf.write_text(d.conf.read_text().replace("loglevel=debug", "loglevel=info"))
    d.start()
    s = d.rpc().supervisor
    s.startProcess("t", False)
    d.wait_state("t", "EXITED")
    total = 1000 * LINE_LEN
    d.wait_for(lambda: os.path.getsize(log) >= total, what="all bytes")
    tail, offset, overflow = s.tailProcessStdoutLog("t", 0, 2 * LINE_LEN)
    assert tail == (LINE % 999) + (LINE % 1000) and offset == total and overflow
    assert s.readProcessStdoutLog("t", 0, LINE_LEN) == LINE % 1
    if impl == "rust":
        assert counter(d, "supervisor_log_spliced_bytes", "t") == total


def test_an_armed_log_check_reads_until_it_matches_then_splicing_resumes(make_daemon, tmp_path):
    script = tmp_path / "ready.py"
    script.write_text(textwrap.dedent(f"""\
        import os, time
        LINE = {LINE!r}
        os.write(1, b'warming up\\n')
        time.sleep(0.3)
        os.write(1, b'READY-NOW\\n')
        time.sleep(0.5)
        for k in range(5):
            os.write(1, ''.join(LINE % i for i in range(k * 200 + 1, k * 200 + 201)).encode())
            time.sleep(0.1)
        """))
    log = tmp_path / "ready.log"
    d = start_at(make_daemon, f"""
        [program:svc]
        command={sys.executable} -S {script}
        autostart=false
        autorestart=false
        startsecs=0
        ready=log:^READY-NOW$
        ready_timeout=20
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        stderr_logfile=NONE
        """)
    d.rpc().supervisor.startProcess("svc", False)
    head = len(b"warming up\nREADY-NOW\n")
    total = head + 1000 * LINE_LEN
    d.wait_for(lambda: os.path.getsize(log) >= total, timeout=20, what="all output")
    assert "success: svc entered RUNNING state" in d.mainlog() or \
        d.rpc().supervisor.getProcessInfo("svc")["statename"] in ("RUNNING", "EXITED")
    data = log.read_bytes()
    assert data.startswith(b"warming up\nREADY-NOW\n")
    check_lines(data[head:], 1000)
    # The check saw the lines until it matched; what came after went by splice.
    assert counter(d, "supervisor_log_spliced_bytes", "svc") == 1000 * LINE_LEN


def test_splicing_can_be_turned_off(make_daemon, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISOR_RS_LOG_SPLICE", "0")
    log = tmp_path / "off.log"
    d = start_at(make_daemon, f"""
        [program:off]
        command={writer(tmp_path, 2000)}
        autostart=false
        autorestart=false
        startsecs=0
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        stderr_logfile=NONE
        """)
    d.rpc().supervisor.startProcess("off", False)
    d.wait_state("off", "EXITED")
    d.wait_for(lambda: os.path.getsize(log) >= 2000 * LINE_LEN, what="all bytes")
    check_lines(log.read_bytes(), 2000)
    assert counter(d, "supervisor_log_bytes", "off") == 2000 * LINE_LEN
    assert counter(d, "supervisor_log_spliced_bytes", "off") == 0
