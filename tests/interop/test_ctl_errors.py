"""supervisorctl's error paths in plain words: no daemon (socket missing, socket left
behind, its directory missing), a socket this user may not open, a refused TCP port,
wrong credentials, a group name given as a process, `tail -f` of an unknown name.

Each case runs the reference client (.venv/bin/supervisorctl) and ours with the same
arguments. Where the reference prints a line scripts may read (`<url> no such file`,
`<url> refused connection`, `Server requires authentication`, `name: ERROR (no such
process)`), ours prints it byte for byte on stdout; where the reference prints a Python
exception (`error: <class 'PermissionError'>, ... file: .../xmlrpc.py line: 557`), ours
prints a plain line of the same shape instead. What to check goes to stderr, on lines
starting with `hint: `. Exit statuses are the reference's, except 77 for "not allowed"
(wrong credentials, permission denied on the socket; the reference exits 1) and 1 for
`tail -f` of an unknown name (the reference streams a 404 and exits 0).
See docs/supervisorctl.md ("Errors") and docs/COMPATIBILITY.md.
"""

import os
import re
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import IMPLS, free_port

PY_CTL = str(IMPLS["python"] / "supervisorctl")
RS_CTL = str(IMPLS["rust"] / "supervisorctl")
PYTHON_EXCEPTION = re.compile(r"^error: <class '[\w.]+'>, .*: file: .* line: \d+$", re.M)


def run(client, args, cwd, input="", preexec_fn=None, timeout=30):
    # a new session: no controlling terminal, so password questions read stdin
    return subprocess.run([client, *args], capture_output=True, text=True, input=input,
                          cwd=str(cwd), timeout=timeout, preexec_fn=preexec_fn,
                          start_new_session=True)


def both(args, cwd, **kw):
    return run(PY_CTL, args, cwd, **kw), run(RS_CTL, args, cwd, **kw)


def hints(r):
    return [line for line in r.stderr.splitlines() if line.startswith("hint: ")]


@pytest.fixture
def ctl_conf(tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text("[supervisorctl]\n")
    return conf


def test_no_daemon_socket_missing(tmp_path, ctl_conf):
    sock = tmp_path / "supervisor.sock"
    url = f"unix://{sock}"
    base = ["-c", str(ctl_conf), "-s", url]
    # commands that check the server first: the reference's line and exit status
    for line, code in [("status", 4), ("start x", 7), ("version", 7), ("tail -f x", 7),
                       ("stop all", 7)]:
        py, rs = both(base + line.split(), tmp_path)
        assert (py.stdout, py.returncode) == (f"{url} no such file\n", code), py
        assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode), (line, rs)
        assert hints(rs) and hints(rs)[0].startswith(f"hint: there is no socket {sock}:"), rs
        assert "serverurl= in [supervisorctl]" in hints(rs)[0]
    # the others: the reference prints a Python exception line; ours the plain line
    for line in ["reread", "avail", "update", "add x", "reload"]:
        py, rs = both(base + line.split(), tmp_path)
        assert PYTHON_EXCEPTION.match(py.stdout) and "FileNotFoundError" in py.stdout, py
        assert (rs.stdout, rs.returncode) == (f"{url} no such file\n", py.returncode), rs
        assert len(hints(rs)) == 1, rs
    # shutdown keeps the reference's own words
    py, rs = both(base + ["shutdown"], tmp_path)
    assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode), rs


def test_no_daemon_socket_directory_missing(tmp_path, ctl_conf):
    sock = tmp_path / "run" / "supervisor" / "s.sock"
    url = f"unix://{sock}"
    py, rs = both(["-c", str(ctl_conf), "-s", url, "status"], tmp_path)
    assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode) == (
        f"{url} no such file\n", 4)
    assert hints(rs) == [hints(rs)[0]]
    assert hints(rs)[0].startswith(
        f"hint: the directory {tmp_path / 'run' / 'supervisor'} does not exist"), rs


def test_no_daemon_socket_left_behind(tmp_path, ctl_conf):
    """A socket file nobody listens on (a daemon killed with SIGKILL leaves one)."""
    sock = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()
    url = f"unix://{sock}"
    base = ["-c", str(ctl_conf), "-s", url]
    for line, code in [("status", 4), ("pid", 4)]:
        py, rs = both(base + line.split(), tmp_path)
        assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode) == (
            f"{url} refused connection\n", code), rs
        assert hints(rs)[0].startswith(f"hint: nothing listens on {sock}:"), rs
    py, rs = both(base + ["avail"], tmp_path)
    assert "ConnectionRefusedError" in py.stdout and py.returncode == 1
    assert (rs.stdout, rs.returncode) == (f"{url} refused connection\n", 1), rs


def test_refused_tcp_port(tmp_path, ctl_conf):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    base = ["-c", str(ctl_conf), "-s", url]
    for line, code in [("status", 4), ("restart x", 4), ("maintail", 4)]:
        py, rs = both(base + line.split(), tmp_path)
        assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode) == (
            f"{url} refused connection\n", code), rs
        assert hints(rs) == [hints(rs)[0]], rs
        assert hints(rs)[0].startswith(f"hint: nothing listens on 127.0.0.1:{port}:"), rs
        assert "[inet_http_server]" in hints(rs)[0]
    for line in ["reread", "avail", "remove x"]:
        py, rs = both(base + line.split(), tmp_path)
        assert PYTHON_EXCEPTION.match(py.stdout), py
        assert (rs.stdout, rs.returncode) == (f"{url} refused connection\n", 1), rs


def _drop_to_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_socket_this_user_may_not_open():
    """A socket with a mode that shuts this user out (chmod=0700 owned by another user,
    the default of [unix_http_server]). Run as root, the clients run as uid 65534 on a
    root-owned socket of mode 0700; run as another user, the socket gets mode 0 (its
    owner may not connect either). The reference prints a PermissionError exception and
    exits 1."""
    d = tempfile.mkdtemp(prefix="ctl-perm-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        sock = os.path.join(d, "s.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(sock)
        listener.listen(4)
        if os.geteuid() == 0:
            os.chmod(sock, 0o700)
            preexec = _drop_to_nobody
        else:
            os.chmod(sock, 0)
            preexec = None
        conf = os.path.join(d, "ctl.conf")
        with open(conf, "w") as f:
            f.write("[supervisorctl]\n")
        os.chmod(conf, 0o644)
        url = f"unix://{sock}"
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        for line in ["status", "start x", "reread", "version"]:
            args = ["-c", conf, "-s", url, *line.split()]
            rs = run(RS_CTL, args, d, preexec_fn=preexec)
            assert (rs.stdout, rs.returncode) == (f"{url} permission denied\n", 77), (line, rs)
            assert hints(rs) == [hints(rs)[0]], rs
            assert hints(rs)[0].startswith("hint: this user (uid "), rs
            assert f"may not connect to {sock} (mode {mode:04o}, owner uid {os.getuid()}" in \
                hints(rs)[0], rs
            assert "chmod=/chown= in supervisord's [unix_http_server]" in hints(rs)[0]
            try:
                py = run(PY_CTL, args, d, preexec_fn=preexec)
            except PermissionError:
                # as uid 65534 the reference's interpreter (under /root) cannot be run
                assert os.geteuid() == 0
                continue
            assert py.returncode == 1 and "PermissionError" in py.stdout, py
            assert PYTHON_EXCEPTION.match(py.stdout), py
        listener.close()
    finally:
        for name in ("s.sock", "ctl.conf"):
            try:
                os.unlink(os.path.join(d, name))
            except FileNotFoundError:
                pass
        os.rmdir(d)


AUTH_BODY = """
[program:solo]
command=sleep 1000
startsecs=0
"""


@pytest.fixture
def auth_daemon(make_daemon):
    port = free_port()
    d = make_daemon("rust", AUTH_BODY,
                    extra_sections=f"[inet_http_server]\nport=127.0.0.1:{port}\n"
                                   "username=admin\npassword=s3cret\n")
    d.wait_state("solo", "RUNNING")
    d.url = f"http://127.0.0.1:{port}"
    return d


def test_wrong_credentials_said_once_with_exit_77(auth_daemon):
    d = auth_daemon
    for creds, hint in [(["-u", "admin", "-p", "wrong"], 'rejected user "admin"'),
                        ([], "-u USER -p PASS"),
                        (["-u", "admin"], "-u USER -p PASS"),
                        (["-p", "s3cret"], "without a user name")]:
        for line in ["status", "avail", "stop solo", "tail -f solo", "version"]:
            args = ["-c", str(d.conf), "-s", d.url, *creds, *line.split()]
            py, rs = both(args, d.dir)
            # the reference: the line, then a ProtocolError exception line, exit 1
            assert py.stdout.startswith("Server requires authentication\n"), py
            assert "401 Unauthorized" in py.stdout and py.returncode == 1, py
            assert (rs.stdout, rs.returncode) == ("Server requires authentication\n", 77), rs
            assert len(hints(rs)) == 1 and hint in hints(rs)[0], (creds, line, rs)
    assert d.rpc().supervisor.getProcessInfo("solo")["statename"] == "RUNNING"
    # the right ones still work
    rs = run(RS_CTL, ["-c", str(d.conf), "-s", d.url, "-u", "admin", "-p", "s3cret",
                      "version"], d.dir)
    assert (rs.stdout, rs.returncode) == ("4.3.0\n", 0)


def test_the_shell_asks_for_credentials_once_per_command(auth_daemon):
    """Through a pipe: the entry `status` gets 401, the shell asks once, the answer is
    wrong too: it says so and goes on to the prompt (the reference asks again and again
    until the answers run out)."""
    d = auth_daemon
    args = ["-c", str(d.conf), "-s", d.url]
    script = "admin\nwrong\nadmin\ns3cret\n"
    py, rs = both(args, d.dir, input=script)
    assert py.stdout.count("Username:") == 2, py  # asked again, took the next answers
    assert rs.stdout.count("Username:") == 1, rs
    assert rs.stdout.count("Server requires authentication\n") == 2, rs
    assert 'rejected user "admin"' in rs.stderr
    # the rest of the input is read as commands at the prompt
    assert "*** Unknown syntax: admin\n" in rs.stdout, rs
    assert rs.returncode == 0


def test_group_given_as_a_process_gets_a_hint(make_daemon):
    body = """
    [group:worker]
    programs=w1,w2

    [program:w1]
    command=sleep 1000
    startsecs=0

    [program:w2]
    command=sleep 1000
    startsecs=0
    """
    d = make_daemon("rust", body)
    d.wait_state("worker:w1", "RUNNING")
    hint = "hint: worker is a group: did you mean 'worker:*'?"
    for line in ["restart worker", "stop worker", "start worker", "status worker",
                 "signal HUP worker", "clear worker", "pid worker", "tail worker"]:
        py, rs = both(["-c", str(d.conf), *line.split()], d.dir)
        assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode), (line, py, rs)
        assert "ERROR" in rs.stdout or "No such process" in rs.stdout, rs
        assert hints(rs) == [hint], (line, rs)  # once, even for restart's two lines
    # a name that is neither: the same lines, no hint
    py, rs = both(["-c", str(d.conf), "restart", "nosuch"], d.dir)
    assert (rs.stdout, rs.returncode) == (py.stdout, py.returncode)
    assert hints(rs) == []
    assert d.rpc().supervisor.getProcessInfo("worker:w1")["statename"] == "RUNNING"


def test_tail_follow_of_an_unknown_name(make_daemon):
    """The reference prints the Ctrl-C banner, then `<url>/logtail/nosuch/stdout Cannot
    read, status code 404` on stderr, and exits 0. Ours answers like `tail` without -f:
    `nosuch: ERROR (no such process)` and exit 1, without opening a stream."""
    d = make_daemon("rust", AUTH_BODY)
    d.wait_state("solo", "RUNNING")
    py, rs = both(["-c", str(d.conf), "tail", "-f", "nosuch"], d.dir)
    assert py.returncode == 0 and "status code 404" in py.stderr, py
    assert (rs.stdout, rs.stderr, rs.returncode) == (
        "nosuch: ERROR (no such process)\n", "", 1), rs
    rs = run(RS_CTL, ["-c", str(d.conf), "tail", "-f", "nosuch", "stderr"], d.dir)
    assert (rs.stdout, rs.returncode) == ("nosuch: ERROR (no such process)\n", 1), rs
