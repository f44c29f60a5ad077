#!/usr/bin/env python3
"""TLS cost on the inet server (issue 13 item 5): handshake + one call, and calls on one
kept-alive connection, over HTTPS versus plain HTTP, on the same daemon.

Starts our supervisord (`--bin target/release`, the default) in a temp dir with two inet
servers, `[inet_http_server]` plain and `[inet_http_server:tls]` with a certificate made by
the openssl command line tool (EC P-256 by default, `--rsa` for RSA 2048), both with Basic
auth. For each server: `--connections` new connections that each send one authenticated
getState (connect, handshake, request, answer, close), then `--calls` getState calls on one
kept-alive connection. Prints the client-side latencies (p50/p90/p99, measured around the
raw socket exchange; the client is Python's ssl/OpenSSL) and the daemon's own CPU time per
connection or call (from /proc/<pid>/stat). Loopback only; the daemon is stopped by its pid.

    .venv/bin/python scripts/bench-tls.py --bin target/release
"""

import argparse
import base64
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = (b"<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n"
        b"<params>\n</params>\n</methodCall>\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d, rsa):
    key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt",
                                               "ec_paramgen_curve:prime256v1"]
    openssl("req", "-x509", *key, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "ext").write_text("basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n"
                           "extendedKeyUsage=serverAuth\n")
    openssl("req", *key, "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj",
            "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", "2", "-days", "2", "-extfile", "ext", "-out", "srv.crt", cwd=d)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def request():
    auth = base64.b64encode(b"admin:s3cret").decode()
    head = (f"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            f"Authorization: Basic {auth}\r\nContent-Length: {len(BODY)}\r\n\r\n")
    return head.encode() + BODY


def read_answer(sock, buf):
    """Reads one Content-Length response; returns the bytes left over."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in head")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in body")
        rest += chunk
    assert b"RUNNING" in rest[:length]
    return rest[length:]


def connect(port, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def ms(v):
    return f"{v * 1000:.2f}"


def run(port, ctx, pid, args):
    req = request()
    # Warm up (first connection, page faults).
    for _ in range(5):
        with connect(port, ctx) as s:
            s.sendall(req)
            read_answer(s, b"")
    conn_times, hs_times = [], []
    cpu0 = cpu_seconds(pid)
    t_all = time.perf_counter()
    for _ in range(args.connections):
        t0 = time.perf_counter()
        s = connect(port, ctx)
        t1 = time.perf_counter()
        s.sendall(req)
        read_answer(s, b"")
        s.close()
        t2 = time.perf_counter()
        hs_times.append(t1 - t0)
        conn_times.append(t2 - t0)
    wall_conns = time.perf_counter() - t_all
    cpu_conns = cpu_seconds(pid) - cpu0
    call_times = []
    with connect(port, ctx) as s:
        left = b""
        cpu0 = cpu_seconds(pid)
        t_all = time.perf_counter()
        for _ in range(args.calls):
            t0 = time.perf_counter()
            s.sendall(req)
            left = read_answer(s, left)
            call_times.append(time.perf_counter() - t0)
        wall_calls = time.perf_counter() - t_all
        cpu_calls = cpu_seconds(pid) - cpu0
    return {
        "connect(+handshake) p50 ms": ms(statistics.median(hs_times)),
        "new conn + getState p50/p90/p99 ms": "/".join(
            ms(v) for v in (statistics.median(conn_times), pct(conn_times, 0.9),
                            pct(conn_times, 0.99))),
        "conns/s": f"{args.connections / wall_conns:.0f}",
        "daemon CPU per conn ms": ms(cpu_conns / args.connections),
        "keep-alive call p50/p99 ms": "/".join(
            ms(v) for v in (statistics.median(call_times), pct(call_times, 0.99))),
        "calls/s": f"{args.calls / wall_calls:.0f}",
        "daemon CPU per call us": f"{cpu_calls / args.calls * 1e6:.0f}",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release", help="dir with our supervisord")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--rsa", action="store_true", help="RSA 2048 instead of EC P-256")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        d = Path(tmp)
        make_pki(d, args.rsa)
        plain, tls = free_port(), free_port()
        (d / "s.conf").write_text(
            f"[supervisord]\nlogfile={d}/d.log\npidfile={d}/d.pid\nnodaemon=true\n"
            "loglevel=warn\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[inet_http_server]\nport=127.0.0.1:{plain}\nusername=admin\npassword=s3cret\n"
            f"[inet_http_server:tls]\nport=127.0.0.1:{tls}\nusername=admin\npassword=s3cret\n"
            f"tls_cert={d}/srv.crt\ntls_key={d}/srv.key\n")
        proc = subprocess.Popen([str(Path(args.bin) / "supervisord"), "-c", str(d / "s.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", plain), timeout=1).close()
                    socket.create_connection(("127.0.0.1", tls), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        sys.exit("supervisord did not start")
                    time.sleep(0.05)
            ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
            rows = [("http", run(plain, None, proc.pid, args)),
                    ("https", run(tls, ctx, proc.pid, args))]
            cols = list(rows[0][1])
            print("| server | " + " | ".join(cols) + " |")
            print("|---" * (len(cols) + 1) + "|")
            for name, r in rows:
                print(f"| {name} | " + " | ".join(r[c] for c in cols) + " |")
            print(f"(key: {'RSA 2048' if args.rsa else 'EC P-256'}; "
                  f"{args.connections} connections, {args.calls} kept-alive calls; "
                  f"load average {os.getloadavg()[0]:.1f})")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    main()
