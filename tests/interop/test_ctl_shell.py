"""Our supervisorctl's interactive shell, driven through a pseudo-terminal: prompt,
`status` on entry, tab completion of commands and process names (fetched from the
server), history (arrow keys and the history file), `tail -f` stopped by Ctrl-C back to
the prompt, confirmation prompts, the login prompt on 401, colours on a terminal."""

import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import IMPLS, free_port
from test_ctl_golden import DAEMON_IMPLS

RS_CTL = str(IMPLS["rust"] / "supervisorctl")

BODY = """
[program:sleeper]
command=sleep 1000
startsecs=0

[program:talker]
command=sh -c 'echo out-line-1; echo out-line-2; exec sleep 1000'
startsecs=0

[group:grp]
programs=ga,gb

[program:ga]
command=sleep 1000
startsecs=0

[program:gb]
command=sleep 1000
startsecs=0
"""

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Pty:
    """A child process on the slave side of a new pty, as its controlling terminal."""

    def __init__(self, argv, cwd):
        self.master, slave = os.openpty()
        env = dict(os.environ, TERM="xterm", COLUMNS="120", LINES="40")
        env.pop("NO_COLOR", None)

        def child_setup():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     cwd=cwd, env=env, preexec_fn=child_setup,
                                     close_fds=True)
        os.close(slave)
        self.buf = b""
        self.pos = 0

    def send(self, data):
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def expect(self, pattern, timeout=15):
        """Reads until `pattern` (bytes regex) matches the output after the previous
        match, with escape sequences and carriage returns removed; returns the text
        from the previous match to the end of this one."""
        deadline = time.time() + timeout
        while True:
            clean = ANSI.sub(b"", self.buf).replace(b"\r", b"")
            m = re.compile(pattern).search(clean, self.pos)
            if m:
                text = clean[self.pos: m.end()].decode(errors="replace")
                self.pos = m.end()
                return text
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {pattern!r}; got {clean[self.pos:]!r}")
            r, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(
                        f"pty closed waiting for {pattern!r}; got {clean[self.pos:]!r}")
                self.buf += chunk

    def wait(self, timeout=15):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    os.read(self.master, 65536)
                except OSError:
                    pass
        return self.proc.poll()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def shell_daemon(make_daemon, request, tmp_path):
    hist = tmp_path / "history"
    d = make_daemon(request.param, BODY,
                    extra_sections=f"[supervisorctl]\nhistory_file={hist}\nprompt=sup\n")
    for n in ("sleeper", "talker", "grp:ga", "grp:gb"):
        d.wait_state(n, "RUNNING")
    d.history = hist
    return d


@pytest.mark.parametrize("shell_daemon", DAEMON_IMPLS, indirect=True)
def test_shell_prompt_completion_history_and_tail_interrupt(shell_daemon):
    d = shell_daemon
    p = Pty([RS_CTL, "-c", str(d.conf)], cwd=str(d.dir))
    try:
        # status on entry, then the configured prompt
        out = p.expect(rb"sup> ")
        assert re.search(r"sleeper\s+RUNNING\s+pid \d+", out), out
        assert re.search(r"grp:ga\s+RUNNING", out), out
        # colour for states on a terminal (escape codes are stripped by expect)
        # -> checked on the raw bytes of a second status below
        # command completion: unique prefix
        p.send("versi\t")
        p.expect(rb"version ")
        p.send("\r")
        p.expect(rb"4\.3\.0\n")
        p.expect(rb"sup> ")
        # process-name completion from the server
        p.send("pid talk\t")
        p.expect(rb"pid talker ")
        p.send("\r")
        first_pid = re.search(r"(\d+)\n", p.expect(rb"\d+\n")).group(1)
        p.expect(rb"sup> ")
        # group:process completes as one word (':' is not a delimiter)
        p.send("status grp:g\t\t")
        p.expect(rb"grp:ga\s+grp:gb")
        p.send("b\t\r")
        p.expect(rb"grp:gb\s+RUNNING")
        p.expect(rb"sup> ")
        # history: Up twice recalls `pid talker`
        p.send("\x1b[A\x1b[A")
        p.expect(rb"pid talker")
        p.send("\r")
        assert first_pid in p.expect(rb"\d+\n")
        p.expect(rb"sup> ")
        # tail -f until Ctrl-C, then back at the prompt
        p.send("tail -f talker\r")
        p.expect(rb"==> Press Ctrl-C to exit <==\n")
        p.expect(rb"out-line-2\n")
        time.sleep(0.3)
        p.send("\x03")
        p.expect(rb"sup> ")
        assert p.proc.poll() is None
        # maintail -f too
        p.send("maintail -f\r")
        p.expect(rb"==> Press Ctrl-C to exit <==\n")
        time.sleep(0.5)
        p.send("\x03")
        p.expect(rb"sup> ")
        # confirmation prompts: "n" keeps the daemon
        p.send("shutdown\r")
        p.expect(rb"Really shut the remote supervisord process down y/N\? ")
        p.send("n\r")
        p.expect(rb"sup> ")
        p.send("reload\r")
        p.expect(rb"Really restart the remote supervisord process y/N\? ")
        p.send("no\r")
        p.expect(rb"sup> ")
        assert d.rpc().supervisor.getState()["statename"] == "RUNNING"
        # colours: the raw status output has the RUNNING colour code
        start = len(p.buf)
        p.send("status sleeper\r")
        p.expect(rb"sleeper\s+RUNNING")
        p.expect(rb"sup> ")
        assert b"\x1b[32mRUNNING\x1b[0m" in p.buf[start:], p.buf[start:]
        # unknown syntax stays in the shell
        p.send("bogus\r")
        p.expect(rb"\*\*\* Unknown syntax: bogus\n")
        p.expect(rb"sup> ")
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()
    hist = d.history.read_text()
    for line in ("version", "pid talker", "status grp:gb", "tail -f talker", "quit"):
        assert line in hist, hist
    # the history file is loaded by the next shell: Up recalls the last command
    p = Pty([RS_CTL, "-c", str(d.conf)], cwd=str(d.dir))
    try:
        p.expect(rb"sup> ")
        p.send("\x1b[A")
        p.expect(rb"quit")
        # Ctrl-C at the prompt leaves the shell with status 0
        p.send("\x03")
        assert p.wait() == 0
    finally:
        p.close()


@pytest.mark.parametrize("daemon_impl", DAEMON_IMPLS)
def test_shell_asks_for_credentials_on_401(make_daemon, daemon_impl):
    port = free_port()
    d = make_daemon(daemon_impl, "[program:one]\ncommand=sleep 1000\nstartsecs=0\n",
                    extra_sections=f"[inet_http_server]\nport=127.0.0.1:{port}\n"
                                   "username=user\npassword=s3cret\n")
    d.wait_state("one", "RUNNING")
    p = Pty([RS_CTL, "-c", str(d.conf), "-s", f"http://127.0.0.1:{port}"], cwd=str(d.dir))
    try:
        p.expect(rb"Server requires authentication\n")
        p.expect(rb"Username:")
        p.send("user\r")
        p.expect(rb"Password:")
        p.send("s3cret\r")
        out = p.expect(rb"supervisor> ")
        assert "s3cret" not in out  # not echoed
        assert re.search(r"one\s+RUNNING", out), out
        p.send("EOF\r")
        assert p.wait() == 0
    finally:
        p.close()


@pytest.mark.parametrize("daemon_impl", DAEMON_IMPLS)
def test_fg_on_a_terminal_until_ctrl_c(make_daemon, daemon_impl):
    d = make_daemon(daemon_impl, "[program:echoer]\ncommand=cat\nstartsecs=0\n")
    d.wait_state("echoer", "RUNNING")
    p = Pty([RS_CTL, "-c", str(d.conf)], cwd=str(d.dir))
    try:
        p.expect(rb"supervisor> ")
        p.send("fg echoer\r")
        p.expect(rb"==> Press Ctrl-C to exit <==\n")
        time.sleep(0.3)
        p.send("ping-from-pty\r")
        # the terminal echoes the typed line, then cat's output comes back via logtail
        p.expect(rb"ping-from-pty\n(.|\n)*ping-from-pty\n")
        p.send("\x03")
        p.expect(rb"Exiting foreground\n")
        p.expect(rb"supervisor> ")
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()
    assert d.rpc().supervisor.readProcessStdoutLog("echoer", 0, 0) == "ping-from-pty\n"


@pytest.mark.parametrize("daemon_impl", DAEMON_IMPLS)
def test_ctrl_c_during_a_command_leaves_the_shell_and_r_keeps_history(make_daemon, daemon_impl,
                                                                     tmp_path):
    body = "[program:slow]\ncommand=sleep 1000\nautostart=false\nstartsecs=30\n"
    d = make_daemon(daemon_impl, body)
    hist = tmp_path / "r-history"
    # -r is accepted by the reference but ignored; ours honours it
    p = Pty([RS_CTL, "-c", str(d.conf), "-r", str(hist)], cwd=str(d.dir))
    try:
        p.expect(rb"supervisor> ")
        p.send("start slow\r")
        d.wait_state("slow", "STARTING")
        p.send("\x03")
        assert p.wait() == 0  # like the reference: newline, exit 0
    finally:
        p.close()
    assert "start slow" in hist.read_text()
