#!/usr/bin/env python3
"""Spawn cost and descriptors per program (issue 16 items 2 and 4), side by side with the
fork/exec floor of the same machine, measured in the same run.

For each N and each run it measures, one after the other:

* the floor: `spawn_floor N sleep 100000` (crates/supervisord/examples/spawn_floor.rs, a
  plain posix_spawn loop, each child with two pipes), the wall time of its loop;
* each daemon (`--bin DIR`, ours from target/release, the reference from .venv/bin) with N
  programs `command=sleep 100000`, `startsecs=0`: the time from starting the daemon to all
  N RUNNING, the time from its first to its last child's start (from /proc, 10 ms ticks),
  the daemon's CPU when all are RUNNING (and per program), RSS and open descriptors.

The daemon is watched through /proc/<pid>/task/<pid>/children (free for the daemon) until
it has N children, then through getAllProcessInfo until all are RUNNING; every daemon runs
under its own RLIMIT_NOFILE (`--nofile`, default 20000). It is stopped by pid (SIGTERM,
then SIGKILL of its process group); leftover children are killed by pid.

    cargo build --release -p supervisord --example spawn_floor
    .venv/bin/python scripts/bench-spawn.py --bin target/release --ns 100,1000,5000 --runs 3
    .venv/bin/python scripts/bench-spawn.py --bin target/release --bin .venv/bin --ns 1000

`--logs auto` (default) gives every program AUTO stdout and stderr logs; `--logs file` one
named stdout file with redirect_stderr, like ../shared/bench; `--logs none` NONE for both.
The summary prints medians and the load average; `--json FILE` keeps every figure.
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
import time
import xmlrpc.client

CLK_TCK = os.sysconf("SC_CLK_TCK")
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
        self.path, self.timeout = path, timeout

    def make_connection(self, host):
        return UnixHTTPConnection(self.path, self.timeout)


def proxy(sock, timeout=60.0):
    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(sock, timeout))


def stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_s(pid):
    f = stat_fields(pid)
    return (int(f[11]) + int(f[12])) / CLK_TCK


def thread_cpu_s(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_ticks(pid):
    return int(stat_fields(pid)[19])


def mem_kib(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def floor(tool, n):
    out = subprocess.run([tool, str(n), SLEEP, "100000"], capture_output=True, text=True,
                         timeout=300, preexec_fn=lambda: raise_nofile(4 * n + 64))
    if out.returncode != 0:
        raise RuntimeError("spawn_floor failed: %s" % out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(want, hard) if hard != resource.RLIM_INFINITY else want
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def config(tmp, n, logs):
    lines = [
        "[unix_http_server]", "file=%s/sv.sock" % tmp, "",
        "[supervisord]", "logfile=%s/supervisord.log" % tmp, "loglevel=info",
        "pidfile=%s/supervisord.pid" % tmp, "nodaemon=true", "childlogdir=%s/logs" % tmp,
        "minfds=1024", "minprocs=200", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
    ]
    for i in range(n):
        lines += ["[program:p%05d]" % i, "command=%s 100000" % SLEEP, "startsecs=0",
                  "autorestart=true", "stopsignal=KILL"]
        if logs == "file":
            lines += ["stdout_logfile=%s/logs/p%05d.log" % (tmp, i), "redirect_stderr=true",
                      "stdout_logfile_maxbytes=1MB", "stdout_logfile_backups=0"]
        elif logs == "none":
            lines += ["stdout_logfile=NONE", "stderr_logfile=NONE"]
        lines.append("")
    path = os.path.join(tmp, "supervisord.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def run_daemon(bin_dir, n, logs, nofile, timeout):
    tmp = tempfile.mkdtemp(prefix="bench-spawn-")
    os.mkdir(os.path.join(tmp, "logs"))
    conf = config(tmp, n, logs)
    exe = os.path.join(bin_dir, "supervisord")
    sock = os.path.join(tmp, "sv.sock")
    out = open(os.path.join(tmp, "daemon.out"), "wb")
    t0 = time.monotonic()
    try:
        p = subprocess.Popen([exe, "-n", "-c", conf], cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=lambda: raise_nofile(nofile))
    except OSError as e:
        out.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError("cannot start %s: %s" % (exe, e))
    res = {"n": n}
    pids = []
    try:
        deadline = t0 + timeout
        have, since = 0, time.monotonic()
        while have < n:
            if p.poll() is not None:
                raise RuntimeError("daemon exited %s" % p.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("timeout: %d of %d children" % (have, n))
            now_have = len(children(p.pid))
            if now_have != have:
                have, since = now_have, time.monotonic()
            elif time.monotonic() - since > 5.0:
                break  # stuck: the RPC loop below says why
            time.sleep(0.005)
        t_children = time.monotonic()
        client = None
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError("timeout waiting for RUNNING")
            try:
                client = client or proxy(sock)
                infos = client.supervisor.getAllProcessInfo()
                if len(infos) == n and all(i["statename"] == "RUNNING" for i in infos):
                    break
                fatal = [i for i in infos if i["statename"] == "FATAL"]
                if fatal:
                    raise RuntimeError("%d FATAL, e.g. %s: %s" % (
                        len(fatal), fatal[0]["name"], fatal[0]["spawnerr"]))
            except (OSError, xmlrpc.client.Error):
                client = None
            time.sleep(0.02)
        t_running = time.monotonic()
        res["cpu_s"] = cpu_s(p.pid)
        # The loop's own thread (the AUTO-log thread has exited by now: its CPU is only in
        # the process total).
        res["loop_cpu_s"] = thread_cpu_s(p.pid, p.pid)
        pids = [i["pid"] for i in infos]
        ticks = [start_ticks(x) for x in pids]
        res["start_to_children_s"] = t_children - t0
        res["start_to_running_s"] = t_running - t0
        res["spawn_span_s"] = (max(ticks) - min(ticks)) / CLK_TCK
        res["cpu_per_program_ms"] = 1000.0 * res["cpu_s"] / n
        res["loop_cpu_per_program_ms"] = 1000.0 * res["loop_cpu_s"] / n
        m = mem_kib(p.pid)
        res["rss_mib"] = m.get("VmRSS", 0) / 1024.0
        res["hwm_mib"] = m.get("VmHWM", 0) / 1024.0
        res["fds"] = fd_count(p.pid)
        res["fds_per_program"] = res["fds"] / n
        # Settled: our connection closed, 2 s later.
        client = None
        time.sleep(2.0)
        res["rss_settled_mib"] = mem_kib(p.pid).get("VmRSS", 0) / 1024.0
    finally:
        t_term = time.monotonic()
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        res["sigterm_to_exit_s"] = time.monotonic() - t_term
        for x in pids:
            try:
                os.kill(x, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        out.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", default=[], help="dir with supervisord")
    ap.add_argument("--floor", default="target/release/examples/spawn_floor",
                    type=os.path.abspath)
    ap.add_argument("--ns", default="100,1000,5000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--logs", choices=["auto", "file", "none"], default="auto")
    ap.add_argument("--nofile", type=int, default=20000)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    bins = [os.path.abspath(b) for b in (args.bin or ["target/release"])]
    ns = [int(x) for x in args.ns.split(",")]
    load = [os.getloadavg()]
    rows = {}
    for run in range(args.runs):
        for n in ns:
            f = floor(args.floor, n)
            rows.setdefault(("floor", n), []).append({"spawn_s": f["spawn_s"]})
            print("run %d N=%d floor %.3f s" % (run + 1, n, f["spawn_s"]), file=sys.stderr)
            for b in bins:
                try:
                    r = run_daemon(b, n, args.logs, args.nofile, args.timeout)
                except RuntimeError as e:
                    r = {"error": str(e)}
                r["floor_s"] = f["spawn_s"]
                if "start_to_running_s" in r:
                    r["vs_floor"] = r["start_to_running_s"] / f["spawn_s"]
                rows.setdefault((b, n), []).append(r)
                print("run %d N=%d %s %s" % (run + 1, n, b, json.dumps(r)), file=sys.stderr)
        load.append(os.getloadavg())
    keys = ["start_to_running_s", "spawn_span_s", "vs_floor", "cpu_s", "cpu_per_program_ms",
            "loop_cpu_per_program_ms", "rss_mib", "rss_settled_mib", "fds", "fds_per_program", "sigterm_to_exit_s"]
    print("load average (1 min) during the runs: %s" % ", ".join("%.2f" % l[0] for l in load))
    print("| N | what | floor (s) | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for n in ns:
        fl = statistics.median(r["spawn_s"] for r in rows[("floor", n)])
        for b in bins:
            good = [r for r in rows[(b, n)] if "error" not in r]
            cells = []
            for k in keys:
                vals = [r[k] for r in good if k in r]
                if not vals:
                    cells.append("-")
                    continue
                cells.append("%.3g (%.3g..%.3g)" % (statistics.median(vals), min(vals),
                                                    max(vals)))
            errs = [r["error"] for r in rows[(b, n)] if "error" in r]
            print("| %d | %s%s | %.3f | %s |" % (n, b, " (errors: %s)" % errs if errs else "",
                                                fl, " | ".join(cells)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": load, "logs": args.logs,
                       "rows": {"%s N=%d" % k: v for k, v in rows.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
