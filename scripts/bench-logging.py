#!/usr/bin/env python3
"""Log capture throughput and rotation integrity, side by side (issue 16 item 1).

In one run, for each measurement round: the physical limit (N concurrent `writer | cat > file`
pipelines, best of one before and one after the daemons), our daemon and the Python reference
(.venv/bin/supervisord) logging the same writers to files, daemon CPU per GiB from
/proc/<pid>/stat (utime + stime, all threads), and rotation integrity (numbered lines through
maxbytes rotation: lost, duplicated, malformed, largest file). Each throughput figure is run
`--runs` times (default 3); medians are printed with the machine's load average, and the
ratios within each round (less sensitive to a noisy shared machine).

Scenarios follow ../shared/bench/bench.py (log_throughput, log_rotation_integrity): the same
writer (64 KiB writes of 1 KiB lines), sizes (1 x 1 GiB, 8 x 128 MiB), files on /dev/shm.

usage: scripts/bench-logging.py [--rust DIR] [--python DIR] [--runs N] [--quick] [--json F]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB, GIB = 1 << 20, 1 << 30
CLK_TCK = os.sysconf('SC_CLK_TCK')

WRITER_PY = r'''import os, sys
n, ll = int(sys.argv[1]), int(sys.argv[2])
line = b'x' * (ll - 1) + b'\n'
chunk = memoryview(line * max(1, 65536 // ll))
left = n
while left:
    buf = chunk[:min(left, len(chunk))]
    while buf:
        k = os.write(1, buf)
        buf = buf[k:]
        left -= k
'''


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__('localhost', timeout=120)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixConn(self.path)


def cpu_s(pid):
    with open('/proc/%d/stat' % pid, 'rb') as f:
        data = f.read()
    fields = data[data.rindex(b')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def size(p):
    try:
        return os.stat(p).st_size
    except FileNotFoundError:
        return 0


class Daemon:
    def __init__(self, impl, bindir, rundir, programs, env=None):
        self.impl, self.rundir = impl, rundir
        os.makedirs(rundir, exist_ok=True)
        self.sock = os.path.join(rundir, 's.sock')
        self.conf = os.path.join(rundir, 'supervisord.conf')
        lines = ['[unix_http_server]', 'file=%s' % self.sock, '',
                 '[supervisord]', 'logfile=%s' % os.path.join(rundir, 'supervisord.log'),
                 'logfile_maxbytes=50MB', 'loglevel=info', 'nodaemon=true',
                 'pidfile=%s' % os.path.join(rundir, 'supervisord.pid'),
                 'childlogdir=%s' % rundir, '',
                 '[rpcinterface:supervisor]',
                 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
                 '']
        for name, opts in programs:
            lines.append('[program:%s]' % name)
            lines += ['%s=%s' % kv for kv in opts.items()]
            lines.append('')
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines))
        self.out = open(os.path.join(rundir, 'daemon.out'), 'wb')
        self.proc = subprocess.Popen([os.path.join(bindir, 'supervisord'), '-n', '-c', self.conf],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=dict(os.environ, **(env or {})))
        deadline = time.time() + 30
        while True:
            try:
                if self.rpc().supervisor.getState()['statename'] == 'RUNNING':
                    break
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError('%s did not start' % impl)
                time.sleep(0.05)

    def rpc(self):
        return xmlrpc.client.ServerProxy('http://127.0.0.1', transport=UnixTransport(self.sock))

    def cpu(self):
        return cpu_s(self.proc.pid)

    def wait_exited(self, names, timeout=60):
        deadline = time.time() + timeout
        s = self.rpc().supervisor
        while time.time() < deadline:
            states = {i['name']: i['statename'] for i in s.getAllProcessInfo()}
            if all(states.get(n) in ('EXITED', 'STOPPED', 'FATAL', 'BACKOFF') for n in names):
                return
            time.sleep(0.05)
        raise RuntimeError('%s: %s did not exit' % (self.impl, names))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


def limit(cmds, outs, each):
    """N concurrent `writer | cat > file`: MB/s."""
    t0 = time.perf_counter()
    ps = [subprocess.Popen(['/bin/sh', '-c', '%s | cat > %s' % (c, o)], start_new_session=True,
                           stdin=subprocess.DEVNULL) for c, o in zip(cmds, outs)]
    for p in ps:
        p.wait(600)
    w = time.perf_counter() - t0
    for o in outs:
        if size(o) != each:
            raise RuntimeError('cat wrote %d bytes, expected %d' % (size(o), each))
        os.unlink(o)
    return each * len(cmds) / 1e6 / w


def throughput(impl, bindir, work, kids, each, ll=1024, env=None):
    """One daemon, `kids` writers of `each` bytes: (MB/s, daemon CPU s per GiB, spliced?)."""
    wpy = os.path.join(work, 'writer.py')
    cmd = '%s -S %s %d %d' % (sys.executable, wpy, each, ll)
    names = ['w%d' % i for i in range(kids)]
    logs = [os.path.join(work, '%s-%s.log' % (impl, n)) for n in names]
    progs = [(n, {'command': cmd, 'autostart': 'false', 'autorestart': 'false',
                  'startsecs': '0', 'stdout_logfile': lg, 'stdout_logfile_maxbytes': '0',
                  'stdout_logfile_backups': '0', 'stderr_logfile': 'NONE'})
             for n, lg in zip(names, logs)]
    d = Daemon(impl, bindir, os.path.join(work, 'run-' + impl), progs, env)
    try:
        s = d.rpc()
        c0 = d.cpu()
        t0 = time.perf_counter()
        r = s.system.multicall([{'methodName': 'supervisor.startProcess', 'params': [n, False]}
                                for n in names])
        if any(x not in (True, [True]) for x in r):
            raise RuntimeError('start: %r' % r[:2])
        deadline = time.time() + 600
        while not all(size(p) >= each for p in logs):
            if time.time() > deadline:
                raise RuntimeError('%s: logs incomplete' % impl)
            time.sleep(0.002)
        t1 = time.perf_counter()
        c1 = d.cpu()
        d.wait_exited(names)
        spliced = None
        if impl.startswith('rust'):
            c = UnixConn(d.sock)
            c.request('GET', '/metrics')
            page = c.getresponse().read().decode()
            spliced = sum(int(ln.rsplit(' ', 1)[1]) for ln in page.splitlines()
                          if ln.startswith('supervisor_log_spliced_bytes_total{'))
        sizes = [size(p) for p in logs]
        if any(sz != each for sz in sizes):
            raise RuntimeError('%s: log sizes %r' % (impl, sizes))
        total = each * kids
        return total / 1e6 / (t1 - t0), (c1 - c0) / (total / GIB), spliced
    finally:
        d.stop()
        for p in logs:
            if os.path.exists(p):
                os.unlink(p)
        shutil.rmtree(os.path.join(work, 'run-' + impl), ignore_errors=True)


ROT_SH = "exec seq -f 'line %%09.0f %s' 1 %d\n"


def rotation(impl, bindir, work, lines, maxbytes, backups=200, pad=36, env=None):
    line_len = len('line 000000000 %s\n' % ('x' * pad))
    sh = os.path.join(work, 'rot.sh')
    with open(sh, 'w') as f:
        f.write(ROT_SH % ('x' * pad, lines))
    rundir = os.path.join(work, 'rot-' + impl)
    base = os.path.join(rundir, 'rot.log')
    d = Daemon(impl, bindir, rundir, [('rot', {
        'command': '/bin/sh %s' % sh, 'autostart': 'false', 'autorestart': 'false',
        'startsecs': '0', 'stdout_logfile': base, 'stdout_logfile_maxbytes': str(maxbytes),
        'stdout_logfile_backups': str(backups), 'stderr_logfile': 'NONE'})], env)
    try:
        c0 = d.cpu()
        d.rpc().supervisor.startProcess('rot', False)
        d.wait_exited(['rot'], timeout=300)
        expect = lines * line_len

        def files():
            fs = []
            for fn in os.listdir(rundir):
                if fn == 'rot.log':
                    fs.append((0, fn))
                elif fn.startswith('rot.log.') and fn[8:].isdigit():
                    fs.append((int(fn[8:]), fn))
            return [os.path.join(rundir, fn) for _, fn in
                    sorted(fs, key=lambda x: (x[0] == 0, -x[0]))]
        last, since = -1, time.time()
        while time.time() - since < 2:
            tot = sum(size(p) for p in files())
            if tot >= expect:
                break
            if tot != last:
                last, since = tot, time.time()
            time.sleep(0.05)
        cpu = d.cpu() - c0
        fs = files()
        data = b''.join(open(p, 'rb').read() for p in fs)
        seen = bytearray(lines + 1)
        dup = bad = 0
        for ln in data.split(b'\n'):
            if not ln:
                continue
            parts = ln.split(b' ')
            try:
                if len(parts) != 3 or parts[0] != b'line' or len(ln) + 1 != line_len:
                    raise ValueError
                k = int(parts[1])
            except ValueError:
                bad += 1
                continue
            if seen[k]:
                dup += 1
            seen[k] = 1
        return {'lost': lines - sum(seen[1:]), 'duplicated': dup, 'malformed': bad,
                'files': len(fs), 'largest': max(size(p) for p in fs), 'maxbytes': maxbytes,
                'daemon_cpu_s': round(cpu, 3)}
    finally:
        d.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def floor(cmd, work, each):
    """The kernel's own cost of moving one writer's bytes pipe -> file: this process
    splices them (blocking, 1 MiB pipe) and its CPU (user + system) per GiB is the floor
    for any log capture that puts the bytes into a file."""
    import fcntl
    r, w = os.pipe()
    try:
        fcntl.fcntl(r, 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
    p = subprocess.Popen(['/bin/sh', '-c', cmd], stdout=w)
    os.close(w)
    out = os.path.join(work, 'floor.out')
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    t0, c0 = time.perf_counter(), os.times()
    off = 0
    while True:
        n = os.splice(r, fd, 1 << 20, offset_dst=off)
        if n == 0:
            break
        off += n
    c1, t1 = os.times(), time.perf_counter()
    p.wait()
    os.close(fd)
    os.close(r)
    os.unlink(out)
    if off != each:
        raise RuntimeError('floor moved %d bytes' % off)
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    return each / 1e6 / (t1 - t0), cpu / (each / GIB)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rust', default=os.path.join(ROOT, 'target', 'release'))
    ap.add_argument('--python', default=os.path.join(ROOT, '.venv', 'bin'))
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--quick', action='store_true', help='1/8 of the sizes')
    ap.add_argument('--dir', default='/dev/shm' if os.access('/dev/shm', os.W_OK) else None)
    ap.add_argument('--json')
    a = ap.parse_args()
    # rust: as shipped (splice where it applies); rust-copy: the same binary with splicing
    # off (SUPERVISOR_RS_LOG_SPLICE=0), i.e. read/write as before; python: the reference.
    variants = [('rust', a.rust, {}), ('rust-copy', a.rust, {'SUPERVISOR_RS_LOG_SPLICE': '0'}),
                ('python', a.python, {})]
    impls = [(n, b) for n, b, _ in variants]
    scale = 8 if a.quick else 1
    scenarios = [('1x1GiB', 1, GIB // scale), ('8x128MiB', 8, 128 * MIB // scale)]
    work = tempfile.mkdtemp(prefix='bench-logging-', dir=a.dir)
    with open(os.path.join(work, 'writer.py'), 'w') as f:
        f.write(WRITER_PY)
    results = {'load_before': os.getloadavg(), 'rounds': {}}
    try:
        for tag, kids, each in scenarios:
            cmd = '%s -S %s %d 1024' % (sys.executable, os.path.join(work, 'writer.py'), each)
            rounds = []
            for run in range(a.runs):
                outs = [os.path.join(work, 'ref%d.out' % i) for i in range(kids)]
                lim = [limit([cmd] * kids, outs, each)]
                row = {'load': os.getloadavg()[0]}
                if kids == 1:
                    fm, fc = floor(cmd, work, each)
                    row['splice floor'] = {'MB/s': round(fm, 1), 'cpu_s_per_GiB': round(fc, 3)}
                for impl, bindir, env in variants:
                    mbs, cpu, spliced = throughput(impl, bindir, work, kids, each, env=env)
                    row[impl] = {'MB/s': round(mbs, 1), 'cpu_s_per_GiB': round(cpu, 3)}
                    if spliced is not None:
                        row[impl]['spliced_bytes'] = spliced
                lim.append(limit([cmd] * kids, outs, each))
                row['limit MB/s'] = round(max(lim), 1)
                for impl, _ in impls:
                    row[impl]['% of limit'] = round(100 * row[impl]['MB/s'] / max(lim), 1)
                rounds.append(row)
                print(tag, 'run', run + 1, json.dumps(row), flush=True)
            results['rounds'][tag] = rounds
            med = {'limit MB/s': statistics.median(r['limit MB/s'] for r in rounds)}
            for impl, _ in impls:
                med[impl] = {k: statistics.median(r[impl][k] for r in rounds)
                             for k in ('MB/s', 'cpu_s_per_GiB', '% of limit')}
            if kids == 1:
                med['splice floor'] = {k: statistics.median(r['splice floor'][k] for r in rounds)
                                       for k in ('MB/s', 'cpu_s_per_GiB')}
            results.setdefault('median', {})[tag] = med
            print(tag, 'median', json.dumps(med), flush=True)
        lines = 2_000_000 // scale
        results['rotation'] = {impl: rotation(impl, bindir, work, lines, MIB, env=env)
                               for impl, bindir, env in variants}
        print('rotation', json.dumps(results['rotation']), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results['load_after'] = os.getloadavg()
    print('load average before', results['load_before'], 'after', results['load_after'])
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
