"""GET /metrics (issue 13 item 2): the page parses with the Python prometheus_client parsers
(Prometheus text and OpenMetrics), its figures match getAllProcessInfo, it sits behind the
same authentication as /RPC2 on both servers, and the counters move (RPC calls, log
bytes, events, listener queues)."""

import base64
import http.client
import socket
import time

import pytest
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port

PROGRAMS = """
[program:web]
command=sleep 1000
startsecs=0
numprocs=2
process_name=%(program_name)s_%(process_num)d

[program:talker]
command=sh -c 'head -c 3000 /dev/zero | tr "\\0" x; echo; sleep 1000'
startsecs=0

[program:off]
command=sleep 1000
autostart=false

[eventlistener:lis]
command=sh -c 'printf "READY\\n"; sleep 1000'
events=PROCESS_STATE
buffer_size=7
"""

CREDS = """
username = admin
password = s3cret
users = viewer:look
"""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self.path))


def get(conn, path="/metrics", headers=None):
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.headers, r.read().decode()


def scrape_unix(d, headers=None):
    return get(UnixHTTPConnection(d.sock), headers=headers)


def samples(text, parser=text_string_to_metric_families):
    out = {}
    for fam in parser(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, {f.name: f.type for f in parser(text)}


def val(smp, metric, **labels):
    return smp[(metric, tuple(sorted(labels.items())))]


@pytest.fixture
def daemon(make_daemon):
    d = make_daemon("rust", PROGRAMS)
    for n in ("web:web_0", "web:web_1", "talker"):
        d.wait_state(n, "RUNNING")
    return d


def test_page_parses_and_matches_process_info(daemon):
    status, headers, text = scrape_unix(daemon)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    smp, types = samples(text)
    infos = daemon.rpc().supervisor.getAllProcessInfo()
    assert len(infos) == 5
    for i in infos:
        lab = {"group": i["group"], "name": i["name"]}
        assert val(smp, "supervisor_process_state", **lab) == i["state"]
        assert val(smp, "supervisor_process_pid", **lab) == i["pid"]
        assert val(smp, "supervisor_process_start_time_seconds", **lab) == i["start"]
        assert val(smp, "supervisor_process_up", **lab) == (1 if i["statename"] == "RUNNING" else 0)
        assert val(smp, "supervisor_process_restarts_total", **lab) == 0
        if i["pid"]:
            assert val(smp, "supervisor_process_resident_memory_bytes", **lab) > 0
            assert val(smp, "supervisor_process_open_fds", **lab) >= 3
            assert val(smp, "supervisor_process_cpu_seconds_total", **lab) >= 0
        else:
            assert ("supervisor_process_open_fds", tuple(sorted(lab.items()))) not in smp
    assert types["supervisor_process_state"] == "gauge"
    assert types["supervisor_process_restarts"] == "counter"
    assert types["supervisor_process_cpu_seconds"] == "counter"
    assert types["supervisor_rpc_duration_seconds"] == "histogram"
    # The daemon itself.
    build = [k for k in smp if k[0] == "supervisor_build_info"]
    assert len(build) == 1 and ("supervisor_version", "4.3.0") in build[0][1]
    assert val(smp, "supervisor_state", state="RUNNING") == 1
    assert val(smp, "process_resident_memory_bytes") > 1_000_000
    assert val(smp, "process_cpu_seconds_total") >= 0


def test_openmetrics_when_asked(daemon):
    status, headers, text = scrape_unix(
        daemon, {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    smp, _ = samples(text, openmetrics_families)
    assert val(smp, "supervisor_process_up", group="web", name="web_0") == 1


def test_counters_move(daemon):
    rpc = daemon.rpc()
    _, _, before = scrape_unix(daemon)
    b, _ = samples(before)
    key = ("supervisor_rpc_calls_total", (("method", "supervisor.getState"), ("outcome", "ok")))
    for _ in range(3):
        rpc.supervisor.getState()
    try:
        rpc.supervisor.getProcessInfo("nosuch")
    except Exception:
        pass
    # The talker's 3001 bytes reach its log.
    daemon.wait_for(lambda: val(samples(scrape_unix(daemon)[2])[0], "supervisor_log_bytes_total",
                                group="talker", name="talker", channel="stdout") >= 3001,
                    what="talker's bytes counted")
    a, _ = samples(scrape_unix(daemon)[2])
    assert a[key] - b.get(key, 0) >= 3
    fault = ("supervisor_rpc_calls_total",
             (("method", "supervisor.getProcessInfo"), ("outcome", "fault")))
    assert a[fault] >= 1
    assert val(a, "supervisor_rpc_duration_seconds_count", method="supervisor.getState") >= 3
    assert val(a, "supervisor_log_rotations_total", group="talker", name="talker",
               channel="stdout") == 0
    # Events by type and the listener pool's queue.
    assert val(a, "supervisor_events_total", type="PROCESS_STATE_RUNNING") >= 3
    assert val(a, "supervisor_listener_queue_capacity", pool="lis") == 7
    assert val(a, "supervisor_listener_queue_depth", pool="lis") >= 0
    assert val(a, "supervisor_listener_overflows_total", pool="lis") >= 0
    # A restart is counted.
    rpc.supervisor.stopProcess("web:web_1")
    rpc.supervisor.startProcess("web:web_1")
    a, _ = samples(scrape_unix(daemon)[2])
    assert val(a, "supervisor_process_restarts_total", group="web", name="web_1") == 1
    assert val(a, "supervisor_process_restarts_total", group="web", name="web_0") == 0


def test_same_authentication_as_rpc2(make_daemon):
    port = free_port()
    d = make_daemon("rust", "[program:a]\ncommand=sleep 1000\nstartsecs=0\n",
                    inet_port=port)
    d.conf.write_text(d.conf.read_text().replace(
        f"port=127.0.0.1:{port}\n", f"port=127.0.0.1:{port}\n{CREDS}"))
    d.stop()
    d.start()

    def tcp(headers=None):
        return get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), headers=headers)

    def rpc2(headers=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName></methodCall>"
        c.request("POST", "/RPC2", body=body, headers={"Content-Type": "text/xml", **(headers or {})})
        r = c.getresponse()
        r.read()
        return r.status

    good = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
    for h, want in ((None, 401), (bad, 401), (good, 200)):
        assert rpc2(h) == want
        status, headers, text = tcp(h)
        assert status == want, (h, status)
        if want == 401:
            assert headers["WWW-Authenticate"] == 'Basic realm="default"'
        else:
            smp, _ = samples(text)
            assert val(smp, "supervisor_process_up", group="a", name="a") == 1
    # A user with the read role may scrape, and read the stats.
    viewer = {"Authorization": "Basic " + base64.b64encode(b"viewer:look").decode()}
    assert tcp(viewer)[0] == 200
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = (b"<?xml version='1.0'?><methodCall><methodName>supervisor_rs.getAllProcessStats"
            b"</methodName></methodCall>")
    c.request("POST", "/RPC2", body=body, headers={"Content-Type": "text/xml", **viewer})
    r = c.getresponse()
    text = r.read().decode()
    assert r.status == 200 and "<name>cpu_percent</name>" in text and "faultCode" not in text
    # The unix socket has no credentials in this config: open there, as /RPC2 is.
    assert scrape_unix(d)[0] == 200


def test_only_get_and_head(daemon):
    # The whole request in one write: the server may answer 400 and close before a body
    # sent in a second write arrives (http.client's request() would then see EPIPE).
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(daemon.sock))
    s.sendall(b"POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx")
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    s.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    c = UnixHTTPConnection(daemon.sock)
    c.request("HEAD", "/metrics")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""


def test_scrape_is_cheap_and_nothing_runs_while_nobody_asks(daemon):
    # Idle: the daemon's CPU time does not move while nobody asks (no sampling timer).
    pid = daemon.proc.pid

    def cpu_ticks():
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])

    t0 = cpu_ticks()
    time.sleep(1.5)
    assert cpu_ticks() - t0 <= 2  # at most 20 ms in 1.5 s (clock ticks of 10 ms)
    # Ten scrapes of this small table stay well under a second of daemon CPU.
    t0 = cpu_ticks()
    for _ in range(10):
        assert scrape_unix(daemon)[0] == 200
    assert cpu_ticks() - t0 < 100


def test_readiness_gauges(make_daemon):
    d = make_daemon("rust", """
[program:db]
command=sh -c 'sleep 0.3; echo accepting connections; sleep 1000'
ready=log:accepting connections
[program:plain]
command=sleep 1000
startsecs=0
""")
    d.wait_state("db", "RUNNING")
    d.wait_state("plain", "RUNNING")
    smp, _ = samples(scrape_unix(d)[2])
    assert val(smp, "supervisor_process_ready", group="db", name="db") == 1
    # No ready= check: no readiness gauge for that process.
    assert ("supervisor_process_ready", (("group", "plain"), ("name", "plain"))) not in smp
    assert val(smp, "supervisor_ready") == 1
    d.rpc().supervisor.stopProcess("db")
    smp, _ = samples(scrape_unix(d)[2])
    assert val(smp, "supervisor_process_ready", group="db", name="db") == 0
    assert val(smp, "supervisor_ready") == 0
