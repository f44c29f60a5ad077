#!/usr/bin/env python3
"""Load scenarios for the daemon's hardening work (issue 10), one subcommand each.

Each scenario starts a supervisord (ours from `--bin target/release`, or the reference with
`--bin .venv/bin`) in a fresh temp dir on a unix socket, runs its load for `--seconds`,
samples the daemon from the outside (open descriptors from /proc/<pid>/fd, CPU from
/proc/<pid>/stat, getState latency from a polling client) and prints one table row per
binary dir. The daemon is stopped by its pid (SIGTERM, then SIGKILL of its process group);
children that outlive it are killed by pid, found through the temp dir in their environment.

    .venv/bin/python scripts/bench-hardening.py --bin target/release crashloop
    .venv/bin/python scripts/bench-hardening.py --bin target/release --bin .venv/bin \\
        crashloop --programs 500 --seconds 10

Adding a scenario: write `def scenario_<name>(args, daemon) -> dict` (run the load against
the started `Daemon`, return extra columns), a `configure_<name>(args) -> str` giving the
program sections, and register both with `@scenario(...)` plus its own options.
"""

import argparse
import http.client
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def proxy(sock, timeout=10.0):
    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(str(sock), timeout))


class Daemon:
    """One supervisord in its own temp dir, started with an optional RLIMIT_NOFILE."""

    def __init__(self, bin_dir, programs, nofile=None, loglevel="info", nice=0):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-hardening-"))
        self.sock = self.dir / "supervisor.sock"
        self.conf = self.dir / "supervisord.conf"
        self.binary = (Path(bin_dir) / "supervisord").resolve()
        self.nofile = nofile
        self.nice = nice
        self.conf.write_text(
            f"[unix_http_server]\nfile={self.sock}\n\n"
            f"[supervisord]\nlogfile={self.dir / 'supervisord.log'}\n"
            f"pidfile={self.dir / 'supervisord.pid'}\n"
            f"childlogdir={self.dir}\nnodaemon=true\nloglevel={loglevel}\nminfds=64\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            + programs
        )
        self.proc = None

    def _preexec(self):
        os.setsid()
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        if self.nice:
            os.nice(self.nice)

    def start(self, timeout=180.0):
        self.out = open(self.dir / "daemon.out", "wb")
        self.proc = subprocess.Popen([str(self.binary), "-n", "-c", str(self.conf)],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     cwd=str(self.dir), preexec_fn=self._preexec)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: "
                                   + (self.dir / "daemon.out").read_text(errors="replace"))
            try:
                if proxy(self.sock, 2).supervisor.getState()["statename"] == "RUNNING":
                    return self
            except (OSError, xmlrpc.client.Error, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError("daemon not ready")

    @property
    def pid(self):
        return self.proc.pid

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def cpu_seconds(self):
        try:
            fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def mainlog(self):
        try:
            return (self.dir / "supervisord.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=30.0):
        """SIGTERM by pid; returns the seconds it took to exit (None if it had to be killed)."""
        took = None
        if self.proc and self.proc.poll() is None:
            t0 = time.time()
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                took = time.time() - t0
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.out.close()
        self._kill_leftovers()
        return took

    def _kill_leftovers(self):
        """Kills (by pid) any child still carrying this temp dir in its environment."""
        tag = str(self.sock).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if tag in open(f"/proc/{entry}/environ", "rb").read():
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Sampler:
    """Samples fds and CPU every `interval` s, and polls getState back to back (with a
    `pause` between calls) from a thread, recording each call's latency."""

    def __init__(self, daemon, interval=0.1, pause=0.01):
        self.d, self.interval, self.pause = daemon, interval, pause
        self.fds, self.latencies, self.errors = [], [], 0
        self._stop = threading.Event()

    def _poll(self):
        client = proxy(self.d.sock, 5)
        while not self._stop.is_set():
            t = time.perf_counter()
            try:
                client.supervisor.getState()
                self.latencies.append(time.perf_counter() - t)
            except (OSError, xmlrpc.client.Error, http.client.HTTPException):
                self.errors += 1
                client = proxy(self.d.sock, 5)
            time.sleep(self.pause)

    def run(self, seconds):
        th = threading.Thread(target=self._poll, daemon=True)
        cpu0, t0 = self.d.cpu_seconds(), time.time()
        th.start()
        while time.time() - t0 < seconds:
            n = self.d.fds()
            if n is not None:
                self.fds.append(n)
            time.sleep(self.interval)
        self._stop.set()
        th.join(10)
        cpu1, t1 = self.d.cpu_seconds(), time.time()
        self.cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0) if None not in (cpu0, cpu1) else None


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


SCENARIOS = {}


def scenario(name, help, configure, options=()):
    def wrap(fn):
        SCENARIOS[name] = (fn, configure, help, options)
        return fn
    return wrap


# ---- crashloop ---------------------------------------------------------------------------

def configure_crashloop(args):
    return "".join(
        f"[program:p{i:05d}]\ncommand={args.command}\nstartsecs=0\nautorestart=true\n\n"
        for i in range(args.programs))


@scenario("crashloop", "N programs that exit at once, startsecs=0, autorestart=true",
          configure_crashloop,
          options=[(("--programs",), dict(type=int, default=500)),
                   (("--command",), dict(default="/bin/false"))])
def scenario_crashloop(args, d):
    log_before = d.mainlog().count("spawned:")
    s = Sampler(d)
    s.run(args.seconds)
    log = d.mainlog()
    return {
        "spawns/s": (log.count("spawned:") - log_before) / args.seconds,
        "spawnerr": log.count("spawnerr:"),
        "sampler": s,
    }


# ---- exhaustion --------------------------------------------------------------------------

def configure_exhaustion(args):
    return "".join(
        f"[program:p{i:05d}]\ncommand=sleep 100000\nstartsecs=0\nstartretries=0\n"
        f"stdout_logfile=NONE\nredirect_stderr=true\n\n"
        for i in range(args.programs))


@scenario("exhaustion", "N long-running programs, one group each, more than --nofile allows; "
          "the last column is the shutdown", configure_exhaustion,
          options=[(("--programs",), dict(type=int, default=10000))])
def scenario_exhaustion(args, d):
    infos = proxy(d.sock, 60).supervisor.getAllProcessInfo()
    s = Sampler(d)
    s.run(args.seconds)
    return {
        "running": sum(1 for i in infos if i["statename"] == "RUNNING"),
        "fatal": sum(1 for i in infos if i["statename"] == "FATAL"),
        "sampler": s,
    }


# ---- driver ------------------------------------------------------------------------------

def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", required=True,
                    help="directory holding supervisord (repeat to compare)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seconds", type=float, default=10.0, help="sampling time")
    common.add_argument("--settle", type=float, default=2.0, help="seconds before sampling")
    common.add_argument("--nofile", type=int, default=20000, help="RLIMIT_NOFILE (soft=hard)")
    common.add_argument("--keep", action="store_true", help="keep the temp dirs")
    common.add_argument("--nice", type=int, default=0,
                        help="niceness of the daemon and its children (negative needs root; "
                             "keeps other load on a shared machine from dominating)")
    sub = ap.add_subparsers(dest="scenario", required=True)
    for name, (_, _, help, options) in SCENARIOS.items():
        sp = sub.add_parser(name, help=help, parents=[common])
        for flags, kw in options:
            sp.add_argument(*flags, **kw)
    args = ap.parse_args()
    run, configure, _, _ = SCENARIOS[args.scenario]
    rows = []
    for bin_dir in args.bin:
        d = Daemon(bin_dir, configure(args), nofile=args.nofile, nice=args.nice)
        try:
            d.start()
            time.sleep(args.settle)
            extra = run(args, d)
        finally:
            stop_s = d.stop()
            if args.keep:
                print(f"# {bin_dir}: kept {d.dir}", file=sys.stderr)
            else:
                d.cleanup()
        s = extra.pop("sampler")
        lat = [x * 1000 for x in s.latencies]
        rows.append([bin_dir,
                     fmt(max(s.fds) if s.fds else None, "{:d}"),
                     fmt(statistics.median(s.fds) if s.fds else None, "{:.0f}"),
                     fmt(s.cpu_pct),
                     str(len(lat)), str(s.errors),
                     fmt(pct(lat, 50), "{:.2f}"), fmt(pct(lat, 99), "{:.2f}"),
                     fmt(max(lat) if lat else None, "{:.2f}"),
                     *(fmt(v) if isinstance(v, float) else str(v) for v in extra.values()),
                     fmt(stop_s, "{:.2f}")])
        header = ["bin", "fds max", "fds median", "cpu %", "getState n", "errors",
                  "p50 ms", "p99 ms", "max ms", *extra.keys(), "SIGTERM->exit s"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"# {args.scenario}: {vars(args)}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
