#!/usr/bin/env python3
"""Mass operations and follow latency (issue 16 items 3 and 5), side by side with the
reference in the same run.

`mass`: for each N (`--ns`, default 1000,5000) and each daemon (`--bin DIR`, ours from
target/release, the reference from .venv/bin; `--ref-max` caps the N the reference is
run with), N programs `command=sleep 100000`, `startsecs=0`, autostart,
`stdout_logfile=NONE` with `redirect_stderr` (5,000 AUTO logs do not fit a 20,000 fd limit
on the reference):

* start -> all RUNNING (getAllProcessInfo polled every 20 ms);
* `stopAllProcesses()` wall time (the call returns when every program is STOPPED), and
  that every result entry says success;
* `startAllProcesses()` wall time (wait=True: returns when all are RUNNING);
* SIGTERM -> daemon exit, with all N running;
* the daemon's CPU time (utime + stime) during each call;
* the floor in the same run: N `sleep`s posix_spawn'ed by this script, then one kill(2)
  each and waitpid until all are reaped (on a loaded machine the children's own exit
  dominates the wall time of any stop).

`follow`: one program printing a line with its CLOCK_MONOTONIC stamp at random gaps
(5-25 ms), `--lines` lines; a `/logtail/<name>` client and an `/events` (SSE,
PROCESS_LOG_STDOUT) client take the time each line reaches them: median and p99 of
(seen - written). Only our daemon has `/events`; the reference gets the /logtail part.

    cargo build --release -p supervisord
    .venv/bin/python scripts/bench-mass.py --bin target/release --bin .venv/bin
    .venv/bin/python scripts/bench-mass.py --bin target/release --only follow

Every daemon is stopped by pid (SIGTERM, then SIGKILL of its process group).
"""

import argparse
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import xmlrpc.client

SLEEP = shutil.which("sleep") or "/bin/sleep"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout):
        super().__init__()
        self.path = path
        self.timeout = timeout

    def make_connection(self, host):
        return UnixHTTPConnection(self.path, self.timeout)


def rpc(sock, timeout=120):
    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(sock, timeout))


class Daemon:
    def __init__(self, bindir, programs, nofile):
        self.dir = tempfile.mkdtemp(prefix="bench-mass-")
        self.sock = os.path.join(self.dir, "s.sock")
        self.conf = os.path.join(self.dir, "supervisord.conf")
        lines = [
            "[unix_http_server]", "file=%s" % self.sock, "",
            "[supervisord]", "logfile=%s" % os.path.join(self.dir, "supervisord.log"),
            "loglevel=%s" % os.environ.get("BENCH_LOGLEVEL", "info"), "pidfile=%s" % os.path.join(self.dir, "s.pid"),
            "nodaemon=true", "childlogdir=%s" % self.dir, "minfds=%d" % min(nofile, 30000),
            "minprocs=200", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "", "[supervisorctl]", "serverurl=unix://%s" % self.sock, "",
        ]
        for name, opts in programs:
            lines.append("[program:%s]" % name)
            lines += ["%s=%s" % kv for kv in opts.items()]
            lines.append("")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))
        exe = os.path.join(bindir, "supervisord")

        def limits():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.out = open(os.path.join(self.dir, "daemon.out"), "wb")
        self.proc = subprocess.Popen([exe, "-n", "-c", self.conf], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=limits)
        self.t0 = time.monotonic()
        deadline = time.monotonic() + 60
        while True:
            try:
                rpc(self.sock, 5).supervisor.getState()
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("daemon did not come up: %s" % self.dir)
                time.sleep(0.02)

    def wait_all(self, n, state, timeout=120):
        deadline = time.monotonic() + timeout
        c = rpc(self.sock)
        while time.monotonic() < deadline:
            info = c.supervisor.getAllProcessInfo()
            if len(info) >= n and all(p["statename"] == state for p in info):
                return time.monotonic()
            time.sleep(0.02)
        raise RuntimeError("not all %s within %ss" % (state, timeout))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(60)
            except Exception:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except Exception:
            pass
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_s(pid):
    """utime + stime of `pid` in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor(n):
    """The machine's limit in the same run: n `sleep`s started with posix_spawn, then one
    kill(2) each and waitpid until all are reaped (the time of the kill + reap part)."""
    pids = [os.posix_spawn(SLEEP, [SLEEP, "100000"], os.environ) for _ in range(n)]
    time.sleep(0.5)
    t = time.monotonic()
    for p in pids:
        os.kill(p, signal.SIGTERM)
    for p in pids:
        os.waitpid(p, 0)
    return time.monotonic() - t


def mass(bindir, n, nofile):
    progs = [("p%05d" % i, {"command": "%s 100000" % SLEEP, "startsecs": "0",
                            "autorestart": "false", "stopwaitsecs": "10",
                            "stdout_logfile": "NONE", "redirect_stderr": "true"})
             for i in range(n)]
    d = Daemon(bindir, progs, nofile)
    r = {"n": n}
    try:
        r["start_all_running_s"] = d.wait_all(n, "RUNNING") - d.t0
        c = rpc(d.sock)
        time.sleep(0.3)
        cpu = cpu_s(d.proc.pid)
        t = time.monotonic()
        res = c.supervisor.stopAllProcesses()
        r["stopAll_s"] = time.monotonic() - t
        r["stopAll_daemon_cpu_s"] = cpu_s(d.proc.pid) - cpu
        r["stopAll_ok"] = len(res) == n and all(x["status"] == 80 for x in res)
        cpu = cpu_s(d.proc.pid)
        t = time.monotonic()
        res = c.supervisor.startAllProcesses()
        r["startAll_s"] = time.monotonic() - t
        r["startAll_daemon_cpu_s"] = cpu_s(d.proc.pid) - cpu
        r["startAll_ok"] = len(res) == n and all(x["status"] == 80 for x in res)
        d.wait_all(n, "RUNNING")
        time.sleep(0.3)
        t = time.monotonic()
        os.kill(d.proc.pid, signal.SIGTERM)
        d.proc.wait(120)
        r["sigterm_exit_s"] = time.monotonic() - t
    finally:
        d.stop()
    return r


STAMPER = textwrap.dedent("""\
    import os, random, sys, time
    time.sleep(0.5)
    for i in range(%d):
        time.sleep(random.uniform(0.005, 0.025))
        os.write(1, b"L %%d\\n" %% time.monotonic_ns())
    time.sleep(3600)
""")


def follow(bindir, lines, sse):
    d = None
    script = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    script.write(STAMPER % lines)
    script.close()
    progs = [("stamper", {"command": "%s -u %s" % (sys.executable, script.name),
                          "autostart": "false", "startsecs": "0",
                          "stdout_logfile": "%(here)s/stamper.log",
                          "stdout_events_enabled": "true", "redirect_stderr": "true"})]
    r = {}
    try:
        d = Daemon(bindir, progs, 4096)
        lat = {"logtail": [], "sse": []}

        def reader(kind, path):
            conn = UnixHTTPConnection(d.sock, 30)
            conn.request("GET", path)
            resp = conn.getresponse()
            buf = b""
            while len(lat[kind]) < lines:
                chunk = resp.fp.read1(65536)
                now = time.monotonic_ns()
                if not chunk:
                    return
                buf += chunk
                *done, buf = buf.split(b"\n")
                for line in done:
                    # SSE data lines carry the JSON whose "data" holds the log line.
                    i = line.find(b"L ")
                    if i < 0:
                        continue
                    digits = b""
                    for ch in line[i + 2:]:
                        if 48 <= ch <= 57:
                            digits += bytes([ch])
                        else:
                            break
                    if digits:
                        lat[kind].append((now - int(digits)) / 1e6)
            conn.close()

        # The log must exist before /logtail opens it.
        c = rpc(d.sock)
        open(os.path.join(d.dir, "stamper.log"), "a").close()
        threads = [threading.Thread(target=reader, args=("logtail", "/logtail/stamper"),
                                    daemon=True)]
        if sse:
            threads.append(threading.Thread(
                target=reader, args=("sse", "/events?events=PROCESS_LOG_STDOUT"), daemon=True))
        for t in threads:
            t.start()
        time.sleep(0.3)
        c.supervisor.startProcess("stamper")
        for t in threads:
            t.join(lines * 0.05 + 20)
        for k, v in lat.items():
            if v:
                v.sort()
                r[k + "_n"] = len(v)
                r[k + "_median_ms"] = statistics.median(v)
                r[k + "_p99_ms"] = v[min(len(v) - 1, int(len(v) * 0.99))]
    finally:
        if d:
            d.stop()
        os.unlink(script.name)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--ns", default="1000,5000")
    ap.add_argument("--ref-max", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--nofile", type=int, default=20000)
    ap.add_argument("--only", choices=["mass", "follow"])
    ap.add_argument("--json")
    a = ap.parse_args()
    out = []
    for run in range(a.runs):
        if a.only != "follow":
            for n in [int(x) for x in a.ns.split(",")]:
                r = {"scenario": "floor", "n": n, "run": run, "kill_reap_s": floor(n)}
                print(json.dumps(r), flush=True)
                out.append(r)
        for b in [os.path.abspath(x) for x in a.bin]:
            ref = os.path.exists(os.path.join(b, "python")) or ".venv" in b
            if a.only != "follow":
                for n in [int(x) for x in a.ns.split(",")]:
                    if ref and n > a.ref_max:
                        continue
                    r = mass(b, n, a.nofile)
                    r.update(bin=b, run=run, scenario="mass")
                    print(json.dumps(r), flush=True)
                    out.append(r)
            if a.only != "mass":
                r = follow(b, a.lines, not ref)
                r.update(bin=b, run=run, scenario="follow")
                print(json.dumps(r), flush=True)
                out.append(r)
    print("load average: %s" % (os.getloadavg(),))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
