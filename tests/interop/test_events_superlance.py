"""Real superlance listeners from the venv (crashmail, memmon, httpok) under the reference
daemon and ours: they speak the listener protocol and call back over XML-RPC."""

import pytest

from conftest import free_port
from listeners.events_util import IMPLS, PY, VENV_BIN


def script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def pid_of(daemon, name):
    return daemon.rpc(5).supervisor.getProcessInfo(name)["pid"]


def wait_restarted(daemon, name, old_pid, timeout=30):
    daemon.wait_for(
        lambda: daemon.rpc(5).supervisor.getProcessInfo(name)["statename"] == "RUNNING"
        and pid_of(daemon, name) not in (0, old_pid),
        timeout=timeout, what=f"{name} restarted")


@pytest.mark.parametrize("impl", IMPLS)
def test_crashmail_mails_an_unexpected_exit(make_daemon, tmp_path, impl):
    d = tmp_path / impl
    d.mkdir()
    mail = d / "mail.txt"
    sendmail = script(d / "sendmail.sh", '#!/bin/sh\ncat >> "$1"\n')
    crasher = script(d / "crasher.sh", "#!/bin/sh\nsleep 0.3\nexit 3\n")
    body = f"""
[eventlistener:crashmail]
command={VENV_BIN / 'crashmail'} -a -m ops@example.com -s "{sendmail} {mail}"
events=PROCESS_STATE_EXITED
stderr_logfile={d / 'crashmail.err'}

[program:crasher]
command={crasher}
autostart=false
autorestart=false
startsecs=0
"""
    daemon = make_daemon(impl, body, name=impl)
    daemon.wait_state("crashmail:crashmail", "RUNNING")
    daemon.rpc().supervisor.startProcess("crasher")
    daemon.wait_state("crasher", "EXITED")
    daemon.wait_for(lambda: mail.exists() and "crasher" in mail.read_text(),
                    what="the crash mail")
    text = mail.read_text()
    assert "To: ops@example.com" in text
    assert "Subject:" in text and "crasher" in text
    assert "unexpectedly" in text


@pytest.mark.parametrize("impl", IMPLS)
def test_memmon_restarts_a_program_over_its_limit(make_daemon, tmp_path, impl):
    d = tmp_path / impl
    d.mkdir()
    hog = script(d / "hog.py",
                 "import time\ndata = b'x' * (80 << 20)\ntime.sleep(600)\n")
    body = f"""
[eventlistener:memmon]
command={VENV_BIN / 'memmon'} -p hog=30MB
events=TICK_5
stderr_logfile={d / 'memmon.err'}

[program:hog]
command={PY} {hog}
startsecs=1
"""
    daemon = make_daemon(impl, body, name=impl)
    daemon.wait_state("hog", "RUNNING")
    wait_restarted(daemon, "hog", pid_of(daemon, "hog"))
    assert "Restarting hog" in (d / "memmon.err").read_text()


@pytest.mark.parametrize("impl", IMPLS)
def test_httpok_restarts_a_program_whose_check_fails(make_daemon, tmp_path, impl):
    d = tmp_path / impl
    d.mkdir()
    port = free_port()
    web = script(d / "web.py", f"""
import http.server

class Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"sick")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", {port}), Failing).serve_forever()
""")
    body = f"""
[eventlistener:httpok]
command={VENV_BIN / 'httpok'} -p web -t 2 http://127.0.0.1:{port}/
events=TICK_5
stderr_logfile={d / 'httpok.err'}

[program:web]
command={PY} {web}
startsecs=1
"""
    daemon = make_daemon(impl, body, name=impl)
    daemon.wait_state("web", "RUNNING")
    wait_restarted(daemon, "web", pid_of(daemon, "web"))
    err = (d / "httpok.err").read_text()
    assert "web is in RUNNING state, restarting" in err
