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

    def __init__(self, bin_dir, programs, nofile=None, loglevel="info", nice=0, inet_port=None):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-hardening-"))
        self.sock = self.dir / "supervisor.sock"
        self.conf = self.dir / "supervisord.conf"
        self.binary = (Path(bin_dir) / "supervisord").resolve()
        self.nofile = nofile
        self.nice = nice
        self.inet_port = inet_port
        inet = (f"[inet_http_server]\nport=127.0.0.1:{inet_port}\nusername=bench\npassword=bench\n\n"
                if inet_port else "")
        self.conf.write_text(
            f"[unix_http_server]\nfile={self.sock}\n\n" + inet +
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

    def status(self, key):
        """A `VmRSS`/`VmHWM` line of /proc/<pid>/status, in MiB."""
        try:
            for line in open(f"/proc/{self.pid}/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return None

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


# ---- slowloris ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure_idle(args):
    return "[program:idle]\ncommand=sleep 100000\nstartsecs=0\n\n"


@scenario("slowloris", "N connections to the inet server that send half a request head and "
          "wait; an authenticated getState on inet is timed meanwhile", configure_idle,
          options=[(("--connections",), dict(type=int, default=5000))])
def scenario_slowloris(args, d):
    import base64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    port = d.inet_port
    held, refused = [], 0
    t0 = time.time()
    for _ in range(args.connections):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=2)
            c.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-")
            held.append(c)
        except OSError:
            refused += 1
    opened_s = time.time() - t0
    auth = "Basic " + base64.b64encode(b"bench:bench").decode()
    body = xmlrpc.client.dumps((), "supervisor.getState").encode()
    lat, errors = [], 0
    end = time.time() + args.seconds
    while time.time() < end:
        t = time.perf_counter()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/RPC2", body, {"Authorization": auth,
                                               "Content-Type": "text/xml"})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                raise OSError(r.status)
            lat.append(time.perf_counter() - t)
        except (OSError, http.client.HTTPException):
            errors += 1
        time.sleep(0.05)
    still_open = 0
    for c in held:
        try:
            c.setblocking(False)
            if c.recv(1) == b"":
                pass
            else:
                still_open += 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        c.close()
    s = Sampler(d)
    s.latencies = lat
    s.errors = errors
    s.fds = [d.fds() or 0]
    s.cpu_pct = None
    return {"opened in s": opened_s, "refused": refused,
            "half-open still held": still_open, "sampler": s}


# ---- bigrequest --------------------------------------------------------------------------

def big_shapes(size):
    """16 MB-class adversarial XML-RPC requests, by name."""
    head = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName><params>"
    tail = b"</params></methodCall>"
    member = b"<member><name>m%d</name><value><int>1</int></value></member>"
    n = size // 60
    wide = b"<param><value><struct>" + b"".join(member % i for i in range(100000)) + \
        b"</struct></value></param>"
    dup = b"<param><value><struct>" + (b"<member><name>a</name><value><int>1</int></value></member>"
                                       * (size // 60)) + b"</struct></value></param>"
    array = b"<param><value><array><data>" + b"<value><int>1</int></value>" * (size // 27) + \
        b"</data></array></value></param>"
    deep = b"<param>" + b"<value><array><data>" * 127 + b"<value>x</value>" + \
        b"</data></array></value>" * 127 + b"</param>"
    ent = b"<param><value><string>" + b"&amp;" * (size // 5) + b"</string></value></param>"
    calls = b"<value><struct><member><name>methodName</name><value>supervisor.getState</value>" \
        b"</member><member><name>params</name><value><array><data/></array></value></member>" \
        b"</struct></value>"
    multicall = (b"<?xml version='1.0'?><methodCall><methodName>system.multicall</methodName>"
                 b"<params><param><value><array><data>" + calls * (size // len(calls)) +
                 b"</data></array></value></param></params></methodCall>")
    del n
    return {
        "wide struct 100k": head + wide + tail,
        "dup members": head + dup + tail,
        "array": head + array + tail,
        "deep x2000": head + deep * 2000 + tail,
        "entities": head + ent + tail,
        "multicall getState": multicall,
    }


def post_raw(sock, body, timeout=120):
    c = UnixHTTPConnection(str(sock), timeout)
    c.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


@scenario("bigrequest", "16 MB-class adversarial XML-RPC requests (wide/duplicate structs, "
          "arrays, depth, entities, a multicall) while getState is polled", configure_idle,
          options=[(("--size",), dict(type=int, default=15 * 1024 * 1024))])
def scenario_bigrequest(args, d):
    s = Sampler(d, pause=0.005)
    th = threading.Thread(target=s._poll, daemon=True)
    th.start()
    per = {}
    cpu0 = d.cpu_seconds()
    for name, body in big_shapes(args.size).items():
        c0, t0 = d.cpu_seconds(), time.perf_counter()
        status, data = post_raw(d.sock, body)
        per[name] = (len(body) / 1e6, time.perf_counter() - t0, d.cpu_seconds() - c0, status,
                     b"<fault>" in data)
    s._stop.set()
    th.join(10)
    s.cpu_pct = None
    for name, (mb, wall, cpu, status, fault) in per.items():
        print(f"# bigrequest {name}: {mb:.1f} MB, {wall * 1000:.0f} ms wall, "
              f"{cpu * 1000:.0f} ms daemon CPU, HTTP {status}{' fault' if fault else ''}",
              file=sys.stderr)
    return {"daemon CPU s": d.cpu_seconds() - cpu0,
            "worst request CPU ms": max(v[2] for v in per.values()) * 1000,
            "sampler": s}


# ---- amplify / memory --------------------------------------------------------------------

def configure_biglog(args):
    return ("[program:big]\ncommand=sh -c 'head -c 2000000 /dev/zero | tr \"\\\\0\" x; "
            "sleep 100000'\nstartsecs=0\nstdout_logfile=%(here)s/big.log\n"
            "stdout_logfile_maxbytes=0\n\n")


@scenario("amplify", "one system.multicall of --calls x 1 MB log tails; peak RSS (VmHWM) "
          "and what came back", configure_biglog,
          options=[(("--calls",), dict(type=int, default=1000))])
def scenario_amplify(args, d):
    rpc = proxy(d.sock, 600)
    deadline = time.time() + 30
    while time.time() < deadline and (d.dir / "big.log").stat().st_size < 2000000:
        time.sleep(0.1)
    base = d.status("VmRSS")
    calls = [{"methodName": "supervisor.tailProcessStdoutLog", "params": ["big", 0, 1000000]}
             for _ in range(args.calls)]
    t0 = time.perf_counter()
    res = rpc.system.multicall(calls)
    took = time.perf_counter() - t0
    ok = sum(1 for r in res if isinstance(r, list))
    s = Sampler(d)
    s.run(1.0)
    return {"rss base MiB": base, "hwm MiB": d.status("VmHWM"),
            "rss after MiB": d.status("VmRSS"), "answered": ok,
            "faulted": len(res) - ok, "took s": took, "sampler": s}


@scenario("memory", "RSS before, at peak and after: a 13 MB multicall of getState and a "
          "15 MB string argument", configure_idle)
def scenario_memory(args, d):
    rpc = proxy(d.sock, 600)
    base = d.status("VmRSS")
    rpc.system.multicall([{"methodName": "supervisor.getState", "params": []}] * 69000)
    after_multicall = d.status("VmRSS")
    try:
        rpc.supervisor.sendProcessStdin("idle", "x" * (15 * 1024 * 1024))
    except xmlrpc.client.Fault:
        pass
    time.sleep(0.5)
    s = Sampler(d)
    s.run(1.0)
    return {"rss base MiB": base, "hwm MiB": d.status("VmHWM"),
            "after multicall MiB": after_multicall, "rss after MiB": d.status("VmRSS"),
            "sampler": s}


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
        d = Daemon(bin_dir, configure(args), nofile=args.nofile, nice=args.nice,
                   inet_port=free_port() if args.scenario == "slowloris" else None)
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
