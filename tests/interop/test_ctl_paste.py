"""The interactive shell on a terminal runs every line that is pasted or typed ahead.

Driven through a pseudo-terminal (Python's pty support via `os.openpty`, the `Pty` helper
of test_ctl_shell). Before the fix only the first line of a paste ran: the line editor read
the whole paste into its buffer and dropped the rest when it returned the first line.

Two ways text arrives at once:
* raw bytes (a terminal without bracketed paste, `xdotool type`, keys typed while a
  command runs): each line is a separate Enter. The reference runs them all; the same
  bytes are sent to the reference client and its transcript is compared line for line.
* a bracketed paste (`ESC [200~ ... ESC [201~`, what modern terminals send when asked):
  the editor shows the pasted lines, Enter runs each in order. The reference (Python's
  readline without bracketed paste) does not understand the markers, so that case is
  checked on ours only.
"""

import re
import time

import pytest

from conftest import IMPLS, free_port
from test_ctl_shell import Pty

RS_CTL = str(IMPLS["rust"] / "supervisorctl")
PY_CTL = str(IMPLS["python"] / "supervisorctl")

BODY = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


@pytest.fixture
def daemon(make_daemon):
    d = make_daemon("rust", BODY)
    d.wait_state("sleeper", "RUNNING")
    return d


def shell(d, client=RS_CTL):
    return Pty([client, "-c", str(d.conf)], cwd=str(d.dir))


@pytest.mark.parametrize("client", ["rust", "python"])
def test_typed_ahead_lines_all_run(daemon, client):
    """Three commands sent in one write after the prompt: each runs, in order, and a
    prompt follows each. The same bytes to the reference client give the same lines."""
    d = daemon
    pid = d.rpc().supervisor.getProcessInfo("sleeper")["pid"]
    p = shell(d, IMPLS[client] / "supervisorctl")
    try:
        p.expect(rb"supervisor> ")
        p.send("version\rpid sleeper\rstatus nosuch\r")
        out = p.expect(rb"nosuch: ERROR \(no such process\)\nsupervisor> ")
        lines = [line for line in out.splitlines() if line]
        assert lines == [
            "version", "4.3.0",
            "supervisor> pid sleeper", str(pid),
            "supervisor> status nosuch", "nosuch: ERROR (no such process)",
            "supervisor> ",
        ], out
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()


def test_lines_typed_while_the_entry_status_runs_are_kept(daemon):
    """Bytes written before the first prompt (while `status` runs on entry, the
    terminal still in its normal mode) are run once the prompt is up."""
    p = shell(daemon)
    try:
        p.send("version\rpid\r")
        p.expect(rb"4\.3\.0\n")
        out = p.expect(rb"\n\d+\n")
        assert re.search(r"pid\n\d+\n$", out), out
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()


def test_a_long_paste_beyond_the_editor_buffer_runs_every_line(daemon):
    """200 commands (2 KiB, more than the editor reads at once): all 200 run."""
    p = shell(daemon)
    try:
        p.expect(rb"supervisor> ")
        p.send("version\r" * 199 + "pid\r")
        out = p.expect(rb"supervisor> pid\n\d+\n", timeout=60)
        assert out.count("4.3.0\n") == 199, out[-2000:]
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()


def test_a_question_takes_its_answer_from_the_typed_ahead_lines(daemon):
    """`reload` asks y/N: the next typed-ahead line (`n`) answers it and the line after
    it runs as a command."""
    p = shell(daemon)
    try:
        p.expect(rb"supervisor> ")
        p.send("reload\rn\rversion\r")
        p.expect(rb"Really restart the remote supervisord process y/N\? ")
        p.expect(rb"4\.3\.0\nsupervisor> ")
        assert daemon.rpc().supervisor.getState()["statename"] == "RUNNING"
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()


def test_bracketed_paste_runs_each_line_in_order(daemon):
    """A bracketed paste of three lines, then Enter: the three run in order (each later
    line is shown after a prompt); a question inside the paste is answered by the next
    pasted line."""
    d = daemon
    pid = d.rpc().supervisor.getProcessInfo("sleeper")["pid"]
    p = shell(d)
    try:
        p.expect(rb"supervisor> ")
        p.send(PASTE_START + "version\rpid sleeper\rstatus nosuch" + PASTE_END)
        time.sleep(0.3)
        p.send("\r")
        out = p.expect(rb"nosuch: ERROR \(no such process\)\nsupervisor> ")
        assert out.index("4.3.0") < out.index(f"\n{pid}\n") < out.index("nosuch: ERROR"), out
        assert "supervisor> pid sleeper\n" in out and "supervisor> status nosuch\n" in out
        p.send(PASTE_START + "reload\rn\rversion" + PASTE_END)
        time.sleep(0.3)
        p.send("\r")
        p.expect(rb"Really restart the remote supervisord process y/N\? n\n")
        p.expect(rb"supervisor> version\n4\.3\.0\nsupervisor> ")
        assert d.rpc().supervisor.getState()["statename"] == "RUNNING"
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()


def test_a_password_typed_ahead_after_the_user_name_is_never_run_as_a_command(make_daemon,
                                                                             tmp_path):
    """`open` a server that wants a login, then type the user name and the password in
    one go. As with the reference, the terminal echoes what is typed before the password
    question and that question discards it (no-echo mode is set with TCSAFLUSH), so the
    password is typed again; what must not happen is the read-ahead password being run as
    a command at the next prompt and written to the history file."""
    port = free_port()
    d = make_daemon("rust", BODY,
                    extra_sections=f"[inet_http_server]\nport=127.0.0.1:{port}\n"
                                   "username=user\npassword=s3cret\n")
    d.wait_state("sleeper", "RUNNING")
    hist = tmp_path / "hist"
    p = Pty([RS_CTL, "-c", str(d.conf), "-r", str(hist)], cwd=str(d.dir))
    try:
        p.expect(rb"supervisor> ")
        p.send(f"open http://127.0.0.1:{port}\r")
        p.expect(rb"Server requires authentication\nUsername:")
        p.send("user\rs3cret\r")
        p.expect(rb"Password:")
        time.sleep(0.3)
        p.send("s3cret\r")
        p.expect(rb"sleeper\s+RUNNING.*\nsupervisor> ")
        p.send("version\r")
        out = p.expect(rb"4\.3\.0\nsupervisor> ")
        assert "Unknown syntax" not in out and "s3cret" not in out, out
        p.send("quit\r")
        assert p.wait() == 0
    finally:
        p.close()
    assert "Unknown syntax" not in p.buf.decode(errors="replace")
    assert "s3cret" not in hist.read_text()
